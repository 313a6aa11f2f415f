// Browser test: a `reload` event on the shared stream reloads every tab. Three tabs of one
// browser profile share one stream (Web Locks + BroadcastChannel, htdocs/tweetsse.js) from
// an instance with a short history (TweetsseHistory 10). The instance goes down, and while
// it is down the feed moves on through another instance far enough that the posts the
// pages show are trimmed from the stream. When the instance is back, the holding tab
// resumes from a post that is gone and the server answers `reload`; the holding tab passes
// it on, every tab reloads once, and the reloaded tabs share a live stream again. The other
// tabs are kept from getting `reload` themselves (a tab that gets the stream on the way, as
// the holder's page goes, would resume from the same gone post): their requests for that
// stream fail, so only the relay can reload them.
//
// Run: node --test t/browser/reload.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { startApache, startRedis, within } from '../lib/harness.mjs';
import { postId, postMany, xrange } from '../lib/helpers.mjs';

const TABS = 3;
const HISTORY = 10;

let redis, web, other, browser, context;
const problems = []; // console errors, page errors
const streams = []; // the stream URLs the tabs asked for, in order
// While the instance is down and the tabs reload, a stream's requests fail or are refused,
// and htmx-ext-sse logs each EventSource error event with console.error (shown as "Event"):
// allowed then, and only then.
let outage = false;
const streamErrors = [];
const STREAM_FAILURES = ['net::ERR_FAILED', 'net::ERR_CONNECTION_REFUSED',
  'net::ERR_CONNECTION_RESET', 'net::ERR_EMPTY_RESPONSE', 'net::ERR_INCOMPLETE_CHUNKED_ENCODING']
  .map((e) => `Failed to load resource: ${e}`);

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, history: HISTORY });
  other = await startApache({ redis: redis.addr, history: HISTORY });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  context.on('request', (r) => {
    if (new URL(r.url()).pathname === '/home/sse') streams.push(r.url());
  });
});
after(async () => {
  await browser?.close();
  await other?.stop();
  await web?.stop();
  await redis?.stop();
});

function watch(page, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location().url;
    if (outage && ((m.text() === 'Event' && new URL(url).pathname.endsWith('/lib/htmx.min.js')) ||
      (STREAM_FAILURES.includes(m.text()) && new URL(url).pathname === '/home/sse'))) {
      streamErrors.push(`${label}: ${m.text()}`);
    } else {
      problems.push(`${label}: console error: ${m.text()}`);
    }
  });
}

test(`a reload event on the shared stream reloads all ${TABS} tabs, once each`, async (t) => {
  const shown = await postId(web.base, 'Seed', 'on the pages');
  const tabs = [];
  const loads = []; // load events per tab, the first page load included
  for (let i = 0; i < TABS; i++) {
    const page = await context.newPage();
    watch(page, `tab ${i + 1}`);
    loads.push(0);
    page.on('load', () => { loads[i]++; });
    const stream = i === 0 ? page.waitForResponse((r) => r.url().includes('/home/sse')) : null;
    await page.goto(web.base, { timeout: 2000 });
    if (stream) assert.equal((await within(stream, 2000, 'the first stream')).status(), 200);
    tabs.push(page);
  }
  const stale = `${web.base}home/sse?last_event_id=${shown}`;
  assert.deepEqual(streams, [stale], 'one stream for the whole browser, from the newest post');
  for (const p of tabs.slice(1)) await p.route(stale, (route) => route.abort());
  // A marker in each page: a reload takes it away.
  for (const p of tabs) await p.evaluate(() => { window.twMarker = 'before the reload'; });
  const reloaded = tabs.map((p) => p.waitForEvent('load', { timeout: 20000 }));

  outage = true;
  await web.stop();
  // Enough posts that XADD MAXLEN ~ 10 trims whole stream nodes, the pages' post among them.
  const posted = await postMany(other.base, 300, { parallel: 10 });
  const kept = (await xrange(redis)).map((e) => e.id);
  assert.ok(!kept.includes(shown), 'the post the pages show was trimmed');
  const newest = posted.at(-1);
  // The reloaded pages show the newest posts: their stream resumes from the newest.
  const liveAgain = context.waitForEvent('response', { timeout: 20000,
    predicate: (r) => r.url() === `${web.base}home/sse?last_event_id=${newest}` });
  const asked = streams.length;
  const back = Date.now();
  await web.start();
  await within(Promise.all(reloaded), 20000, 'every tab to reload');
  t.diagnostic(`instance back -> all ${TABS} tabs reloaded: ${Date.now() - back} ms`);
  for (const [i, p] of tabs.entries()) {
    assert.equal(await p.evaluate(() => window.twMarker), undefined, `tab ${i + 1} reloaded`);
  }
  // The holder resumed from the post that was gone (and got reload).
  assert.equal(streams[asked], stale);
  assert.equal((await liveAgain).status(), 200);
  outage = false;
  t.diagnostic(`stream errors during the outage: ${streamErrors.join('; ') || 'none'}`);

  // Live again, in every tab: a post reaches all of them, and none reloaded again.
  const id = await postId(other.base, 'After', 'after the reload');
  for (const p of tabs) await p.waitForSelector(`#post-${id}`, { timeout: 2000 });
  for (const p of tabs) {
    assert.equal(await p.locator('#feed > article').first().getAttribute('id'), `post-${id}`);
  }
  assert.deepEqual(loads, tabs.map(() => 2), 'each tab loaded twice: once, and the reload');
  assert.deepEqual(problems, []);
  assert.deepEqual(web.badLogLines(), []);
  assert.deepEqual(other.badLogLines(), []);
});
