// Many instances, one feed: scripts/cluster.sh (three Apache instances on Redis through
// Sentinel, HAProxy in front from conf/haproxy.cfg.example). Posts made on every instance
// and through the balancer reach every stream, on every instance and through the
// balancer, in the stored order, each once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cmpId, postId, postIds, ready, streamSummary, streamTracker, xrange }
  from '../lib/helpers.mjs';
import { connections, startCluster } from '../lib/cluster.mjs';

let cluster;
const tracker = streamTracker();

before(async () => {
  cluster = await startCluster({ instances: 3 });
});
after(async () => {
  tracker.closeAll();
  await cluster?.stop();
});

test('cluster.env describes the cluster', () => {
  const e = cluster.env;
  assert.equal(e.TW_BALANCER, `http://127.0.0.1:${cluster.port}/`);
  assert.deepEqual(e.TW_INSTANCES.split(' '),
    [1, 2, 3].map((i) => `http://127.0.0.1:${cluster.port + i}/`));
  assert.equal(e.TW_REDIS_PRIMARY, `127.0.0.1:${cluster.port + 100}`);
  assert.equal(e.TW_REDIS_REPLICA, `127.0.0.1:${cluster.port + 101}`);
  assert.deepEqual(e.TW_SENTINELS.split(' '),
    [110, 111, 112].map((d) => `127.0.0.1:${cluster.port + d}`));
  assert.equal(e.TW_MASTER_NAME, 'tweetsse');
});

test('HAProxy sees every instance up after a passed health check', async () => {
  const servers = await cluster.haproxyServers();
  assert.deepEqual(servers.map((s) => [s.name, s.status, s.check]),
    [['web1', 'UP', 'L7OK'], ['web2', 'UP', 'L7OK'], ['web3', 'UP', 'L7OK']]);
});

test('posts made on every instance and through the balancer reach every stream, in order, once',
  async (t) => {
    const { instances, balancer } = cluster;
    // Two streams on each instance directly, six through HAProxy.
    const urls = [...instances.flatMap((i) => [i.base, i.base]),
      ...Array.from({ length: 6 }, () => balancer)].map((b) => `${b}home/sse`);
    const streams = await Promise.all(urls.map((u) => tracker.open(u)));
    await Promise.all(streams.map(ready));

    // leastconn spreads the balancer's streams: each instance holds its two direct streams
    // and some of HAProxy's (health checks come and go; they can only add).
    const held = await Promise.all(instances.map(async (i) =>
      (await connections([i.port])).length));
    t.diagnostic(`streams held per instance (2 direct each + 6 through HAProxy): ${held}`);
    for (const [k, n] of held.entries()) {
      assert.ok(n >= 3, `${instances[k].name} holds ${n} streams: HAProxy gave it none`);
    }

    const before = (await xrange(cluster.redis)).length;
    // Concurrent writers: one per instance and one through the balancer, ten posts each.
    const writers = [...instances.map((i) => i.base), balancer];
    const acked = (await Promise.all(writers.map(async (base, w) => {
      const ids = [];
      for (let k = 0; k < 10; k++) ids.push(await postId(base, `w${w}`, `from writer ${w}, ${k}`));
      return ids;
    }))).flat().sort(cmpId);
    const stored = (await xrange(cluster.redis)).slice(before).map((e) => e.id);
    assert.deepEqual(stored, acked, 'what was acknowledged is what is stored');

    await Promise.all(streams.map((s, i) => s.until((x) => x.posts().length >= stored.length,
      10000, `stream ${i} (${urls[i]}): every post`)));
    for (const [i, s] of streams.entries()) {
      assert.deepEqual(postIds(s), stored, `stream ${i} (${urls[i]}): ${streamSummary(s)}`);
      assert.equal(s.ended, false);
    }
  });

test('the instances logged no errors', () => {
  for (const i of cluster.instances) assert.deepEqual(cluster.badLogLines(i), [], i.name);
});
