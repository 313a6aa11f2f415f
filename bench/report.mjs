// The Markdown table of a bench/run.sh run, from the JSON results it saved:
//
//   node bench/report.mjs DIR        (DIR: BENCH_DIR/results of a run)
//
// DIR holds run.json (what ran: date, cores, rounds, sizes, scenarios) and one file per
// measurement: S1-<side>-<round>.json and S2-<side>-<round>.json (sseload's JSON result and
// the server-side figures; S3 is measured in the S2 run, with its streams idle), S4.json
// and S5.json (wrk requests/s of each target, both runs), S7-<side>.json (one round),
// S6-ours-1.json (the cluster behind HAProxy, one round; its table compares it with S1 ours),
// S1M-<posts|mix>-<round>.json (S1 posts-only and with the mix, ours), S8-ours-1.json (the
// storm of likes).
// Per figure and side the rounds are summed up as a median (the mean of the two middle
// values) with the range, or as the worst / first round; the ratio is ours / peer.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node bench/report.mjs DIR\n');
  process.exit(2);
}
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
const run = read('run.json');
const results = fs.readdirSync(dir).filter((f) => /^S\d.*\.json$/.test(f)).map(read);
const has = (s) => run.scenarios.includes(s);
const SIDES = ['ours', 'peer'];

// x with d decimals, rounded as C's printf does: to the nearest, and an exact tie (0.625
// to two decimals) to the even neighbour, where toFixed rounds ties up. toFixed(100) is the
// exact decimal value of the double, so a tie is a 5 followed by zeros only.
function fixed(x, d) {
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf('.');
  if (/^50*$/.test(exact.slice(dot + 1 + d))) {
    const kept = exact.slice(0, d ? dot + 1 + d : dot);
    if (Number(kept.at(-1)) % 2 === 0) return `${x < 0 ? '-' : ''}${kept}`;
  }
  return x.toFixed(d);
}

// Numbers rounded the way the table shows them: integers as they are, else 0, 1 or 2
// decimals by size.
function fmt(x) {
  if (Number.isInteger(x)) return String(x);
  return fixed(x, x >= 100 || x <= -100 ? 0 : x >= 10 ? 1 : 2);
}
// x rounded to d decimals, as a number (a figure of one round, as measured).
const round = (x, d) => Number(fixed(x, d));

// The figures of one round of S1 or S2 for one side: {name: number}; a figure that could
// not be measured (sseload failed) is left out.
function figures(r) {
  const f = {};
  const put = (name, v) => { if (v !== undefined && v !== null && Number.isFinite(v)) f[name] = v; };
  const l = r.sseload;
  // Per delivered event: the bytes subscribers read over the posting phase, and the servers'
  // CPU time over it (µs).
  if (l?.delivered > 0) {
    if (l.post_bytes > 0) put('bpe', round(l.post_bytes / l.delivered, 0));
    put('cpue', round(r.server_cpu_ns / 1e3 / l.delivered, 2));
  }
  // Latency to the kernel's receive time when sseload measured it (-K), and as read.
  if (l?.kstamp) {
    put('kp50', l.k_p50_ms);
    put('kp99', l.k_p99_ms);
  }
  if (r.scenario === 'S1' || r.scenario === 'S6') {
    if (r.scenario === 'S6') put('connected', l?.connected);
    put('lost', l?.lost);
    put('p50', l?.p50_ms);
    put('p99', l?.p99_ms);
    put('cpu', round(r.server_cpu_ns / 1e9, 1));
  } else if (r.scenario === 'S7') {
    put('connected', l?.connected);
    put('lost', l?.lost);
    put('p50', l?.p50_ms);
    put('p99', l?.p99_ms);
    put('dropped', l?.dropped);
    put('release', round(r.release_s, 1));
    const idle = r.idle;
    put('n', idle.streams);
    if (idle.streams > 0) put('kb', round((idle.rss1_kb - idle.rss0_kb) / idle.streams, 2));
    const sc = r.syscalls;
    if (sc && l?.delivered > 0) {
      put('sys', round(sc.total / l.delivered, 2));
      put('send', round(((sc.sendmsg ?? 0) + (sc.writev ?? 0) + (sc.write ?? 0) + (sc.sendto ?? 0)) /
        l.delivered, 2));
    }
  } else {
    put('connected', l?.connected);
    put('lost', l?.lost);
    put('p50', l?.p50_ms);
    put('p99', l?.p99_ms);
    put('dropped', l?.dropped);
    put('cpu', round(r.server_cpu_ns / 1e9, 1));
    if (r.back) {
      put('back', r.back.connected);
      put('back50', round(r.back.connect_p50_ms / 1000, 2));
      put('backmax', round(r.back.connect_max_ms / 1000, 2));
    }
    put('release', round(r.release_s, 1));
    const idle = r.idle;
    put('n', idle.streams);
    put('idlecpu', round(idle.cpu_ns / 1e9 / idle.wall_s * 100, 0));
    if (idle.streams > 0) put('kb', round((idle.rss1_kb - idle.rss0_kb) / idle.streams, 1));
  }
  return f;
}

