// The table of a bench/soak.sh run, from its samples (DIR/samples.txt) and rounds
// (DIR/rounds.jsonl):
//
//   node bench/soak-report.mjs DIR [WARMUP_PERCENT=20] [HISTORY=2000]
//
// For every child (and their sum): resident memory (MB), open files, and its own open files
// (Redis connections and files that are no socket), and over all children the open files
// that are clients' connections, Redis connections and sockets closed by their client, each
// at the first sample,
// after the warm-up and at the end, and the least-squares slope per hour over the samples
// after the warm-up, and over the last half of the run alone; likewise Redis' used_memory,
// with its value at the first sample where the history (HISTORY posts) is full; and the CPU
// the run took (Apache, Redis, the load generator), in cores on average.
import fs from 'node:fs';
import path from 'node:path';

const [dir, warmArg = '20', histArg = '2000'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node bench/soak-report.mjs DIR [WARMUP_PERCENT] [HISTORY]\n');
  process.exit(2);
}
const warm = Number(warmArg) / 100;
const history = Number(histArg);
const lines = fs.readFileSync(path.join(dir, 'samples.txt'), 'utf8').trim().split('\n')
  .map((l) => l.split(' '));
const rounds = fs.readFileSync(path.join(dir, 'rounds.jsonl'), 'utf8').trim().split('\n')
  .filter(Boolean).map((l) => JSON.parse(l));

// series[name] = [[t, value], ...]
const series = new Map();
const add = (name, t, v) => {
  if (!series.has(name)) series.set(name, []);
  series.get(name).push([t, v]);
};
const sums = new Map(); // `${kind} ${t}` -> sum over children
let historyFullAt = null;
const fdsAt = new Map(); // `${t} ${pid}` -> open files
const cpu = []; // [t, Apache ticks, Redis ticks, load ticks]
const child = (kind, time, pid, x) => {
  add(`${kind} ${pid}`, time, x);
  sums.set(`${kind} ${time}`, (sums.get(`${kind} ${time}`) ?? 0) + x);
};
for (const [kind, t, ...v] of lines) {
  const time = Number(t);
  if (kind === 'rss') child(kind, time, v[0], Number(v[1]) / 1024);
  else if (kind === 'fds') {
    child(kind, time, v[0], Number(v[1]));
    fdsAt.set(`${time} ${v[0]}`, Number(v[1]));
  } else if (kind === 'conns') {
    // (Samples of an earlier soak.sh) the open files but the clients' connections.
    child('notconn', time, v[0], fdsAt.get(`${time} ${v[0]}`) - Number(v[1]));
  } else if (kind === 'kinds') {
    // The child's own open files: Redis connections and files that are no socket; the
    // clients' connections and sockets closed by their client, summed over the children.
    const [conns, redis, files, gone] = v.slice(1).map(Number);
    child('own', time, v[0], redis + files);
    sums.set(`clients ${time}`, (sums.get(`clients ${time}`) ?? 0) + conns);
    sums.set(`redisconns ${time}`, (sums.get(`redisconns ${time}`) ?? 0) + redis);
    sums.set(`closed ${time}`, (sums.get(`closed ${time}`) ?? 0) + gone);
  } else if (kind === 'cpu') {
    // The last sample is taken once the load generator has exited (its ticks read 0).
    if (Number(v[2]) > 0) cpu.push([time, ...v.map(Number)]);
  } else if (kind === 'redis') {
    add('redis used_memory', time, Number(v[0]) / 1048576);
    add('redis used_memory_rss', time, Number(v[1]) / 1048576);
    add('redis log entries', time, Number(v[2]));
    add('redis keys', time, Number(v[4]));
    if (historyFullAt === null && Number(v[3]) >= history) historyFullAt = time;
  }
}
for (const [k, x] of sums) {
  const [kind, t] = k.split(' ');
  add(`${kind} all`, Number(t), x);
}
const end = Math.max(...lines.map((l) => Number(l[1])));
const tWarm = end * warm;

// Least-squares slope of points (per second) times 3600: per hour.
function slope(points) {
  if (points.length < 3) return NaN;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, y] of points) {
    num += (t - mt) * (y - my);
    den += (t - mt) ** 2;
  }
  return den ? (num / den) * 3600 : NaN;
}
// The value at the first sample at or after time t.
const at = (points, t) => (points.find((p) => p[0] >= t) ?? points.at(-1))[1];
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

