// Two replicas, TweetsseRedisMinReplicas 1, and one replica killed (kill -9) while the primary
// stays: the census of the primary's replicas still counts the lost one for the grace (10 x
// Sentinel's down-after-milliseconds + 2 s), so posts are refused (503, "it may still
// appear") until it has passed, and then taken with the replica that is left; every post
// acknowledged after the kill is on that replica.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { waitUntil } from '../lib/helpers.mjs';
import { namedPrimary, poster, redisClient, replicasOnline, startCluster }
  from '../lib/cluster.mjs';

let cluster;
before(async () => { cluster = await startCluster({ instances: 2, replicas: 2, minReplicas: 1 }); });
after(async () => { await cluster?.stop(); });

// Calls of ROLE the server at `addr` has answered (INFO commandstats).
async function roleCalls(addr) {
  const [host, port] = addr.split(':');
  const c = await redisClient({ host, port: Number(port) });
  try {
    return Number((await c.info('commandstats')).match(/^cmdstat_role:calls=(\d+)/m)?.[1] ?? 0);
  } finally {
    await c.close();
  }
}

test('a replica lost: posts refused for the grace, then taken with the one left', async (t) => {
  const primary = await namedPrimary(cluster);
  await waitUntil(() => replicasOnline(primary, 2), 10000, 'both replicas online');
  // Every child counts the replicas once a second (ROLE): wait for two rounds of counts of
  // every child (2 instances of 2 children), so that each has counted both replicas.
  const from = await roleCalls(primary);
  await waitUntil(async () => await roleCalls(primary) >= from + 2 * 4, 10000,
    'two censuses of every child');

  const left = cluster.replicas[0];
  process.kill(-cluster.pids()['redis-replica2'], 'SIGKILL');
  const t0 = performance.now();
  const load = poster(cluster.balancer, 5);
  try {
    await waitUntil(() => load.answers.some((a) => a.status === 201 && a.sent > t0), 30000,
      'a post accepted after the kill');
    // A few more, on the replica that is left.
    const n = load.answers.filter((a) => a.status === 201).length;
    await waitUntil(() => load.answers.filter((a) => a.status === 201).length >= n + 5, 10000,
      'five more posts');
  } finally {
    await load.stop();
  }
  const refused = load.answers.filter((a) => a.status !== 201);
  const acked = load.answers.filter((a) => a.status === 201);
  const firstAcked = Math.min(...acked.map((a) => a.at - t0));
  t.diagnostic(`${refused.length} posts refused after the kill, the first accepted ` +
    `${Math.round(firstAcked)} ms after it (the grace: 10 x 1000 ms + 2 s)`);
  assert.ok(refused.length > 0, 'posts refused while the lost replica still counts');
  for (const a of refused) {
    assert.equal(a.status, 503, a.body);
    assert.match(JSON.parse(a.body).error, /it may still appear/);
  }
  const c = await redisClient(left);
  try {
    for (const a of acked)
      assert.equal((await c.xRange('tweetsse:feed', a.id, a.id)).length, 1,
        `post ${a.id} acknowledged but not on the replica left`);
  } finally {
    await c.close();
  }
});
