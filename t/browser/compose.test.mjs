// Browser test: the compose form. The counter counts as the server does (line ends, blanks
// trimmed, code points) up to the limit the server gives the page (TweetsseMaxMessageLength 30
// here, not the default), warns near it, and nothing is sent over it; Ctrl+Enter posts; after
// a post the box is empty and keeps the focus; every refusal (400, 403, 429 with its wait,
// 503) is shown in the form with the draft kept. Debian's Chromium against real Apache and
// Redis, under the module's own policy.
//
// Run: node --test t/browser/compose.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { freePort, startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, failedLoad, htmxLogs, openPage } from '../lib/page.mjs';

const LIMIT = 30;
let redis, web, down, browser;
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, rateLimit: '3/60s burst=3',
    extraConf: `TweetsseMaxMessageLength ${LIMIT}` });
  down = await startApache({ redis: `127.0.0.1:${await freePort()}` }); // no Redis there
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await down?.stop();
  await web?.stop();
  await redis?.stop();
});

const counter = (page) => page.$eval('#compose-count', (c) => ({
  shown: c.querySelector('[aria-hidden="true"]')?.textContent,
  said: c.querySelector('.tw-sr')?.textContent, cls: c.className }));
const disabled = (page) => page.$eval('#compose button[type="submit"]', (b) => b.disabled);
const posts = (page) => {
  const sent = [];
  page.on('request', (r) => { if (r.method() === 'POST') sent.push(r.postData()); });
  return sent;
};

test('the counter counts code points of the trimmed text, from the server\'s limit', async () => {
  const page = await openPage(browser, problems, 'counter');
  await page.goto(web.base);
  assert.equal(await page.getAttribute('#message', 'data-max'), String(LIMIT));
  assert.deepEqual(await counter(page), { shown: '30', said: '30 characters left',
    cls: 'tw-count' });
  await page.click('#message');
  await page.keyboard.type('ab');
  assert.equal((await counter(page)).shown, '28');

  // Exactly the limit: ten emoji (two UTF-16 units each), twenty letters, blanks around
  // (trimmed by the server, not counted here either).
  const exact = `${'😀'.repeat(10)}${'x'.repeat(20)}`;
  await page.fill('#message', ` \u3000${exact}\n\u200B `);
  assert.deepEqual(await counter(page), { shown: '0', said: '0 characters left',
    cls: 'tw-count is-near' });
  assert.equal(await disabled(page), false);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.click('#compose button[type="submit"]');
  assert.equal((await posted).status(), 204, 'the server counts the same: accepted');
  const id = (await posted).headers()['x-post-id'];
  await page.waitForSelector(`#post-${id}`);
  assert.equal(await page.textContent(`#post-${id} .tw-msg`), exact);

  // One over: shown, said, and nothing is sent, by button or by keys.
  const sent = posts(page);
  await page.fill('#message', `${exact}!`);
  assert.deepEqual(await counter(page), { shown: '-1',
    said: '1 character over the limit of 30', cls: 'tw-count is-over' });
  assert.equal(await disabled(page), true);
  await page.waitForFunction(() => document.getElementById('announce').textContent ===
    '1 character over the limit of 30');
  await page.focus('#message');
  await page.keyboard.press('Control+Enter');
  // Near the limit again: a warning, and a post that goes.
  await page.fill('#message', 'twelve chars');
  assert.deepEqual(await counter(page), { shown: '18', said: '18 characters left',
    cls: 'tw-count is-near' });
  await page.fill('#message', 'short');
  assert.equal((await counter(page)).cls, 'tw-count', 'no warning far from the limit');
  const next = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.keyboard.press('Control+Enter');
  assert.equal((await next).status(), 204);
  assert.equal(sent.length, 1, `only the post within the limit was sent: ${JSON.stringify(sent)}`);
  assert.match(sent[0], /message=short/);
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('Ctrl+Enter posts; after a post the box is empty and keeps the focus', async () => {
  const page = await openPage(browser, problems, 'keys');
  await page.goto(web.base);
  await page.click('#message');
  await page.keyboard.type('Sent with the keyboard');
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.keyboard.press('Control+Enter');
  assert.equal((await posted).status(), 204);
  await page.waitForFunction(() => document.getElementById('message').value === '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  // The visitor's own post has its delete control in the card's footer.
  const own = (await posted).headers()['x-post-id'];
  await page.waitForSelector(`#post-${own} .tw-foot .tw-delete`, { state: 'visible' });
  assert.equal((await counter(page)).shown, '30', 'the counter starts again');
  // With the button too: the focus comes back to the box, ready for the next post.
  await page.keyboard.type('Sent with the button');
  const again = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.click('#compose button[type="submit"]');
  assert.equal((await again).status(), 204);
  await page.waitForFunction(() => document.getElementById('message').value === '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  await page.keyboard.type('x');
  assert.equal(await page.inputValue('#message'), 'x', 'typing goes on in the box');
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

// Post `text` with the form and wait for the refusal to be shown; returns the response.
async function refusedPost(page, text, status) {
  await page.fill('#message', text);
  const res = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.click('#compose button[type="submit"]');
  assert.equal((await res).status(), status);
  await page.waitForFunction(() => document.getElementById('compose-error').textContent !== '');
  assert.equal(await page.inputValue('#message'), text, `${status}: the draft is kept`);
  assert.ok(await page.isVisible('#compose-error'));
  const shown = (await page.textContent('#compose-error')).trim();
  await page.fill('#message', '');
  await page.evaluate(() => { document.getElementById('compose-error').textContent = ''; });
  return { res: await res, shown };
}

test('every refusal is shown in the form with the draft kept: 400, 429, 503, 403', async () => {
  const page = await openPage(browser, problems, 'refusals');
  // Each refusal: Chromium reports the failed resource, htmx logs the status.
  page.allow = [failedLoad('the server responded with a status of'), htmxLogs];
  await page.goto(web.base);

  const bad = await refusedPost(page, 'a \u202Eflipped\u202C word', 400);
  assert.equal(bad.shown, (await bad.res.text()).trim(), '400: the server\'s reason');
  assert.match(bad.shown, /bidirectional/);

  for (let i = 0; i < 3; i++) { // the burst the limit allows
    await page.fill('#message', `within the limit ${i}`);
    const ok = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.click('#compose button[type="submit"]');
    assert.equal((await ok).status(), 204);
    await page.waitForFunction(() => document.getElementById('message').value === '');
  }
  const slow = await refusedPost(page, 'one too many', 429);
  assert.match(slow.shown, /^slow down: you can post again in \d+ s$/, '429: with its wait');
  assert.equal(slow.shown.match(/\d+/)[0], slow.res.headers()['retry-after']);

  // Without Redis the page is a 503 with a notice, and a post is refused with 503 too (the
  // name cookie is the same there: the instances share their secret, as a fleet does).
  await page.goto(down.base);
  const unavailable = await refusedPost(page, 'while the store is away', 503);
  assert.equal(unavailable.shown, (await unavailable.res.text()).trim());
  assert.match(unavailable.shown, /unavailable|store/i);

  await page.goto(web.base);
  await page.context().clearCookies();
  const forbidden = await refusedPost(page, 'without my name cookie', 403);
  assert.equal(forbidden.shown, (await forbidden.res.text()).trim(), '403: the server\'s reason');
  await consoleSettled(page);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
});
