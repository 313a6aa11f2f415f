// The live stream: headers, framing, keepalives, no compression, resuming (header and query
// argument), reload when the resume point is gone, and posts racing a replay.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { identityFor, post, request, startApache, startRedis, tagOf, within } from '../lib/harness.mjs';
import { backToBack, cards, cmpId, firstBytes, postId, postIds, postMany, ready, streamSummary,
  streamTracker, xrange }
  from '../lib/helpers.mjs';

const DEFLATE = [
  'LoadModule filter_module /usr/lib/apache2/modules/mod_filter.so',
  'LoadModule deflate_module /usr/lib/apache2/modules/mod_deflate.so',
  'AddOutputFilterByType DEFLATE text/event-stream text/html',
].join('\n');

let redis, web, ka, redisH, hist;
const tracker = streamTracker();
const open = tracker.open;

before(async () => {
  redis = await startRedis();
  // Replays of several XRANGE pages (the race below resumes ~480 posts back): past the
  // default bound (4 x TweetssePageSize), which the replay tests check on their own.
  web = await startApache({ redis: redis.addr, extraConf: 'TweetsseMaxResume 1000' });
});
after(async () => {
  tracker.closeAll();
  await hist?.stop();
  await redisH?.stop();
  await ka?.stop();
  await web?.stop();
  await redis?.stop();
});

