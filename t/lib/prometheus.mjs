// A strict parser of the Prometheus text exposition format (version 0.0.4), for the tests of
// the metrics handler. It throws on anything a scraper could choke on or misread: a malformed
// line, a sample before its family's HELP and TYPE, a family given twice or interleaved with
// another, a duplicate series, a counter not named *_total, a histogram whose buckets are not
// cumulative or lack +Inf, or whose _count differs from its +Inf bucket.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

// A sample value: Go's ParseFloat as Prometheus reads it.
function parseValue(s, line) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value in: ${line}`);
  return Number(s);
}

// The labels of `{...}` starting at text[0] === '{': [labels object, rest of the line].
function parseLabels(text, line) {
  const labels = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return [labels, text.slice(i + 1)];
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;; j++) {
      if (j >= text.length) throw new Error(`unterminated label value in: ${line}`);
      const c = text[j];
      if (c === '"') break;
      if (c === '\\') {
        const n = text[++j];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`bad escape in: ${line}`);
      } else {
        value += c;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
}

// The family a sample name belongs to, given the families declared so far.
function familyOf(name, families) {
  if (families.has(name)) return families.get(name);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
    }
  }
  return undefined;
}

const seriesKey = (name, labels) => `${name}{${Object.keys(labels).sort()
  .map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

// Check one histogram family's samples: per label set (less le), buckets cumulative, +Inf
// present and equal to _count, _sum present.
function checkHistogram(f) {
  const groups = new Map();
  const group = (labels) => {
    const { le, ...rest } = labels;
    const k = seriesKey('', rest);
    if (!groups.has(k)) groups.set(k, { buckets: [], sum: undefined, count: undefined });
    return groups.get(k);
  };
  for (const s of f.samples) {
    const g = group(s.labels);
    if (s.name === `${f.name}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`${f.name}_bucket without le`);
      g.buckets.push({ le: parseValue(s.labels.le, s.labels.le), value: s.value });
    } else if (s.name === `${f.name}_sum`) {
      g.sum = s.value;
    } else if (s.name === `${f.name}_count`) {
      g.count = s.value;
    } else {
      throw new Error(`sample ${s.name} in histogram ${f.name}`);
    }
  }
  for (const [k, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}${k}: no _sum or _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i].le > g.buckets[i - 1].le)) throw new Error(`${f.name}: le not increasing`);
      if (g.buckets[i].value < g.buckets[i - 1].value) {
        throw new Error(`${f.name}: bucket le=${g.buckets[i].le} below the one before (not cumulative)`);
      }
    }
    const inf = g.buckets.at(-1);
    if (!inf || inf.le !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
    if (inf.value !== g.count) throw new Error(`${f.name}: _count ${g.count} != +Inf bucket ${inf.value}`);
  }
}

// Parse `text`; returns {families: Map(name -> {name, type, help, samples}), value(name,
// labels), sum(name, match)} or throws.
export function parsePrometheus(text) {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null; // the family whose samples are being read
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) {
    if (line.startsWith('#')) {
      const m = line.match(/^# (HELP|TYPE) (\S+) (.*)$/);
      if (!m) throw new Error(`bad comment line: ${line}`);
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      let f = families.get(name);
      if (!f) {
        f = { name, type: undefined, help: undefined, samples: [] };
        families.set(name, f);
      } else if (f.samples.length) {
        throw new Error(`${kind} of ${name} after its samples`);
      }
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`HELP of ${name} twice`);
        if (/\\(?![\\n])/.test(rest)) throw new Error(`bad escape in HELP of ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`TYPE of ${name} twice`);
        if (!TYPES.has(rest)) throw new Error(`unknown type ${rest} of ${name}`);
        if (rest === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} not named *_total`);
        f.type = rest;
      }
      if (current && current !== f) current.closed = true;
      current = f;
      continue;
    }
    if (line.trim() === '') throw new Error('blank line in the exposition');
    const nm = line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/);
    if (!nm) throw new Error(`bad sample line: ${line}`);
    const name = nm[0];
    let rest = line.slice(name.length);
    let labels = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, line);
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) throw new Error(`bad sample line: ${line}`);
    const value = parseValue(parts[1], line);
    if (parts.length === 3 && !/^-?\d+$/.test(parts[2])) throw new Error(`bad timestamp in: ${line}`);
    const f = familyOf(name, families);
    if (!f) throw new Error(`sample of an undeclared family: ${line}`);
    if (f.help === undefined || f.type === undefined) throw new Error(`${f.name}: a sample before its HELP and TYPE`);
    if (f.closed) throw new Error(`${f.name}: samples interleaved with another family`);
    if (current && current !== f) current.closed = true;
    current = f;
    if (f.type === 'counter' && name !== f.name) throw new Error(`counter sample ${name} of ${f.name}`);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`counter ${name} is ${value}`);
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new Error(`duplicate series ${key}`);
    seen.add(key);
    f.samples.push({ name, labels, value });
  }
  for (const f of families.values()) {
    if (f.help === undefined || f.type === undefined) throw new Error(`${f.name}: no HELP or no TYPE`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  const matches = (labels, want) => Object.entries(want).every(([k, v]) => labels[k] === String(v));
  const samples = (name) => {
    const f = familyOf(name, families);
    return f ? f.samples.filter((s) => s.name === name) : [];
  };
  return {
    families,
    samples,
    // The value of the one series `name` with exactly these labels (undefined if none).
    value(name, labels = {}) {
      const s = samples(name).find((x) => seriesKey(name, x.labels) === seriesKey(name, labels));
      return s?.value;
    },
    // The sum over the series of `name` whose labels include `match`.
    sum(name, match = {}) {
      return samples(name).filter((s) => matches(s.labels, match)).reduce((a, s) => a + s.value, 0);
    },
  };
}
