// The README's tables, parsed: the directives (name, default, range, meaning) and the log
// codes (code, level, meaning, what to do). One row per line; cells split on "|" that is not
// escaped ("\|" inside a cell).
import fs from 'node:fs';
import path from 'node:path';
import { TOP } from './harness.mjs';

export const readme = () => fs.readFileSync(path.join(TOP, 'README.md'), 'utf8');

// The cells of a Markdown table row, trimmed, "\|" unescaped.
export function cells(line) {
  return line.replace(/^\|/, '').replace(/\|\s*$/, '').split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

// The rows of the Markdown table under `heading` (a line of the README, e.g. "## Directives")
// whose header row starts with `first` (the first column's title).
export function table(heading, first, text = readme()) {
  const lines = text.split('\n');
  let i = lines.indexOf(heading);
  if (i < 0) throw new Error(`README: no heading "${heading}"`);
  while (i < lines.length && !(lines[i].startsWith('|') && cells(lines[i])[0] === first)) i++;
  if (i >= lines.length) throw new Error(`README: no table starting with "${first}" after "${heading}"`);
  const rows = [];
  for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) rows.push(cells(lines[i]));
  return rows;
}

// [{name, usage, default, range, meaning}] of the Directives table.
export function directives(text) {
  return table('## Directives', 'Directive', text).map(([usage, dflt, range, meaning]) => ({
    name: usage.match(/^`(Tweetsse\w+)/)?.[1], usage, default: dflt, range, meaning,
  }));
}

// [{code, levels, meaning, action}] of the table of log codes (Troubleshooting).
export function logCodes(text) {
  return table('### Log messages', 'Code', text).map(([code, level, meaning, action]) => ({
    code: code.match(/^`(TW\d{4})`$/)?.[1], levels: level.split(/,\s*/), meaning, action,
  }));
}

// Every TW code written in the module's sources (glue and core), sorted, each once.
export function sourceCodes() {
  const files = [...fs.readdirSync(TOP).filter((f) => /^mod_tweetsse.*\.c$/.test(f)),
    ...fs.readdirSync(path.join(TOP, 'src')).filter((f) => f.endsWith('.c')).map((f) => `src/${f}`)];
  const codes = new Set();
  for (const f of files) {
    for (const m of fs.readFileSync(path.join(TOP, f), 'utf8').matchAll(/TW\d{4}/g)) codes.add(m[0]);
  }
  return [...codes].sort();
}
