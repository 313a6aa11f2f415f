// One replica and TweetsseRedisMinReplicas 1 (scripts/cluster.sh's default MIN_REPLICAS): a post is
// acknowledged only once the replica has it. With the replica stopped (SIGSTOP), a post
// through the balancer waits (its Redis connection blocks in WAIT on the primary) and is
// acknowledged once the replica is back, and then the replica holds it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from 'redis';
import { post } from '../lib/harness.mjs';
import { postId, waitUntil } from '../lib/helpers.mjs';
import { startCluster } from '../lib/cluster.mjs';

let cluster, replica;

before(async () => {
  cluster = await startCluster({ instances: 2, replicas: 1, minReplicas: 1 });
  replica = createClient({ socket: { host: cluster.replica.host, port: cluster.replica.port,
    reconnectStrategy: false } });
  replica.on('error', () => {});
  await replica.connect();
});
after(async () => {
  await replica?.close().catch(() => replica.destroy());
  await cluster?.stop();
});

const onReplica = async (id) => (await replica.xRange('tweetsse:feed', id, id)).length === 1;

test('every acknowledged post is on the replica already', async () => {
  for (let i = 0; i < 20; i++) {
    const id = await postId(cluster.balancer, 'durable', `replicated ${i}`);
    assert.ok(await onReplica(id), `post ${id} acknowledged before the replica had it`);
  }
});

test('with the replica stopped, a post waits for it and is acknowledged once it is back',
  async () => {
    const pid = cluster.pids()['redis-replica'];
    const blocked = async () => Number((await cluster.redis.client.info('clients'))
      .match(/^blocked_clients:(\d+)/m)[1]);
    assert.equal(await blocked(), 0);
    process.kill(pid, 'SIGSTOP');
    let answer = null;
    let posting;
    try {
      posting = post(cluster.balancer, { username: 'durable', message: 'waits for the replica' })
        .then((res) => { answer = res; return res; });
      // The post is stored on the primary, and its connection waits in WAIT.
      await waitUntil(async () => (await blocked()) >= 1, 5000,
        'the post\'s connection to block in WAIT on the primary', 20);
      assert.equal(answer, null, 'answered while the replica was stopped');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const res = await posting;
    assert.equal(res.status, 201, res.body);
    assert.ok(await onReplica(JSON.parse(res.body).id), 'the replica has it');
  });
