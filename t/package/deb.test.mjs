// The Debian package in Debian's own Apache, as an operator would use it: make deb (lintian
// clean), apt-get install ./dist/libapache2-mod-tweetsse_*.deb, apache2ctl start. Without
// Redis Apache starts and the feed answers 503; with a redis-server on 6379 (started here) the
// page answers 200, a post with the page's cookie 201, an open stream gets it live; after
// apache2ctl graceful the stream resumes with nothing missed; a reinstall and an upgrade keep
// the secret; apt-get remove disables the module and Apache still starts; apt-get purge
// removes the configuration and the secret.
//
// It needs the machine's port 80 and 6379 and changes /etc/apache2 while it runs, so it
// refuses to run (it fails under CI, where it is required, and is skipped elsewhere, saying
// why) when Apache is already running, something listens on 80 or 6379, the package is
// already installed or another run holds its lock. Whatever happens, it stops the Apache and
// Redis it started, purges the package, and checks that /etc/apache2 is as it found it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SERVER_SH, TOP, execFileAsync, openStream, request, tempDir, waitForLines,
  within } from '../lib/harness.mjs';
import { resumingStream } from '../lib/cluster.mjs';
import { waitUntil } from '../lib/helpers.mjs';
import { moduleVersion } from '../lib/version.mjs';

const PKG = 'libapache2-mod-tweetsse';
const VERSION = moduleVersion();
const FEED = 'http://127.0.0.1/feed/';
const SECRET = '/etc/apache2/tweetsse.secret';
const ERROR_LOG = '/var/log/apache2/error.log';
const PID_FILE = '/var/run/apache2/apache2.pid';
const LOCK = '/run/lock/tweetsse-package-test';
const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const DEB = path.join(TOP, `dist/${PKG}_${VERSION}_${process.arch === 'x64' ? 'amd64' : process.arch}.deb`);

const run = (cmd, args, opts = {}) => execFileAsync(cmd, args,
  { maxBuffer: 16 << 20, ...opts });
const apt = (...args) => run('apt-get', ['-y', '-q', '-o', 'DPkg::Lock::Timeout=120', ...args],
  { env: APT_ENV });
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const listening = async (port) => (await run('ss', ['-Hltn', `sport = :${port}`])).stdout.trim();
const installed = async () => {
  try {
    return /install ok installed/.test((await run('dpkg-query', ['-W', '-f=${Status}', PKG])).stdout);
  } catch {
    return false;
  }
};
const apachePid = () => {
  try { return Number(fs.readFileSync(PID_FILE, 'utf8').trim()) || 0; } catch { return 0; }
};
const logSize = () => { try { return fs.statSync(ERROR_LOG).size; } catch { return 0; } };

// Why this machine cannot lend its Apache and Redis to the test now ('' if it can).
async function refusal() {
  if (process.getuid() !== 0) return 'it must run as root (apt-get, apache2ctl)';
  const pid = apachePid();
  if (pid && alive(pid)) return `the machine's Apache is running (pid ${pid}); stop it first`;
  if (await listening(80)) return 'something listens on port 80';
  if (await listening(6379)) return 'a Redis (or something else) listens on 6379';
  if (await installed()) return `${PKG} is installed already; purge it first`;
  try {
    fs.mkdirSync(LOCK);
  } catch {
    let owner = 0;
    try { owner = Number(fs.readFileSync(`${LOCK}/pid`, 'utf8')); } catch { /* none */ }
    if (owner && alive(owner)) return `another run of this test (pid ${owner}) holds ${LOCK}`;
    fs.rmSync(LOCK, { recursive: true, force: true }); // a run that died: its lock is stale
    fs.mkdirSync(LOCK);
  }
  fs.writeFileSync(`${LOCK}/pid`, String(process.pid));
  return '';
}

// Every entry of a directory tree: path -> "file <sha256> <mode>" / "link <target>" / "dir"
// (directories left out with dirs: false).
function snapshot(root, { dirs = true } = {}) {
  const out = {};
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[p] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) { if (dirs) out[p] = 'dir'; walk(p); } else {
        out[p] = `file ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ` +
          `${(st.mode & 0o7777).toString(8)}`;
      }
    }
  };
  walk(root);
  return out;
}

// Apache's configuration, and the a2enmod helpers' records of what maintainer scripts and
// the admin enabled (their files: a2dismod makes empty directories for its records, once).
const state = () => ({ ...snapshot('/etc/apache2'), ...snapshot('/var/lib/apache2', { dirs: false }) });

// apache2ctl start, and wait for the parent's "resuming normal operations".
async function apacheStart() {
  const from = logSize();
  await run('apache2ctl', ['start']);
  await waitForLines(ERROR_LOG, (ls) => ls.some((l) => /resuming normal operations/.test(l)),
    { from, timeoutMs: 20000, what: 'apache2ctl start' });
}