const out = [];
const first = rounds[0];
const missing = rounds.reduce((a, r) => a + r.missing, 0);
const late = rounds.reduce((a, r) => a + (r.late ?? 0), 0);
const dropped = rounds.reduce((a, r) => a + r.dropped, 0);
out.push('');
out.push(`Soak: ${f(end / 60, 1)} min, ${rounds.length} rounds of ${first?.streams ?? '?'} streams ` +
  `opening and closing, ${rounds.reduce((a, r) => a + r.posts + r.burst_posts, 0)} posts, ` +
  `${rounds.reduce((a, r) => a + r.likes, 0)} likes, ${rounds.reduce((a, r) => a + r.deletes, 0)} ` +
  `deletions, ${rounds.reduce((a, r) => a + r.page_gets, 0)} page GETs; events missed by a ` +
  `stream: ${missing} (and ${late} more than 10 s late), streams dropped: ${dropped}, failed requests: ` +
  `${rounds.reduce((a, r) => a + r.page_bad + r.burst_bad, 0)}.`);
out.push(`Slopes: least squares over the samples after the warm-up (the first ${warmArg} %, ` +
  `${f(tWarm / 60, 1)} min), and over the last half of the run alone; per hour.`);
out.push('');
out.push('| figure | start | after warm-up | end | min | max | slope / h after warm-up | ' +
  'slope / h, last half |');
out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
const order = [...series.keys()].sort((a, b) => {
  const rank = (k) => ['rss', 'fds', 'notconn', 'own', 'clients', 'redisconns', 'closed', 'redis']
    .indexOf(k.split(' ')[0]) * 10 +
    (k.endsWith(' all') ? 1 : 0);
  return rank(a) - rank(b) || a.localeCompare(b);
});
for (const name of order) {
  const p = series.get(name);
  const vals = p.map((x) => x[1]);
  const d = /^(fds|notconn|own|clients|redisconns|closed)|entries$|keys$/.test(name) ? 0 : 1;
  const labels = {
    rss: 'RSS MB, child', fds: 'open files, child',
    notconn: "open files but clients' connections, child",
    own: 'open files of its own (Redis connections, files, pipes, eventfds), child',
    clients: "open files: clients' connections (streams included),",
    redisconns: 'open files: Redis connections,',
    closed: 'open files: sockets closed by their client, not yet by the child,',
  };
  const [kind, who] = name.split(' ');
  const label = labels[kind] ? `${labels[kind]} ${who}`
    : name.endsWith('used_memory') || name.endsWith('_rss') ? `${name} (MB)` : name;
  out.push(`| ${label.replace(/(child|,) all$/, (m, w) => (w === ',' ? ', all children' : 'all children'))} | ${f(p[0][1], d)} | ${f(at(p, tWarm), d)} | ` +
    `${f(p.at(-1)[1], d)} | ${f(Math.min(...vals), d)} | ${f(Math.max(...vals), d)} | ` +
    `${f(slope(p.filter((x) => x[0] >= tWarm)), 2)} | ${f(slope(p.filter((x) => x[0] >= end / 2)), 2)} |`);
}
const mem = series.get('redis used_memory') ?? [];
if (historyFullAt !== null) {
  const after = mem.filter((x) => x[0] >= historyFullAt);
  out.push('');
  out.push(`Redis: the history (${history} posts) was full after ${historyFullAt} s; used_memory ` +
    `then ${f(after[0]?.[1], 2)} MB, at the end ${f(after.at(-1)?.[1], 2)} MB (min ` +
    `${f(Math.min(...after.map((x) => x[1])), 2)}, max ${f(Math.max(...after.map((x) => x[1])), 2)}), ` +
    `slope since ${f(slope(after), 2)} MB/h.`);
} else {
  out.push('');
  out.push(`Redis: the history (${history} posts) never filled.`);
}
if (cpu.length > 1) {
  // Clock ticks (USER_HZ, 100 on Linux) over the run, in cores on average.
  const [a, b] = [cpu[0], cpu.at(-1)];
  const cores = (k) => f((b[k] - a[k]) / 100 / (b[0] - a[0]), 2);
  out.push('');
  out.push(`CPU over the run, cores on average: Apache ${cores(1)}, Redis ${cores(2)}, ` +
    `the load generator ${cores(3)}.`);
}
out.push('');
process.stdout.write(`${out.join('\n')}\n`);
