// Browser test: new posts while the reader is scrolled away. At the top of the feed a post
// appears at once; further down it waits behind a "Show N new posts" button and nothing on the
// screen moves (Chromium's layout-shift entries: none for the arrivals); the button shows them
// and goes to the newest; scrolling back to the top shows them too. The same in a tab that
// shares another tab's stream. Arrivals are announced in summary in the polite live region.
// Debian's Chromium against a real Apache and Redis, under the module's own policy.
//
// Run: node --test t/browser/arrivals.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium, reportCspViolations } from '../lib/browser.mjs';
import { postId } from '../lib/helpers.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, frames, openPage, seed, waitAnnounced, waitState, watchedPage }
  from '../lib/page.mjs';

let redis, web, browser;
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
  browser = await launchChromium();
  await seed(web.base, 30);
});
after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

// Record every layout-shift entry of the page's documents, from their start.
async function recordShifts(context) {
  await context.addInitScript(() => {
    window.twShifts = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        window.twShifts.push({ value: e.value, input: e.hadRecentInput,
          sources: (e.sources || []).map((s) => s.node?.id || s.node?.nodeName || '?') });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
}

const feedIds = (page) => page.$$eval('#feed > article', (as) => as.map((a) => a.id.slice(5)));
const shifts = (page) => page.evaluate(() => window.twShifts.slice());

// Scroll the reader down into the older posts, and wait until the page has painted there.
async function scrollDown(page, y = 1200) {
  await page.evaluate((to) => window.scrollTo(0, to), y);
  await frames(page);
  assert.equal(await page.evaluate(() => window.scrollY), y);
}

test('at the top a post appears at once; scrolled down it waits behind the button, and ' +
  'nothing moves', async (t) => {
  const page = await openPage(browser, problems, 'reader');
  await recordShifts(page.context());
  await page.goto(web.base);
  await waitState(page, 'live');

  // At the top: at once, no button.
  const first = await postId(web.base, 'Poster', 'while the reader is at the top');
  await page.waitForFunction((id) => document.querySelector('#feed > article')?.id === `post-${id}`,
    first, { timeout: 2000 });
  assert.ok(await page.isHidden('#new-posts'));
  await waitAnnounced(page, /^1 new post$/);

  // Scrolled down: three posts wait; the view stays still.
  await scrollDown(page);
  const before = await feedIds(page);
  const shiftsBefore = (await shifts(page)).length;
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await postId(web.base, 'Poster', `arrival ${i}`));
  await page.waitForFunction(() => document.getElementById('new-posts')?.textContent ===
    'Show 3 new posts', null, { timeout: 3000 });
  await frames(page);
  assert.deepEqual(await feedIds(page), before, 'the feed is as it was');
  assert.equal(await page.evaluate(() => window.scrollY), 1200, 'the reader has not moved');
  const during = (await shifts(page)).slice(shiftsBefore);
  t.diagnostic(`layout-shift entries for 3 arrivals while scrolled down: ${during.length} ` +
    `(sum ${during.reduce((s, e) => s + e.value, 0)})`);
  assert.deepEqual(during, [], 'no layout shift for the arrivals');
  const pill = await page.$eval('#new-posts', (b) => ({ position: getComputedStyle(b).position,
    top: b.getBoundingClientRect().top, tag: b.tagName }));
  assert.deepEqual([pill.position, pill.tag], ['fixed', 'BUTTON']);
  assert.ok(pill.top >= 0 && pill.top < 100, 'at the top of the screen');
  await waitAnnounced(page, /^3 new posts$/);
  assert.equal(await page.$$eval('#announce article, #announce .tw-msg', (x) => x.length), 0,
    'the live region never holds a card');

  // The button: the posts at the top, newest first, and the reader there, on the newest.
  await page.click('#new-posts');
  assert.deepEqual((await feedIds(page)).slice(0, 4), [...ids].reverse().concat(first));
  assert.equal(await page.evaluate(() => window.scrollY), 0);
  assert.equal(await page.evaluate(() => document.activeElement.id), `post-${ids[2]}`);
  assert.ok(await page.isHidden('#new-posts'));
  assert.deepEqual(await page.$$eval('#feed > article', (as) => as.slice(0, 2)
    .map((a) => a.getAttribute('aria-posinset'))), ['1', '2'], 'numbered again');

  // Scrolling back to the top by hand shows what waited, too.
  await scrollDown(page);
  const late = await postId(web.base, 'Poster', 'while scrolled down again');
  await page.waitForFunction(() => document.getElementById('new-posts')?.textContent ===
    'Show 1 new post', null, { timeout: 3000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForSelector(`#post-${late}`, { timeout: 2000 });
  assert.equal((await feedIds(page))[0], late);
  assert.ok(await page.isHidden('#new-posts'));
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a tab that shares another tab\'s stream holds arrivals the same way', async () => {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  await reportCspViolations(context);
  await recordShifts(context);
  const holder = await watchedPage(context, problems, 'holder');
  await holder.goto(web.base);
  await waitState(holder, 'live');
  const sharer = await watchedPage(context, problems, 'sharer');
  const streams = [];
  sharer.on('request', (r) => { if (r.url().includes('/home/sse')) streams.push(r.url()); });
  await sharer.goto(web.base);
  await waitState(sharer, 'live');
  await sharer.bringToFront();
  await scrollDown(sharer);
  const mark = (await shifts(sharer)).length;
  const id = await postId(web.base, 'Poster', 'to both tabs');
  await holder.waitForSelector(`#post-${id}`, { timeout: 2000 });
  await sharer.waitForFunction(() => document.getElementById('new-posts')?.textContent ===
    'Show 1 new post', null, { timeout: 3000 });
  await frames(sharer);
  assert.equal(await sharer.$(`#post-${id}`), null, 'waiting in the sharing tab');
  assert.deepEqual((await shifts(sharer)).slice(mark), []);
  assert.deepEqual(streams, [], 'the sharing tab has no stream of its own');
  await sharer.click('#new-posts');
  assert.equal((await feedIds(sharer))[0], id);
  await consoleSettled(holder);
  await consoleSettled(sharer);
  assert.deepEqual(problems, []);
  await context.close();
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
});
