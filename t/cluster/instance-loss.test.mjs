// An instance dies under load: 300 subscribers through HAProxy that resume like browsers
// (wait retry:, reconnect with Last-Event-ID), posts at about 20/s through HAProxy, and
// kill -9 of one instance's whole process group while a post is in flight on it. Every
// client that lost its stream is back through the balancer within retry: + 1 s, every
// client has every stored post, in order, once, and the post in flight gets a 502.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { post, sleep, within } from '../lib/harness.mjs';
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

// A POST whose body is only half sent: it stays in flight on the instance that HAProxy
// gave it to (Apache waits for the rest). s.status resolves with the response's status
// code, or rejects when the connection ends without one.
function halfSentPost(base) {
  const url = new URL(`${base}home`);
  const body = JSON.stringify({ username: 'inflight', message: 'in flight when its instance died' });
  const sock = net.connect(Number(url.port), url.hostname);
  sock.write(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
    `Connection: close\r\n\r\n${body.slice(0, 10)}`);
  let text = '';
  const status = new Promise((resolve, reject) => {
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      text += d;
      const m = text.match(/^HTTP\/1\.[01] (\d{3})/);
      if (m) resolve(Number(m[1]));
    });
    sock.on('close', () => reject(new Error(`no response: ${JSON.stringify(text)}`)));
    sock.on('error', () => {});
  });
  status.catch(() => {});
  return { status, close: () => sock.destroy() };
}

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

    const poster = pacedPoster(cluster.balancer, RATE);
    // Under load: every client has had posts before the kill.
    await Promise.all(streams.map((s) => s.until((x) => x.ids.length > 0, 10000, 'a post')));

    // The victim: the instance that HAProxy gave a half-sent post to (its connection is the
    // new one that stays; the paced posts' connections come and go).
    const known = new Set(await connections(ports));
    const inflight = halfSentPost(cluster.balancer);
    let victim;
    try {
      const pair = await waitUntil(async () => {
        const fresh = (await connections(ports)).filter((c) => !known.has(c));
        // Still there after two more paced posts were answered (theirs last a few ms).
        const n = poster.acked();
        await waitUntil(() => poster.acked() >= n + 2, 5000, 'two more posts', 10);
        const still = new Set(await connections(ports));
        const kept = fresh.filter((c) => still.has(c));
        return kept.length === 1 && kept[0];
      }, 5000, 'the half-sent post to reach an instance');
      victim = cluster.instances.find((i) => pair.startsWith(`127.0.0.1:${i.port} `));
    } catch (e) {
      inflight.close();
      throw e;
    }
    const victimStreams = held[cluster.instances.indexOf(victim)];

    await cluster.kill9(victim);
    const inflightStatus = await within(inflight.status, 5000, 'the half-sent post\'s answer');
    inflight.close();
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
    t.diagnostic(`killed ${victim.name} (held ${victimStreams} streams): ` +
      `${reconnects.length} reconnects, slowest ${reconnects.at(-1)?.toFixed(0)} ms, ` +
      `p50 ${percentile(reconnects, 50)?.toFixed(0)} ms (retry: ${retry} ms); ` +
      `${streams.reduce((n, s) => n + s.refused, 0)} attempts refused`);
    t.diagnostic(`posts through HAProxy: ${JSON.stringify(statuses)} by status, ` +
      `${errors} failed; ${stored.length} stored; the post in flight on ${victim.name} ` +
      `got ${inflightStatus}`);

    assert.ok(reconnects.length > 0, 'the killed instance held streams');
    assert.ok(reconnects.at(-1) <= retry + 1000,
      `slowest reconnect ${reconnects.at(-1).toFixed(0)} ms > retry ${retry} ms + 1 s`);
    for (const [i, s] of streams.entries()) {
      assert.equal(s.reloads, 0, `client ${i}: told to reload`);
      assert.deepEqual(s.ids, stored, `client ${i}: missing or duplicate posts`);
    }
    // A post in flight on the killed instance gets a 502 from HAProxy (it is not sent
    // again: a POST); only such posts may fail.
    assert.equal(inflightStatus, 502);
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
