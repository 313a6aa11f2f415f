// Browser test (Debian's Chromium): deleting, liking and who is reading, as people see them.
// Two visitors: A deletes a post and it leaves B's page within 1 s with B's draft intact; B
// sees no delete control on A's posts; likes toggle (aria-pressed) and the count moves on both
// pages; a visitor that was offline while A deleted comes back without the post; the tabs of a
// browser that share one stream follow deletions and counts, a tab that joins late included;
// keyboard only; without JavaScript both are plain forms; "N reading now" counts browsers,
// not tabs. No console error, no Content-Security-Policy violation anywhere.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { BASIC_AUTH_MODULES, cookieFor, htpasswdFile, request, startApache, startRedis }
  from '../lib/harness.mjs';
import { postId } from '../lib/helpers.mjs';
import { axe, consoleSettled, openPage, watchedPage } from '../lib/page.mjs';

let redis, web, browser;
const problems = [];
const all = []; // every page opened, for the console check

const MODERATOR = { username: 'mia', password: 'secret' };
before(async () => {
  redis = await startRedis();
  const users = await htpasswdFile({ [MODERATOR.username]: MODERATOR.password });
  web = await startApache({ redis: redis.addr, extraConf: [
    ...BASIC_AUTH_MODULES,
    '<Location /moderate>', '  SetHandler tweetsse-moderation', '  AuthType Basic',
    '  AuthName moderators', '  AuthBasicProvider file', `  AuthUserFile ${users}`,
    '  Require valid-user', '</Location>',
  ].join('\n') });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});
beforeEach(() => { problems.length = 0; });

// A live page of a new visitor (or of `context`, another tab of that browser).
async function live(label, { context, options } = {}) {
  const page = context ? await watchedPage(context, problems, label)
    : await openPage(browser, problems, label, options);
  all.push(page);
  await page.goto(web.base);
  await page.waitForSelector('#live-status[data-state="live"]', { timeout: 10000 });
  return page;
}

async function noProblems() {
  await Promise.all(all.filter((p) => !p.isClosed()).map((p) => consoleSettled(p)
    .catch(() => {})));
  assert.deepEqual(problems, [], 'console errors, page errors or CSP violations');
}

// Post `text` from page P through its form; resolves with the post's id.
async function postFrom(P, text) {
  await P.fill('#message', text);
  const res = P.waitForResponse((r) => r.request().method() === 'POST' && /\/home$/.test(r.url()));
  await P.getByRole('button', { name: 'Tweet' }).click();
  const id = (await res).headers()['x-post-id'];
  await P.waitForSelector(`#post-${id}`);
  return id;
}

const card = (P, id) => P.locator(`#post-${id}`);
const gone = (P, id, timeout = 5000) => P.waitForSelector(`#post-${id}`,
  { state: 'detached', timeout });

test('A deletes a post: it leaves B\'s page within 1 s, B\'s draft stays; only A has the '
  + 'control', async (t) => {
  const A = await live('A');
  const B = await live('B');
  const id = await postFrom(A, 'A post that A will take back');
  await B.waitForSelector(`#post-${id}`);
  assert.equal(await card(A, id).locator('form.tw-own button').isVisible(), true,
    'A sees Delete on its own post');
  assert.equal(await card(B, id).locator('form.tw-own button').isVisible(), false,
    'B does not');
  const draft = 'B is writing something';
  await B.fill('#message', draft);
  const t0 = Date.now();
  await card(A, id).getByRole('button', { name: 'Delete' }).click();
  await gone(B, id);
  const took = Date.now() - t0;
  t.diagnostic(`the card left B's page ${took} ms after A's click`);
  assert.ok(took < 1000, `${took} ms`);
  await gone(A, id);
  assert.equal(await B.inputValue('#message'), draft, 'B\'s draft is intact');
  assert.equal((await request('GET', `${web.base}home/post/${id}`)).status, 410);
  await noProblems();
});

