// npm run prebuilds (and prepack): builds the prebuilt addons that ship in the package, into
// prebuilds/<platform>-<arch>/cellstate.node, with node-gyp and binding.gyp's portable mode
// (CELLSTATE_PORTABLE=1: loads on glibc >= 2.28; native/compat/glibc_compat.cc). Each build runs
// in a scratch copy of exactly the files the package ships for the fallback compile, so it also
// proves they suffice; the binary is stripped, then its symbol versions are checked
// (scripts/elf-versions.js) and a build that breaks the limits fails the pack.
//   node scripts/prebuild.js [x64] [arm64]   default: both (arm64 cross-compiled with Debian's
//                                            g++-aarch64-linux-gnu: apt-get install g++-aarch64-linux-gnu)
// Linux x64 hosts only. Development only (not in the package).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { check } = require('./elf-versions.js');

const root = path.join(__dirname, '..');
const TARGETS = {
  x64: { tag: 'linux-x64', prefix: '' },
  arm64: { tag: 'linux-arm64', prefix: 'aarch64-linux-gnu-' },
};

function fail(msg) {
  console.error(`prebuild: ${msg}`);
  process.exit(1);
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

function build(arch) {
  const { tag, prefix } = TARGETS[arch];
  if (prefix && !have(`${prefix}g++`)) fail(`${prefix}g++ not found: apt-get install g++-aarch64-linux-gnu (or build only x64: npm run prebuilds -- x64)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `cellstate-prebuild-${arch}-`));
  try {
    fs.cpSync(path.join(root, 'binding.gyp'), path.join(work, 'binding.gyp'));
    fs.cpSync(path.join(root, 'native'), path.join(work, 'native'), { recursive: true, filter: (src) => !src.includes(`${path.sep}tests`) });
    fs.mkdirSync(path.join(work, 'scripts'));
    fs.cpSync(path.join(root, 'scripts', 'native-sources.js'), path.join(work, 'scripts', 'native-sources.js'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));
    let gyp;
    try { gyp = require.resolve('node-gyp/bin/node-gyp.js'); } catch { gyp = process.env.npm_config_node_gyp; }
    if (!gyp) fail('node-gyp not found (npm install)');
    const env = { ...process.env, CELLSTATE_PORTABLE: '1' };
    if (prefix) Object.assign(env, { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` });
    const t0 = Date.now();
    const nodedir = process.env.npm_config_nodedir || path.resolve(process.execPath, '..', '..');
    if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) fail(`Node's C headers not found in ${nodedir}/include/node`);
    const r = spawnSync(process.execPath, [gyp, 'rebuild', `--arch=${arch}`, '--jobs=2', `--nodedir=${nodedir}`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      process.stderr.write(`${r.stdout}${r.stderr}`);
      fail(`node-gyp failed for ${tag}`);
    }
    const out = path.join(root, 'prebuilds', tag, 'cellstate.node');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.copyFileSync(path.join(work, 'build', 'Release', 'cellstate.node'), out);
    const s = spawnSync(`${prefix}strip`, ['--strip-unneeded', out], { encoding: 'utf8' });
    if (s.status !== 0) fail(`${prefix}strip failed: ${s.stderr}`);
    const { bad } = check(out);
    if (bad.length) fail(`${out} needs symbol versions the prebuilt binaries may not:\n  ${bad.join('\n  ')}`);
    console.log(`prebuild: ${path.relative(root, out)} (${(fs.statSync(out).size / 1024).toFixed(0)} KiB, ${((Date.now() - t0) / 1000).toFixed(0)} s; symbol versions within GLIBC_2.28, no libstdc++)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds on linux-x64 hosts only (this is ${process.platform}-${process.arch})`);
const want = process.argv.slice(2);
for (const a of want) if (!TARGETS[a]) fail(`unknown target ${a} (expected x64 or arm64)`);
for (const arch of want.length ? want : Object.keys(TARGETS)) build(arch);
