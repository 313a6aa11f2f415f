// An instance dies under load: 300 subscribers through HAProxy that resume like browsers
// (wait retry:, reconnect with Last-Event-ID), posts at about 20/s through HAProxy, and
// kill -9 of one instance's whole process group. Every client that lost its stream is back
// through the balancer within retry: + 1 s, and every client has every stored post, in
// order, once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { post, sleep } from '../lib/harness.mjs';
import { percentile, waitUntil, xrange } from '../lib/helpers.mjs';
import { connections, resumingStream, startCluster } from '../lib/cluster.mjs';

const SUBSCRIBERS = 300;
const RATE = 20; // posts per second

let cluster;
const streams = [];

before(async () => {
  cluster = await startCluster({ instances: 3 });
});
after(async () => {
  for (const s of streams) s.close();
  await cluster?.stop();
});

// Post through `base` at `rate` per second, each request on its own (a slow one does not
// hold the next back), until stop(). Resolves stop() with {statuses: {code: n}, errors}.
function pacedPoster(base, rate) {
  const statuses = {};
  const inflight = new Set();
  let errors = 0;
  let running = true;
  let n = 0;
  const loop = (async () => {
    const start = performance.now();
    while (running) {
      const p = post(base, { username: 'load', message: `paced ${n++}` })
        .then((res) => { statuses[res.status] = (statuses[res.status] ?? 0) + 1; })
        .catch(() => { errors++; })
        .finally(() => inflight.delete(p));
      inflight.add(p);
      const next = start + (n * 1000) / rate;
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(inflight);
  })();
  return {
    acked: () => statuses[201] ?? 0,
    async stop() {
      running = false;
      await loop;
      return { statuses, errors };
    },
  };
}

test(`kill -9 of an instance under load: ${SUBSCRIBERS} resuming clients, posts at ${RATE}/s`,
  async (t) => {
    const ports = cluster.instances.map((i) => i.port);
    for (let k = 0; k < SUBSCRIBERS; k += 50) {
      const batch = Array.from({ length: 50 }, () =>
        resumingStream(`${cluster.balancer}home/sse`));
      streams.push(...batch);
      await Promise.all(batch.map((s) => s.until((x) => x.connected, 10000, 'first stream')));
    }
    const held = await Promise.all(ports.map(async (p) => (await connections([p])).length));
    t.diagnostic(`streams per instance before the kill: ${held}`);
    // The victim: the instance holding the most streams.
    const victim = cluster.instances[held.indexOf(Math.max(...held))];

    const poster = pacedPoster(cluster.balancer, RATE);
    // Under load: every client has had posts before the kill.
    await Promise.all(streams.map((s) => s.until((x) => x.ids.length > 0, 10000, 'a post')));

    await cluster.kill9(victim);
    // Every client on the victim has seen its stream end by the time HAProxy's checks mark
    // it down (the kernel closed its sockets at once); then wait until all are back.
    await waitUntil(async () => (await cluster.haproxyServers())
      .some((s) => s.name === victim.name && s.status.startsWith('DOWN')), 10000,
    `HAProxy to mark ${victim.name} down`);
    await Promise.all(streams.map((s, i) => s.until((x) => x.connected && x.lostAt === null,
      15000, `client ${i} to be back`)));
    const { statuses, errors } = await poster.stop();

    const stored = (await xrange(cluster.redis)).map((e) => e.id);
    await Promise.all(streams.map((s, i) => s.until((x) => x.ids.length >= stored.length,
      15000, `client ${i}: every stored post`)));

    const reconnects = streams.flatMap((s) => s.reconnects).sort((a, b) => a - b);
    const retry = streams[0].retry;
    t.diagnostic(`killed ${victim.name} (held ${Math.max(...held)} streams): ` +
      `${reconnects.length} reconnects, slowest ${reconnects.at(-1)?.toFixed(0)} ms, ` +
      `p50 ${percentile(reconnects, 50)?.toFixed(0)} ms (retry: ${retry} ms); ` +
      `${streams.reduce((n, s) => n + s.refused, 0)} attempts refused`);
    t.diagnostic(`posts through HAProxy: ${JSON.stringify(statuses)} by status, ` +
      `${errors} failed; ${stored.length} stored`);

    assert.ok(reconnects.length > 0, 'the killed instance held streams');
    assert.ok(reconnects.at(-1) <= retry + 1000,
      `slowest reconnect ${reconnects.at(-1).toFixed(0)} ms > retry ${retry} ms + 1 s`);
    for (const [i, s] of streams.entries()) {
      assert.equal(s.reloads, 0, `client ${i}: told to reload`);
      assert.deepEqual(s.ids, stored, `client ${i}: missing or duplicate posts`);
    }
    // Only a post in flight on the killed instance may fail (HAProxy answers 502).
    for (const code of Object.keys(statuses)) {
      assert.ok(code === '201' || code === '502', `posts answered ${code}: ${JSON.stringify(statuses)}`);
    }
    assert.equal(errors, 0, 'posts that got no answer at all');
  });

test('the surviving instances logged no errors', () => {
  const pids = cluster.pids();
  for (const i of cluster.instances) {
    if (cluster.output().includes(`${i.name} (pid ${pids[i.name]}) exited`)) continue;
    assert.deepEqual(cluster.badLogLines(i), [], i.name);
  }
});
