// Browser test of older posts and post pages: Debian's Chromium (playwright-core) against a
// real Apache and Redis. With JavaScript, scrolling to the bottom loads the older pages (htmx,
// hx-trigger="revealed") until "That's all.", every post exactly once even while a new one
// arrives live at the top; without JavaScript the same control is a link through whole pages to
// the end. The time of a card leads to the post's own page. No console error, no violation of
// the module's Content-Security-Policy, no request off 127.0.0.1.
//
// Run: node --test t/browser/older.test.mjs
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { DEFAULT_CSP, launchChromium, reportCspViolations } from '../lib/browser.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { cmpId, postId, postMany } from '../lib/helpers.mjs';

const PAGE = 5;
let redis, web, browser;
let ids = []; // every post, newest first
const requests = []; // [{url, hx}] of every page
const problems = []; // console errors and page errors

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: `TweetssePageSize ${PAGE}` });
  browser = await launchChromium();
  ids = (await postMany(web.base, 4 * PAGE + 3, { prefix: 'scroll' })).reverse();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

beforeEach(() => { problems.length = 0; });

async function openPage(label, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 },
    ...contextOptions });
  await reportCspViolations(context);
  const page = await context.newPage();
  page.on('request', (r) => requests.push({ url: r.url(), hx: r.headers()['hx-request'] }));
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()} (${m.location().url}) at ${page.url()}`);
  });
  return page;
}

// Console messages arrive asynchronously, in the order the page logged them: once a marker
// logged now is in, so is everything logged before.
let markers = 0;
async function consoleSettled(page) {
  const marker = `tweetsse-test-marker-${++markers}`;
  const seen = page.waitForEvent('console', { predicate: (m) => m.text() === marker });
  await page.evaluate((text) => console.debug(text), marker);
  await seen;
}

const feedIds = (page) => page.$$eval('#feed > article', (as) => as.map((a) => a.id.slice(5)));

test('with JavaScript: scrolling to the bottom loads every older post once, to "That\'s all."',
  async () => {
    const page = await openPage('S');
    const stream = page.waitForResponse((r) => r.url().includes('/home/sse'));
    const [doc] = await Promise.all([page.goto(web.base), stream]);
    assert.equal(doc.headers()['content-security-policy'], DEFAULT_CSP);
    const from = requests.length;
    let fresh = null;
    for (let round = 0; round < 50; round++) {
      if (await page.$('#feed-end')) break;
      const before = (await feedIds(page)).length;
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      // The control replaces itself with the next cards (and control), or with the end.
      await page.waitForFunction((n) => document.querySelectorAll('#feed > article').length > n ||
        document.getElementById('feed-end'), before);
      if (round === 1) {
        // A post arrives live while the reader is deep in the older posts: it waits behind
        // the "new posts" button instead of moving the feed.
        fresh = await postId(web.base, 'Latecomer', 'arrived while scrolling');
        await page.waitForSelector('#new-posts:not([hidden])');
        assert.equal((await page.textContent('#new-posts')).trim(), 'Show 1 new post');
        assert.equal(await page.$(`#post-${fresh}`), null, 'not in the feed yet');
      }
    }
    assert.ok(fresh, 'a post arrived during the scroll');
    // The button shows it, at the top, and goes there.
    await page.click('#new-posts');
    await page.waitForSelector(`#post-${fresh}`);
    assert.ok(await page.isHidden('#new-posts'));
    assert.equal(await page.evaluate(() => window.scrollY), 0);
    assert.equal((await page.textContent('#feed-end')).trim(), 'That\'s all.');
    assert.equal(await page.$('#older'), null, 'no control left');
    const got = await feedIds(page);
    assert.equal(new Set(got).size, got.length, `no post twice: ${got}`);
    assert.deepEqual(got, [fresh, ...ids], 'every post once, newest first');
    assert.ok(await page.$eval('#feed', (f) => f.nextElementSibling.id === 'feed-end'),
      'the end marker follows the feed');
    // The feed pattern: each article's place in the feed, the feed not busy any more.
    assert.deepEqual(await page.$$eval('#feed > article', (as) => as.map((a) =>
      [a.getAttribute('aria-posinset'), a.getAttribute('aria-setsize')])),
    got.map((_, i) => [String(i + 1), String(got.length)]));
    assert.equal(await page.getAttribute('#feed', 'aria-busy'), 'false');
    assert.equal(await page.getAttribute('#feed', 'role'), 'feed');
    // htmx asked for the fragments (each page of older posts once), no page was reloaded.
    const older = requests.slice(from).filter((r) => r.url.includes('before='));
    assert.equal(older.length, Math.ceil(ids.length / PAGE) - 1, older.map((r) => r.url).join());
    assert.ok(older.every((r) => r.hx === 'true'), 'each with HX-Request: true');
    assert.equal(new Set(older.map((r) => r.url)).size, older.length, 'no page asked twice');
    await consoleSettled(page);
    assert.deepEqual(problems, [], 'console errors, page errors or CSP violations');

    // The time of a card (one loaded with an older page) leads to the post's own page.
    const target = ids.at(-2);
    await Promise.all([page.waitForURL(`**/home/post/${target}`),
      page.click(`#post-${target} a.tw-permalink`)]);
    assert.deepEqual(await page.$$eval('article', (as) => as.map((a) => a.id)), [`post-${target}`]);
    assert.ok(await page.isVisible('#whoami'));
    assert.equal(await page.$eval('link[rel="stylesheet"]', (l) => l.sheet !== null), true,
      'its styles load from the mount');
    await Promise.all([page.waitForURL(web.base + 'home'), page.click('#back')]);
    assert.equal((await feedIds(page))[0], fresh, 'back on the feed');
    await consoleSettled(page);
    assert.deepEqual(problems, [], 'console errors, page errors or CSP violations');
    await page.context().close();
  });

