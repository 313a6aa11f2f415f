// Cluster tests: scripts/cluster.sh (Redis primary + replica + 3 Sentinels, N Apache
// instances, HAProxy in front, all on private ports), a front Apache made from
// conf/balancer.conf.example, and an SSE client that resumes like a browser. Waits are on
// events (the script's ready line, a process exit, a log line, a state seen by polling);
// nothing here blocks the event loop.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { SECRET_FILE, SseParser, TOP, post, tempDir, waitForLines, within } from './harness.mjs';
import { waitUntil } from './helpers.mjs';

export const CLUSTER_SH = path.join(TOP, 'scripts/cluster.sh');
const execFileAsync = promisify(execFile);

// Bases for PORT: cluster.sh uses PORT..PORT+112, all below the ephemeral range (32768 on).
const BASE_LOW = 20000;
const BASE_HIGH = 32500;

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

// "name pid" lines of RUNDIR/cluster.pids: {name: pid}. Each pid is its process group too.
function readPids(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return {}; }
  const pids = {};
  for (const line of text.split('\n')) {
    const [name, pid] = line.split(' ');
    if (name && pid) pids[name] = Number(pid);
  }
  return pids;
}

// The shell variables of cluster.env (NAME='value' lines).
function readEnv(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^(\w+)='([^']*)'$/);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

// Start scripts/cluster.sh and wait for its ready line. Options: instances (3), replicas and
// minReplicas (cluster.sh's defaults, 2 and 1, when not given), mount ('/'), keepalive, logLevel, rateLimit,
// addressRateLimit, maxStreamsPerAddress (each off unless given), children (per instance),
// extraConf
// (directives for every instance; an EXTRA_CONF file in this process's environment is
// added too), tls (HAProxy's HTTPS front end too: c.balancerTls, its https:// URL, and
// c.tlsPort), readyMs (the bound on the start, 90 s). A base port that turns out to be
// taken is given up for another one.
export async function startCluster(opts = {}) {
  for (let attempt = 1; ; attempt++) {
    const base = BASE_LOW + Math.floor(Math.random() * (BASE_HIGH - BASE_LOW + 1));
    try {
      return await startClusterAt(base, opts);
    } catch (e) {
      if (!e.collision || attempt >= 5) throw e;
    }
  }
}

async function startClusterAt(base, opts) {
  const dir = tempDir('cluster');
  const rundir = path.join(dir, 'run');
  const env = { ...process.env, PORT: String(base), RUNDIR: rundir,
    INSTANCES: String(opts.instances ?? 3), MOUNT: opts.mount ?? '/',
    KEEPALIVE: String(opts.keepalive ?? 15), LOGLEVEL: opts.logLevel ?? 'warn',
    // The tests' secret (posts as any name: signName); rate limits and the streams per
    // address off unless asked for (most tests open hundreds of streams from one address).
    SECRET_FILE, RATE_LIMIT: opts.rateLimit ?? 'off',
    ADDRESS_RATE_LIMIT: opts.addressRateLimit ?? 'off',
    MAX_STREAMS_PER_ADDRESS: String(opts.maxStreamsPerAddress ?? 'off') };
  if (opts.children !== undefined) env.CHILDREN = String(opts.children);
  if (opts.minReplicas !== undefined) env.MIN_REPLICAS = String(opts.minReplicas);
  if (opts.replicas !== undefined) env.REPLICAS = String(opts.replicas);
  env.TLS = opts.tls ? '1' : '0';
  const extra = [process.env.EXTRA_CONF ? fs.readFileSync(process.env.EXTRA_CONF, 'utf8') : '',
    opts.extraConf ?? ''].filter(Boolean).join('\n');
  if (extra) {
    env.EXTRA_CONF = path.join(dir, 'extra.conf');
    fs.writeFileSync(env.EXTRA_CONF, `${extra}\n`);
  } else {
    delete env.EXTRA_CONF;
  }
  const outFile = path.join(dir, 'cluster.out');
  const out = fs.createWriteStream(outFile);
  // A process group of its own: the servers are in sessions of their own anyway, and a
  // signal meant for this test runner's group must not reach the script.
  const proc = spawn('bash', [CLUSTER_SH], { env, detached: true,
    stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const ready = new Promise((resolve, reject) => {
    const onData = (d) => {
      out.write(d);
      text += d;
      if (/^cluster ready:/m.test(text)) resolve();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('close', (code, signal) => {
      const e = new Error(`scripts/cluster.sh exited (${signal ?? `status ${code}`}) before it ` +
        `was ready:\n${text.trim()}`);
      e.collision = /is in use|Address already in use|[Cc]annot bind/.test(text);
      reject(e);
    });
  });
  const c = makeCluster({ dir, rundir, base, proc, outFile, out, output: () => text });
  try {
    await within(ready, opts.readyMs ?? 90000, 'scripts/cluster.sh to be ready');
  } catch (e) {
    await c.stop();
    throw e;
  }
  Object.assign(c, parseEnv(readEnv(path.join(rundir, 'cluster.env'))));
  // c.redis.client: a client of the primary, shaped as the harness's startRedis() (for
  // helpers.mjs's xrange and xlen).
  const client = createClient({ socket: { host: c.primary.host, port: c.primary.port,
    reconnectStrategy: false } });
  client.on('error', () => {}); // failures surface as rejected commands
  await client.connect();
  c.redis = { client };
  return c;
}

const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)), addr: s };
};