// Summaries: S[`${scenario}.${side}.${figure}`] = {value, range} (strings as shown).
const S = {};
function summarize(scenario, side, name, how) {
  const rounds = results.filter((r) => r.scenario === scenario && r.side === side)
    .sort((a, b) => a.round - b.round);
  const vals = rounds.map((r) => figures(r)[name]).filter((v) => v !== undefined);
  if (!vals.length) return;
  const v = [...vals].sort((a, b) => a - b);
  let x;
  if (how === 'first') x = vals[0];
  else if (how === 'max') x = v.at(-1);
  else if (how === 'min') x = v[0];
  else x = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  S[`${scenario}.${side}.${name}`] = { value: fmt(x),
    range: v.length > 1 ? `${fmt(v[0])}–${fmt(v.at(-1))}` : '' };
}
for (const side of SIDES) {
  for (const f of ['p50', 'p99', 'kp50', 'kp99', 'cpu', 'bpe', 'cpue']) {
    summarize('S1', side, f, 'median');
    summarize('S2', side, f, 'median');
  }
  for (const f of ['connected', 'lost', 'p50', 'p99', 'kp50', 'kp99', 'dropped', 'release', 'n', 'kb',
    'bpe', 'cpue', 'sys', 'send']) summarize('S7', side, f, 'first');
  summarize('S1', side, 'lost', 'max');
  for (const f of ['connected', 'lost', 'p50', 'p99', 'kp50', 'kp99', 'cpu', 'cpue', 'bpe']) {
    summarize('S6', side, f, 'first');
  }
  summarize('S2', side, 'lost', 'max');
  summarize('S2', side, 'dropped', 'max');
  summarize('S2', side, 'connected', 'min');
  summarize('S2', side, 'back', 'min');
  summarize('S2', side, 'back50', 'median');
  summarize('S2', side, 'backmax', 'max');
  summarize('S2', side, 'release', 'max');
  // Memory from the first round only: freed memory stays with the processes, so later
  // baselines are inflated.
  summarize('S2', side, 'n', 'first');
  summarize('S2', side, 'kb', 'first');
  summarize('S2', side, 'idlecpu', 'median');
}
const g = (key) => S[key]?.value ?? '';

// wrk: the mean of a target's two runs (integer requests/s).
function rps(scenario, target) {
  const runs = results.find((r) => r.scenario === scenario)?.rps?.[target];
  return runs?.length ? String(Math.trunc(runs.reduce((a, b) => a + b, 0) / runs.length)) : '';
}
// wrk: the mean of a target's two runs of another figure (CPU µs per request, latency ms).
function wrkMean(scenario, figure, target) {
  const runs = results.find((r) => r.scenario === scenario)?.[figure]?.[target]?.filter(Number.isFinite);
  return runs?.length ? fmt(runs.reduce((a, b) => a + b, 0) / runs.length) : '';
}

// a / b with two decimals; "–" when it means nothing.
function ratio(a, b) {
  if (a === '' || b === '' || a === '–' || b === '–') return '–';
  if (Number(b) === 0) return Number(a) === 0 ? '–' : '∞';
  return fixed(Number(a) / Number(b), 2);
}
const out = [];
const row = (label, a, b) => out.push(`| ${label} | ${a || '–'} | ${b || '–'} | ${ratio(a, b)} |`);
// A row of medians over the rounds, each with its spread.
function rowM(label, keyA, keyB) {
  const show = (k) => (S[k] ? `${S[k].value}${S[k].range ? ` (${S[k].range})` : ''}` : '');
  out.push(`| ${label} | ${show(keyA) || '–'} | ${show(keyB) || '–'} | ${ratio(g(keyA), g(keyB))} |`);
}

