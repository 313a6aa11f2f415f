// Redis failing over under load: 3 instances behind HAProxy, a primary, two replicas and three
// Sentinels, TweetsseRedisMinReplicas 1, 300 subscribers resuming through the balancer and
// 20 posts a second. A forced failover (SENTINEL FAILOVER), one the instances do not hear of
// (their watch on the sentinels cut first), a kill -9 of the primary (restarted once the
// sentinels have switched, as an operator would), and a forced failover to a replica whose
// link to the primary was just cut (it is behind): no acknowledged post is lost, every
// subscriber ends with every acknowledged post once and in order, posts refused meanwhile get
// 503 with Retry-After, and posting is back within 3 s of the failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { SERVER_SH, waitForLines } from '../lib/harness.mjs';
import { cmpId, waitUntil } from '../lib/helpers.mjs';
import { forceFailover, namedPrimary, poster, postingBack, redisClient as client,
  replicasOnline, resumingStream, sentinelReplicas, startCluster, waitSettled }
  from '../lib/cluster.mjs';

const SUBSCRIBERS = 300;
const RATE = 20; // posts a second
const BACK_MS = 3000; // posting is back this soon after the failure began

const addrOf = (node) => `${node.host}:${node.port}`;

// The ids in the stream of the server at `addr` ("host:port"), or undefined when it does not
// answer.
async function streamIds(addr) {
  const [host, port] = addr.split(':');
  let c;
  try {
    c = await client({ host, port: Number(port) });
    return (await c.xRange('tweetsse:feed', '-', '+')).map((e) => e.id);
  } catch {
    return undefined;
  } finally {
    await c?.close().catch(() => {});
  }
}