describe('framing', () => {
  test('headers: event-stream, no-cache, no proxy buffering, no compression', async () => {
    const res = await firstBytes(`${web.base}home/sse`, { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/event-stream(;|$)/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.equal(res.headers['x-accel-buffering'], 'no');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['content-length'], undefined);
  });

  test('the first thing sent is a retry: line', async () => {
    const res = await firstBytes(`${web.base}home/sse`, {}, 'retry: 2000\n\n'.length);
    assert.equal(res.text, 'retry: 2000\n\n');
    const resumed = await firstBytes(`${web.base}home/sse?last_event_id=0-0`, {}, 13);
    assert.match(resumed.text, /^retry: \d+\n\n/);
  });

  test('a post event: id, event "post", the same card as on the page', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    const id = await postId(web.base, 'frank', 'live one');
    await s.until((x) => x.posts().length === 1, 5000, 'the post');
    const [ev] = s.events;
    assert.equal(ev.event, 'post');
    assert.equal(ev.id, id);
    assert.match(ev.data,
      new RegExp(`^<article class="[^"]*" id="post-${id}" data-by="[^"]+" aria-labelledby="h-${id}">`));
    assert.match(ev.data, /<time [^>]*datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z" title="[^"]+ UTC">/);
    assert.ok(ev.data.includes('<strong class="tw-user">frank <span class="tw-tag">'
      + `#${tagOf(identityFor('frank'))}</span></strong>`), ev.data);
    assert.ok(ev.data.includes('>live one</p>'));
    const page = await request('GET', web.base);
    assert.equal(cards(page.body).find((c) => c.id === id)?.html, ev.data);
    s.close();
  });

  test('a message with newlines arrives intact', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    const msg = 'first line\nsecond line\n\n\nafter blank lines\n  indented';
    const id = await postId(web.base, 'grace', msg);
    const crlf = await post(web.base, { username: 'grace', message: 'cr\r\nlf\rend' }, 'htmx');
    assert.equal(crlf.status, 204);
    await s.until((x) => x.posts().length === 2, 5000, 'two posts');
    assert.equal(s.events[0].id, id);
    assert.ok(s.events[0].data.includes(`>${msg}</p>`), s.events[0].data);
    assert.ok(s.events[1].data.includes('>cr\nlf\nend</p>'), s.events[1].data);
    // And the same text on the page.
    const page = await request('GET', web.base);
    assert.ok(page.body.includes(`>${msg}</p>`));
    s.close();
  });

  test('only GET', async () => {
    for (const m of ['POST', 'PUT', 'DELETE']) {
      const res = await request(m, `${web.base}home/sse`,
        { headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 405, m);
    }
  });
});

describe('keepalive and compression (TweetsseKeepalive 1, mod_deflate loaded)', () => {
  before(async () => {
    ka = await startApache({ redis: redis.addr, keepalive: 1, extraConf: DEFLATE });
  });

  test('an idle stream gets ": ping" comments every second', async () => {
    const s = await open(`${ka.base}home/sse`);
    await ready(s);
    const t0 = Date.now();
    await s.until((x) => x.comments.filter((c) => c === 'ping').length >= 2, 3500, 'two pings');
    assert.ok(Date.now() - t0 >= 1800, 'one a second, not faster');
    assert.equal(s.ended, false);
    // Posts still flow between pings.
    const id = await postId(ka.base, 'pinger', 'between pings');
    await s.until((x) => x.posts().length === 1, 5000, 'the post');
    assert.equal(s.posts()[0].id, id);
    s.close();
  });

  test('mod_deflate compresses the page but never the stream', async () => {
    const page = await request('GET', ka.base, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-encoding'], 'gzip', 'deflate is active for text/html');
    const s = await open(`${ka.base}home/sse?last_event_id=0-0`, { 'Accept-Encoding': 'gzip' });
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-encoding'], undefined);
    // The DEFLATE harness of AddOutputFilterByType (on by default on Debian) sits on every
    // request; it does not keep the stream from the delivery thread (no chunked framing).
    assert.equal(s.headers['transfer-encoding'], undefined);
    await ready(s);
    await s.until((x) => x.posts().length >= 1, 5000, 'replayed posts as plain text');
    const id = await postId(ka.base, 'zipper', 'not compressed');
    await s.until((x) => x.posts().some((e) => e.id === id), 3000, 'the live post, unbuffered');
    s.close();
  });

  test('the error log is clean', () => {
    assert.deepEqual(ka.badLogLines(), []);
  });
});

describe('resume', () => {
  for (const how of ['Last-Event-ID header', 'last_event_id query argument']) {
    test(`by ${how}: exactly the missed posts, then live, no gap, no duplicate`, async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await postId(web.base, 'resumer', `resume ${i}`));
      const s = how.startsWith('Last')
        ? await open(`${web.base}home/sse`, { 'Last-Event-ID': ids[1] })
        : await open(`${web.base}home/sse?last_event_id=${ids[1]}`);
      assert.equal(s.status, 200);
      await s.until((x) => x.posts().length === 3, 5000, 'three replayed posts');
      assert.deepEqual(postIds(s), ids.slice(2));
      assert.ok(s.posts()[0].data.includes('>resume 2</p>'));
      const live1 = await postId(web.base, 'resumer', 'live after resume 1');
      const live2 = await postId(web.base, 'resumer', 'live after resume 2');
      await s.until((x) => x.posts().length >= 5, 5000, 'two live posts');
      assert.deepEqual(postIds(s), [...ids.slice(2), live1, live2], streamSummary(s));
      assert.equal(s.events.length, 5, streamSummary(s));
      s.close();
    });
  }

  test('entries written by another program are skipped, and never cut a replay short', async () => {
    const first = await postId(web.base, 'resumer', 'before foreign entries');
    // Pages of the replay are 200 entries: put foreign entries across a page boundary.
    const foreign = [];
    for (let i = 0; i < 250; i++) {
      foreign.push(await redis.client.xAdd('tweetsse:feed', '*', { other: `x${i}` }));
    }
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await postId(web.base, 'resumer', `after foreign ${i}`));
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': first });
    await s.until((x) => x.posts().length === 3, 5000, 'the three posts after the foreign entries');
    assert.deepEqual(postIds(s), mine, streamSummary(s));
    assert.ok(!s.events.some((e) => e.event === 'reload'), 'no reload');
    s.close();
    // Leave the stream as the other tests expect it: posts only.
    assert.equal(await redis.client.xDel('tweetsse:feed', foreign), foreign.length);
  });

  test('the header wins over the query argument', async () => {
    const ids = (await xrange(redis)).map((e) => e.id);
    const s = await open(`${web.base}home/sse?last_event_id=${ids[0]}`,
      { 'Last-Event-ID': ids.at(-2) });
    await s.until((x) => x.posts().length >= 1, 5000, 'replay');
    const marker = await postId(web.base, 'resumer', 'marker');
    await s.until((x) => x.posts().some((e) => e.id === marker), 5000, 'the marker');
    assert.deepEqual(postIds(s), [ids.at(-1), marker]);
    s.close();
  });

  test('from the newest post: nothing replayed, then live', async () => {
    const newest = (await xrange(redis)).at(-1).id;
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': newest });
    await ready(s);
    const live = await postId(web.base, 'resumer', 'only this');
    await s.until((x) => x.posts().length >= 1, 5000, 'the live post');
    assert.deepEqual(postIds(s), [live], streamSummary(s));
    assert.equal(s.events.length, 1);
    s.close();
  });

  test('from 0-0 (an empty page): every stored post, oldest first', async () => {
    const all = (await xrange(redis)).map((e) => e.id);
    const s = await open(`${web.base}home/sse?last_event_id=0-0`);
    await s.until((x) => x.posts().length >= all.length, 5000, 'all posts');
    assert.deepEqual(postIds(s), all);
    s.close();
  });

  test('a blank Last-Event-ID means no resume point', async () => {
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': '  ' });
    assert.equal(s.status, 200);
    await ready(s);
    const live = await postId(web.base, 'resumer', 'after blank');
    await s.until((x) => x.posts().length >= 1, 5000, 'the live post');
    assert.deepEqual(postIds(s), [live]);
    s.close();
  });

  test('a malformed resume point is 400', async () => {
    const bad = ['abc', '1-', '-1', '12', '1-2-3', '1.5-0', '0x10-0', '99999999999999999999999-0',
      '1-99999999999999999999999', `${(await xrange(redis))[0].id}x`, '1 -2'];
    for (const v of bad) {
      const h = await request('GET', `${web.base}home/sse`, { headers: { 'Last-Event-ID': v } });
      assert.equal(h.status, 400, `Last-Event-ID: ${v}`);
      const q = await request('GET', `${web.base}home/sse?last_event_id=${encodeURIComponent(v)}`);
      assert.equal(q.status, 400, `?last_event_id=${v}`);
    }
    const esc = await request('GET', `${web.base}home/sse?last_event_id=%zz`);
    assert.equal(esc.status, 400);
  });

  test('an id older than the retained history gives a "reload" event', async () => {
    redisH = await startRedis();
    hist = await startApache({ redis: redisH.addr, history: 10 });
    const posted = await postMany(hist.base, 300, { parallel: 10 });
    const kept = (await xrange(redisH)).map((e) => e.id);
    assert.ok(kept.length < 300 && kept.length >= 10, `trimmed to ${kept.length}`);
    assert.ok(!kept.includes(posted[0]), 'the first post was trimmed');
    assert.deepEqual(kept, posted.slice(-kept.length), 'the newest are kept');

    const s = await open(`${hist.base}home/sse`, { 'Last-Event-ID': posted[0] });
    assert.equal(s.status, 200);
    await s.until((x) => x.events.length >= 1 && x.ended, 5000, 'reload, then the end');
    assert.deepEqual(s.events.map((e) => e.event), ['reload']);

    // An id that is still kept replays the rest, without reload.
    const from = kept[kept.length - 4];
    const r = await open(`${hist.base}home/sse?last_event_id=${from}`);
    await r.until((x) => x.posts().length >= 3, 5000, 'three posts');
    assert.deepEqual(postIds(r), kept.slice(-3));
    assert.equal(r.events.length, 3);
    assert.equal(r.ended, false);
    r.close();
    assert.deepEqual(hist.badLogLines(), []);
  });
});

