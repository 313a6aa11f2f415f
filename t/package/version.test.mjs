// The files that describe a release agree with each other: one version (src/tw_version.h,
// debian/changelog, CHANGELOG.md), one licence (LICENSE, package.json, debian/copyright), and
// debian/copyright names exactly the third-party front-end files the package ships (the
// Makefile's FRONTEND) and their sources (FRONTEND_SOURCES).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { TOP, execFileAsync } from '../lib/harness.mjs';
import { moduleVersion } from '../lib/version.mjs';

const read = (f) => fs.readFileSync(path.join(TOP, f), 'utf8');

// A variable of the Makefile, as make expands it.
async function makeVar(name) {
  const { stdout } = await execFileAsync('make', ['-s', '--no-print-directory', '-C', TOP,
    '--eval', 'tw-print-%: ; @echo $($*)', `tw-print-${name}`]);
  return stdout.trim().split(/\s+/).filter(Boolean);
}

// debian/copyright (DEP-5) as [{files: [...], license}] for its Files paragraphs.
function copyright() {
  return read('debian/copyright').split(/\n\s*\n/).filter((p) => /^Files:/m.test(p)).map((p) => {
    const files = p.match(/^Files:((?:.*\n?)(?:[ \t].*\n?)*)/m)[1].trim().split(/\s+/);
    return { files, license: p.match(/^License: (\S+)/m)[1] };
  });
}

test('src/tw_version.h, debian/changelog and CHANGELOG.md name the same version', () => {
  const version = moduleVersion();
  assert.match(version, /^\d+\.\d+\.\d+$/, 'major.minor.patch');
  const deb = read('debian/changelog').match(/^libapache2-mod-tweetsse \(([^)]+)\) \S+; urgency=/);
  assert.ok(deb, 'debian/changelog starts with an entry of libapache2-mod-tweetsse');
  assert.equal(deb[1], version, 'debian/changelog (a native package: no Debian revision)');
  const releases = [...read('CHANGELOG.md').matchAll(/^## (\S+)/gm)].map((m) => m[1]);
  assert.equal(releases[0], 'Unreleased', 'CHANGELOG.md keeps an Unreleased section on top');
  assert.equal(releases[1], version, 'the newest release in CHANGELOG.md');
});

test('one licence: LICENSE is the Apache License 2.0, as package.json and debian/copyright say',
  () => {
    assert.match(read('LICENSE'), /^\s*Apache License\s+Version 2\.0, January 2004/);
    assert.equal(JSON.parse(read('package.json')).license, 'Apache-2.0');
    const own = copyright().find((p) => p.files.includes('*'));
    assert.equal(own?.license, 'Apache-2.0');
  });

test('debian/copyright names each third-party front-end file and its source, and no other',
  async () => {
    const shipped = await makeVar('FRONTEND');
    const sources = await makeVar('FRONTEND_SOURCES');
    assert.ok(shipped.length > 0 && shipped.length === sources.length,
      `FRONTEND (${shipped}) and FRONTEND_SOURCES (${sources}) pair up`);
    const paras = copyright();
    shipped.forEach((file, i) => {
      const para = paras.find((p) => p.files.includes(file));
      assert.ok(para, `debian/copyright has a Files paragraph for ${file}`);
      assert.notEqual(para.license, 'Apache-2.0', `${file} is third-party`);
      const source = `debian/missing-sources/${path.basename(sources[i])}`;
      assert.ok(para.files.includes(source), `${source} is named with ${file}`);
    });
    const named = paras.flatMap((p) => p.files).filter((f) => f.startsWith('htdocs/lib/'));
    assert.deepEqual(named.sort(), [...shipped].sort(),
      'every htdocs/lib file named in debian/copyright is one the Makefile installs');
  });