test('without JavaScript: the Older posts links lead through whole pages to the end', async () => {
  const page = await openPage('N', { javaScriptEnabled: false });
  await page.goto(web.base);
  const seen = [];
  let pages = 0;
  for (;;) {
    seen.push(...await feedIds(page));
    pages++;
    assert.ok(await page.isVisible('#compose'), 'each page has the form');
    const more = await page.$('a#older');
    if (!more) break;
    assert.equal(await more.textContent(), 'Older posts');
    await Promise.all([page.waitForURL(/home\?before=\d+-\d+$/), more.click()]);
    assert.ok(pages < 20, 'the links end');
  }
  assert.equal((await page.textContent('#feed-end')).trim(), 'That\'s all.');
  const all = [...ids];
  const newer = seen.filter((id) => !ids.includes(id)); // posted by the first test
  assert.deepEqual(seen, [...newer, ...all], 'every post once, in order, across the pages');
  assert.ok(newer.every((id) => cmpId(id, ids[0]) > 0));
  assert.ok(pages >= Math.ceil(ids.length / PAGE), `${pages} pages`);
  // A post's page, and back, without scripts too.
  const target = seen.at(-1);
  await Promise.all([page.waitForURL(`**/home/post/${target}`),
    page.click(`#post-${target} a.tw-permalink`)]);
  assert.deepEqual(await page.$$eval('article', (as) => as.map((a) => a.id)), [`post-${target}`]);
  await Promise.all([page.waitForURL(web.base + 'home'), page.click('#back')]);
  assert.ok(await page.isVisible('#compose'));
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('every request stayed on 127.0.0.1; Apache logged no errors', () => {
  const off = requests.filter((r) => !/^(http:\/\/127\.0\.0\.1:\d+\/|data:)/.test(r.url));
  assert.deepEqual(off, []);
  assert.deepEqual(web.badLogLines(), []);
});
