// Browser test: the times of the cards. With JavaScript they read "now", "3 min. ago", "2 hr.
// ago", then a date, in the reader's language and time zone (a German reader in Tokyo, an
// American in New York), with the exact time in <time datetime> and in the title, and they are
// refreshed as time passes without asking the server anything (Playwright's clock). Without
// JavaScript the server's absolute time in UTC stays. Posts are written straight into the
// Redis stream with ids of chosen times.
//
// Run: node --test t/browser/times.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { startApache, startRedis } from '../lib/harness.mjs';
import { consoleSettled, openPage } from '../lib/page.mjs';

const MIN = 60 * 1000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let redis, web, browser, now;
const ago = {}; // label -> {id, ms}
const problems = [];

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
  browser = await launchChromium();
  now = Date.now();
  // Oldest first: a stream's ids only grow.
  for (const [label, back] of [['lastYear', 400 * DAY], ['days', 3 * DAY],
    ['hours', 2 * HOUR + 5 * MIN], ['minutes', 3 * MIN + 20 * 1000], ['now', 10 * 1000]]) {
    const ms = now - back;
    const id = await redis.client.xAdd('tweetsse:feed', `${ms}-0`,
      { u: 'Clockwatcher', m: `posted ${label}` });
    ago[label] = { id, ms };
  }
});
after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

// What the page should say for a post at `ms`, seen at `at`, by a reader of `locale` in
// `timeZone` (the same rules as htdocs/tweetsse.js, through Node's Intl).
function expected(ms, at, locale, timeZone) {
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' });
  const s = (at - ms) / 1000;
  let text;
  if (s < 60) text = rtf.format(0, 'second');
  else if (s < 3600) text = rtf.format(-Math.floor(s / 60), 'minute');
  else if (s < 86400) text = rtf.format(-Math.floor(s / 3600), 'hour');
  else {
    const year = (t) => new Intl.DateTimeFormat('en', { year: 'numeric', timeZone }).format(t);
    const opts = { day: 'numeric', month: 'short', timeZone };
    if (year(ms) !== year(at)) opts.year = 'numeric';
    text = new Intl.DateTimeFormat(locale, opts).format(ms);
  }
  const title = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'long', timeZone })
    .format(ms);
  return { text, title, datetime: new Date(ms).toISOString() };
}

const shown = (page, id) => page.$eval(`#post-${id} time`, (t) => ({ text: t.textContent,
  title: t.title, datetime: t.getAttribute('datetime') }));

for (const [locale, timeZone] of [['de-DE', 'Asia/Tokyo'], ['en-US', 'America/New_York']]) {
  test(`${locale} in ${timeZone}: relative times, the exact one in the title`, async () => {
    const page = await openPage(browser, problems, locale, { locale, timezoneId: timeZone });
    await page.clock.install(); // time goes on as usual, until the test moves it
    await page.goto(web.base);
    const at = await page.evaluate(() => Date.now());
    for (const { id, ms } of Object.values(ago)) {
      assert.deepEqual(await shown(page, id), expected(ms, at, locale, timeZone), id);
    }
    if (locale === 'en-US') {
      assert.equal((await shown(page, ago.now.id)).text, 'now');
      assert.equal((await shown(page, ago.minutes.id)).text, '3 min. ago');
      assert.equal((await shown(page, ago.hours.id)).text, '2 hr. ago');
    }

    // Two minutes on: the times move on, and nothing was asked of the server for it.
    const asked = [];
    page.on('request', (r) => asked.push(r.url()));
    await page.clock.fastForward('02:00');
    const later = await page.evaluate(() => Date.now());
    await page.waitForFunction(({ id, want }) => document.querySelector(`#post-${id} time`)
      .textContent === want, { id: ago.now.id, want: expected(ago.now.ms, later, locale, timeZone).text });
    assert.equal((await shown(page, ago.minutes.id)).text,
      expected(ago.minutes.ms, later, locale, timeZone).text);
    assert.deepEqual(asked, [], 'no request to refresh the times');
    await consoleSettled(page);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
}

test('without JavaScript: the server\'s absolute time in UTC', async () => {
  const page = await openPage(browser, problems, 'no script',
    { javaScriptEnabled: false, locale: 'de-DE', timezoneId: 'Asia/Tokyo' });
  await page.goto(web.base);
  const { id, ms } = ago.hours;
  const d = new Date(ms);
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov',
    'Dec'];
  const p2 = (n) => String(n).padStart(2, '0');
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  assert.deepEqual(await shown(page, id), {
    text: `${day}, ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())} UTC`,
    title: `${day}, ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} UTC`,
    datetime: d.toISOString(),
  });
  await page.context().close();
});

test('Apache logged no errors', () => {
  assert.deepEqual(web.badLogLines(), []);
});