test('likes: the toggle is pressed for who liked, the count moves on every page', async () => {
  const [A, B] = all;
  const id = await postFrom(A, 'A post to like');
  await B.waitForSelector(`#post-${id}`);
  const likeB = card(B, id).locator('button.tw-like');
  await likeB.click();
  await B.waitForSelector(`#like-${id}[aria-pressed="true"]`);
  await A.waitForFunction((i) => document.getElementById(`likes-${i}`)?.textContent === '1', id);
  assert.equal(await B.textContent(`#likes-${id}`), '1');
  assert.equal(await card(A, id).locator('button.tw-like').getAttribute('aria-pressed'), 'false',
    'not pressed for A, who did not like it');
  await B.reload();
  await B.waitForSelector(`#like-${id}[aria-pressed="true"]`, { timeout: 5000 });
  await card(B, id).locator('button.tw-like').click();
  await B.waitForSelector(`#like-${id}[aria-pressed="false"]`);
  await A.waitForFunction((i) => document.getElementById(`likes-${i}`)?.textContent === '0', id);
  await noProblems();
});

test('a visitor offline while A deleted comes back without the post', async () => {
  const [A] = all;
  const C = await live('C');
  const id = await postFrom(A, 'A post C will miss the end of');
  await C.waitForSelector(`#post-${id}`);
  C.allow.push((m) => /ERR_INTERNET_DISCONNECTED|Failed to load resource|EventSource/.test(m.text)
    || /htmx/.test(m.url));
  await C.context().setOffline(true);
  await C.waitForSelector('#live-status[data-state="offline"]');
  await card(A, id).getByRole('button', { name: 'Delete' }).click();
  await gone(A, id);
  await C.context().setOffline(false);
  await gone(C, id, 15000);
  await C.waitForSelector('#live-status[data-state="live"]', { timeout: 15000 });
  await noProblems();
});

test('keyboard only: like with Space, then Delete with Enter; focus stays in the feed',
  async () => {
    const [A] = all;
    const id = await postFrom(A, 'A post handled from the keyboard');
    await card(A, id).locator('button.tw-like').focus();
    await A.keyboard.press('Space');
    await A.waitForSelector(`#like-${id}[aria-pressed="true"]`);
    assert.equal(await A.evaluate(() => document.activeElement.id), `like-${id}`,
      'the button keeps the focus after its answer');
    await A.keyboard.press('Tab');
    assert.equal(await A.evaluate(() => document.activeElement.className), 'tw-delete');
    await A.keyboard.press('Enter');
    await gone(A, id);
    assert.ok(await A.evaluate(() => document.activeElement !== document.body),
      'the focus went to the next post, not to the top of the page');
    await noProblems();
  });

test('tabs of one browser: deletions and counts reach every tab; a tab that joins late gets '
  + 'the ones it missed', async () => {
  const [A] = all;
  const T1 = await live('T1');
  const T2 = await live('T2', { context: T1.context() });
  const p = await postFrom(A, 'for the tabs to like');
  const q = await postFrom(A, 'for the tabs to lose');
  await Promise.all([T1, T2].map((T) => T.waitForSelector(`#post-${q}`)));
  await request('POST', `${web.base}home/post/${p}`, { headers: { Cookie: cookieFor('liker'),
    'Content-Type': 'application/json' }, body: '{"action":"like"}' });
  await card(A, q).getByRole('button', { name: 'Delete' }).click();
  for (const T of [T1, T2]) {
    await gone(T, q);
    await T.waitForFunction((i) => document.getElementById(`likes-${i}`)?.textContent === '1', p);
  }
  // T3 is rendered with a post, but its script runs only after that post was deleted and
  // another liked: it joins the shared stream late, and must catch up from the tab that holds it.
  const r = await postFrom(A, 'deleted before T3 joins');
  const s = await postFrom(A, 'liked before T3 joins');
  await T1.waitForSelector(`#post-${s}`);
  const T3 = await watchedPage(T1.context(), problems, 'T3');
  all.push(T3);
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await T3.route(/\/lib\/tweetsse\.js/, async (route) => { await held; await route.continue(); });
  // The deferred script holds DOMContentLoaded back: wait for the markup only.
  await T3.goto(web.base, { waitUntil: 'commit' });
  await T3.waitForSelector(`#post-${r}`, { state: 'attached' });
  await card(A, r).getByRole('button', { name: 'Delete' }).click();
  await request('POST', `${web.base}home/post/${s}`, { headers: { Cookie: cookieFor('liker'),
    'Content-Type': 'application/json' }, body: '{"action":"like"}' });
  await gone(T1, r);
  await T1.waitForFunction((i) => document.getElementById(`likes-${i}`)?.textContent === '1', s);
  release();
  await gone(T3, r);
  await T3.waitForFunction((i) => document.getElementById(`likes-${i}`)?.textContent === '1', s);
  await noProblems();
});