describe('posting while a replay runs', () => {
  test('resumed streams opened during a burst of posts miss nothing and repeat nothing', async (t) => {
    // Enough posts that each replay takes several XRANGE pages (200 entries each).
    const pre = await postMany(web.base, 450, { parallel: 10, prefix: 'pre' });
    const resumeAt = pre[20];
    const opened = [];
    // Two posts at a time, back to back, until the last stream is open and more posts have
    // followed it; each round is two accepted posts.
    const writer = backToBack((n) =>
      Promise.all([0, 1].map((k) => postId(web.base, 'racer', `race ${n} ${k}`))));
    try {
      // Open the streams one by one, each after a few more posts landed.
      for (let i = 0; i < 6; i++) {
        await within(writer.reached(writer.count + 2), 10000, 'posts before the next open');
        opened.push(await open(`${web.base}home/sse`, { 'Last-Event-ID': resumeAt }));
      }
      // Let the writer run a little past the last open, then stop it.
      await within(writer.reached(writer.count + 10), 10000, 'more posts after the last open');
    } finally {
      await writer.stop().catch(() => {});
    }
    const rounds = await writer.stop();
    t.diagnostic(`${rounds} rounds of two posts raced the replays`);
    assert.ok(rounds >= 10, `posts raced the replays (${rounds} rounds)`);

    const expected = (await xrange(redis)).map((e) => e.id).filter((id) => cmpId(id, resumeAt) > 0);
    t.diagnostic(`each stream resumes ${expected.length} posts`);
    assert.ok(expected.length < 1000, 'all still within the retained history');
    for (const [i, s] of opened.entries()) {
      await s.until((x) => x.posts().length >= expected.length, 15000, `stream ${i} complete`);
      const got = postIds(s);
      const dups = got.filter((id, k) => got.indexOf(id) !== k);
      assert.deepEqual(dups, [], `stream ${i}: duplicates`);
      assert.equal(got.length, expected.length, `stream ${i}: count`);
      assert.deepEqual(got, expected, `stream ${i}: same ids, same order`);
      assert.ok(s.events.every((e) => e.event === 'post'), `stream ${i}: only posts`);
      s.close();
    }
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});
