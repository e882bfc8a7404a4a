// The one source list of the addon and the reader of the one ISA table (native/isa.json), for both
// builds (binding.gyp via <!@(...), CMakeLists.txt via execute_process) and every script that
// compiles the sources itself (the sanitizer, fuzz, GEMM-test and arm64 builds) or runs each tier:
//   node scripts/native-sources.js GROUP        the .cc files of GROUP, one per line: "common" (every
//                                               .cc under native/ except native/tests/ and native/wasm/ whose name does
//                                               not end in _<isa>.cc for an ISA above scalar) or an ISA
//                                               (the files ending in _<isa>.cc)
//   node scripts/native-sources.js --tiers [ARCH]  ARCH's tiers, lowest first (default: this machine)
//   node scripts/native-sources.js --fp32-tiers [ARCH]  those of them with fp32 kernels of their own
//                                               (scalar and every tier with a gemm/gemm_kernel_<isa>.cc;
//                                               the others add only bf16/int8 kernels to their base)
//   node scripts/native-sources.js --flags ISA     ISA's compiler flags, on one line
//   node scripts/native-sources.js --msvc ISA      ISA's MSVC /arch option ("" if none)
//   node scripts/native-sources.js --units [ARCH]  every source ARCH compiles, "file<TAB>flags" per line
// ARCH is a Node arch name or an alias from the table (x86_64, aarch64, ...); one the table does not
// know has the scalar tier only. Adding an ISA: a row in native/isa.json, nothing here.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const table = JSON.parse(fs.readFileSync(path.join(root, 'native', 'isa.json'), 'utf8'));
const simd = Object.keys(table.isas).filter((isa) => isa !== 'scalar');  // the ISAs with files of their own

function walk(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return rel === 'native/tests' || rel === 'native/wasm' ? [] : walk(rel);  // wasm/: the .wasm's C ABI only (scripts/build-wasm.sh)
    return e.name.endsWith('.cc') ? [rel] : [];
  });
}
function group(file) {
  const m = new RegExp(`_(${simd.join('|')})\\.cc$`).exec(file);
  return m ? m[1] : 'common';
}
function sources(want) {
  return walk('native').filter((f) => group(f) === want).sort();
}
function tiers(arch = process.arch) {
  const a = Object.values(table.arches).find((x) => x.aliases.includes(arch));
  return a ? a.tiers : ['scalar'];
}
function isa(name) {
  const row = table.isas[name];
  if (!row) throw new Error(`native-sources.js: unknown ISA '${name}' (native/isa.json has ${Object.keys(table.isas).join(', ')})`);
  return row;
}

const [cmd, arg] = process.argv.slice(2);
let out;
if (cmd === '--tiers') out = tiers(arg);
else if (cmd === '--fp32-tiers') out = tiers(arg).filter((t) => t === 'scalar' || sources(t).some((f) => f.startsWith('native/gemm/gemm_kernel_')));
else if (cmd === '--flags') out = [isa(arg).flags.join(' ')];
else if (cmd === '--msvc') out = [isa(arg).msvc ?? ''];
else if (cmd === '--units') {
  out = [...sources('common').map((f) => `${f}\t`),
    ...tiers(arg).filter((t) => t !== 'scalar').flatMap((t) => sources(t).map((f) => `${f}\t${isa(t).flags.join(' ')}`))];
} else out = sources(cmd ?? 'common');
process.stdout.write(out.join('\n') + '\n');
