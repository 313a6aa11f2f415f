// Entries another program added to the Redis stream that are not posts (no u and m fields):
// the page reads past them, as the older pages do, so that 1 or 51 of them on top of a long
// stream never shorten the page, hide the older posts or move its resume point, and the
// stream the page opens is a live stream, not a reload.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startApache, startRedis } from '../lib/harness.mjs';
import { STREAM_KEY, cards, postId, postMany, ready, streamTracker } from '../lib/helpers.mjs';

const PAGE = 50;

let redis, web;
const tracker = streamTracker();
let newest; // the newest post's id

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, history: 10000 });
  await postMany(web.base, 3 * PAGE, { username: 'writer' });
  [{ id: newest }] = await redis.client.xRevRange(STREAM_KEY, '+', '-', { COUNT: 1 });
});
after(async () => {
  tracker.closeAll();
  await web?.stop();
  await redis?.stop();
});

for (const foreign of [1, 51]) {
  describe(`${foreign} entries of another writer on top of ${3 * PAGE} posts`, () => {
    before(async () => {
      const have = (await redis.client.xRevRange(STREAM_KEY, '+', '-', { COUNT: 60 }))
        .filter((e) => !e.message.u).length;
      for (let i = have; i < foreign; i++) {
        await redis.client.xAdd(STREAM_KEY, '*', { kind: 'audit', n: String(i) });
      }
    });

    test('the page still shows a whole page of posts, the control to older ones, and resumes '
      + 'after the newest post', async () => {
      const res = await request('GET', web.base);
      assert.equal(res.status, 200);
      const shown = cards(res.body);
      assert.equal(shown.length, PAGE, 'a whole page');
      assert.equal(shown[0].id, newest, 'newest first');
      assert.match(res.body, /<a id="older"[^>]*>Older posts<\/a>/, 'older posts exist');
      assert.ok(!res.body.includes('That\'s all.'), 'no end marker');
      assert.ok(res.body.includes(`sse-connect="home/sse?last_event_id=${newest}"`),
        'the resume point is the newest post');
    });

    test('the page\'s stream is live, not a reload', async () => {
      const s = await tracker.open(`${web.base}home/sse?last_event_id=${newest}`);
      await ready(s);
      const live = await postId(web.base, 'writer', `live over ${foreign}`);
      await s.until((x) => x.posts().some((e) => e.id === live), 5000, 'the live post');
      assert.deepEqual(s.events.map((e) => e.event), ['post'], 'no reload');
      newest = live;
      s.close();
    });
  });
}

test('the error log is clean', () => {
  assert.deepEqual(web.badLogLines(), []);
});
