// Browser test: the attacks of t/abuse, tried from a real browser (Debian's Chromium). A page
// of another site (http://localhost:PORT, another site than 127.0.0.1) that posts to the feed
// with a form gets 403 and stores nothing, with JavaScript or without; a name cookie edited by
// hand is not believed; a visitor who posts too fast sees "slow down" and keeps the draft.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { xlen } from '../lib/helpers.mjs';

let redis, web, evil, browser;
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, rateLimit: '1/60s burst=2' });
  // The other site: a page whose form posts to the feed, sent as soon as it loads (/), or
  // when the visitor clicks (/click).
  evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!DOCTYPE html><form id="f" method="post" action="${web.base}home">`
      + '<input name="message" value="posted by another site"><button>Go</button></form>'
      + (req.url === '/click' ? '' : '<script>document.getElementById("f").submit()</script>'));
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  evil?.close();
  await web?.stop();
  await redis?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

test('a form on another site posts nothing, even with the visitor\'s cookie in the browser',
  async () => {
    const page = await newPage();
    await page.goto(web.base); // the visitor has a name cookie for the feed
    assert.ok((await page.context().cookies()).some((c) => c.name === 'tw_name'));
    const before = await xlen(redis);
    const posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.goto(`http://localhost:${evil.address().port}/`);
    const res = await posted;
    assert.equal(res.status(), 403);
    const sent = await res.request().allHeaders();
    assert.equal(sent['sec-fetch-site'], 'cross-site', 'Chromium says where the form came from');
    assert.equal(sent.cookie, undefined, 'SameSite=Lax kept the cookie off');
    assert.match(await res.text(), /feed&#39;s own page|feed's own page/);
    assert.equal(await xlen(redis), before, 'nothing stored');
  });

test('a name cookie edited by hand is not believed', async () => {
  const page = await newPage();
  await page.context().addCookies([{ name: 'tw_name', value: 'Victim1', url: web.base }]);
  await page.goto(web.base);
  const name = (await page.textContent('#whoami')).trim();
  assert.notEqual(name, 'Victim1');
  assert.match(name, /^[A-Z][a-z]+[A-Z][a-z]+\d+$/);
});

test('posting too fast: "slow down" next to the form, the draft kept, nothing stored', async () => {
  const page = await newPage();
  // The refusal is a 429: Chromium reports the failed resource and htmx logs the status.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/429|Too Many Requests/.test(m.text())) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  await page.goto(web.base);
  for (let i = 0; i < 2; i++) {
    await page.fill('#message', `post ${i}`);
    const posted = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Tweet' }).click();
    assert.equal((await posted).status(), 204, `post ${i} within the burst`);
    await page.waitForFunction(() => document.getElementById('message').value === '', null,
      { timeout: 2000 });
  }
  const before = await xlen(redis);
  await page.fill('#message', 'one too many');
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Tweet' }).click();
  const res = await posted;
  assert.equal(res.status(), 429);
  await page.waitForFunction(() => document.getElementById('compose-error').textContent !== '',
    null, { timeout: 2000 });
  assert.match(await page.textContent('#compose-error'), /^slow down: you can post again in \d+ s$/);
  assert.equal(await page.inputValue('#message'), 'one too many', 'the draft is kept');
  assert.equal(await xlen(redis), before, 'nothing stored');
});

test('without JavaScript the other site\'s form is refused too', async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(web.base);
  const before = await xlen(redis);
  // No script on the other page either: the visitor submits its form.
  await page.goto(`http://localhost:${evil.address().port}/click`);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Go' }).click();
  assert.equal((await posted).status(), 403);
  assert.equal(await xlen(redis), before);
});

test('no page errors; Apache logged no errors', () => {
  assert.deepEqual(problems, []);
  assert.deepEqual(web.badLogLines(), []);
});