function parseEnv(env) {
  return {
    env,
    balancer: env.TW_BALANCER,
    balancerTls: env.TW_BALANCER_TLS,
    tlsPort: env.TW_BALANCER_TLS ? Number(new URL(env.TW_BALANCER_TLS).port) : undefined,
    instances: env.TW_INSTANCES.split(' ').map((base, i) => ({
      name: `web${i + 1}`, base, port: Number(new URL(base).port),
      dir: path.join(env.TW_RUNDIR, `web${i + 1}`),
    })),
    primary: hostPort(env.TW_REDIS_PRIMARY),
    replica: hostPort(env.TW_REDIS_REPLICA),
    replicas: env.TW_REDIS_REPLICAS.split(' ').map(hostPort),
    sentinels: env.TW_SENTINELS.split(' ').map(hostPort),
    masterName: env.TW_MASTER_NAME,
    statsSocket: env.TW_HAPROXY_STATS,
  };
}

function makeCluster({ dir, rundir, base, proc, outFile, out, output }) {
  const pidsFile = path.join(rundir, 'cluster.pids');
  return {
    dir,
    rundir,
    port: base,
    proc,
    output,
    outFile,
    pids: () => readPids(pidsFile),
    // kill -9 an instance: its parent and children at once (its process group). Resolves
    // once cluster.sh has seen it go.
    async kill9(instance) {
      const pid = this.pids()[instance.name];
      process.kill(-pid, 'SIGKILL');
      await waitUntil(() => output().includes(`${instance.name} (pid ${pid}) exited`), 10000,
        `${instance.name} to go`);
    },
    // HAProxy's view of the instances: [{name, status, check}] from its stats (CSV).
    async haproxyServers() {
      const csv = await new Promise((resolve, reject) => {
        const req = http.get({ socketPath: this.statsSocket, path: '/stats;csv' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
      const [head, ...rows] = csv.trim().split('\n');
      const cols = head.replace(/^# /, '').split(',');
      const at = (row, name) => row.split(',')[cols.indexOf(name)];
      return rows.filter((r) => at(r, 'pxname') === 'apaches' && /^web\d+$/.test(at(r, 'svname')))
        .map((r) => ({ name: at(r, 'svname'), status: at(r, 'status'),
          check: at(r, 'check_status') }));
    },
    errorLog(instance) {
      try { return fs.readFileSync(path.join(instance.dir, 'error.log'), 'utf8'); } catch { return ''; }
    },
    // Lines at error level or worse in an instance's error log, except the allowed ones.
    badLogLines(instance, allowed = []) {
      return this.errorLog(instance).split('\n')
        .filter((l) => /:(error|crit|alert|emerg)\]/.test(l))
        .filter((l) => !allowed.some((re) => re.test(l)));
    },
    // SIGTERM the script (it stops every member in order), SIGKILL everything after 30 s.
    async stop() {
      const r = this.redis?.client;
      this.redis = null;
      if (r) await r.close().catch(() => r.destroy());
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        try {
          await within(exited(proc), 30000, 'scripts/cluster.sh to stop');
        } catch {
          for (const pid of [proc.pid, ...Object.values(this.pids())]) {
            try { process.kill(-pid, 'SIGKILL'); } catch { /* gone already */ }
          }
          await exited(proc);
        }
      }
      out.end();
    },
  };
}

// Established TCP connections whose local port is one of `ports`: ["local peer", ...]
// (both as address:port). With all: true, every state but LISTEN, as "state local peer".
export async function connections(ports, { all = false } = {}) {
  const filter = `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`;
  const args = all ? ['-Htn', 'state', 'connected', filter]
    : ['-Htn', 'state', 'established', filter];
  const { stdout } = await execFileAsync('ss', args);
  return stdout.split('\n').filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/);
    // established: Recv-Q Send-Q Local Peer; connected: State Recv-Q Send-Q Local Peer
    return all ? `${f[0]} ${f[3]} ${f[4]}` : `${f[2]} ${f[3]}`;
  });
}

