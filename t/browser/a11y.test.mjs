// Browser test: accessibility. axe-core (pinned in package.json) finds no violation of WCAG
// 2.1 A/AA or its best practices on the feed (also with the "new posts" button and the counter
// over the limit showing), an older page, a post's page and the error pages (400, 404, 503),
// in the light and the dark scheme. The structure behind it: one h1, a banner and main, a
// feed of numbered articles that is busy while older posts load, a polite region for
// summaries; visible focus; no motion when the reader asks for less; a dark theme from
// prefers-color-scheme. Screenshots of the feed, desktop and phone, light and dark, go to
// build/screenshots/ (TWEETSSE_SCREENSHOTS overrides).
//
// axe is added to the page with page.addScriptTag, which the module's policy refuses; those
// contexts alone bypass it (bypassCSP), the others run under it.
//
// Run: node --test t/browser/a11y.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { postId } from '../lib/helpers.mjs';
import { freePort, startApache, startRedis } from '../lib/harness.mjs';
import { axe, consoleSettled, failedLoad, frames, openPage, seed, shotPath, waitState }
  from '../lib/page.mjs';

const PAGE = 5;
let redis, web, down, browser, ids;
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: `TweetssePageSize ${PAGE}` });
  down = await startApache({ redis: `127.0.0.1:${await freePort()}` });
  browser = await launchChromium();
  ids = await seed(web.base, 3 * PAGE);
  await postId(web.base, 'W'.repeat(32), `A long word: ${'x'.repeat(120)}`);
});
after(async () => {
  await browser?.close();
  await down?.stop();
  await web?.stop();
  await redis?.stop();
});

// Scroll to the end of the feed (the older pages load on the way), then back up into it, away
// from its top.
async function scrollAway(page) {
  while (!(await page.$('#feed-end'))) {
    const n = await page.locator('#feed > article').count();
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForFunction((k) => document.querySelectorAll('#feed > article').length > k ||
      document.getElementById('feed-end'), n);
  }
  await page.evaluate(() => window.scrollTo(0, 900));
  await frames(page);
  assert.ok(await page.evaluate(() => document.getElementById('feed').getBoundingClientRect().top < 0));
}

const PAGES = () => [
  ['feed', web.base, 200],
  ['older page', `${web.base}home?before=${ids[2 * PAGE]}`, 200],
  ['post page', `${web.base}home/post/${ids[3]}`, 200],
  ['400', `${web.base}home?before=garbage`, 400],
  ['404', `${web.base}home/post/1-0`, 404],
  ['503 feed', down.base, 503],
  ['503 post page', `${down.base}home/post/1-0`, 503],
];

