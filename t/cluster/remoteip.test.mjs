// Per-client limits behind a balancer: the examples send the client's address in
// X-Forwarded-For (conf/haproxy.cfg.example sets it; conf/balancer.conf.example drops the
// client's own and lets mod_proxy_http add it), and the instances take it from there with
// mod_remoteip (scripts/cluster.sh: TRUSTED_PROXY), so that TweetsseMaxStreamsPerAddress and
// TweetsseAddressRateLimit count per client, not one budget for every client of the site.
// One instance with one child, so that "per child" is "per instance" here; the clients
// connect from 127.0.0.2, .3, ... (any 127/8 address is this machine's loopback).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { cookieFor, freePort, request } from '../lib/harness.mjs';
import { waitUntil } from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';
import { startCluster, startFront } from '../lib/cluster.mjs';

const from = (n) => `127.0.0.${n}`;

// A stream opened from `addr` (the client's source address), with extra headers. Resolves
// once the status line is in: {status, body (refusals only), close()}.
function streamFrom(addr, url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress: addr, agent: false,
      headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const s = { status: res.statusCode, type: res.headers['content-type'], body: '',
        close: () => req.destroy() };
      if (res.statusCode === 200) {
        res.on('data', () => {});
        res.on('error', () => {});
        resolve(s);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (d) => { s.body += d; });
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
  });
}

// A JSON post from `addr` as `name` (its signed cookie), with extra headers: the status.
function postFrom(addr, base, name, headers = {}) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ message: `from ${addr}` });
    const req = http.request(`${base}home`, { method: 'POST', localAddress: addr, agent: false,
      headers: { 'Content-Type': 'application/json', Cookie: cookieFor(name), ...headers } },
    (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('behind the balancers, each client address has a budget of its own', () => {
  let cluster, instance, front;
  const open = [];
  const stream = async (...args) => {
    const s = await streamFrom(...args);
    open.push(s);
    return s;
  };
  const closeAll = () => { while (open.length) open.pop().close(); };

  // Streams the instance holds (its metrics, asked directly from loopback).
  const held = async () => {
    const res = await request('GET', `http://127.0.0.1:${instance.port}/metrics`);
    assert.equal(res.status, 200);
    const m = parsePrometheus(res.body);
    return m.sum('tweetsse_streams');
  };
  const settle = async () => {
    closeAll();
    await waitUntil(async () => (await held()) === 0, 15000, 'the instance to hold no stream');
  };
  // The instance's TW0512 lines (a stream refused: "<address> holds n streams") from `mark` on.
  const refusedAddrs = (mark) => cluster.errorLog(instance).slice(mark).split('\n')
    .map((l) => l.match(/TW0512: refusing a stream: (\S+) holds/)?.[1]).filter(Boolean);

  before(async () => {
    cluster = await startCluster({ instances: 1, children: 1, mount: '/feed/', keepalive: 1,
      maxStreamsPerAddress: 1, addressRateLimit: '1/60s burst=1', logLevel: 'info' });
    [instance] = cluster.instances;
    front = await startFront(cluster.instances, { port: await freePort() });
  });
  after(async () => {
    closeAll();
    await front?.stop();
    await cluster?.stop();
  });

  test('HAProxy: four clients, one stream each under TweetsseMaxStreamsPerAddress 1: all 200; ' +
    'a second from one of them 429, named by its own address', async (t) => {
    const url = `${cluster.balancer}home/sse`;
    const statuses = [];
    for (const n of [2, 3, 4, 5]) statuses.push((await stream(from(n), url)).status);
    t.diagnostic(`streams from 127.0.0.2-.5 through HAProxy: ${statuses.join(' ')}`);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.equal(await held(), 4);
    const mark = cluster.errorLog(instance).length;
    const again = await stream(from(2), url);
    assert.equal(again.status, 429, again.body);
    assert.deepEqual(refusedAddrs(mark), [from(2)]);
  });

  test('HAProxy: a client that sends X-Forwarded-For naming another is counted as itself',
    async (t) => {
      const url = `${cluster.balancer}home/sse`;
      await settle();
      const victim = await stream(from(3), url);
      assert.equal(victim.status, 200);
      // .6 claims to be .3, whose budget (1) is taken: counted as .3 it would get 429.
      const spoof = await stream(from(6), url, { 'X-Forwarded-For': from(3) });
      assert.equal(spoof.status, 200, spoof.body);
      victim.close();
      await waitUntil(async () => (await held()) === 1, 15000, '.3 to let go');
      // .3's budget is its own again: the spoofer's stream did not take it...
      assert.equal((await stream(from(3), url)).status, 200);
      // ...but .6's: a second stream from .6 is its second.
      const mark = cluster.errorLog(instance).length;
      const second = await stream(from(6), url, { 'X-Forwarded-For': from(4) });
      t.diagnostic(`.6 as ".3": ${spoof.status}; .3 then: 200; .6 again as ".4": ${second.status}`);
      assert.equal(second.status, 429);
      assert.deepEqual(refusedAddrs(mark), [from(6)]);
    });

  test('HAProxy: posts under TweetsseAddressRateLimit 1/60s burst=1 count per client too',
    async () => {
      const base = cluster.balancer;
      assert.equal(await postFrom(from(2), base, 'two'), 201);
      assert.equal(await postFrom(from(2), base, 'two-again'), 429, 'the same address again');
      assert.equal(await postFrom(from(3), base, 'three'), 201, 'another address');
      // .4 claims to be .5, which has not posted: counted as .5 it would pass twice.
      assert.equal(await postFrom(from(4), base, 'four', { 'X-Forwarded-For': from(5) }), 201);
      assert.equal(await postFrom(from(4), base, 'four-again', { 'X-Forwarded-For': from(5) }),
        429, 'the spoofer is counted as itself');
      assert.equal(await postFrom(from(5), base, 'five'), 201, '.5 still has its budget');
    });

  test('the Apache front of conf/balancer.conf.example: the same, per client and unspoofable',
    async (t) => {
      await settle();
      const url = `${front.base}home/sse`;
      const a = await stream(from(7), url);
      const b = await stream(from(8), url);
      const spoof = await stream(from(9), url, { 'X-Forwarded-For': from(7) });
      const again = await stream(from(9), url);
      t.diagnostic(`through the front: .7 ${a.status}, .8 ${b.status}, .9 as ".7" ` +
        `${spoof.status}, .9 again ${again.status}`);
      assert.deepEqual([a.status, b.status, spoof.status], [200, 200, 200]);
      assert.equal(again.status, 429);
      assert.match(a.type, /^text\/event-stream/);
    });
});
