// The one source list of the addon, for both builds (binding.gyp via <!@(...), CMakeLists.txt via
// execute_process): every .cc under native/ except native/tests/, grouped by the ISA its file
// name ends in. `node scripts/native-sources.js common|avx2|avx512|neon` prints one group, one per
// line (x86-64 builds compile avx2 and avx512 with their own flags, AArch64 builds add neon).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
function walk(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return rel === 'native/tests' ? [] : walk(rel);
    return e.name.endsWith('.cc') ? [rel] : [];
  });
}
function group(file) {
  const m = /_(avx2|avx512|neon)\.cc$/.exec(file);
  return m ? m[1] : 'common';
}
const want = process.argv[2] ?? 'common';
const files = walk('native').filter((f) => group(f) === want).sort();
process.stdout.write(files.join('\n') + '\n');