test('"N reading now": browsers, not tabs, across the whole feed', async () => {
  // Open now: A, B, C (one browser each), and T1, T2, T3 (one browser): four streams.
  const readers = (P) => P.evaluate(() => {
    const line = document.getElementById('readers-line');
    return line && !line.hidden ? Number(document.getElementById('readers').textContent) : -1;
  });
  const [A] = all;
  await A.waitForFunction(() => document.getElementById('readers')?.textContent === '4'
    && !document.getElementById('readers-line').hidden, null, { timeout: 20000 });
  const D = await live('D');
  await A.waitForFunction(() => document.getElementById('readers')?.textContent === '5', null,
    { timeout: 20000 });
  await D.waitForFunction(() => document.getElementById('readers')?.textContent === '5', null,
    { timeout: 20000 });
  assert.equal(await readers(D), 5);
  await D.context().close();
  await A.waitForFunction(() => document.getElementById('readers')?.textContent === '4', null,
    { timeout: 20000 });
  await noProblems();
});

test('without JavaScript: Like and Delete are plain forms that come back to the feed',
  async () => {
    const N = await openPage(browser, problems, 'N', { javaScriptEnabled: false });
    await N.goto(web.base);
    const id = await postId(web.base, 'nojs-other', 'someone else\'s post');
    await N.fill('#message', 'my post without JavaScript');
    await Promise.all([N.waitForNavigation(), N.getByRole('button', { name: 'Tweet' }).click()]);
    const mine = await N.locator('#feed > article').first().getAttribute('id');
    await Promise.all([N.waitForNavigation(),
      N.locator(`#${mine} button.tw-like`).click()]);
    assert.equal(await N.textContent(`#likes-${mine.slice(5)}`), '1');
    assert.equal(await N.locator(`#post-${id} form.tw-own button`).isVisible(), false,
      'no Delete on another\'s post, without JavaScript too');
    await Promise.all([N.waitForNavigation(),
      N.locator(`#${mine} form.tw-own button`).click()]);
    assert.equal(await N.locator(`#${mine}`).count(), 0, 'deleted');
    assert.deepEqual(problems, []);
  });

test('a moderator removes a post from the moderators\' page: it leaves every open page; the '
  + 'page is accessible', async () => {
  const [A] = all;
  const id = await postFrom(A, 'abuse for the moderator');
  const M = await openPage(browser, problems, 'M', { httpCredentials: MODERATOR,
    bypassCSP: true });
  await M.goto(`http://127.0.0.1:${web.port}/moderate`);
  assert.equal(await M.textContent('#moderator'), MODERATOR.username);
  assert.deepEqual(await axe(M), [], 'axe violations on the moderators\' page');
  await Promise.all([M.waitForNavigation(),
    M.locator(`form.tw-remove-form:has(input[value="${id}"]) button`).click()]);
  await gone(A, id);
  assert.equal(await M.locator(`#post-${id}`).count(), 0, 'nor on the moderators\' page');
  await noProblems();
});