// The common run: subscribers up, posts flowing, then `fail()`; waits for the switch and for
// the new primary to have a replica, notes what the old primary stored that the new one lacks
// (when it still answers), waits for posting to be back, then checks every answer, the stream
// and every subscriber. `retry`, for a manual failover: Sentinel gives one up when the replica
// is slow to report its promotion (-failover-abort-slave-timeout, after its failover-timeout)
// and, unlike an automatic one, never tries it again; an operator asks again, and so does
// this test (at most twice, each after 8 s without a switch). Resolves {before, switched,
// back}.
async function failoverRun(t, cluster, fail, { afterSwitch, retry } = {}) {
  const streams = Array.from({ length: SUBSCRIBERS },
    () => resumingStream(`${cluster.balancer}home/sse`));
  let load;
  try {
    await Promise.all(streams.map((s) => s.until((x) => x.connected, 30000, 'connected')));
    load = poster(cluster.balancer, RATE);
    await waitUntil(() => load.answers.filter((a) => a.status === 201).length >= RATE, 10000,
      'a second of accepted posts');
    // A failover right after another one may be undone by a sentinel (see waitSettled).
    await waitSettled(cluster);
    const before = await namedPrimary(cluster);
    const t0 = performance.now();
    await fail(before);
    const ms = () => Math.round(performance.now() - t0);
    let switched;
    for (let attempt = 1; ; attempt++) {
      try {
        await waitUntil(async () => {
          const now = await namedPrimary(cluster);
          if (now && now !== before) switched = { at: ms(), primary: now, attempt };
          return switched;
        }, retry ? 8000 : 30000, 'the sentinels to name a new primary', 20);
        break;
      } catch (e) {
        if (!retry || attempt >= 3) throw e;
        await retry();
      }
    }
    // What the old primary has now (until Sentinel makes it a replica, 8 s or more later).
    const oldIds = await streamIds(before);
    if (afterSwitch) await afterSwitch();
    let primary;
    await waitUntil(async () => {
      const now = await namedPrimary(cluster);
      if (now && await replicasOnline(now, 1)) primary = now;
      return primary;
    }, 30000, 'the primary to have a replica online', 50);
    const synced = ms();
    // Posting back, and two more seconds of posts.
    await waitUntil(() => load.answers.filter((a) => a.status === 201 && a.sent - t0 > switched.at)
      .length >= 2 * RATE, 15000, 'two seconds of posts accepted after the switch');
    await load.stop();

    const acked = load.answers.filter((a) => a.status === 201).map((a) => a.id);
    const back = postingBack(load.answers, t0);
    t.diagnostic(`primary ${before} -> ${switched.primary}: switch at ${switched.at} ms ` +
      `(failover asked ${switched.attempt} time${switched.attempt > 1 ? 's' : ''}), a replica ` +
      `online at ${synced} ms${primary !== switched.primary ?
        ` (the sentinels moved it again, to ${primary})` : ''}`);
    t.diagnostic(`${load.answers.length} posts, ${acked.length} acknowledged, ` +
      `${back.refused.length} refused (answered from ${back.firstRefusedMs ?? '-'} ms, the last ` +
      `one sent at ${back.lastRefusedSentMs ?? '-'} ms); posting back at ${back.backMs} ms ` +
      'after the failure began');

    // From an instance (JSON, as the post was), or from HAProxy while every instance's
    // health check fails (text): 503 with Retry-After either way. A post stored but not
    // confirmed by the replicas, or sent to the primary as it died, says it may still appear
    // (it was not acknowledged, so the checks below do not count it).
    for (const a of back.refused) {
      assert.equal(a.status, 503, `a refused post got ${a.status}: ${a.body}`);
      assert.equal(a.retryAfter, '5', `with Retry-After: ${a.body}`);
      assert.match(a.body.startsWith('{') ? JSON.parse(a.body).error : a.body,
        /try again|it may still appear, so look before you send it again/);
    }
    assert.ok(back.backMs !== undefined && back.backMs <= BACK_MS,
      `posting back ${back.backMs} ms after the failure began (at most ${BACK_MS})`);

    // Every acknowledged post is in the stream of the primary now, once.
    const storedIds = await streamIds(primary);
    const stored = new Set(storedIds);
    assert.equal(stored.size, storedIds.length, 'no entry twice in the stream');
    const lostInRedis = acked.filter((id) => !stored.has(id));
    assert.deepEqual(lostInRedis, [], `${lostInRedis.length} acknowledged posts lost in Redis`);
    if (oldIds) {
      const orphans = oldIds.filter((id) => !stored.has(id));
      t.diagnostic(`the old primary stored ${orphans.length} post(s) that the new one lacks ` +
        '(none of them acknowledged)');
    }

    // And every subscriber has every acknowledged post, once, in order.
    await Promise.all(streams.map((s) => s.until((x) => {
      const have = new Set(x.ids);
      return acked.every((id) => have.has(id));
    }, 30000, 'every acknowledged post')));
    let reconnects = 0;
    let slowest = 0;
    for (const s of streams) {
      assert.equal(new Set(s.ids).size, s.ids.length, 'no post twice on a subscriber');
      for (let i = 1; i < s.ids.length; i++)
        assert.ok(cmpId(s.ids[i - 1], s.ids[i]) < 0, 'in order');
      assert.equal(s.reloads, 0, 'no page told to reload');
      reconnects += s.reconnects.length;
      slowest = Math.max(slowest, ...s.reconnects);
    }
    t.diagnostic(`${SUBSCRIBERS} subscribers: each has all ${acked.length} acknowledged posts; ` +
      `${reconnects} reconnects (slowest ${Math.round(slowest)} ms)`);
    return { before, switched, back };
  } finally {
    await load?.stop(); // also when a wait failed: the poster must not outlive the test
    for (const s of streams) s.close();
  }
}

describe('a forced failover and one the instances do not hear of', () => {
  let cluster;
  before(async () => { cluster = await startCluster({ instances: 3, replicas: 2, minReplicas: 1 }); });
  after(async () => { await cluster?.stop(); });

  test('SENTINEL FAILOVER under load: nothing acknowledged is lost', async (t) => {
    const ask = () => forceFailover(cluster, cluster.sentinels[0]);
    await failoverRun(t, cluster, ask, { retry: ask });
  });

  test('a failover the instances do not hear of (their sentinel subscriptions cut): '
    + 'they follow on READONLY, nothing is lost', async (t) => {
    await failoverRun(t, cluster, async () => {
      for (const node of cluster.sentinels) {
        const s = await client(node);
        await s.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        await s.close();
      }
      await forceFailover(cluster, cluster.sentinels[1]);
    }, { retry: () => forceFailover(cluster, cluster.sentinels[1]) });
  });

  test('the instances said what they did', () => {
    for (const inst of cluster.instances) {
      assert.match(cluster.errorLog(inst), /TW0116: the sentinels made 127\.0\.0\.1:\d+ the primary/);
      assert.deepEqual(cluster.badLogLines(inst), []);
    }
  });
});

