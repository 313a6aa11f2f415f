// How long an instance keeps the stream of a client that has left, behind HAProxy
// (conf/haproxy.cfg.example: option abortonclose). HAProxy watches both sides of a stream and
// closes the instance's connection as soon as its client hangs up; the instance's delivery
// thread sees that at once. Measured on the instance's own socket: from the client's close
// until that socket is neither ESTABLISHED nor CLOSE-WAIT (the instance has let it go), with
// the default TweetsseKeepalive (15 s), so that a wait for the next ping would show.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { postId, ready, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { connections, instanceSocketOf, startCluster } from '../lib/cluster.mjs';

const KEEPALIVE = 15;
let cluster;
const tracker = streamTracker();

before(async () => {
  cluster = await startCluster({ instances: 2, keepalive: KEEPALIVE });
});
after(async () => {
  tracker.closeAll();
  await cluster?.stop();
});

test('behind HAProxy an instance lets go of a closed client\'s stream within a second',
  async (t) => {
    const ports = cluster.instances.map((i) => i.port);
    const lingers = [];
    for (let round = 0; round < 5; round++) {
      const socket = await instanceSocketOf(ports, async () => {
        const s = await tracker.open(`${cluster.balancer}home/sse`);
        await ready(s);
        const id = await postId(cluster.balancer, 'linger', `round ${round}`);
        await s.until((x) => x.posts().some((e) => e.id === id), 5000, 'the post');
        return s;
      });
      const closed = performance.now();
      socket.stream.close();
      await waitUntil(async () => !(await connections(ports, { all: true }))
        .some((c) => /^(ESTAB|CLOSE-WAIT) /.test(c) && c.endsWith(` ${socket.pair}`)),
      (2 * KEEPALIVE + 5) * 1000, 'the instance to let go of the stream', 10);
      lingers.push(performance.now() - closed);
    }
    lingers.sort((a, b) => a - b);
    t.diagnostic(`closed client -> instance lets go, behind HAProxy (TweetsseKeepalive ` +
      `${KEEPALIVE} s), 5 rounds: ${lingers.map((x) => x.toFixed(0)).join(', ')} ms`);
    assert.ok(lingers.at(-1) < 1000, `the instance kept a closed client's stream ` +
      `${lingers.at(-1).toFixed(0)} ms`);
  });
