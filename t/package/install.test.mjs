// make install and make uninstall into a staging directory (DESTDIR): every file where the
// Debian layout wants it, no secret in a staged tree, an operator's edited tweetsse.conf kept
// across an install (the new one beside it as .dist) and an uninstall, an unedited one
// replaced, and nothing else left behind.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TOP, execFileAsync, tempDir } from '../lib/harness.mjs';

let stage;
let libexec, sysconf;
const PREFIX = '/usr/share/tweetsse';

const make = (target, env = {}) => execFileAsync('make', ['-s', '-C', TOP, target,
  `DESTDIR=${stage}`], { env: { ...process.env, ...env } });
const at = (p) => path.join(stage, p);
const read = (p) => fs.readFileSync(at(p), 'utf8');
const exists = (p) => fs.existsSync(at(p));
// Every file under the staging directory, relative to it, sorted.
const files = () => fs.readdirSync(stage, { recursive: true })
  .filter((f) => fs.statSync(path.join(stage, f)).isFile()).sort();
const sha = (text) => crypto.createHash('sha256').update(text).digest('hex');

before(async () => {
  stage = tempDir('stage');
  libexec = (await execFileAsync('apxs', ['-q', 'LIBEXECDIR'])).stdout.trim();
  sysconf = (await execFileAsync('apxs', ['-q', 'SYSCONFDIR'])).stdout.trim();
});

after(() => fs.rmSync(stage, { recursive: true, force: true }));

const conf = () => `${sysconf}/mods-available/tweetsse.conf`;
const shipped = () => fs.readFileSync(path.join(TOP, 'conf/tweetsse.conf'), 'utf8');

test('make install DESTDIR=...: the module, the a2enmod files and htdocs/lib, no secret', async () => {
  const { stdout } = await make('install');
  assert.match(stdout, /no secret written there/);
  const lib = fs.readdirSync(path.join(TOP, 'htdocs/lib')).sort();
  assert.ok(lib.includes('htmx.min.js') && lib.includes('tweetsse.js'), lib.join(' '));
  const want = [`${libexec}/mod_tweetsse.so`, `${sysconf}/mods-available/tweetsse.load`, conf(),
    ...lib.map((f) => `${PREFIX}/htdocs/lib/${f}`), `${PREFIX}/install.manifest`]
    .map((p) => p.slice(1)).sort();
  assert.deepEqual(files(), want);
  assert.ok(fs.readFileSync(at(`${libexec}/mod_tweetsse.so`))
    .equals(fs.readFileSync(path.join(TOP, '.libs/mod_tweetsse.so'))));
  assert.equal(read(conf()), shipped());
  assert.match(read(`${sysconf}/mods-available/tweetsse.load`), /^# Depends: alias headers$/m);
  for (const f of files()) {
    assert.equal(fs.statSync(path.join(stage, f)).mode & 0o777, 0o644, f);
  }
  assert.ok(!files().some((f) => /secret/.test(f)), 'no secret in a staged tree');
});

test('an unchanged tweetsse.conf of an earlier install is replaced by the new one', async () => {
  // As an earlier version would have left it: another text, recorded as installed.
  const older = '# an older tweetsse.conf\n';
  fs.writeFileSync(at(conf()), older);
  const manifest = at(`${PREFIX}/install.manifest`);
  fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8')
    .replace(new RegExp(`^\\S+ ${conf()}$`, 'm'), `${sha(older)} ${conf()}`));
  const { stdout } = await make('install');
  assert.doesNotMatch(stdout, /kept your edited/);
  assert.equal(read(conf()), shipped());
  assert.ok(!exists(`${conf()}.dist`));
});

test('an edited tweetsse.conf is kept, the new one put beside it as .dist', async () => {
  const edited = `${shipped()}TweetsseHistory 5000\n`;
  fs.writeFileSync(at(conf()), edited);
  for (let round = 0; round < 2; round++) {
    const { stdout } = await make('install');
    assert.match(stdout, /kept your edited .*tweetsse\.conf; the new one is .*tweetsse\.conf\.dist/);
    assert.equal(read(conf()), edited, `round ${round}`);
    assert.equal(read(`${conf()}.dist`), shipped());
  }
});

test('make uninstall DESTDIR=...: removes what it installed, keeps the edited conf', async () => {
  const { stdout } = await make('uninstall');
  assert.match(stdout, /kept your edited/);
  assert.deepEqual(files(), [conf().slice(1)]);
  assert.ok(!exists(PREFIX), `${PREFIX} removed`);
  await assert.rejects(make('uninstall'), /nothing to uninstall/);
});

test('install then uninstall with the conf unedited leaves nothing behind', async () => {
  fs.rmSync(at(conf()));
  await make('install');
  const { stdout } = await make('uninstall');
  assert.doesNotMatch(stdout, /kept your edited/);
  assert.deepEqual(files(), []);
});
