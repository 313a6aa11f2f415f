// storm.mjs: reconnect storms against a running feed, with raw sockets (one Node process, no
// EventSource: thousands of streams at once). Prints one JSON object on stdout.
//
//   node bench/storm.mjs resume BASE N BACK [SRCS]
//       Post BACK + 10 posts, then open N streams at once, each with Last-Event-ID the post
//       BACK posts back (as clients coming back after a network blip), and time until every
//       one has all BACK posts it missed (each counted: none missing, none twice). With
//       STORM_REDIS_PORT set, also the commands Redis served during the storm (INFO
//       commandstats, read with redis-cli before and after).
//   node bench/storm.mjs restart BASE N SECONDS [SRCS]
//       Open N streams; once all are open, print "ready" on stderr and wait for them to be
//       ended by the server (a graceful restart the caller makes, e.g. kill -USR1). Each
//       client then reconnects as EventSource does: after the last retry: the server sent it,
//       with the Last-Event-ID it has. Counts the reconnects in 100 ms buckets from the first
//       stream's end, for SECONDS.
//
// SRCS: local addresses 127.0.0.2 .. 127.0.0.(SRCS+1) the streams spread over (8).
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

const [mode, base, nArg, xArg, srcArg] = process.argv.slice(2);
if (!['resume', 'restart'].includes(mode) || !base || !nArg || !xArg) {
  process.stderr.write('usage: storm.mjs resume BASE N BACK [SRCS] | restart BASE N SECONDS [SRCS]\n');
  process.exit(2);
}
const N = Number(nArg);
const SRCS = Number(srcArg ?? 8);
const url = new URL(base);
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms

function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method, agent: false,
      headers: { ...headers, ...(body ? { 'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One stream on a raw socket: calls on.event(kind, value) for "post" (its id), "retry" (ms),
// and on.end() once the server closes it.
function stream(i, lastId, on) {
  const sock = net.connect({ host: url.hostname, port: Number(url.port),
    localAddress: `127.0.0.${2 + (i % SRCS)}` });
  const path = `${url.pathname}home/sse`;
  sock.setNoDelay(true);
  sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    'Accept: text/event-stream\r\n' + (lastId ? `Last-Event-ID: ${lastId}\r\n` : '') + '\r\n'));
  let buf = '';
  let headers = false;
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    if (!headers) {
      const h = buf.indexOf('\r\n\r\n');
      if (h < 0) return;
      on.status?.(Number(buf.slice(9, 12)));
      buf = buf.slice(h + 4);
      headers = true;
    }
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 1);
      if (line.startsWith('id: ')) on.event('id', line.slice(4));
      else if (line === 'event: post') on.event('post');
      else if (line.startsWith('retry: ')) on.event('retry', Number(line.slice(7)));
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => on.end());
  return sock;
}

// Commands Redis has served: in all, and XRANGE. null without STORM_REDIS_PORT.
function redisCalls() {
  const port = process.env.STORM_REDIS_PORT;
  if (!port) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-p', port, 'info', 'commandstats'], (err, out) => {
      if (err) { reject(err); return; }
      let total = 0, xrange = 0;
      for (const m of out.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
        total += Number(m[2]);
        if (m[1] === 'xrange') xrange = Number(m[2]);
      }
      resolve({ total, xrange });
    });
  });
}

async function cookie() {
  const res = await request('GET', url.pathname);
  const c = /^tw_name=[^;]*/.exec(res.headers['set-cookie']?.[0] ?? '')?.[0];
  if (!c) throw new Error(`no tw_name cookie from ${base}`);
  const username = decodeURIComponent(c.slice('tw_name='.length)).replace(/\.[\w-]{43}$/, '');
  return { c, username };
}

async function resume(back) {
  const { c, username } = await cookie();
  const ids = [];
  for (let i = 0; i < back + 10; i++) {
    const res = await request('POST', `${url.pathname}home`,
      JSON.stringify({ username, message: `storm ${i}` }), { Cookie: c });
    if (res.status !== 201) throw new Error(`POST: ${res.status} ${res.text}`);
    ids.push(JSON.parse(res.text).id);
  }
  const from = ids[ids.length - 1 - back];
  const newest = ids[ids.length - 1];
  let done = 0, wrong = 0, ended = 0, last = 0;
  const before = await redisCalls();
  const t0 = now();
  await new Promise((resolve) => {
    for (let i = 0; i < N; i++) {
      let posts = 0, finished = false;
      const s = stream(i, from, {
        event(kind, v) {
          if (kind === 'post') posts++;
          if (kind === 'id' && v === newest && !finished) {
            finished = true;
            if (posts !== back - 1) wrong++; // its own event line follows its id
            done++;
            last = now();
            if (done + ended === N) resolve();
            setTimeout(() => s.destroy(), 200); // no later frame may follow: none is posted
          }
        },
        end() { if (!finished) { ended++; if (done + ended === N) resolve(); } },
      });
    }
  });
  const after = await redisCalls(); // its own INFO is one more command
  return { mode, streams: N, back, caught_up: done, ended_early: ended, wrong_count: wrong,
    seconds_to_all_caught_up: +((last - t0) / 1000).toFixed(3),
    redis_commands: after && after.total - before.total - 1,
    redis_xrange: after && after.xrange - before.xrange };
}

async function restart(seconds) {
  let open = 0, firstEnd = 0, reconnects = 0, refused = 0;
  const times = [];
  const clients = [];
  const connect = (cl) => {
    cl.ended = false;
    stream(cl.i, cl.last, {
      status(code) {
        if (code === 200 && cl.phase === 0 && ++open === N) process.stderr.write('ready\n');
        if (code !== 200) refused++;
      },
      event(kind, v) {
        if (kind === 'retry') cl.retry = v;
        if (kind === 'id') cl.last = v;
      },
      end() {
        const t = now();
        if (!firstEnd) firstEnd = t;
        if (t - firstEnd > seconds * 1000) return;
        cl.phase = 1;
        setTimeout(() => { reconnects++; times.push(now()); connect(cl); }, cl.retry);
      },
    });
  };
  for (let i = 0; i < N; i++) {
    const cl = { i, retry: 3000, last: null, phase: 0 };
    clients.push(cl);
    connect(cl);
  }
  await new Promise((r) => { const t = setInterval(() => {
    if (firstEnd && now() - firstEnd > seconds * 1000) { clearInterval(t); r(); }
  }, 100); });
  const buckets = new Map();
  for (const t of times) {
    const b = Math.floor((t - firstEnd) / 100);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const peak = Math.max(0, ...buckets.values());
  const spread = times.length ? (Math.max(...times) - Math.min(...times)) / 1000 : 0;
  return { mode, streams: N, reconnects, refused, peak_per_100ms: peak,
    buckets_used: buckets.size, first_to_last_reconnect_s: +spread.toFixed(3) };
}

const out = mode === 'resume' ? await resume(Number(xArg)) : await restart(Number(xArg));
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
