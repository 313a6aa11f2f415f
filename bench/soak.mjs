// soak.mjs: the load of bench/soak.sh, in rounds until a deadline, against a running feed
// (one Node process, raw sockets for the streams). Each round:
//   1. STREAMS event streams open (spread over the source addresses 127.0.0.2..9) and stay
//      open for the round;
//   2. POSTS posts, each by one of 50 authors; LIKES likes of the round's posts, each from
//      another of 10,000 identities; DELETES of the round's posts deleted by their authors;
//   3. 1 s of page GETs (GET home, and every tenth one a permalink), CONC at a time;
//   4. 1 s of POSTs, CONC at a time (each posting author one of the 50);
//   5. every stream must have heard each post of step 2 that is kept and each deletion
//      within 10 s
//      ("late" when it hears it within 5 s more, else "missing");
//   6. every stream closes (half with a FIN, half with a reset), and after PAUSE seconds the
//      next round begins (the pause and CONC keep the load moderate: the soak is about
//      whether memory levels off, not about throughput).
// One JSON line per round on stdout: what was done, and how many events the streams missed.
//
//   node bench/soak.mjs BASE SECRET_FILE SECONDS [STREAMS=1000] [POSTS=30] [LIKES=30]
//                       [DELETES=5] [PAUSE=10] [CONC=4]
import http from 'node:http';
import net from 'node:net';
import { readSecret, visitor } from './lib/cookies.mjs';

const [base, secretFile, secsArg, streamsArg, postsArg, likesArg, delArg, pauseArg, concArg] =
  process.argv.slice(2);
if (!base || !secretFile || !(Number(secsArg) > 0)) {
  process.stderr.write('usage: node bench/soak.mjs BASE SECRET_FILE SECONDS [STREAMS] [POSTS] ' +
    '[LIKES] [DELETES] [PAUSE] [CONC]\n');
  process.exit(2);
}
const STREAMS = Number(streamsArg ?? 1000);
const POSTS = Number(postsArg ?? 30);
const LIKES = Number(likesArg ?? 30);
const DELETES = Number(delArg ?? 5);
const PAUSE = Number(pauseArg ?? 10);
const CONC = Number(concArg ?? 4);
const SRCS = 8;
const url = new URL(base);
const deadline = Date.now() + Number(secsArg) * 1000;
const secret = readSecret(secretFile);
const authors = Array.from({ length: 50 }, (_, k) => visitor(secret, 'SoakAuthor', k));
const likers = Array.from({ length: 10000 }, (_, k) => visitor(secret, 'SoakFan', k));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
let likerNext = 0;

// One request; resolves {status, text} (status 0 on a connection error).
function request(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method, agent,
      headers: { ...headers, ...(body ? { 'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body);
  });
}

// A post by author a; its id, or null.
async function postAs(a, message) {
  const res = await request('POST', `${url.pathname}home`, { body: JSON.stringify({ message }),
    headers: { Cookie: a.cookie } });
  return res.status === 201 ? JSON.parse(res.text).id : null;
}
// An action on post id as visitor v: its status.
async function act(v, id, action) {
  const res = await request('POST', `${url.pathname}home/post/${id}`,
    { body: JSON.stringify({ action }), headers: { Cookie: v.cookie } });
  return res.status;
}

// A stream: the ids of the posts and of the posts deleted that it heard.
function stream(i) {
  const s = { posts: new Set(), deleted: new Set(), status: 0, closed: false };
  s.sock = net.connect({ host: url.hostname, port: Number(url.port),
    localAddress: `127.0.0.${2 + (i % SRCS)}` });
  s.sock.setNoDelay(true);
  s.sock.on('connect', () => s.sock.write(`GET ${url.pathname}home/sse HTTP/1.1\r\n` +
    `Host: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`));
  let buf = '';
  let headers = false;
  let kind = '';
  let id = '';
  s.sock.setEncoding('utf8');
  s.sock.on('data', (d) => {
    buf += d;
    if (!headers) {
      const h = buf.indexOf('\r\n\r\n');
      if (h < 0) return;
      s.status = Number(buf.slice(9, 12));
      buf = buf.slice(h + 4);
      headers = true;
      s.onopen?.();
    }
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 1);
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) kind = line.slice(7);
      else if (line.startsWith('data: ') && kind === 'delete') {
        const m = /id="post-([^"]+)"/.exec(line);
        if (m) s.deleted.add(m[1]);
      } else if (line === '') {
        if (kind === 'post') s.posts.add(id);
        kind = '';
      }
    }
  });
  s.sock.on('error', () => {});
  s.sock.on('close', () => { s.closed = true; s.onopen?.(); });
  return s;
}

