// One result file of bench/run.sh, a JSON object built from fields given as arguments, so
// that no shell code writes JSON (bench/report.mjs reads these files):
//
//   node bench/lib/record.mjs FILE FIELD...
//
//   name=text       the string text
//   name:=json      a JSON value: a number, true, false, null, [...] or {...}
//   name:=@path     the JSON value in the file at path (a load generator's result)
//   name[]=text     text appended to the array name (created when missing); name[]:=json
//                   and name[]:=@path likewise
// A name with dots sets a field of nested objects: idle.streams:=10 gives
// {"idle":{"streams":10}}. A value that is not valid JSON is an error (exit 2), never a
// broken file.
import fs from 'node:fs';

const [file, ...fields] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/lib/record.mjs FILE name=text|name:=json|name:=@path...\n');
  process.exit(2);
}

// The value of one field: text as it is, JSON parsed, or the JSON of a file.
function value(raw, json, field) {
  if (!json) return raw;
  const text = raw.startsWith('@') ? fs.readFileSync(raw.slice(1), 'utf8') : raw;
  try {
    return JSON.parse(text);
  } catch (e) {
    process.stderr.write(`record: ${file}: ${field}: not JSON (${e.message})\n`);
    process.exit(2);
  }
}

// Set (or append to) the field at a dotted path of obj.
function put(obj, path, v, append) {
  const keys = path.split('.');
  const last = keys.pop();
  let o = obj;
  for (const k of keys) o = o[k] ??= {};
  if (!append) o[last] = v;
  else (o[last] ??= []).push(v);
}

const out = {};
for (const field of fields) {
  const eq = field.indexOf('=');
  if (eq < 1) {
    process.stderr.write(`record: ${file}: not name=value: '${field}'\n`);
    process.exit(2);
  }
  let name = field.slice(0, eq);
  const json = name.endsWith(':');
  if (json) name = name.slice(0, -1);
  const append = name.endsWith('[]');
  if (append) name = name.slice(0, -2);
  put(out, name, value(field.slice(eq + 1), json, field), append);
}
fs.writeFileSync(file, `${JSON.stringify(out)}\n`);
