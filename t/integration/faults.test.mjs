// Faults: Redis going away and coming back, Apache restarted, Apache gracefully restarted
// with open streams.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, request, startApache, startRedis } from '../lib/harness.mjs';
import { backToBack, cards, cmpId, postId, postIds, ready, streamSummary, streamTracker, waitUntil,
  xrange } from '../lib/helpers.mjs';

let redis, web;
const tracker = streamTracker();
const open = tracker.open;

before(async () => {
  redis = await startRedis();
  // The module at debug level: the outage test follows the hubs' reconnect attempts in the
  // log (TW0107 subscription lost, TW0108 next attempt in N ms, TW0106 subscribed).
  // A history longer than any test here posts: the graceful-restart test writes back to back
  // for as long as the restart takes (1,418 posts once, on a loaded machine), and a resume
  // point trimmed meanwhile would rightly get a reload instead of the posts it checks; for
  // the same reason the resumes may replay that many (TweetsseMaxResume; 629 posts once).
  web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:debug',
    history: 1000000, extraConf: 'TweetsseMaxResume 10000' });
});
after(async () => {
  tracker.closeAll();
  await web?.stop();
  await redis?.stop();
});

// The time (ms since the epoch) and pid of an error-log line: "[Tue Dec 01 21:25:31.834694
// 2026] [module:level] [pid N:tid M] ...".
function logStamp(line) {
  const m = line.match(
    /^\[\w{3} (\w{3}) (\d+) (\d\d:\d\d:\d\d)\.(\d{6}) (\d{4})\] \[[^\]]*\] \[pid (\d+)/);
  if (!m) return undefined;
  return { ms: new Date(`${m[1]} ${m[2]} ${m[5]} ${m[3]}`).getTime() + Number(m[4]) / 1000,
    pid: Number(m[6]) };
}

// Times (ms since the epoch) of the "subscribed" notices of the hubs (one per child and
// (re)subscription), from the error log.
function subscribedTimes(web) {
  return web.errorLog().split('\n').filter((l) => /TW0106: subscribed/.test(l))
    .map((l) => logStamp(l)?.ms).filter((ms) => ms !== undefined);
}

// Per child pid, its hub's latest announced reconnect wait among `lines`: {ms (the wait),
// until (when it ends, ms since the epoch)}.
function latestBackoffs(lines) {
  const last = new Map();
  for (const l of lines) {
    const m = l.match(/TW0108: next subscription attempt in (\d+) ms/);
    const at = m && logStamp(l);
    if (at) last.set(at.pid, { ms: Number(m[1]), until: at.ms + Number(m[1]) });
  }
  return last;
}

// POST until it is accepted (bounded); returns {id, tries, ms}. Right after Redis is back a
// child may still hand out a pooled connection that died with the old server (503).
async function postUntilAccepted(base, message, maxMs = 10000) {
  const t0 = Date.now();
  let tries = 0;
  const id = await waitUntil(async () => {
    tries++;
    let res;
    try {
      res = await post(base, { username: 'survivor', message });
    } catch (e) {
      res = { status: 0, body: e.message };
    }
    if (res.status === 201) return JSON.parse(res.body).id;
    assert.ok([503, 0].includes(res.status), `while recovering: ${res.status} ${res.body}`);
    return undefined;
  }, maxMs, 'a post to be accepted', 100);
  return { id, tries, ms: Date.now() - t0 };
}

