// Deletions and likes across a cluster (scripts/cluster.sh: three instances, HAProxy, a Redis
// primary with a replica and three Sentinels, TweetsseRedisMinReplicas 1): an action taken on
// one instance reaches the streams of every other within a second, and a Sentinel failover in
// the middle of a stream of deletions and likes loses none that was acknowledged: Redis has
// it, and every subscriber ends showing it.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { cookieFor, identityFor, request } from '../lib/harness.mjs';
import { postId, ready, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { forceFailover, namedPrimary, redisClient, replicasOnline, resumingStream, startCluster }
  from '../lib/cluster.mjs';

const KEY = 'tweetsse:feed';

// POST an action on post `id` through `base` as visitor `as`.
function act(base, id, action, as) {
  return request('POST', `${base}home/post/${id}`, { headers: { Cookie: cookieFor(as),
    'Content-Type': 'application/json' }, body: JSON.stringify({ action }) });
}

describe('deletions and likes across instances', () => {
  let cluster;
  const tracker = streamTracker();
  before(async () => { cluster = await startCluster({ instances: 3, minReplicas: 1 }); });
  after(async () => {
    tracker.closeAll();
    await cluster?.stop();
  });

  test('a deletion or a like on one instance reaches the streams of the others within 1 s',
    async (t) => {
      const [one, two, three] = cluster.instances.map((i) => i.base);
      const streams = await Promise.all([one, two, three, cluster.balancer]
        .map((b) => tracker.open(`${b}home/sse`)));
      await Promise.all(streams.map(ready));
      const p = await postId(one, 'amy', 'on the first instance');
      const q = await postId(one, 'amy', 'to be liked');
      await Promise.all(streams.map((s) => s.until((x) => x.posts().some((e) => e.id === q),
        5000, 'the posts everywhere')));
      const timed = async (send, match) => {
        const t0 = performance.now();
        const res = await send();
        assert.equal(res.status, 200, res.body);
        const took = [];
        await Promise.all(streams.map(async (s) => {
          await s.until((x) => x.events.some(match), 5000, 'the event');
          took.push(performance.now() - t0);
        }));
        return Math.max(...took);
      };
      const del = await timed(() => act(two, p, 'delete', 'amy'),
        (e) => e.event === 'delete' && e.data.includes(`post-${p}`));
      const like = await timed(() => act(three, q, 'like', 'bob'),
        (e) => e.event === 'count' && e.data.includes(`likes-${q}"`));
      t.diagnostic(`slowest stream: deletion ${Math.round(del)} ms, like ${Math.round(like)} ms`);
      assert.ok(del < 1000 && like < 1000, `within 1 s: ${del}, ${like}`);
    });
});

describe('who is reading, across instances', () => {
  let cluster;
  const tracker = streamTracker();
  before(async () => { cluster = await startCluster({ instances: 3, minReplicas: 1 }); });
  after(async () => {
    tracker.closeAll();
    await cluster?.stop();
  });

  const heard = (s) => {
    const p = s.notes;
    return p.length ? Number(p.at(-1).data) : undefined;
  };

  test('every stream hears the sum over every instance; an instance killed with -9 drops out '
    + 'within 30 s', async (t) => {
    const urls = [...cluster.instances.flatMap((i) => [i.base, i.base, i.base]),
      cluster.balancer, cluster.balancer].map((b) => `${b}home/sse`);
    const streams = await Promise.all(urls.map((u) => tracker.open(u)));
    await Promise.all(streams.map(ready));
    const all = streams.length;
    await Promise.all(streams.map((s) => s.until((x) => heard(x) === all, 20000,
      `a presence of ${all}`)));
    const t0 = performance.now();
    await cluster.kill9(cluster.instances[2]);
    await Promise.all(streams.slice(6, 9).map((s) => s.until((x) => x.ended, 10000, 'the end')));
    const left = () => streams.filter((s) => !s.ended);
    await Promise.all(left().map((s) => s.until((x) => heard(x) === left().length, 30000,
      'the sum without the killed instance')));
    t.diagnostic(`${left().length} of ${all} streams left; the sum right ` +
      `${Math.round(performance.now() - t0)} ms after the kill`);
    assert.ok(performance.now() - t0 < 30000);
  });
});

describe('a Sentinel failover in the middle of deletions and likes', () => {
  const SUBSCRIBERS = 100;
  const RATE = 20; // actions a second
  const POSTS = 60;
  let cluster;
  before(async () => { cluster = await startCluster({ instances: 3, minReplicas: 1 }); });
  after(async () => { await cluster?.stop(); });

  test('nothing acknowledged is lost: Redis has it, and every subscriber shows it', async (t) => {
    const base = cluster.balancer;
    const posts = [];
    for (let i = 0; i < POSTS; i++) posts.push(await postId(base, 'author', `post ${i}`));
    const streams = Array.from({ length: SUBSCRIBERS },
      () => resumingStream(`${base}home/sse?last_event_id=${posts[0]}`));
    const answers = [];
    const inflight = new Set();
    let n = 0;
    let timer;
    try {
      await Promise.all(streams.map((s) => s.until((x) => x.connected, 30000, 'connected')));
      // Every third action deletes the next post of the first half; the others like a post
      // of the second half, each by an identity of its own.
      timer = setInterval(() => {
        const k = n++;
        const del = k % 3 === 0 && k / 3 < POSTS / 2;
        const id = del ? posts[k / 3] : posts[POSTS / 2 + (k % (POSTS / 2))];
        const who = del ? 'author' : `fan${k}`;
        const p = act(base, id, del ? 'delete' : 'like', who).then(
          (res) => answers.push({ del, id, who, status: res.status, body: res.body,
            retryAfter: res.headers['retry-after'] }),
          (e) => answers.push({ del, id, who, status: 0, body: String(e) }));
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      }, 1000 / RATE);
      await waitUntil(() => answers.filter((a) => a.status === 200).length >= RATE, 10000,
        'a second of actions');
      const before0 = await namedPrimary(cluster);
      await forceFailover(cluster, cluster.sentinels[0]);
      let primary;
      await waitUntil(async () => {
        const now = await namedPrimary(cluster);
        if (now && now !== before0 && await replicasOnline(now, 1)) primary = now;
        return primary;
      }, 60000, 'a new primary with its replica', 50);
      const resumed = answers.length;
      await waitUntil(() => answers.slice(resumed).filter((a) => a.status === 200).length
        >= 2 * RATE, 15000, 'two seconds of actions on the new primary');
      clearInterval(timer);
      await Promise.all([...inflight]);

      const acked = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      t.diagnostic(`primary ${before0} -> ${primary}: ${answers.length} actions, ${acked.length} `
        + `acknowledged, ${refused.length} refused`);
      for (const a of refused) {
        assert.equal(a.status, 503, `refused with ${a.status}: ${a.body}`);
        assert.equal(a.retryAfter, '5');
      }

      const [host, port] = primary.split(':');
      const c = await redisClient({ host, port: Number(port) });
      const entries = new Set((await c.xRange(KEY, '-', '+')).map((e) => e.id));
      const deleted = acked.filter((a) => a.del).map((a) => a.id);
      const liked = acked.filter((a) => !a.del);
      for (const id of deleted) {
        assert.ok(!entries.has(id), `an acknowledged deletion of ${id} lost in Redis`);
        assert.ok(await c.hExists(`${KEY}:gone`, id), `the deletion of ${id} recorded`);
      }
      const lostLikes = [];
      for (const a of liked)
        if (!await c.sIsMember(`${KEY}:likes:${a.id}`, `c:${identityFor(a.who)}`)) lostLikes.push(a);
      const want = new Map();
      for (const id of posts.slice(POSTS / 2)) want.set(id, await c.sCard(`${KEY}:likes:${id}`));
      await c.close();
      assert.deepEqual(lostLikes, [], 'no acknowledged like lost in Redis');

      // Every subscriber ends with every acknowledged deletion, and each post's count as
      // Redis has it (counts are announced at most once in 250 ms: wait for the last).
      await Promise.all(streams.map((s) => s.until((x) => deleted.every((id) => x.deleted.has(id))
        && [...want].every(([id, count]) => count === 0 || x.counts.get(id) === count),
      30000, 'every deletion and the final counts')));
      for (const s of streams) assert.equal(s.reloads, 0, 'no page told to reload');
      t.diagnostic(`${SUBSCRIBERS} subscribers: each has all ${deleted.length} deletions and the `
        + `final counts of ${want.size} posts (${[...want.values()].reduce((x, y) => x + y, 0)} `
        + 'likes)');
    } finally {
      clearInterval(timer);
      await Promise.all([...inflight]);
      for (const s of streams) s.close();
    }
  });
});
