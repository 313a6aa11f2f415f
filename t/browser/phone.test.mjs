// Browser test: the page on a phone (375 x 667, touch). No page scrolls sideways, whatever
// it shows (the longest name, a long word, the live status after an outage, the new-posts
// button); every control is a tap target of at least 44 x 44 px; the compose box works by
// touch. Debian's Chromium against a real Apache and Redis, under the module's own policy.
//
// Run: node --test t/browser/phone.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { postId } from '../lib/helpers.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, failedLoad, frames, htmxLogs, openPage, seed, shotPath, waitState }
  from '../lib/page.mjs';

const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };
const PAGE = 8;
let redis, web, browser, ids;
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: `TweetssePageSize ${PAGE}` });
  browser = await launchChromium();
  ids = await seed(web.base, 2 * PAGE);
  await postId(web.base, 'W'.repeat(32), `Longest name, and a long word: ${'x'.repeat(150)}`);
});
after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

// How wide the page is, and every visible control smaller than 44 x 44 px.
const measure = (page) => page.evaluate(() => {
  const controls = [...document.querySelectorAll(
    'a[href], button, textarea, input:not([type="hidden"]), select, [tabindex="0"]')]
    .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden');
  const small = controls.map((e) => ({ e, r: e.getBoundingClientRect() }))
    .filter(({ r }) => r.width < 44 || r.height < 44)
    .map(({ e, r }) => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim()
      .slice(0, 20)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  return { width: document.documentElement.scrollWidth, controls: controls.length, small };
});

function assertFits(m, what) {
  assert.ok(m.width <= 375, `${what}: the page scrolls sideways (${m.width} px)`);
  assert.ok(m.controls > 0, `${what}: controls found`);
  assert.deepEqual(m.small, [], `${what}: tap targets under 44 px`);
}

test('every page fits the width; every control is at least 44 x 44 px', async () => {
  const page = await openPage(browser, problems, 'phone', PHONE);
  page.allow = [failedLoad('the server responded with a status of')];
  for (const [what, url] of [['feed', web.base], ['older page', `${web.base}home?before=${ids[PAGE]}`],
    ['post page', `${web.base}home/post/${ids[1]}`], ['404', `${web.base}home/post/1-0`],
    ['400', `${web.base}home?before=x`]]) {
    await page.goto(url);
    if (what === 'feed') await waitState(page, 'live');
    assertFits(await measure(page), what);
  }
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the compose box works by touch; the new-posts button and the status fit too', async () => {
  const page = await openPage(browser, problems, 'touch', PHONE);
  await page.goto(web.base);
  await waitState(page, 'live');
  await page.tap('#message');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  await page.keyboard.type('Posted from a phone');
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.tap('#compose button[type="submit"]');
  assert.equal((await posted).status(), 204);
  const id = (await posted).headers()['x-post-id'];
  await page.waitForSelector(`#post-${id}`);
  assert.equal(await page.inputValue('#message'), '');

  // Further down, a post waits behind the button, which is a target of its own.
  await page.evaluate(() => window.scrollTo(0, 1200));
  await frames(page);
  const late = await postId(web.base, 'Poster', 'while the phone is scrolled down');
  await page.waitForSelector('#new-posts:not([hidden])');
  assertFits(await measure(page), 'feed with the button');
  await page.screenshot({ path: shotPath('feed-phone-new-posts') });
  await page.tap('#new-posts');
  await page.waitForSelector(`#post-${late}`);

  // The longest status the banner shows, after an outage.
  page.allow = [failedLoad(), htmxLogs];
  await page.context().setOffline(true);
  await waitState(page, 'offline');
  await page.context().setOffline(false);
  await page.waitForFunction(() => document.getElementById('live-status').textContent
    .startsWith('Live again'), null, { timeout: 20000 });
  assertFits(await measure(page), 'feed after an outage');
  await page.screenshot({ path: shotPath('feed-phone-back-live') });
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
});