// An SSE client that behaves like a browser's EventSource: when its stream ends or fails,
// it waits `retry:` (as the server last said) and connects again with Last-Event-ID.
// s.ids: every post id received, over all connections; s.deleted: the posts whose deletion
// it received; s.counts: each post's last count of likes received; s.reconnects: for each
// loss, ms from noticing it to the first line of the stream that replaced it (the wait
// included); s.attempts: connections tried; s.refused: attempts answered with another status
// or failed; s.reloads: reload events. s.until(pred, ms, what) as for openStream.
export function resumingStream(url) {
  const s = { ids: [], deleted: new Set(), counts: new Map(), reconnects: [], attempts: 0,
    refused: 0, reloads: 0, retry: 2000,
    lastId: undefined, connected: false, lostAt: null, closed: false, waiters: [], req: null };
  const notify = () => { s.waiters = s.waiters.filter((w) => !w()); };
  const connect = () => {
    if (s.closed) return;
    s.attempts++;
    const headers = { Accept: 'text/event-stream' };
    if (s.lastId !== undefined) headers['Last-Event-ID'] = s.lastId;
    let over = false;
    const lost = (refused) => {
      if (over) return;
      over = true;
      if (refused) s.refused++;
      s.connected = false;
      if (s.closed) return;
      if (s.lostAt === null) s.lostAt = performance.now();
      notify();
      setTimeout(connect, s.retry);
    };
    const req = http.get(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        lost(true);
        return;
      }
      const parser = new SseParser((e) => {
        if (e.retry !== undefined) {
          s.retry = e.retry;
          if (!s.connected) {
            s.connected = true;
            if (s.lostAt !== null) {
              s.reconnects.push(performance.now() - s.lostAt);
              s.lostAt = null;
            }
          }
        } else if (e.event === 'post') {
          s.ids.push(e.id);
        } else if (e.event === 'delete') {
          s.deleted.add(e.data.match(/id="post-(\d+-\d+)"/)?.[1]);
        } else if (e.event === 'count') {
          const m = e.data.match(/id="likes-(\d+-\d+)"[^>]*>(\d+)</);
          if (m) s.counts.set(m[1], Number(m[2]));
        } else if (e.event === 'reload') {
          s.reloads++;
        }
        if (e.id !== undefined) s.lastId = e.id;
        notify();
      });
      res.setEncoding('utf8');
      res.on('data', (d) => parser.feed(d));
      res.on('end', () => lost(false));
      res.on('error', () => lost(false));
      res.on('close', () => lost(false));
    });
    req.on('error', () => lost(true));
    s.req = req;
  };
  s.until = (pred, timeoutMs = 5000, what = 'condition') => new Promise((resolve, reject) => {
    if (pred(s)) { resolve(s); return; }
    const t = setTimeout(() => reject(new Error(`resuming stream: timed out waiting for ${what}; ` +
      `${s.ids.length} posts, connected=${s.connected}, attempts=${s.attempts}`)), timeoutMs);
    s.waiters.push(() => {
      if (!pred(s)) return false;
      clearTimeout(t);
      resolve(s);
      return true;
    });
  });
  s.close = () => {
    s.closed = true;
    s.req?.destroy();
  };
  connect();
  return s;
}

