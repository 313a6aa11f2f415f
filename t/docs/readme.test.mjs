// The README against the module: its Directives table names exactly the directives of the
// module's directive table (apache2 -L with the build tree's module loaded), every row says
// its default and meaning, and every range in it is what the configuration test accepts (both
// ends pass, one step past either fails, naming the directive); its table of log codes is
// well formed (one row per code, sorted, a level Apache prints, a meaning and what to do).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TOP, execFileAsync, tempDir } from '../lib/harness.mjs';
import { directives, logCodes } from '../lib/docs.mjs';

const APACHE = '/usr/sbin/apache2';
const MODULE = path.join(TOP, '.libs/mod_tweetsse.so');
let dir, secret;

before(() => {
  dir = tempDir('readme');
  secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, `${'s'.repeat(48)}\n`, { mode: 0o600 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// A minimal server with the module and `lines`; its configuration test (apache2 -t).
let serial = 0;
async function configtest(lines) {
  const conf = path.join(dir, `t${serial++}.conf`);
  fs.writeFileSync(conf, [`ServerRoot "${dir}"`, 'Listen 127.0.0.1:1', `PidFile "${dir}/pid"`,
    `ErrorLog "${dir}/error.log"`, `DefaultRuntimeDir "${dir}"`,
    'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
    `LoadModule tweetsse_module "${MODULE}"`, ...lines].join('\n') + '\n');
  try {
    await execFileAsync(APACHE, ['-t', '-f', conf]);
    return { ok: true, out: '' };
  } catch (e) {
    return { ok: false, out: `${e.stdout}${e.stderr}` };
  }
}

describe('the Directives table', () => {
  const rows = directives();

  test('names exactly the directives of the module (apache2 -L)', async () => {
    const conf = path.join(dir, 'list.conf');
    fs.writeFileSync(conf, [`ServerRoot "${dir}"`, `DefaultRuntimeDir "${dir}"`,
      `ErrorLog "${dir}/error.log"`,
      'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
      `LoadModule tweetsse_module "${MODULE}"`, `TweetsseSecretFile "${secret}"`].join('\n'));
    const { stdout } = await execFileAsync(APACHE, ['-L', '-f', conf]);
    const module = [...stdout.matchAll(/^(Tweetsse\w+) \(mod_tweetsse\.c\)$/gm)].map((m) => m[1]);
    assert.ok(module.length > 10, stdout);
    assert.deepEqual(rows.map((r) => r.name).sort(), module.sort());
  });

  test('every row has its default, its range (or "–") and its meaning', () => {
    for (const r of rows) {
      assert.ok(r.name && r.default && r.range && r.meaning.length > 20, JSON.stringify(r));
    }
  });

  // A range cell: "a–b" with units, several of them separated by ";" and each named (n, time,
  // burst) for the rate limits. Returns [{label, lo, hi, unit}] in base units (ms, bytes).
  const SCALE = { ms: 1, s: 1000, day: 86400000, B: 1, MiB: 1048576 };
  const KIND = { ms: 'ms', s: 'ms', day: 'ms', B: 'bytes', MiB: 'bytes', sentinels: 'sentinels',
    characters: 'characters', bytes: 'file' };
  function parseRange(cell) {
    return cell.split(/;\s*/).map((part) => {
      const m = part.match(/^(?:(n|time|burst) )?([\d,]+)(?: (\w+))?–([\d,]+)(?: (\w+))?$/);
      assert.ok(m, `a range the test can read: "${part}"`);
      const [, label, lo, loUnit, hi, hiUnit] = m;
      const num = (s, u) => Number(s.replace(/,/g, '')) * (SCALE[u] ?? 1);
      const unit = hiUnit ?? loUnit ?? '';
      // "1–16 sentinels": a count whose unit is written once; "1 s–300 s": each end its own.
      const lower = SCALE[unit] ? num(lo, loUnit ?? unit) : num(lo);
      return { label, lo: lower, hi: num(hi, hiUnit), kind: KIND[unit] ?? 'number' };
    });
  }

  // The directive line (and a file it needs) that sets `name` to v of the given kind.
  function line(name, { label, kind }, v) {
    if (label === 'n') return `${name} ${v}/60s`;
    if (label === 'time') return `${name} 1/${v}ms`;
    if (label === 'burst') return `${name} 1/60s burst=${v}`;
    if (kind === 'ms') return `${name} ${v}ms`;
    if (kind === 'characters') return `${name} ${'a'.repeat(Math.max(v, 0))}`;
    if (kind === 'sentinels') {
      return `${name} sentinel://${Array(Math.max(v, 0)).fill('127.0.0.1:26379').join(',')}/m`;
    }
    if (kind === 'file') {
      const f = path.join(dir, `secret-${v}`);
      fs.writeFileSync(f, 'x'.repeat(Math.max(v, 0)), { mode: 0o600 });
      return `${name} "${f}"`;
    }
    return `${name} ${v}`;
  }

  for (const r of rows.filter((x) => x.range !== '–')) {
    test(`${r.name}: ${r.range}`, async () => {
      for (const part of parseRange(r.range)) {
        const base = r.name === 'TweetsseSecretFile' ? [] : [`TweetsseSecretFile "${secret}"`];
        for (const [v, ok] of [[part.lo, true], [part.hi, true], [part.lo - 1, false],
          [part.hi + 1, false]]) {
          const l = line(r.name, part, v);
          const res = await configtest([...base, l]);
          assert.equal(res.ok, ok, `${l.slice(0, 120)}: ${res.out}`);
          if (!ok) assert.match(res.out, new RegExp(r.name), 'the error names the directive');
        }
      }
    });
  }
});

describe('the table of log codes', () => {
  const rows = logCodes();
  const LEVELS = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug',
    'trace1', 'trace2', 'trace3', 'trace4', 'trace5', 'trace6', 'trace7', 'trace8'];

  test('one row per code, sorted, each with a level, a meaning and what to do', () => {
    assert.ok(rows.length > 50, `${rows.length} rows`);
    const codes = rows.map((r) => r.code);
    assert.ok(codes.every(Boolean), 'every row starts with a code in backquotes');
    assert.deepEqual(codes, [...new Set(codes)].sort(), 'unique and sorted');
    for (const r of rows) {
      assert.ok(r.levels.every((l) => LEVELS.includes(l)), `${r.code}: level ${r.levels}`);
      assert.ok(r.meaning.length > 10 && r.action.length > 5, `${r.code}: meaning and action`);
    }
  });
});

// GitHub's anchor of a heading: lower case, punctuation but "-" and "_" dropped, spaces to "-".
const slug = (h) => h.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

describe('links between the documents', () => {
  const docs = ['README.md', 'docs/architecture.md', 'docs/performance.md', 'CHANGELOG.md'];
  const anchors = Object.fromEntries(docs.map((d) => [d, new Set(
    fs.readFileSync(path.join(TOP, d), 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, '')))),
  ]));
  for (const doc of docs) {
    test(`every link of ${doc} to a file or heading of these documents leads somewhere`, () => {
      const text = fs.readFileSync(path.join(TOP, doc), 'utf8');
      const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1])
        .filter((l) => !/^[a-z]+:/.test(l));
      for (const link of links) {
        const [file, anchor] = link.split('#');
        const target = file ? path.normalize(path.join(path.dirname(doc), file)) : doc;
        assert.ok(fs.existsSync(path.join(TOP, target)), `${doc}: ${link}: no ${target}`);
        if (anchor) assert.ok(anchors[target]?.has(anchor), `${doc}: ${link}: no such heading`);
      }
    });
  }
});
