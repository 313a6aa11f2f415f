// Browser test: the live status in the banner follows the stream's real state, in the tab that
// holds the browser's stream and in a tab that shares it: "Live"; "Offline" when the network
// goes (Playwright's context.setOffline); "Reconnecting…" when the server goes while the
// network stays; and on return it says, and announces politely, how many posts arrived
// meanwhile. Debian's Chromium against real Apache instances and Redis.
//
// Run: node --test t/browser/status.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium, reportCspViolations } from '../lib/browser.mjs';
import { postId } from '../lib/helpers.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, failedLoad, htmxLogs, waitAnnounced, waitState, watchedPage }
  from '../lib/page.mjs';

let redis, web, other, browser, context, holder, sharer;
const problems = [];
const streams = []; // stream requests of the whole browser

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
  other = await startApache({ redis: redis.addr }); // takes posts while `web` is down
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  await reportCspViolations(context);
  context.on('request', (r) => { if (r.url().includes('/home/sse')) streams.push(r.url()); });
});
after(async () => {
  await browser?.close();
  await other?.stop();
  await web?.stop();
  await redis?.stop();
});

const status = (page) => page.$eval('#live-status', (s) => ({ state: s.dataset.state,
  text: s.textContent }));

// While the stream is down its requests fail and htmx-ext-sse logs its error events.
const OUTAGE = [failedLoad(), htmxLogs];
function allowOutage(on) {
  for (const p of [holder, sharer]) p.allow = on ? OUTAGE : [];
}

test('both tabs say Live; one stream for the two', async () => {
  holder = await watchedPage(context, problems, 'holder');
  await holder.goto(web.base);
  await waitState(holder, 'live');
  sharer = await watchedPage(context, problems, 'sharer');
  await sharer.goto(web.base);
  await waitState(sharer, 'live');
  assert.deepEqual(await status(holder), { state: 'live', text: 'Live' });
  assert.deepEqual(await status(sharer), { state: 'live', text: 'Live' });
  assert.equal(streams.length, 1, 'the sharing tab uses the holder\'s stream');
  // In the banner, next to the feed's name; the announcements in a polite region of main.
  assert.ok(await holder.$('header.tw-top #live-status'));
  assert.deepEqual(await holder.$eval('#announce', (a) => [a.getAttribute('role'),
    a.getAttribute('aria-live'), a.closest('main') !== null]), ['status', 'polite', true]);
  assert.deepEqual(problems, []);
});

test('offline: both tabs say so; back online they say how many posts came meanwhile',
  async () => {
    await sharer.bringToFront();
    allowOutage(true);
    await context.setOffline(true);
    await Promise.all([waitState(holder, 'offline'), waitState(sharer, 'offline')]);
    assert.equal((await status(sharer)).text, 'Offline');
    await waitAnnounced(sharer, /^Offline: new posts will arrive when the connection is back\.$/);
    const ids = [await postId(web.base, 'Away', 'one'), await postId(web.base, 'Away', 'two')];
    await context.setOffline(false);
    for (const p of [holder, sharer]) {
      await p.waitForFunction(() => document.getElementById('live-status').textContent ===
        'Live again: 2 new posts arrived meanwhile', null, { timeout: 20000 });
      await waitAnnounced(p, /^Live again: 2 new posts arrived meanwhile\.$/);
      assert.equal((await status(p)).state, 'live');
      await p.waitForSelector(`#post-${ids[1]}`);
    }
    for (const p of [holder, sharer]) await consoleSettled(p);
    allowOutage(false);
    assert.deepEqual(problems, []);
  });

test('the server goes, the network stays: Reconnecting…, then Live again', async () => {
  await sharer.bringToFront();
  allowOutage(true);
  await web.stop();
  await Promise.all([waitState(holder, 'reconnecting'), waitState(sharer, 'reconnecting')]);
  assert.equal((await status(sharer)).text, 'Reconnecting…');
  assert.equal(await sharer.evaluate(() => navigator.onLine), true, 'the network is up');
  await waitAnnounced(sharer, /^Connection lost: reconnecting\.$/);
  const id = await postId(other.base, 'Elsewhere', 'posted through another instance');
  await web.start();
  for (const p of [holder, sharer]) {
    await p.waitForFunction(() => document.getElementById('live-status').textContent ===
      'Live again: 1 new post arrived meanwhile', null, { timeout: 20000 });
    await p.waitForSelector(`#post-${id}`);
  }
  await waitAnnounced(sharer, /^Live again: 1 new post arrived meanwhile\.$/);
  for (const p of [holder, sharer]) await consoleSettled(p);
  allowOutage(false);
  assert.deepEqual(problems, []);
});

test('the sharing tab takes the stream over when the holder closes, and says Live', async () => {
  // Everything the polite region says from now on.
  await sharer.evaluate(() => {
    window.twSaid = [];
    const region = document.getElementById('announce');
    new MutationObserver(() => { if (region.textContent) window.twSaid.push(region.textContent); })
      .observe(region, { childList: true, characterData: true, subtree: true });
  });
  await holder.close();
  await sharer.waitForFunction(() => document.getElementById('live-status').dataset.state ===
    'live' && document.getElementById('live').hasAttribute('sse-connect'), null,
  { timeout: 10000 });
  const id = await postId(web.base, 'After', 'the handover');
  await sharer.waitForSelector(`#post-${id}`, { timeout: 2000 });
  await waitAnnounced(sharer, /^1 new post$/);
  assert.deepEqual(await sharer.evaluate(() => window.twSaid), ['1 new post'],
    'a handover is no outage: nothing said of the connection');
  await consoleSettled(sharer);
  assert.deepEqual(problems, []);
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
  assert.deepEqual(other.badLogLines(), []);
});
