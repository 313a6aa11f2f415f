// Browser test: what a visit costs on the wire, in Chromium's resource timing (transferSize:
// headers and compressed body), with a feed of 50 posts of text like people's. A first visit
// is at most 40 KB; a repeat visit at most 6 KB, the static files coming from the browser's
// cache without even a revalidation (versioned URLs, Cache-Control immutable); the page is
// compressed, the live stream never. Measured in two configurations: `make run`'s
// (conf/httpd.conf.in through scripts/server.sh) and the shipped conf/tweetsse.conf, included
// as Debian would (its default modules and their configs, mod_headers as a2enmod tweetsse
// adds it), mounted at /feed/.
//
// Run: node --test t/browser/weight.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { SECRET_FILE, TOP, startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, openPage, seed, waitState } from '../lib/page.mjs';

const FIRST = 40 * 1024;
const REPEAT = 6 * 1024;
const POSTS = 50;
let redis, browser;
const servers = [];
const problems = [];

// Debian's default modules (a fresh apache2 install), mod_headers (a2enmod tweetsse enables
// it: conf/tweetsse.load), each with its own .conf, and conf/tweetsse.conf with this test's
// Redis, secret and static files.
function debianConf({ dir, port }) {
  const avail = '/etc/apache2/mods-available';
  const mods = ['mpm_event', 'authz_core', 'authz_host', 'authn_core', 'authn_file',
    'authz_user', 'access_compat', 'auth_basic', 'alias', 'autoindex', 'deflate', 'dir', 'env',
    'filter', 'mime', 'negotiation', 'reqtimeout', 'setenvif', 'status', 'headers'];
  const user = process.getuid() === 0 ? 'www-data' : process.env.USER;
  const feedConf = fs.readFileSync(path.join(TOP, 'conf/tweetsse.conf'), 'utf8')
    .replace(/^(\s*)TweetsseRedis .*$/m, `$1TweetsseRedis ${redis.addr}`)
    .replace(/^(\s*)TweetsseSecretFile .*$/m, `$1TweetsseSecretFile ${SECRET_FILE}`)
    .replaceAll('/usr/share/tweetsse/htdocs', path.join(dir, 'htdocs'));
  fs.writeFileSync(path.join(dir, 'tweetsse.conf'), feedConf);
  const module = process.env.MODULE || path.join(TOP, '.libs/mod_tweetsse.so');
  return [
    `ServerRoot "${dir}"`, 'ServerName 127.0.0.1', `Listen 127.0.0.1:${port}`,
    `PidFile "${dir}/httpd.pid"`, `ErrorLog "${dir}/error.log"`, 'LogLevel warn',
    `DefaultRuntimeDir "${dir}"`, `User ${user}`, `Group ${user}`,
    ...mods.flatMap((m) => [`Include ${avail}/${m}.load`,
      ...(fs.existsSync(`${avail}/${m}.conf`) ? [`Include ${avail}/${m}.conf`] : [])]),
    // From Debian's apache2.conf.
    '<Directory />', 'Options FollowSymLinks', 'AllowOverride None', 'Require all denied',
    '</Directory>',
    `LoadModule tweetsse_module "${module}"`,
    `Include "${dir}/tweetsse.conf"`, '',
  ].join('\n');
}

before(async () => {
  redis = await startRedis();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  await redis?.stop();
});

// Every transfer of the page's document so far: [{name, transfer, encoded, decoded}].
const entries = (page) => page.evaluate(() => [...performance.getEntriesByType('navigation'),
  ...performance.getEntriesByType('resource')].map((e) => ({ name: e.name,
  transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize })));
const total = (list) => list.reduce((s, e) => s + e.transfer, 0);
const table = (list) => list.map((e) => `${new URL(e.name).pathname.split('/').pop() || '(page)'} ` +
  `${e.transfer} B (body ${e.encoded} of ${e.decoded})`).join(', ');

for (const [label, opts] of [
  ['make run (conf/httpd.conf.in)', {}],
  ['shipped conf/tweetsse.conf, as on Debian', { mount: '/feed/', conf: debianConf }],
]) {
  test(`${label}: a first visit at most 40 KB, a repeat visit at most 6 KB`, async (t) => {
    // Its own Redis data: each configuration serves the same 50 posts.
    await redis.client.flushAll();
    const web = await startApache({ redis: redis.addr, ...opts });
    servers.push(web);
    await seed(web.base, POSTS);
    const page = await openPage(browser, problems, label);
    const headers = {};
    page.on('response', (r) => { headers[new URL(r.url()).pathname] = r.headers(); });
    const stream = page.waitForResponse((r) => r.url().includes('/home/sse'));
    const res = await page.goto(web.base);
    await waitState(page, 'live');
    assert.equal(await page.locator('#feed > article').count(), POSTS);

    // First visit.
    const first = await entries(page);
    t.diagnostic(`${label}: first visit ${total(first)} B: ${table(first)}`);
    assert.ok(total(first) <= FIRST, `first visit: ${total(first)} B > ${FIRST}`);
    assert.equal(res.headers()['content-encoding'], 'gzip', 'the page is compressed');
    const libs = Object.entries(headers).filter(([p]) => p.includes('/lib/'));
    assert.equal(libs.length, 4, libs.map(([p]) => p).join());
    for (const [p, h] of libs) {
      assert.equal(h['cache-control'], 'public, max-age=31536000, immutable', p);
      assert.equal(h['content-encoding'], 'gzip', `${p} compressed`);
    }
    assert.equal((await stream).headers()['content-encoding'], undefined,
      'the live stream is never compressed');

    // Repeat visit: the page again, the static files from the cache without asking.
    const asked = [];
    page.on('request', (r) => asked.push(r.url()));
    await page.goto(web.base);
    await waitState(page, 'live');
    const repeat = await entries(page);
    t.diagnostic(`${label}: repeat visit ${total(repeat)} B: ${table(repeat)}`);
    assert.ok(total(repeat) <= REPEAT, `repeat visit: ${total(repeat)} B > ${REPEAT}`);
    const cached = repeat.filter((e) => e.name.includes('/lib/'));
    assert.equal(cached.length, 4);
    for (const e of cached) {
      assert.equal(e.transfer, 0, `${e.name}: from the cache, not revalidated`);
      assert.ok(e.decoded > 0, e.name);
    }
    await consoleSettled(page);
    assert.deepEqual(problems, []);
    await page.context().close();
    assert.deepEqual(web.badLogLines(), []);
  });
}
