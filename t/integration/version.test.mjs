// The version the module reports: once in the error log at every start and graceful restart
// (TW0020, at notice level, so under the default LogLevel warn too), in server-status (HTML
// and ?auto), and nowhere in the Server header.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request, startApache, startRedis } from '../lib/harness.mjs';
import { moduleVersion } from '../lib/version.mjs';

const VERSION = moduleVersion();
let redis, web, origin;

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
  origin = `http://127.0.0.1:${web.port}`;
});

after(async () => {
  await web?.stop();
  await redis?.stop();
});

const started = (lines) => lines.filter((l) => l.includes('TW0020:'));

test('the error log names the version once per start, and again after a graceful restart', async () => {
  const logged = started(web.errorLog().split('\n'));
  assert.equal(logged.length, 1, logged.join('\n'));
  assert.match(logged[0], new RegExp(`:notice\\] .*TW0020: mod_tweetsse ${VERSION.replace(/\./g, '\\.')} configured$`));
  const mark = web.logMark();
  web.graceful();
  const again = await web.waitForLog((lines) => started(lines).length === 1 && started(lines),
    { from: mark, what: 'TW0020 after a graceful restart' });
  assert.ok(again[0].includes(VERSION));
});

test('server-status?auto has a TweetsseVersion line, the HTML page the version', async () => {
  const auto = await request('GET', `${origin}/server-status?auto`);
  assert.equal(auto.status, 200);
  assert.ok(auto.body.split('\n').includes(`TweetsseVersion: ${VERSION}`), auto.body);
  const html = await request('GET', `${origin}/server-status`);
  assert.equal(html.status, 200);
  assert.ok(html.body.includes(`<p>mod_tweetsse version ${VERSION}</p>`));
});

test('the Server header does not name the module', async () => {
  for (const url of [web.base, `${web.base}home/health`, `${origin}/server-status`]) {
    const res = await request('GET', url);
    assert.ok(res.headers.server, url);
    assert.doesNotMatch(res.headers.server, /tweetsse/i, url);
    assert.ok(!res.headers.server.includes(VERSION) || /Apache\/\d/.test(res.headers.server), url);
  }
});