// A front Apache made from conf/balancer.conf.example, in front of the given instances
// (which serve the feed at /feed/): its Listen, member ports and Debian paths substituted,
// everything else as shipped. `sed` maps more lines (regexp source -> replacement) when a
// test needs it, e.g. the MPM's sizes. Resolves {base, port, dir, errorLog(), waitForLog(),
// stop()} once the front has started.
export async function startFront(instances, { port, logLevel = 'warn', sed = [] } = {}) {
  const dir = tempDir('front');
  const example = fs.readFileSync(path.join(TOP, 'conf/balancer.conf.example'), 'utf8');
  const members = example.match(/^\s*BalancerMember .*$/gm);
  if (!members || members.length < 1) throw new Error('balancer.conf.example: no BalancerMember');
  const rules = [
    [/^Listen 80$/m, `Listen 127.0.0.1:${port}`],
    [/"\/var\/run\/apache2\/tweetsse-front\.pid"/, `"${dir}/front.pid"`],
    [/^DefaultRuntimeDir "\/var\/run\/apache2"$/m, `DefaultRuntimeDir "${dir}"`],
    [/"\/var\/log\/apache2\/tweetsse-front-error\.log"/, `"${dir}/error.log"`],
    [/"\/var\/log\/apache2\/tweetsse-front-access\.log"/, `"${dir}/access.log"`],
    [/^LogLevel warn$/m, `LogLevel ${logLevel}`],
    ...sed,
  ];
  let text = example;
  for (const [re, to] of rules) {
    if (!re.test(text)) throw new Error(`balancer.conf.example: nothing matches ${re}`);
    text = text.replace(re, to);
  }
  // One member line per instance, each from the example's first one.
  const template = members[0];
  if (!/127\.0\.0\.1:8081\/feed"/.test(template)) throw new Error(`unexpected member: ${template}`);
  text = text.replace(members.join('\n'), instances.map((inst) =>
    template.replace('127.0.0.1:8081', `127.0.0.1:${inst.port}`)).join('\n'));
  const conf = path.join(dir, 'front.conf');
  fs.writeFileSync(conf, text);
  const logFile = path.join(dir, 'error.log');
  fs.closeSync(fs.openSync(logFile, 'a'));
  const proc = spawn('/usr/sbin/apache2', ['-f', conf, '-DFOREGROUND'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const front = {
    dir,
    conf,
    port,
    base: `http://127.0.0.1:${port}/feed/`,
    proc,
    errorLog: () => fs.readFileSync(logFile, 'utf8'),
    waitForLog: (check, o) => waitForLines(logFile, check, o),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited(proc);
      }
    },
  };
  const abort = new AbortController();
  const up = front.waitForLog((lines) => lines.some((l) => /resuming normal operations/.test(l)),
    { timeoutMs: 15000, what: 'the front to start', signal: abort.signal });
  const died = new Promise((_, reject) => proc.once('close', (code) => reject(new Error(
    `front apache2 exited (status ${code}): ${stderr}${front.errorLog()}`))));
  died.catch(() => {});
  try {
    await Promise.race([up, died]);
  } finally {
    abort.abort();
  }
  return front;
}

// The instance-side socket of a stream that open() opens through a balancer: open()
// resolves with the stream; the socket is the one connection to an instance port that
// is new after open() and still there after one more round trip (a health check's
// connection lasts a moment). Resolves {stream, pair: "local peer"}.
export async function instanceSocketOf(ports, open) {
  const before = new Set(await connections(ports));
  const stream = await open();
  const first = (await connections(ports)).filter((c) => !before.has(c));
  await new Promise((resolve) => { setImmediate(resolve); });
  const again = new Set(await connections(ports));
  const fresh = first.filter((c) => again.has(c));
  if (fresh.length !== 1) {
    stream.close();
    throw new Error(`expected one new connection to the instances, found: ${fresh.join('; ')}`);
  }
  return { stream, pair: fresh[0] };
}

// Bytes sent so far by each established socket whose local port is one of `ports`:
// Map "local peer" -> bytes_sent (ss -i).
export async function bytesSent(ports) {
  const filter = `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`;
  const { stdout } = await execFileAsync('ss', ['-Htin', 'state', 'established', filter]);
  const sent = new Map();
  let pair = null;
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line)) {
      const f = line.trim().split(/\s+/);
      pair = `${f[2]} ${f[3]}`;
      sent.set(pair, 0);
    } else if (pair) {
      const m = line.match(/\bbytes_sent:(\d+)/);
      if (m) sent.set(pair, Number(m[1]));
    }
  }
  return sent;
}

