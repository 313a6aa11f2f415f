// Posting through a Redis failover and the loss of an instance: 3 instances behind HAProxy, a
// primary, two replicas and three Sentinels, TweetsseRedisMinReplicas 1, 300 subscribers that
// resume like browsers, 300 posts at 20 a second (15 s), a forced SENTINEL FAILOVER after 6 s
// and a kill -9 of one instance after 10 s. At least 250 of the 300 posts are accepted, no
// acknowledged post is lost, none is stored or delivered twice, and every subscriber ends
// with every acknowledged post, in order.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { cmpId, waitUntil } from '../lib/helpers.mjs';
import { forceFailover, namedPrimary, poster, postingBack, redisClient, resumingStream,
  startCluster, waitSettled } from '../lib/cluster.mjs';

const SUBSCRIBERS = 300;
const RATE = 20; // posts a second
const POSTS = 300;
const FAILOVER_AFTER = 6 * RATE; // posts sent before the failover
const KILL_AFTER = 10 * RATE; // and before the kill
const MIN_ACCEPTED = 250;

let cluster;
const streams = [];
before(async () => { cluster = await startCluster({ instances: 3, replicas: 2, minReplicas: 1 }); });
after(async () => {
  for (const s of streams) s.close();
  await cluster?.stop();
});

test(`${POSTS} posts at ${RATE}/s through a forced failover and an instance killed: at least ` +
  `${MIN_ACCEPTED} accepted, none lost or twice, every subscriber has them all`, async (t) => {
  for (let k = 0; k < SUBSCRIBERS; k++) streams.push(resumingStream(`${cluster.balancer}home/sse`));
  await Promise.all(streams.map((s) => s.until((x) => x.connected, 30000, 'connected')));
  await waitSettled(cluster);
  const first = await namedPrimary(cluster);
  const load = poster(cluster.balancer, RATE, { count: POSTS });
  let t0, tKill, switched;
  try {
    await waitUntil(() => load.sentCount() >= FAILOVER_AFTER, 30000, 'six seconds of posts');
    t0 = performance.now();
    await forceFailover(cluster, cluster.sentinels[0]);
    await waitUntil(() => load.sentCount() >= KILL_AFTER, 30000, 'ten seconds of posts');
    const victim = cluster.instances[1];
    tKill = performance.now();
    await cluster.kill9(victim);
    t.diagnostic(`failover asked after ${FAILOVER_AFTER} posts, ${victim.name} killed after ` +
      `${load.sentCount()}`);
    await load.finished();
    await waitUntil(async () => {
      const now = await namedPrimary(cluster);
      if (now && now !== first) switched = now;
      return switched;
    }, 30000, 'the sentinels to name a new primary');
  } finally {
    await load.stop();
  }

  const byStatus = {};
  for (const a of load.answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  const acked = load.answers.filter((a) => a.status === 201);
  // Posting back after the failover: from the posts sent before the kill.
  const back = postingBack(load.answers.filter((a) => a.sent < tKill), t0);

  // Every acknowledged post in the new primary's stream; no post stored twice.
  const [host, port] = switched.split(':');
  const c = await redisClient({ host, port: Number(port) });
  const entries = await c.xRange('tweetsse:feed', '-', '+');
  await c.close();
  const ids = new Set(entries.map((e) => e.id));
  const lost = acked.filter((a) => !ids.has(a.id));
  const messages = entries.map((e) => e.message.m).filter((m) => /^post \d+$/.test(m));
  const twice = messages.length - new Set(messages).size;
  t.diagnostic(`primary ${first} -> ${switched}; ${load.answers.length} posts: ` +
    `${JSON.stringify(byStatus)} by status; ${acked.length} accepted, ${lost.length} lost, ` +
    `${twice} stored twice; posting back ${back.backMs} ms after the failover was asked`);

  assert.equal(load.answers.length, POSTS, 'every post answered');
  for (const a of load.answers) {
    // 503 while no primary confirms it; 502 from HAProxy for a post in flight on the instance
    // that was killed.
    assert.ok([201, 502, 503].includes(a.status), `a post got ${a.status}: ${a.body}`);
  }
  assert.ok(acked.length >= MIN_ACCEPTED, `${acked.length} of ${POSTS} accepted`);
  assert.deepEqual(lost.map((a) => a.id), [], 'acknowledged posts lost');
  assert.equal(twice, 0, 'posts stored twice');

  // Every subscriber recovers: it has every acknowledged post, once, in order.
  await Promise.all(streams.map((s, i) => s.until((x) => {
    const have = new Set(x.ids);
    return acked.every((a) => have.has(a.id));
  }, 30000, `subscriber ${i}: every acknowledged post`)));
  let reconnects = 0;
  for (const [i, s] of streams.entries()) {
    assert.equal(new Set(s.ids).size, s.ids.length, `subscriber ${i}: a post twice`);
    for (let k = 1; k < s.ids.length; k++)
      assert.ok(cmpId(s.ids[k - 1], s.ids[k]) < 0, `subscriber ${i}: in order`);
    assert.equal(s.reloads, 0, `subscriber ${i}: told to reload`);
    reconnects += s.reconnects.length;
  }
  t.diagnostic(`${SUBSCRIBERS} subscribers: each has all ${acked.length} accepted posts; ` +
    `${reconnects} reconnects`);
});