// Requests for `ms` milliseconds, `conc` at a time, each made by next(); how many were made
// and how many failed (a status other than ok).
async function burst(ms, conc, next, ok) {
  const end = Date.now() + ms;
  let n = 0;
  let bad = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (Date.now() < end) {
      n++;
      const status = await next(n);
      if (!ok(status)) bad++;
    }
  }));
  return { n, bad };
}

const until = (check, ms) => new Promise((resolve) => {
  const t0 = Date.now();
  const tick = () => {
    if (check() || Date.now() - t0 > ms) resolve(check());
    else setTimeout(tick, 50);
  };
  tick();
});

async function round(r) {
  const t0 = Date.now();
  const streams = Array.from({ length: STREAMS }, (_, i) => stream(i));
  await Promise.all(streams.map((s) => new Promise((res) => {
    if (s.status || s.closed) res(); else s.onopen = res;
  })));
  const open = streams.filter((s) => s.status === 200 && !s.closed).length;
  // The round's posts, likes and deletions.
  const ids = [];
  for (let k = 0; k < POSTS; k++) {
    const a = authors[(r * POSTS + k) % authors.length];
    const id = await postAs(a, `soak round ${r} post ${k}`);
    if (id) ids.push({ id, a });
  }
  let likesOk = 0;
  await Promise.all(Array.from({ length: LIKES }, async (_, k) => {
    const p = ids[k % ids.length];
    const v = likers[likerNext++ % likers.length];
    if (p && (await act(v, p.id, 'like')) === 200) likesOk++;
  }));
  const gone = [];
  for (let k = 0; k < DELETES && k < ids.length; k++) {
    const p = ids[ids.length - 1 - k];
    if ((await act(p.a, p.id, 'delete')) === 200) gone.push(p.id);
  }
  // Page views and posts at full speed.
  const pages = await burst(1000, CONC, (n) => request('GET',
    n % 10 === 0 && ids.length ? `${url.pathname}home/post/${ids[n % ids.length].id}`
      : `${url.pathname}home`).then((x) => x.status), (s) => s === 200 || s === 410);
  const posts = await burst(1000, CONC, (n) => postAs(authors[n % authors.length],
    `soak round ${r} burst ${n}`).then((id) => id), (id) => id !== null);
  // Every open stream hears the round's posts and deletions.
  // A post deleted before a stream was sent it is skipped there (the stream still hears the
  // deletion): only the posts kept must have come.
  const kept = ids.filter((p) => !gone.includes(p.id));
  const lacks = (s) => [...kept.filter((p) => !s.posts.has(p.id)).map((p) => `post ${p.id}`),
    ...gone.filter((g) => !s.deleted.has(g)).map((g) => `delete ${g}`)];
  const heard = (s) => s.closed || lacks(s).length === 0;
  await until(() => streams.every(heard), 10000);
  let missing = 0;
  let dropped = 0;
  const lacking = new Map(); // "post <id>" / "delete <id>" -> streams that lack it
  for (const s of streams) {
    if (s.status !== 200) continue;
    if (s.closed) { dropped++; continue; }
    const lack = lacks(s);
    missing += lack.length;
    for (const k of lack) lacking.set(k, (lacking.get(k) ?? 0) + 1);
  }
  let late = 0;
  if (missing) {
    process.stderr.write(`round ${r}: ${missing} events missed within 10 s: ` +
      `${[...lacking].map(([k, n]) => `${k} (${n} streams)`).join(', ')}\n`);
    // Late or lost: what 5 s more bring.
    await until(() => streams.every(heard), 5000);
    const still = streams.reduce((a, s) => a + (s.status !== 200 || s.closed ? 0
      : lacks(s).length), 0);
    late = missing - still;
    missing = still;
  }
  streams.forEach((s, i) => (i % 2 ? s.sock.resetAndDestroy() : s.sock.end()));
  await until(() => streams.every((s) => s.closed), 5000);
  process.stdout.write(`${JSON.stringify({ round: r, t: Math.round((t0 - start) / 1000),
    s: +((Date.now() - t0) / 1000).toFixed(1), streams: open, posts: ids.length, likes: likesOk,
    deletes: gone.length, page_gets: pages.n, page_bad: pages.bad, burst_posts: posts.n,
    burst_bad: posts.bad, missing, late, dropped })}\n`);
}

const start = Date.now();
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
for (let r = 1; Date.now() < deadline; r++) {
  await round(r);
  await sleep(Math.min(PAUSE * 1000, Math.max(0, deadline - Date.now())));
}
agent.destroy();
process.exit(0);
