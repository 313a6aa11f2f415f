// The module's version, read from the one place it is written (src/tw_version.h).
import fs from 'node:fs';
import path from 'node:path';
import { TOP } from './harness.mjs';

export function moduleVersion() {
  const text = fs.readFileSync(path.join(TOP, 'src/tw_version.h'), 'utf8');
  const m = text.match(/^#define TW_VERSION\s+"([^"]+)"$/m);
  if (!m) throw new Error('src/tw_version.h: no #define TW_VERSION "..."');
  return m[1];
}