const rounds = run.rounds > 1 ? `median of ${run.rounds} rounds (range)` : '1 round';
// The side-by-side table, when a scenario of the run has the peer (S1M and S8 are ours only).
const sideBySide = ['S1', 'S2', 'S3', 'S4', 'S5', 'S7'].some(has);
out.push('');
if (sideBySide) {
  out.push(`mod_tweetsse vs nginx + Nchan (through Redis), ${run.date}, ${run.cores} cores, loopback` +
    `${run.quick ? ', quick mode' : ''}; S1-S3: ${rounds}`);
  out.push('Lost: posts not received within 10 s of the last post; latency: from the POST to the bytes');
  out.push("reaching the subscriber's socket (the kernel's receive time), over every subscriber and post;");
  out.push('"as read": when the load generator read them. Per event: per subscriber and post delivered,');
  out.push(`over the posting phase. The peer's messages are padded by ${run.pad ?? '?'} bytes to the size of our event's`);
  out.push(`data (${run.ours_data ?? '?'} bytes ours, ${run.peer_data ?? '?'} the peer's); ${run.children ?? '?'} Apache children, as many nginx workers.`);
  out.push('');
  out.push('| figure | ours | peer | ratio (ours / peer) |');
  out.push('|---|---:|---:|---:|');
} else {
  out.push(`mod_tweetsse, ${run.date}, ${run.cores} cores, loopback${run.quick ? ', quick mode' : ''}; ` +
    `${run.children ?? '?'} Apache children; our event's data ${run.ours_data ?? '?'} bytes.`);
}
if (has('S1')) {
  row(`S1 lost (${run.S1_SUBS} subs, ${run.S1_POSTS} posts at ${run.S1_RATE}/s; worst round)`,
    g('S1.ours.lost'), g('S1.peer.lost'));
  rowM('S1 latency p50 (ms)', 'S1.ours.kp50', 'S1.peer.kp50');
  rowM('S1 latency p99 (ms)', 'S1.ours.kp99', 'S1.peer.kp99');
  rowM('S1 latency p99 as read (ms)', 'S1.ours.p99', 'S1.peer.p99');
  rowM('S1 server CPU (s, web server + Redis, posting phase)', 'S1.ours.cpu', 'S1.peer.cpu');
  rowM('S1 server CPU per delivered event (µs)', 'S1.ours.cpue', 'S1.peer.cpue');
  rowM('S1 bytes per event (on the wire, per subscriber per post)', 'S1.ours.bpe', 'S1.peer.bpe');
}
if (has('S2')) {
  row(`S2 connected (of ${run.S2_SUBS}; worst round)`, g('S2.ours.connected'), g('S2.peer.connected'));
  row(`S2 lost (${run.S2_POSTS} posts at ${run.S2_RATE}/s; worst round)`, g('S2.ours.lost'),
    g('S2.peer.lost'));
  rowM('S2 latency p50 (ms)', 'S2.ours.kp50', 'S2.peer.kp50');
  rowM('S2 latency p99 (ms)', 'S2.ours.kp99', 'S2.peer.kp99');
  rowM('S2 latency p99 as read (ms)', 'S2.ours.p99', 'S2.peer.p99');
  row('S2 dropped streams (worst round)', g('S2.ours.dropped'), g('S2.peer.dropped'));
  rowM('S2 server CPU (s, posting + drain)', 'S2.ours.cpu', 'S2.peer.cpu');
  rowM('S2 server CPU per delivered event (µs)', 'S2.ours.cpue', 'S2.peer.cpue');
  rowM('S2 bytes per event (on the wire, per subscriber per post)', 'S2.ours.bpe', 'S2.peer.bpe');
  row('S2 reconnect storm (all close, all come back at once): back within 60 s (worst round)',
    g('S2.ours.back'), g('S2.peer.back'));
  rowM('S2 reconnect storm: seconds to a new stream, p50', 'S2.ours.back50', 'S2.peer.back50');
  row('S2 reconnect storm: seconds to a new stream, max (worst round)', g('S2.ours.backmax'),
    g('S2.peer.backmax'));
  row('S2 seconds until the server lets go of closed streams (worst round)', g('S2.ours.release'),
    g('S2.peer.release'));
}
if (has('S3')) {
  row(`S3 KB per idle subscriber (at ${g('S2.ours.n')} / ${g('S2.peer.n')}; first round)`,
    g('S2.ours.kb'), g('S2.peer.kb'));
  rowM('S3 server CPU with the streams idle (% of a core)', 'S2.ours.idlecpu', 'S2.peer.idlecpu');
}
if (has('S4')) {
  const s4 = (what, o, pe) => {
    row(`S4${what} POST requests/s (wrk, 50 conns)`, rps('S4', o), rps('S4', pe));
    row(`S4${what} web server CPU per post (µs; Apache / nginx, every process)`,
      wrkMean('S4', 'web_us', o), wrkMean('S4', 'web_us', pe));
    row(`S4${what} Redis CPU per post (µs)`, wrkMean('S4', 'redis_us', o), wrkMean('S4', 'redis_us', pe));
    row(`S4${what} POST latency p50 (ms)`, wrkMean('S4', 'p50', o), wrkMean('S4', 'p50', pe));
    row(`S4${what} POST latency p99 (ms)`, wrkMean('S4', 'p99', o), wrkMean('S4', 'p99', pe));
  };
  s4('', 'S4-ours', 'S4-peer');
  const visitors = results.find((r) => r.scenario === 'S4')?.visitors;
  if (rps('S4', 'S4L-ours')) s4(` limits on (${visitors} visitors and addresses, none limited)`, 'S4L-ours', 'S4L-peer');
}
if (has('S5')) {
  const posts = results.find((r) => r.scenario === 'S5')?.posts ?? '';
  row(`S5 GET /home (${posts} posts) vs static copy, req/s (peer column: same Apache, static ` +
    'file, default mmap)', rps('S5', 'S5-page'), rps('S5', 'S5-static'));
  row('S5 GET /home vs static copy sent with EnableSendfile On, req/s', rps('S5', 'S5-page'),
    rps('S5', 'S5-static-sendfile'));
}
if (has('S7')) {
  row(`S7 connected (of ${run.S7_SUBS}, ${run.S7_PROCS} load generator processes)`, g('S7.ours.connected'),
    g('S7.peer.connected'));
  row(`S7 lost (${run.S7_POSTS} posts at ${run.S7_RATE}/s)`, g('S7.ours.lost'), g('S7.peer.lost'));
  row('S7 latency p50 (ms)', g('S7.ours.kp50'), g('S7.peer.kp50'));
  row('S7 latency p99 (ms)', g('S7.ours.kp99'), g('S7.peer.kp99'));
  row('S7 latency p99 as read (ms)', g('S7.ours.p99'), g('S7.peer.p99'));
  row('S7 dropped streams', g('S7.ours.dropped'), g('S7.peer.dropped'));
  row(`S7 KB of server memory per subscriber (at ${g('S7.ours.n')} / ${g('S7.peer.n')})`, g('S7.ours.kb'),
    g('S7.peer.kb'));
  row('S7 server CPU per delivered event (µs)', g('S7.ours.cpue'), g('S7.peer.cpue'));
  row('S7 server syscalls per delivered event (all)', g('S7.ours.sys'), g('S7.peer.sys'));
  row('S7 server write syscalls per delivered event (sendmsg, writev, write, sendto)',
    g('S7.ours.send'), g('S7.peer.send'));
  row('S7 bytes per event (on the wire)', g('S7.ours.bpe'), g('S7.peer.bpe'));
  row('S7 seconds until the server lets go of closed streams', g('S7.ours.release'),
    g('S7.peer.release'));
}
// S6 against S1 of ours in the same run: what three instances behind HAProxy cost a post.
if (has('S6')) {
  const s6 = results.find((r) => r.scenario === 'S6');
  out.push('');
  out.push(`S6: ${run.S6_INSTANCES ?? '?'} instances behind HAProxy (scripts/cluster.sh, leastconn; ` +
    `TweetsseRedisMinReplicas ${run.S6_MIN_REPLICAS ? run.S6_MIN_REPLICAS : 'left out'}), ` +
    `${run.S6_SUBS ?? '?'} subscribers and S1's posts (${run.S1_POSTS} at ${run.S1_RATE}/s), ` +
    'both through HAProxy; 1 round, against S1 of ours above (one instance).');
  out.push(`Streams per instance (HAProxy's current connections): ${s6?.streams?.join(' / ') || '?'}; ` +
    'server CPU: the instances, Redis primary and replica, and HAProxy' +
    `${s6?.haproxy_cpu_ns ? ` (HAProxy ${fmt(round(s6.haproxy_cpu_ns / 1e9, 1))} s)` : ''}.`);
  out.push('');
  out.push('| figure | S6 (cluster) | S1 ours (one instance) | ratio (S6 / S1) |');
  out.push('|---|---:|---:|---:|');
  row(`S6 connected (of ${run.S6_SUBS ?? '?'}) / S1 subscribers`, g('S6.ours.connected'), String(run.S1_SUBS));
  row('S6 lost / S1 lost', g('S6.ours.lost'), g('S1.ours.lost'));
  row('latency p50 (ms)', g('S6.ours.kp50'), g('S1.ours.kp50'));
  row('latency p99 (ms)', g('S6.ours.kp99'), g('S1.ours.kp99'));
  row('latency p99 as read (ms)', g('S6.ours.p99'), g('S1.ours.p99'));
  row('server CPU per delivered event (µs)', g('S6.ours.cpue'), g('S1.ours.cpue'));
  row('bytes per event (on the wire)', g('S6.ours.bpe'), g('S1.ours.bpe'));
}
// S7's presence, ours: what "N reading now" costs at S7's scale, from the probes at the start,
// at the end of the ramp and at the end of the hold (no post, no page view meanwhile: every
// frame is a presence note, every EVALSHA a child's report).
const pr = results.find((r) => r.scenario === 'S7-presence');
if (has('S7') && pr) {
  const phases = [pr.ramp, pr.settle, pr.steady];
  const line = (label, f) => out.push(`| ${label} | ${phases.map((x) => (x.s > 0 ? f(x) : '–')).join(' | ')} |`);
  out.push('');
  out.push(`S7 presence, ours: ${pr.streams} streams on ${pr.children} children: the ramp (until the ` +
    'server counted every stream), the next 10 s (every child reports the final number within 5 s ' +
    'and hears the sum within 5 s more), then the streams held idle.');
  out.push('');
  out.push('| figure | ramp | settling | steady |');
  out.push('|---|---:|---:|---:|');
  line('seconds', (x) => x.s);
  line('presence notes pushed, per child', (x) => fmt(round(x.ring / pr.children, 1)));
  line('presence notes written, per stream', (x) => fmt(round(x.frames / pr.streams, 2)));
  line('Redis script calls (EVALSHA) per child per 5 s', (x) => fmt(round(x.calls / pr.children / (x.s / 5), 2)));
  line('Redis µs per call (commandstats)', (x) => (x.calls ? fmt(round(x.usec / x.calls, 1)) : '–'));
  line('Redis CPU in the calls, % of a core', (x) => fmt(round(x.usec / x.s / 1e4, 3)));
  line('Redis CPU in all, % of a core (INFO cpu)', (x) => fmt(round(x.cpu_us / x.s / 1e4, 2)));
}
// S1M: posts-only against the mix, ours, in the same rounds.
if (has('S1M')) {
  const rounds1m = (kind) => results.filter((r) => r.scenario === 'S1M' && r.kind === kind);
  // A figure of every round of a kind: f(sseload result) per round, summed up as for S1.
  const sum = (kind, f, how = 'median') => {
    const v = rounds1m(kind).map((r) => (r.sseload ? f(r.sseload, r) : undefined))
      .filter((x) => x !== undefined && x !== null && Number.isFinite(x)).sort((a, b) => a - b);
    if (!v.length) return { value: '', shown: '' };
    const x = how === 'max' ? v.at(-1)
      : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    const range = how !== 'max' && v.length > 1 ? ` (${fmt(v[0])}–${fmt(v.at(-1))})` : '';
    return { value: fmt(x), shown: `${fmt(x)}${range}` };
  };
  const rowK = (label, f, how) => {
    const a = sum('posts', f, how);
    const b = sum('mix', f, how);
    out.push(`| ${label} | ${a.shown || '–'} | ${b.shown || '–'} | ${ratio(b.value, a.value)} |`);
  };
  const mixOnly = (label, f, how) => out.push(`| ${label} | – | ${sum('mix', f, how).shown || '–'} | – |`);
  const m = rounds1m('mix')[0]?.sseload?.mix;
  out.push('');
  out.push(`S1M: S1 with a mix, ours: ${run.S1_SUBS} subscribers, ${run.S1_POSTS} requests at ` +
    `${run.S1_RATE}/s, posts-only against 90 % posts, 5 % likes, 5 % deletions (first round: ` +
    `${m ? `${m.likes_ok} likes, ${m.dels_ok} deletions` : '?'}), in the same rounds (mirrored); ` +
    `${rounds}. Latency to the kernel's receive time, from the request to the event: a post's ` +
    "marker, the deletion naming the post, the first count of the post showing the like.");
  out.push('');
  out.push('| figure | posts-only | mix | ratio (mix / posts-only) |');
  out.push('|---|---:|---:|---:|');
  rowK('lost, all events (worst round)', (l) => l.mix?.all.lost ?? l.lost, 'max');
  rowK('events delivered, all (per round)', (l) => l.mix?.all.delivered ?? l.delivered);
  rowK('latency p50, all events (ms)', (l) => l.mix?.all.k_p50_ms ?? l.k_p50_ms);
  rowK('latency p99, all events (ms)', (l) => l.mix?.all.k_p99_ms ?? l.k_p99_ms);
  rowK('latency p99 as read, all events (ms)', (l) => l.mix?.all.p99_ms ?? l.p99_ms);
  rowK('posts: lost (worst round)', (l) => l.lost, 'max');
  rowK('posts: latency p50 (ms)', (l) => l.k_p50_ms);
  rowK('posts: latency p99 (ms)', (l) => l.k_p99_ms);
  mixOnly('deletions: lost (worst round)', (l) => l.mix?.del.lost, 'max');
  mixOnly('deletions: latency p50 (ms)', (l) => l.mix?.del.k_p50_ms);
  mixOnly('deletions: latency p99 (ms)', (l) => l.mix?.del.k_p99_ms);
  mixOnly('likes: counts lost (worst round)', (l) => l.mix?.count.lost, 'max');
  mixOnly('likes: latency p50 (ms)', (l) => l.mix?.count.k_p50_ms);
  mixOnly('likes: latency p99 (ms)', (l) => l.mix?.count.k_p99_ms);
  rowK('POST p50 (ms; posts, likes and deletions)', (l) => l.pub_p50_ms);
  rowK('POST p99 (ms)', (l) => l.pub_p99_ms);
  rowK('server CPU per delivered event (µs)', (l, r) => (l.mix?.all.delivered > 0
    ? round(r.server_cpu_ns / 1e3 / l.mix.all.delivered, 2) : undefined));
}
// S8: the storm of likes, ours, one round.
if (has('S8')) {
  const r8 = results.find((r) => r.scenario === 'S8');
  const l = r8?.sseload;
  const c = l?.mix?.count;
  out.push('');
  out.push(`S8: a storm of likes, ours: ${run.S1_SUBS} subscribers, one post, ` +
    `${r8?.likes ?? '?'} likes at ${run.S8_RATE}/s for ${run.S8_SECS} s, each from a visitor of its ` +
    "own; count events per stream, and the last count each stream heard.");
  out.push('');
  out.push('| figure | value |');
  out.push('|---|---:|');
  const r1 = (label, v) => out.push(`| ${label} | ${v ?? '–'} |`);
  const n = (x) => (x === undefined || x === null ? undefined : fmt(x));
  r1('subscribers connected', n(l?.connected));
  r1('likes accepted / failed', l ? `${l.mix.likes_ok} / ${l.mix.likes_err}` : undefined);
  r1('count events per stream: mean (min–max)', c ? `${fmt(c.events_mean)} (${c.events_min}–${c.events_max})` : undefined);
  r1(`count events per stream per second (over the ${c ? fmt(c.secs) : '?'} s of likes): mean / max`,
    c ? `${fmt(c.per_s_mean)} / ${fmt(c.per_s_max)}` : undefined);
  r1('count events of a stream in its busiest second: mean / max', c ? `${fmt(c.peak_1s_mean)} / ${c.peak_1s_max}` : undefined);
  r1('like to count latency p50 / p99 (ms, kernel receive time)', c ? `${fmt(c.k_p50_ms)} / ${fmt(c.k_p99_ms)}` : undefined);
  r1('likes whose count never reached a stream (like x stream)', n(c?.lost));
  r1('streams whose last count equals the likes / streams', c ? `${c.final_exact} / ${c.final_exact + c.final_wrong}` : undefined);
  r1('last count heard: min / max', c ? `${c.final_min} / ${c.final_max}` : undefined);
  r1('likes: the highest count a like\'s answer gave', n(c?.final_top));
  r1('Redis: likers of the post (SCARD) / stored count', r8 ? `${r8.redis_likers ?? '?'} / ${r8.redis_count ?? '?'}` : undefined);
}
out.push('');
process.stdout.write(`${out.join('\n')}\n`);
