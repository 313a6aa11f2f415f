// Visitors for the load generators: tw_name cookie values signed with the feed's secret, as
// the module signs them (src/tw_sign.h: "<name>.<identity>.<mac>", the MAC an HMAC-SHA-256
// over "tweetsse-id-v2:<identity>.<name>" in base64url). Each visitor has its own identity,
// so that posts, likes and deletions come from as many identities as wanted.
//
//   node bench/lib/cookies.mjs SECRET_FILE N [PREFIX]   prints N Cookie header values, one a
//                                                         line ("tw_name=...")
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

// The secret as the module reads it: the file's text without its end of line.
export const readSecret = (file) => fs.readFileSync(file, 'utf8').trim();

// Visitor k of prefix: a name of [A-Za-z0-9] and a 22-character identity derived from both.
export function visitor(secret, prefix, k) {
  const name = `${prefix}${k}`;
  const id = crypto.createHash('sha256').update(`bench:${name}`).digest().subarray(0, 16)
    .toString('base64url');
  const mac = crypto.createHmac('sha256', secret).update(`tweetsse-id-v2:${id}.${name}`)
    .digest('base64url');
  return { name, id, cookie: `tw_name=${name}.${id}.${mac}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, n, prefix = 'Bench'] = process.argv.slice(2);
  if (!file || !(Number(n) > 0)) {
    process.stderr.write('usage: node bench/lib/cookies.mjs SECRET_FILE N [PREFIX]\n');
    process.exit(2);
  }
  const secret = readSecret(file);
  const lines = [];
  for (let k = 0; k < Number(n); k++) lines.push(visitor(secret, prefix, k).cookie);
  process.stdout.write(`${lines.join('\n')}\n`);
}