describe('Redis stopped and started again', () => {
  let pre, fresh, resumed, fromRing;

  test('before: posts, a fresh stream and a resumed stream', async () => {
    pre = [];
    for (let i = 0; i < 3; i++) pre.push(await postId(web.base, 'early', `before the outage ${i}`));
    // Several fresh streams, so that both children hold some.
    fresh = [];
    for (let i = 0; i < 6; i++) fresh.push(await open(`${web.base}home/sse`));
    resumed = await open(`${web.base}home/sse`, { 'Last-Event-ID': pre[0] });
    await Promise.all(fresh.map(ready));
    await resumed.until((x) => x.posts().length === 2, 5000, 'replay');
    assert.deepEqual(postIds(resumed), pre.slice(1));
  });

  let stoppedAt, stoppedMark;
  test('while Redis is down: posts are 503 with a reason, in each format', async () => {
    stoppedMark = web.logMark();
    await redis.stop();
    stoppedAt = Date.now();
    const json = await post(web.base, { username: 'late', message: 'during the outage' });
    assert.equal(json.status, 503);
    assert.match(json.headers['content-type'], /^application\/json/);
    assert.match(JSON.parse(json.body).error, /unavailable/);
    assert.equal(json.headers['retry-after'], '5');
    // Twice more: a pooled connection that just died, then a refused new connection.
    for (let i = 0; i < 2; i++) {
      assert.equal((await post(web.base, { username: 'late', message: 'again' })).status, 503);
    }
    const htmx = await post(web.base, { username: 'late', message: 'during the outage' }, 'htmx');
    assert.equal(htmx.status, 503);
    assert.match(htmx.headers['content-type'], /^text\/plain/);
    assert.match(htmx.body, /post store is unavailable/);
    const form = await post(web.base, { username: 'late', message: 'during the outage' }, 'form');
    assert.equal(form.status, 503);
    assert.match(form.headers['content-type'], /^text\/html/);
    assert.match(form.body, /post store is unavailable/);
    // Validation still comes first.
    assert.equal((await post(web.base, { username: 'late', message: '' })).status, 400);
  });

  test('while Redis is down: the page is 503 with a notice and no live stream', async () => {
    const page = await request('GET', web.base);
    assert.equal(page.status, 503);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.equal(page.headers['retry-after'], '5');
    assert.match(page.body, /The feed is unavailable right now/);
    assert.match(page.body, /<div class="tw-notice" role="status">/);
    assert.ok(!page.body.includes('sse-connect'), 'no stream to connect to');
    assert.ok(page.body.includes('id="whoami"'), 'still the full page');
  });

  test('while Redis is down: open streams stay open; a resuming client is told to retry, unless '
    + 'the ring holds what it missed', async () => {
    for (const s of [...fresh, resumed]) assert.equal(s.ended, false);
    // From before every post (0-0): no ring covers it, and the replay from Redis fails.
    const late = await open(`${web.base}home/sse`, { 'Last-Event-ID': '0-0' });
    assert.equal(late.status, 200);
    await late.until((x) => x.ended, 10000, 'the end of a stream that cannot replay');
    assert.ok(late.retries.length > 0, 'it got a retry: line first');
    assert.deepEqual(late.events, []);
    // From a post the child heard: the ring has the rest, and the stream stays open, as the
    // others do (what the outage stores reaches it through the hub's gap fill).
    fromRing = await open(`${web.base}home/sse`, { 'Last-Event-ID': pre[0] });
    await fromRing.until((x) => x.posts().length === 2, 5000, 'the replay from the ring');
    assert.deepEqual(postIds(fromRing), pre.slice(1));
    assert.equal(fromRing.ended, false);
  });

  test('Redis back: posting recovers by itself; open streams get every new post', async (t) => {
    // Keep Redis down until every child's hub, retrying with backoff (100 ms, doubling), has
    // just begun a wait of 1.6 s or more (TW0108, logged before each wait): a post made right
    // after the restart then lands before the hubs subscribe again, and reaches the open
    // streams only through the hubs' gap fill. A wait that is nearly over does not count (the
    // next notice, of a longer wait, follows when it ends).
    const children = await web.childPids();
    assert.ok(children.length >= 2, `children: ${children}`);
    const waits = await web.waitForLog((lines) => {
      const last = latestBackoffs(lines);
      const now = Date.now();
      const all = children.map((pid) => last.get(pid));
      return all.every((b) => b && b.ms >= 1600 && b.until - now >= 1200) && all;
    }, { from: stoppedMark, timeoutMs: 20000,
      what: 'every hub to begin a reconnect wait of 1.6 s or more' });
    t.diagnostic(`hubs waiting ${waits.map((b) => `${b.ms} ms (until +` +
      `${Math.round(b.until - stoppedAt)} ms)`).join(', ')} when Redis starts again`);
    await redis.start();
    const first = await postUntilAccepted(web.base, 'right after the restart');
    t.diagnostic(`first post accepted after ${first.ms} ms, ${first.tries} tries`);
    const second = await postId(web.base, 'survivor', 'a bit later');
    const third = await postId(web.base, 'survivor', 'later still');
    const after = [first.id, second, third];
    const expect = [...fresh.map((s, i) => [`fresh ${i}`, s, after]),
      ['resumed', resumed, [...pre.slice(1), ...after]],
      ['resumed from the ring during the outage', fromRing, [...pre.slice(1), ...after]]];
    for (const [name, s, want] of expect) {
      await s.until((x) => x.posts().length >= want.length, 15000,
        `${name}: the posts after the restart`);
      assert.deepEqual(postIds(s), want, `${name}: ${streamSummary(s)}`);
      assert.equal(s.ended, false);
    }
    // The first post predates at least one hub's new subscription: the gap fill was used.
    const firstMs = Number(first.id.split('-')[0]);
    const resubscribed = subscribedTimes(web).filter((ms) => ms > stoppedAt);
    t.diagnostic(`post at +${firstMs - stoppedAt} ms; hubs subscribed again at ` +
      `${resubscribed.map((ms) => `+${Math.round(ms - stoppedAt)} ms`).join(', ')}`);
    assert.ok(resubscribed.length > 0, 'a hub subscribed again');
    await web.waitForLog((lines) => lines.filter((l) => /TW0106: subscribed/.test(l)).length >= 2,
      { from: stoppedMark, timeoutMs: 10000, what: 'both hubs to subscribe again' });
    assert.ok(resubscribed.some((ms) => ms > firstMs), 'a hub caught up on the post from the stream');
    // Stored once each; the posts from before the outage survived.
    const stored = (await xrange(redis)).map((e) => e.id);
    assert.deepEqual(stored, [...pre, ...after]);
    const page = await request('GET', web.base);
    assert.equal(page.status, 200);
    assert.deepEqual(cards(page.body).map((c) => c.id), [...stored].reverse());
    // New streams work again, both fresh and resumed.
    const again = await open(`${web.base}home/sse`, { 'Last-Event-ID': pre[2] });
    await again.until((x) => x.posts().length >= 3, 5000, 'replay after recovery');
    assert.deepEqual(postIds(again), after);
    for (const s of [...fresh, resumed, fromRing, again]) s.close();
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('Apache restarted', () => {
  test('stop and start: every post is still there; streams end and resume', async () => {
    const before = (await xrange(redis)).map((e) => e.id);
    const open0 = await open(`${web.base}home/sse`);
    await ready(open0);
    const mark = await postId(web.base, 'restart', 'before the Apache restart');
    await open0.until((x) => x.posts().length === 1, 5000, 'the post before the stop');
    await web.stop();
    await open0.until((x) => x.ended, 5000, 'the stream to end with Apache');
    await assert.rejects(request('GET', web.base), 'Apache is down');
    await web.start();
    const page = await request('GET', web.base);
    assert.equal(page.status, 200);
    assert.deepEqual(cards(page.body).map((c) => c.id), [...before, mark].reverse());
    // Posted before the client comes back: the resume replays it, then follows live.
    const missed = await postId(web.base, 'restart', 'while the client reconnects');
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': postIds(open0).at(-1) });
    await s.until((x) => x.posts().length >= 1, 5000, 'the replay');
    const next = await postId(web.base, 'restart', 'after the Apache restart');
    await s.until((x) => x.posts().length >= 2, 5000, 'the live post');
    assert.deepEqual(postIds(s), [missed, next]);
    s.close();
  });
});

describe('graceful restart with open streams', () => {
  test('open streams end and the old children go; resuming misses nothing', async (t) => {
    const oldPids = await web.childPids();
    assert.ok(oldPids.length >= 2);
    const subs = [];
    for (let i = 0; i < 4; i++) subs.push(await open(`${web.base}home/sse`));
    await Promise.all(subs.map(ready));
    const first = await postId(web.base, 'graceful', 'before the graceful restart');
    await Promise.all(subs.map((s) => s.until((x) => x.posts().length === 1, 5000, 'first post')));

    web.graceful();
    // Keep posting through the restart, until the old children are gone; the listener
    // stays, so every post is accepted.
    const writer = backToBack((i) => postId(web.base, 'graceful', `during ${i}`));
    try {
      await waitUntil(async () => {
        const now = await web.childPids();
        return now.length >= 2 && oldPids.every((p) => !now.includes(p));
      }, 15000, 'the old children to be replaced');
    } finally {
      await writer.stop().catch(() => {});
    }
    await writer.stop();
    const during = writer.results;
    t.diagnostic(`${during.length} posts made during the restart`);
    // The old children have closed their streams; the client sees each end as an event.
    await Promise.allSettled(subs.map((s) => s.until((x) => x.ended, 2000, 'the end')));
    const ended = subs.filter((s) => s.ended).length;
    t.diagnostic(`${ended} of ${subs.length} streams ended by the restart`);
    assert.equal(ended, subs.length, 'the old children released their streams');
    const late = await postId(web.base, 'graceful', 'after the graceful restart');

    // Each client reconnects with its last id, as a browser does.
    const all = (await xrange(redis)).map((e) => e.id);
    for (const [i, s] of subs.entries()) {
      const got = postIds(s);
      assert.equal(got[0], first);
      const last = got.at(-1);
      const r = await open(`${web.base}home/sse`, { 'Last-Event-ID': last });
      const want = all.filter((id) => cmpId(id, last) > 0);
      assert.ok(want.includes(late));
      await r.until((x) => x.posts().length >= want.length, 5000, `stream ${i} resumed`);
      const seen = [...got, ...postIds(r)];
      assert.deepEqual(seen, all.filter((id) => cmpId(id, first) >= 0),
        `stream ${i}: no gap, no duplicate`);
      r.close();
    }
    assert.ok(during.every((id) => all.includes(id)));
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});
