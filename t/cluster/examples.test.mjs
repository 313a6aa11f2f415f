// The shipped balancer examples, as files and in use: conf/haproxy.cfg.example (run by
// scripts/cluster.sh in front of every cluster) and conf/balancer.conf.example (a front
// Apache with mod_proxy_balancer, made here from the file itself with the ports and paths
// substituted) in front of two instances serving the feed at /feed/, as the examples have
// it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { TOP, execFileAsync, freePort, post, request } from '../lib/harness.mjs';
import { cards, postId, postIds, ready, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { connections, instanceSocketByPing, startCluster, startFront } from '../lib/cluster.mjs';

const HAPROXY_EXAMPLE = path.join(TOP, 'conf/haproxy.cfg.example');
const BALANCER_EXAMPLE = path.join(TOP, 'conf/balancer.conf.example');
// A short keepalive, so that the front's linger (a few keepalive intervals) is measured
// in seconds.
const KEEPALIVE = 1;

describe('the example files pass their configuration tests', () => {
  test('haproxy -c -f conf/haproxy.cfg.example: valid, no warnings', async () => {
    const { stdout, stderr } = await execFileAsync('haproxy', ['-c', '-f', HAPROXY_EXAMPLE]);
    assert.match(stdout, /Configuration file is valid/);
    assert.doesNotMatch(stderr, /WARNING|ALERT/, stderr);
  });

  test('apache2 -t on conf/balancer.conf.example (through apache2ctl, which makes ' +
    '/var/run/apache2)', async () => {
    const { stderr } = await execFileAsync('apache2ctl', ['-t', '-f', BALANCER_EXAMPLE]);
    assert.equal(stderr.trim(), 'Syntax OK');
  });
});

describe('a front Apache from conf/balancer.conf.example', () => {
  let cluster, front;
  const tracker = streamTracker();

  before(async () => {
    cluster = await startCluster({ instances: 2, mount: '/feed/', keepalive: KEEPALIVE });
    front = await startFront(cluster.instances, { port: await freePort(),
      logLevel: 'warn proxy_hcheck:debug' });
  });
  after(async () => {
    tracker.closeAll();
    await front?.stop();
    await cluster?.stop();
  });

  test('proxies a live stream, posts and the page', async () => {
    const s = await tracker.open(`${front.base}home/sse`);
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'], /^text\/event-stream/);
    await ready(s);
    const viaFront = await postId(front.base, 'front', 'posted through the front');
    const direct = await postId(cluster.instances[1].base, 'direct', 'posted on web2');
    await s.until((x) => x.posts().length >= 2, 5000, 'both posts');
    assert.deepEqual(postIds(s), [viaFront, direct]);
    const page = await request('GET', front.base);
    assert.equal(page.status, 200);
    assert.deepEqual(cards(page.body).slice(0, 2).map((c) => c.id), [direct, viaFront]);
    const redirect = await request('GET', front.base.replace(/\/$/, ''));
    assert.equal(redirect.status, 301);
    s.close();
  });

  test('its health checks reach the health endpoint and get 200', async (t) => {
    // mod_proxy_hcheck logs each check's status line (AH03254) at debug level. Wait for
    // two rounds of both members.
    const lines = await front.waitForLog((ls) => {
      const hc = ls.filter((l) => /AH03254:/.test(l));
      return hc.length >= 4 && hc;
    }, { timeoutMs: 15000, what: 'four health checks (AH03254)' });
    t.diagnostic(lines[0].replace(/^.*AH03254: /, 'a check answered: '));
    assert.deepEqual(lines.filter((l) => !/AH03254: HTTP\/1\.[01] 200 /.test(l)), [],
      'every check answered 200');
  });

  test(`lets go of a closed client's stream within 2 x TweetsseKeepalive (${KEEPALIVE} s) + 1 s`,
    async (t) => {
      const ports = cluster.instances.map((i) => i.port);
      const lingers = [];
      for (let round = 0; round < 3; round++) {
        const s = await tracker.open(`${front.base}home/sse`);
        await ready(s);
        // The front keeps idle connections to the instances: find the stream's by its pings.
        const pair = await instanceSocketByPing(ports, s);
        const closed = performance.now();
        s.close();
        await waitUntil(async () => !(await connections(ports, { all: true }))
          .some((c) => /^(ESTAB|CLOSE-WAIT) /.test(c) && c.endsWith(` ${pair}`)),
        (2 * KEEPALIVE + 5) * 1000, 'the instance to let go of the stream', 10);
        lingers.push(performance.now() - closed);
      }
      t.diagnostic(`closed client -> instance lets go, behind mod_proxy_balancer ` +
        `(TweetsseKeepalive ${KEEPALIVE} s): ${lingers.map((x) => x.toFixed(0)).join(', ')} ms`);
      for (const ms of lingers) assert.ok(ms <= (2 * KEEPALIVE + 1) * 1000, `${ms.toFixed(0)} ms`);
    });

  test('the instances logged no errors', () => {
    for (const i of cluster.instances) assert.deepEqual(cluster.badLogLines(i), [], i.name);
  });

  test('every stream holds a front worker: with MaxRequestWorkers 4, a fifth request ' +
    'waits in the accept queue until a stream closes', async () => {
    // The example's MPM section, made small.
    const small = await startFront(cluster.instances, { port: await freePort(), sed: [
      [/^ {4}ServerLimit 16$/m, '    ServerLimit 1'],
      [/^ {4}ThreadsPerChild 64$/m, '    ThreadsPerChild 4'],
      [/^ {4}ThreadLimit 64$/m, '    ThreadLimit 4'],
      [/^ {4}MaxRequestWorkers 1024$/m, '    MaxRequestWorkers 4'],
      [/^ {4}MinSpareThreads 64$/m, '    MinSpareThreads 1'],
      [/^ {4}MaxSpareThreads 1024$/m, '    MaxSpareThreads 4'],
    ] });
    try {
      const streams = [];
      for (let i = 0; i < 4; i++) {
        const s = await tracker.open(`${small.base}home/sse`);
        await ready(s);
        streams.push(s);
      }
      let answered = null;
      const posting = post(small.base, { username: 'queued', message: 'behind four streams' })
        .then((res) => { answered = performance.now(); return res; });
      // The post's connection sits in the listening socket's accept queue (Recv-Q).
      await waitUntil(async () => {
        const { stdout } = await execFileAsync('ss', ['-Hltn', `( sport = :${small.port} )`]);
        return Number(stdout.trim().split(/\s+/)[1]) >= 1;
      }, 5000, 'the post to wait in the accept queue', 20);
      assert.equal(answered, null, 'the post was answered while every worker held a stream');
      const freed = performance.now();
      streams[0].close();
      const res = await posting;
      assert.equal(res.status, 201);
      assert.ok(answered >= freed);
      for (const s of streams) s.close();
    } finally {
      await small.stop();
    }
  });
});
