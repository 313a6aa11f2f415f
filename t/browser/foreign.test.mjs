// Browser test: 51 entries of another writer (not posts) on top of the Redis stream. The page
// shows a whole page of posts and a live stream: it loads once, a new post arrives live, and it
// never reloads (a page that read the foreign entries as its posts once showed none and resumed
// from the start of the stream, which answered reload, again and again).
//
// Run: node --test t/browser/foreign.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { startApache, startRedis, within } from '../lib/harness.mjs';
import { STREAM_KEY, postId, postMany } from '../lib/helpers.mjs';

let redis, web, browser;

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, history: 10000 });
  await postMany(web.base, 120, { username: 'writer' });
  for (let i = 0; i < 51; i++) await redis.client.xAdd(STREAM_KEY, '*', { kind: 'audit' });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

test('51 foreign entries on top: one page load, 50 cards, a live post, no reload', async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  let loads = 0;
  page.on('load', () => { loads++; });
  const stream = page.waitForResponse((r) => r.url().includes('/home/sse'));
  await page.goto(web.base);
  assert.equal((await within(stream, 5000, 'the stream')).status(), 200);
  assert.equal(await page.locator('#feed > article').count(), 50, 'a whole page of posts');
  assert.ok(await page.locator('#older').isVisible(), 'and the control to older ones');
  const id = await postId(web.base, 'writer', 'live');
  await page.waitForSelector(`#post-${id}`, { timeout: 5000 });
  assert.equal(loads, 1, 'loaded once, never reloaded');
  assert.deepEqual(problems, []);
  await page.close();
});
