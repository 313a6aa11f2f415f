// Open N event streams to URL and hold them: node bench/open-streams.mjs URL N [FIRST_ADDR]
// The streams come from the source addresses FIRST_ADDR (127.0.0.2) and up, 10,000 each
// (ephemeral ports per address and destination), INFLIGHT (50) connects at a time. Once every
// attempt has an answer (or 10 minutes have passed) it prints one line, "opened <200s> refused
// <503s> other <other answers and errors>", and holds the open ones until stdin closes or
// SIGTERM. Needs an open-files limit above N (each stream is a socket here too). Used by
// bench/debian-nofile.sh.
import http from 'node:http';

const [url, nText, first = '127.0.0.2'] = process.argv.slice(2);
const n = Number(nText);
if (!url || !(n > 0)) {
  console.error('usage: node bench/open-streams.mjs URL N [FIRST_ADDR]');
  process.exit(2);
}
const [a, b, c, d] = first.split('.').map(Number);
const addr = (i) => `${a}.${b}.${c}.${d + Math.floor(i / 10000)}`;
const counts = { opened: 0, refused: 0, other: 0 };
const held = [];
let answered = 0;
let next = 0;
let reported = false;

function report() {
  if (reported) return;
  reported = true;
  console.log(`opened ${counts.opened} refused ${counts.refused} other ${counts.other}`);
}

function done(kind) {
  counts[kind]++;
  if (++answered === n) report();
  else openNext();
}

function openNext() {
  if (next >= n) return;
  const i = next++;
  const req = http.get(url, { agent: false, localAddress: addr(i),
    headers: { Accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode === 200) {
      held.push(req);
      res.on('data', () => {});
      res.on('error', () => {});
      done('opened');
    } else {
      res.resume();
      done(res.statusCode === 503 ? 'refused' : 'other');
    }
  });
  req.on('error', () => { if (!req.answered) { req.answered = true; done('other'); } });
  req.on('response', () => { req.answered = true; });
}

const inflight = Number(process.env.INFLIGHT ?? 50);
for (let k = 0; k < inflight; k++) openNext();
setTimeout(report, 600000).unref();
const quit = () => { for (const r of held) r.destroy(); process.exit(0); };
process.on('SIGTERM', quit);
process.stdin.on('end', quit);
process.stdin.resume();