// The instance-side socket of `stream`, the only stream open on these instances, found by
// its traffic: the one socket that sent bytes while the stream received a ping (where a
// balancer keeps idle connections to the instances, as mod_proxy does, a new connection
// is not necessarily the stream's). Resolves "local peer".
export async function instanceSocketByPing(ports, stream, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = stream.comments.length;
    const before = await bytesSent(ports);
    await stream.until((x) => x.comments.length > n, Math.max(1, end - Date.now()), 'a ping');
    const after = await bytesSent(ports);
    const grew = [...after].filter(([k, v]) => before.has(k) && v > before.get(k)).map(([k]) => k);
    if (grew.length === 1) return grew[0];
    if (Date.now() >= end) throw new Error(`no single socket carried the ping: ${grew.join('; ')}`);
  }
}

// Post through `base` at `rate` a second, each post on its own (a slow answer does not hold
// back the next), `count` posts or until stop(). Every answer is recorded in p.answers:
// {sent, at, status, id, retryAfter, body, message}, `sent` and `at` (performance.now()) when
// the post was sent and answered. p.stop() resolves once every post has its answer.
export function poster(base, rate, { count = Infinity, username = 'load' } = {}) {
  const answers = [];
  const inflight = new Set();
  let stopped = false;
  let n = 0;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  const timer = setInterval(() => {
    if (stopped || n >= count) {
      clearInterval(timer);
      resolveDone();
      return;
    }
    const message = `post ${n++}`;
    const sent = performance.now();
    const p = post(base, { username, message }).then(
      (res) => answers.push({ sent, at: performance.now(), status: res.status, body: res.body,
        message, retryAfter: res.headers['retry-after'],
        id: res.status === 201 ? JSON.parse(res.body).id : undefined }),
      (e) => answers.push({ sent, at: performance.now(), status: 0, body: String(e), message }));
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  }, 1000 / rate);
  return {
    answers,
    sentCount: () => n,
    // Resolves when `count` posts have been sent and answered.
    async finished() {
      await done;
      await Promise.all([...inflight]);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      resolveDone();
      await Promise.all([...inflight]);
    },
  };
}

// When posting was back after a failure that began at t0: the first accepted post sent after
// the last refused one (from then on every post was taken), as ms from t0 to its answer; 0
// when none was refused. Also the refused posts, sent from t0 on.
export function postingBack(answers, t0) {
  const refused = answers.filter((a) => a.sent >= t0 && a.status !== 201);
  if (!refused.length) return { backMs: 0, refused };
  const lastRefused = Math.max(...refused.map((a) => a.sent));
  const back = answers.filter((a) => a.status === 201 && a.sent > lastRefused)
    .sort((a, b) => a.at - b.at)[0];
  return { backMs: back ? Math.round(back.at - t0) : undefined, refused,
    firstRefusedMs: Math.round(Math.min(...refused.map((a) => a.at)) - t0),
    lastRefusedSentMs: Math.round(lastRefused - t0) };
}

// ---- Sentinel: who is the primary, failing over ----