// apache2ctl stop, and wait until the parent has exited.
async function apacheStop() {
  const pid = apachePid();
  if (!pid || !alive(pid)) return;
  await run('apache2ctl', ['stop']);
  await waitUntil(() => !alive(pid), 30000, `Apache (pid ${pid}) to exit`);
}

// A redis-server on 127.0.0.1:6379 with a private data directory (scripts/server.sh), until
// stop(); resolves once it is ready.
async function startRedis6379() {
  const dir = tempDir('pkg-redis');
  const proc = spawn('bash', [SERVER_SH, 'redis', dir, '6379'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await within(new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => { out += d; if (/Ready to accept connections/.test(out)) resolve(); });
    proc.once('close', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  }), 10000, 'redis-server on 6379');
  return {
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const nameCookie = (res) => (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0])
  .find((c) => c.startsWith('tw_name='));

async function postAs(cookie, message) {
  const res = await request('POST', `${FEED}home`, { headers: { Cookie: cookie,
    'Content-Type': 'application/json' }, body: JSON.stringify({ message }) });
  return { status: res.status, id: res.status === 201 ? JSON.parse(res.body).id : null, res };
}

// Build a copy of `deb` with another version (an upgrade), as a file in `dir`.
async function withVersion(deb, version, dir) {
  const tree = path.join(dir, 'tree');
  await run('dpkg-deb', ['-R', deb, tree]);
  const control = path.join(tree, 'DEBIAN/control');
  fs.writeFileSync(control, fs.readFileSync(control, 'utf8')
    .replace(/^Version: .*$/m, `Version: ${version}`));
  const out = path.join(dir, `${PKG}_${version}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-b', tree, out]);
  return out;
}

const why = await refusal();
if (why && process.env.CI) {
  test('the Debian package test can run', () => {
    assert.fail(`the package test refuses to run: ${why}`);
  });
}

describe(`${PKG} in Debian's own Apache`, { skip: why ? `refused: ${why}` : false }, () => {
  let etcBefore, redis, cookie, work;
  let apacheWasOurs = false;

  before(() => {
    etcBefore = state();
    work = tempDir('pkg');
  });

  after(async () => {
    // Leave the machine's Apache as it was found: stopped, without the package.
    const problems = [];
    const attempt = async (what, f) => { try { await f(); } catch (e) { problems.push(`${what}: ${e.message}`); } };
    if (apacheWasOurs) await attempt('stop Apache', apacheStop);
    await attempt('stop Redis', async () => redis?.stop());
    if (await installed()) await attempt('purge', () => apt('purge', PKG));
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(LOCK, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  test('make deb builds it, and lintian reports no error or warning', async (t) => {
    const { stdout } = await run('make', ['-s', '-C', TOP, 'deb'], { timeout: 15 * 60000 });
    assert.match(stdout, /deb: lintian: no errors or warnings/);
    assert.ok(fs.existsSync(DEB), DEB);
    const { stdout: lint } = await run('lintian', ['--allow-root', '-I', '--pedantic',
      ...fs.readdirSync(path.join(TOP, 'dist')).filter((f) => f.endsWith('.changes'))
        .map((f) => path.join(TOP, 'dist', f))]);
    t.diagnostic(`lintian -I --pedantic on the source and binary packages: ${lint.trim() || 'nothing'}`);
    assert.equal(lint.trim(), '');
  });

  test('apt-get install: the secret before the module is enabled, then Apache starts without ' +
    'Redis and the feed answers 503', async () => {
    await apt('install', DEB);
    const st = fs.statSync(SECRET);
    assert.equal(st.mode & 0o777, 0o600, 'the secret is root-only');
    assert.equal(st.uid, 0);
    assert.match(fs.readFileSync(SECRET, 'utf8'), /^[A-Za-z0-9+/]{64}\n$/, '48 random bytes, base64');
    assert.equal(fs.readlinkSync('/etc/apache2/mods-enabled/tweetsse.load'),
      '../mods-available/tweetsse.load');
    assert.ok(fs.existsSync('/etc/apache2/mods-enabled/alias.load'), 'its dependency is enabled');
    const { stderr } = await run('apache2ctl', ['configtest']);
    assert.match(stderr, /Syntax OK/);
    apacheWasOurs = true;
    await apacheStart();
    const res = await request('GET', FEED);
    assert.equal(res.status, 503, 'no Redis yet');
    assert.match(res.body, /unavailable/);
    assert.ok(alive(apachePid()), 'Apache keeps running');
  });

  test('with Redis on 6379: the page 200, a post with its cookie 201, live on an open stream',
    async () => {
      redis = await startRedis6379();
      await waitUntil(async () => (await request('GET', `${FEED}home/health`)).status === 200,
        20000, 'the feed to see Redis (home/health 200)');
      const page = await request('GET', FEED);
      assert.equal(page.status, 200);
      // Every front-end file the page names, at its versioned URL, from /usr/share/tweetsse.
      const assets = [...page.body.matchAll(/(?:href|src)="(lib\/[^"?]+)\?v=[0-9a-f]+"/g)]
        .map((m) => m[0].replace(/^(?:href|src)="|"$/g, ''));
      assert.deepEqual(assets.map((a) => a.replace(/\?.*/, '')).sort(),
        ['lib/htmx.min.js', 'lib/sse.js', 'lib/tweetsse.css', 'lib/tweetsse.js']);
      for (const a of assets) {
        assert.equal((await request('GET', `${FEED}${a}`)).status, 200, a);
      }
      cookie = nameCookie(page);
      assert.ok(cookie, 'the page sets the name cookie');
      const s = await openStream(`${FEED}home/sse`);
      assert.equal(s.status, 200);
      await s.until((x) => x.retries.length > 0, 5000, 'the retry line');
      const p = await postAs(cookie, 'hello from the Debian package');
      assert.equal(p.status, 201, p.res.body);
      await s.until((x) => x.posts().some((e) => e.id === p.id), 5000, 'the post, live');
      s.close();
    });

  test('apache2ctl graceful: the open stream resumes with nothing missed', async (t) => {
    const s = resumingStream(`${FEED}home/sse`);
    try {
      await s.until((x) => x.connected, 5000, 'the stream');
      const a = await postAs(cookie, 'before the graceful restart');
      assert.equal(a.status, 201);
      await s.until((x) => x.ids.includes(a.id), 5000, 'post A, live');
      await run('apache2ctl', ['graceful']);
      await s.until((x) => !x.connected, 10000, 'the stream to end at the graceful restart');
      const b = await postAs(cookie, 'while the stream is down');
      assert.equal(b.status, 201);
      await s.until((x) => x.ids.includes(b.id), 20000, 'post B, after the resume');
      t.diagnostic(`resumed after ${Math.round(s.reconnects[0])} ms (retry with jitter)`);
      assert.deepEqual(s.ids, [a.id, b.id], 'each post once, in order');
      assert.equal(s.reloads, 0);
    } finally {
      s.close();
    }
  });

  test('a reinstall and an upgrade keep the secret, and the cookie still posts', async () => {
    const secret = fs.readFileSync(SECRET, 'utf8');
    await apt('install', '--reinstall', DEB);
    assert.equal(fs.readFileSync(SECRET, 'utf8'), secret, 'reinstall');
    const up = await withVersion(DEB, `${VERSION}+up1`, work);
    await apt('install', up);
    assert.equal((await run('dpkg-query', ['-W', '-f=${Version}', PKG])).stdout, `${VERSION}+up1`);
    assert.equal(fs.readFileSync(SECRET, 'utf8'), secret, 'upgrade');
    // Apache started afresh reads the secret again: the old cookie still names the visitor.
    await apacheStop();
    await apacheStart();
    await waitUntil(async () => (await request('GET', `${FEED}home/health`)).status === 200,
      20000, 'the feed after the restart');
    const p = await postAs(cookie, 'after the upgrade');
    assert.equal(p.status, 201, p.res.body);
  });

  test('apt-get remove disables the module; Apache still starts', async () => {
    await apt('remove', PKG);
    assert.ok(!fs.existsSync('/etc/apache2/mods-enabled/tweetsse.load'), 'disabled');
    assert.ok(!fs.existsSync('/usr/lib/apache2/modules/mod_tweetsse.so'), 'the module is gone');
    assert.ok(fs.existsSync('/etc/apache2/mods-available/tweetsse.conf'), 'conffiles stay');
    assert.ok(fs.existsSync(SECRET), 'the secret stays until purge');
    await apacheStop();
    await apacheStart();
    assert.equal((await request('GET', 'http://127.0.0.1/')).status, 200, "Debian's default page");
    assert.equal((await request('GET', FEED)).status, 404, 'no feed');
  });

  test('apt-get purge removes the configuration and the secret', async () => {
    await apt('purge', PKG);
    assert.equal(await installed(), false);
    for (const f of ['mods-available/tweetsse.load', 'mods-available/tweetsse.conf',
      'tweetsse.secret']) {
      assert.ok(!fs.existsSync(`/etc/apache2/${f}`), f);
    }
    await apacheStop();
    apacheWasOurs = false;
    assert.deepEqual(state(), etcBefore, '/etc/apache2 and /var/lib/apache2 as they were found');
  });
});