for (const scheme of ['light', 'dark']) {
  test(`axe: no violation on any page, ${scheme}`, async (t) => {
    const page = await openPage(browser, problems, `axe ${scheme}`,
      { colorScheme: scheme, bypassCSP: true });
    page.allow = [failedLoad('the server responded with a status of')];
    const found = {};
    for (const [name, url, status] of PAGES()) {
      const res = await page.goto(url);
      assert.equal(res.status(), status, name);
      if (name === 'feed') await waitState(page, 'live');
      found[name] = await axe(page);
      if (name === 'feed') {
        // The feed with what the script shows: the button for waiting posts, the counter
        // over the limit, a refusal.
        await page.fill('#message', 'y'.repeat(300));
        await scrollAway(page);
        const id = await postId(web.base, 'Late', 'while scrolled down');
        await page.waitForSelector('#new-posts:not([hidden])');
        found['feed with the button'] = await axe(page);
        await page.click('#new-posts');
        await page.waitForSelector(`#post-${id}`);
      }
    }
    for (const [name, v] of Object.entries(found)) {
      t.diagnostic(`${scheme} ${name}: ${v.length} violations${v.length ? ` ${JSON.stringify(v)}` : ''}`);
    }
    assert.deepEqual(Object.fromEntries(Object.entries(found).filter(([, v]) => v.length)), {},
      'axe violations');
    await consoleSettled(page);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
}

test('structure: one h1, banner and main, a numbered feed, a polite region', async () => {
  const page = await openPage(browser, problems, 'structure');
  await page.goto(web.base);
  await waitState(page, 'live');
  assert.equal(await page.locator('h1').count(), 1);
  assert.equal(await page.getByRole('banner').count(), 1);
  assert.equal(await page.getByRole('main').count(), 1);
  const feed = page.getByRole('feed', { name: 'Posts' });
  assert.equal(await feed.count(), 1);
  const cards = await page.$$eval('#feed > *', (els) => els.map((a) => ({ tag: a.tagName,
    pos: a.getAttribute('aria-posinset'), size: a.getAttribute('aria-setsize'),
    name: document.getElementById(a.getAttribute('aria-labelledby'))?.textContent })));
  assert.equal(cards.length, PAGE);
  cards.forEach((c, i) => {
    assert.equal(c.tag, 'ARTICLE', 'a feed owns articles only');
    assert.equal(c.pos, String(i + 1));
    assert.equal(c.size, '-1', 'more may load: the size is unknown');
    assert.match(c.name, /^\S+ \S/, 'named by its author and time');
  });
  // Others' posts show no delete control (the viewer's stylesheet shows it on its own only).
  assert.ok(await page.locator('#feed .tw-like').count() > 0);
  assert.equal(await page.locator('#feed .tw-delete:visible').count(), 0);
  // Page Down moves to the next post.
  await page.focus('#feed > article');
  await page.keyboard.press('PageDown');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-posinset')), '2');
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the feed is busy while older posts load, and numbered on', async () => {
  const page = await openPage(browser, problems, 'busy');
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route((url) => url.searchParams.has('before'), async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(web.base);
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForFunction(() => document.getElementById('feed').getAttribute('aria-busy') ===
    'true');
  release();
  await page.waitForFunction(() => document.getElementById('feed').getAttribute('aria-busy') ===
    'false');
  const pos = await page.$$eval('#feed > article', (as) => as.map((a) => a.getAttribute('aria-posinset')));
  assert.ok(pos.length > PAGE + 1);
  assert.deepEqual(pos, pos.map((_, i) => String(i + 1)));
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('focus is visible; motion stops on request; the dark scheme is dark', async () => {
  for (const [scheme, motion] of [['light', 'no-preference'], ['dark', 'reduce']]) {
    const page = await openPage(browser, problems, `${scheme} ${motion}`,
      { colorScheme: scheme, reducedMotion: motion });
    await page.goto(web.base);
    await waitState(page, 'live');
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return { el: document.activeElement.className, style: s.outlineStyle,
        width: parseFloat(s.outlineWidth) };
    });
    assert.equal(ring.el, 'tw-brand', 'the first stop is the feed\'s name');
    assert.equal(ring.style, 'solid');
    assert.ok(ring.width >= 2, `a visible focus ring (${ring.width} px)`);
    const id = await postId(web.base, 'Mover', `${scheme} arrival`);
    await page.waitForSelector(`#post-${id}`);
    const anim = await page.$eval(`#post-${id}`, (c) => getComputedStyle(c).animationName);
    assert.equal(anim, motion === 'reduce' ? 'none' : 'tw-arrive');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, scheme === 'dark' ? 'rgb(15, 20, 25)' : 'rgb(243, 245, 247)');
    await consoleSettled(page);
    await page.context().close();
  }
  assert.deepEqual(problems, []);
});

test('screenshots: the feed at desktop and phone size, light and dark', async (t) => {
  for (const [size, viewport] of [['desktop', { width: 1024, height: 720 }],
    ['phone', { width: 375, height: 667 }]]) {
    for (const scheme of ['light', 'dark']) {
      const page = await openPage(browser, problems, `shot ${size} ${scheme}`,
        { viewport, colorScheme: scheme, reducedMotion: 'reduce',
          isMobile: size === 'phone', hasTouch: size === 'phone' });
      await page.goto(web.base);
      await waitState(page, 'live');
      const file = shotPath(`feed-${size}-${scheme}`);
      await page.screenshot({ path: file });
      t.diagnostic(`screenshot: ${file}`);
      await page.context().close();
    }
  }
  assert.deepEqual(problems, []);
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
});