describe('the primary killed', () => {
  let cluster;
  let restarted;
  before(async () => { cluster = await startCluster({ instances: 3, replicas: 2, minReplicas: 1 }); });
  after(async () => {
    restarted?.kill('SIGTERM');
    await cluster?.stop();
  });

  test('kill -9 of the primary under load, restarted once the sentinels switched: nothing '
    + 'acknowledged is lost', async (t) => {
    const pid = cluster.pids()['redis-primary'];
    await failoverRun(t, cluster, async () => { process.kill(-pid, 'SIGKILL'); }, {
      // As an operator would: the old primary comes back, and the sentinels make it a
      // replica of the new one. Its output goes to redis-primary-restarted.log; the wait ends
      // when it is ready, or fails with that log if it exits first.
      afterSwitch: async () => {
        const log = path.join(cluster.rundir, 'redis-primary-restarted.log');
        const out = fs.openSync(log, 'a');
        restarted = spawn('bash', [SERVER_SH, 'redis', path.join(cluster.rundir, 'redis-primary'),
          String(cluster.primary.port), '--repl-diskless-sync-delay', '0'],
        { stdio: ['ignore', out, out], detached: true });
        fs.closeSync(out);
        const gone = new Promise((resolve) => restarted.once('exit', resolve));
        await Promise.race([
          waitForLines(log, (lines) => lines.some((l) => /Ready to accept connections/.test(l)),
            { timeoutMs: 15000, what: 'the restarted primary' }),
          gone.then((code) => { throw new Error(`the restarted primary exited (${code}): ` +
            fs.readFileSync(log, 'utf8').slice(-2000)); }),
        ]);
      },
    });
  });

  test('the error logs: only the outage', () => {
    for (const inst of cluster.instances)
      assert.deepEqual(cluster.badLogLines(inst, [/TW0402|TW0107|TW0111/]), []);
  });
});

describe('a failover to a replica whose link was just cut', () => {
  let cluster;
  let behind; // the replica whose link is cut, the one Sentinel prefers
  before(async () => {
    cluster = await startCluster({ instances: 3, replicas: 2, minReplicas: 1 });
    // Sentinel promotes the replica of the lowest replica-priority first: make it the one
    // whose link is cut, so that the failover promotes the replica that is behind.
    behind = cluster.replicas[1];
    const c = await client(behind);
    await c.sendCommand(['CONFIG', 'SET', 'replica-priority', '1']);
    await c.close();
    await waitUntil(async () => (await sentinelReplicas(cluster, cluster.sentinels[0]))
      .some((r) => r.addr === addrOf(behind) && r.priority === 1), 30000,
    'the sentinel to read the new priority (INFO, every 10 s)', 200);
  });
  after(async () => { await cluster?.stop(); });

  test('a replica cut from the primary, then SENTINEL FAILOVER while it is behind: it is '
    + 'promoted, and nothing acknowledged is lost', async (t) => {
    // Entries ever added to the stream (it is trimmed to the history: its length stays).
    const added = async (c) => {
      const info = await c.sendCommand(['XINFO', 'STREAM', 'tweetsse:feed']);
      return Number(Array.isArray(info) ? info[info.indexOf('entries-added') + 1]
        : info['entries-added']);
    };
    const ask = () => forceFailover(cluster, cluster.sentinels[0]);
    let missed;
    const { switched } = await failoverRun(t, cluster, async (primaryAddr) => {
      // Its link cut as a partition between it and the primary would: it replicates from
      // an address where nothing listens (CLIENT KILL TYPE master is no cut: the replica
      // connects again at once), while Sentinel still counts it a replica in good standing.
      // Then the failover, once the primary has stored two posts it has not.
      const [host, port] = primaryAddr.split(':');
      const p = await client({ host, port: Number(port) });
      const r = await client(behind);
      try {
        const from = await added(p);
        await r.sendCommand(['REPLICAOF', '127.0.0.1', String(cluster.port + 109)]);
        await waitUntil(async () => await added(p) >= from + 2, 5000, 'two posts', 10);
        missed = (await added(p)) - from;
      } finally {
        await r.close();
        await p.close();
      }
      await ask();
    }, { retry: ask });
    t.diagnostic(`the primary had stored ${missed} post(s) since the cut when the failover ` +
      'was asked');
    assert.equal(switched.primary, addrOf(behind), 'the replica that was behind was promoted');
  });
});