// A client of the Redis server or sentinel `node` ({host, port}) that does not reconnect.
export async function redisClient(node) {
  const c = createClient({ socket: { host: node.host, port: node.port, reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// The primary the sentinels name now ("host:port"), asking the first that answers.
export async function namedPrimary(cluster) {
  for (const s of cluster.sentinels) {
    let c;
    try {
      c = await redisClient(s);
      const [host, port] = await c.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME',
        cluster.masterName]);
      return `${host}:${port}`;
    } catch { /* the next one */ } finally { await c?.close().catch(() => {}); }
  }
  return undefined;
}

// Does the server at addr have `n` replicas online (INFO replication)?
export async function replicasOnline(addr, n) {
  const [host, port] = addr.split(':');
  let c;
  try {
    c = await redisClient({ host, port: Number(port) });
    const info = await c.info('replication');
    return /^role:master/m.test(info) && (info.match(/^slave\d+:.*state=online/gm) ?? []).length >= n;
  } catch {
    return false;
  } finally {
    await c?.close().catch(() => {});
  }
}

// The replicas `node` (a sentinel) knows, each as {addr, flags, priority, link} from SENTINEL
// REPLICAS.
export async function sentinelReplicas(cluster, node) {
  const c = await redisClient(node);
  try {
    const replicas = await c.sendCommand(['SENTINEL', 'REPLICAS', cluster.masterName]);
    return replicas.map((one) => {
      let r = one;
      if (Array.isArray(one)) {
        r = {};
        for (let i = 0; i + 1 < one.length; i += 2) r[one[i]] = one[i + 1];
      }
      return { addr: `${r.ip}:${r.port}`, flags: r.flags, priority: Number(r['slave-priority']),
        link: r['master-link-status'] };
    });
  } finally {
    await c.close().catch(() => {});
  }
}

// Does this sentinel see a replica it could promote (Sentinel's own rules: a replica that is
// not down or disconnected, whose link to the primary is up)? SENTINEL FAILOVER answers OK
// and then gives up when it sees none.
async function promotable(cluster, node) {
  let c;
  try {
    c = await redisClient(node);
    const replicas = await c.sendCommand(['SENTINEL', 'REPLICAS', cluster.masterName]);
    // Each replica as field -> value (the client gives a map; a flat array is read too).
    return replicas.some((one) => {
      let r = one;
      if (Array.isArray(one)) {
        r = {};
        for (let i = 0; i + 1 < one.length; i += 2) r[one[i]] = one[i + 1];
      }
      return r.flags === 'slave' && r['master-link-status'] === 'ok';
    });
  } catch {
    return false;
  } finally {
    await c?.close().catch(() => {});
  }
}

// Has every sentinel seen every replica it knows report itself a replica (role-reported
// slave)? After a failover the old primary keeps reporting itself a primary until a sentinel
// makes it a replica (8 s or more later), and a sentinel reads a replica's INFO only every
// 10 s: until each has seen it as a replica, a sentinel that did not lead the next failover
// may take the replica that failover promotes for that stale primary and make it a replica
// again (+convert-to-slave) just before the switch, and then every sentinel names a replica
// as the primary until Sentinel fails over once more, tens of seconds later.
async function settled(cluster) {
  for (const node of cluster.sentinels) {
    let c;
    try {
      c = await redisClient(node);
      const replicas = await c.sendCommand(['SENTINEL', 'REPLICAS', cluster.masterName]);
      const ok = replicas.every((one) => {
        let r = one;
        if (Array.isArray(one)) {
          r = {};
          for (let i = 0; i + 1 < one.length; i += 2) r[one[i]] = one[i + 1];
        }
        return r['role-reported'] === 'slave';
      });
      if (!ok) return false;
    } catch {
      return false;
    } finally {
      await c?.close().catch(() => {});
    }
  }
  return true;
}

// Wait until every sentinel has seen every replica as one (see settled).
export async function waitSettled(cluster) {
  await waitUntil(() => settled(cluster), 30000, 'the sentinels to see every replica as one', 100);
}

// Ask `node` to fail over, once it sees a replica to promote and every sentinel has seen every
// replica as one (see settled).
export async function forceFailover(cluster, node) {
  await waitUntil(async () => await settled(cluster) && await promotable(cluster, node), 30000,
    'the sentinels to see the replicas as replicas and one to promote', 50);
  const s = await redisClient(node);
  const ok = await s.sendCommand(['SENTINEL', 'FAILOVER', cluster.masterName]);
  if (ok !== 'OK') throw new Error(`SENTINEL FAILOVER: ${ok}`);
  await s.close();
}
