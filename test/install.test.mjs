// Finding the addon and the install hook, as a consumer project sees them: a copy of the package
// in a scratch folder (dist/, scripts/, binding.gyp, native/), with or without a prebuilt binary
// in prebuilds/<platform>-<arch>/, with a compiler that fails (CXX=/bin/false). Checks which file
// loads, the one line the install prints for each outcome, and the fallback warning's causes and
// remedy.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadNative, platformTag, addonCandidates } = require('../dist/backend/native.js');
const built = loadNative().file; // the addon this process loaded (a local build or a prebuilt one)

/** A scratch copy of the package (no build/, no prebuilds/ unless asked). */
function scratchPackage({ prebuilt = false, wasm = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-pkg-'));
  for (const f of ['dist', 'scripts', 'native', 'binding.gyp', 'package.json']) {
    fs.cpSync(path.join(root, f), path.join(dir, f), { recursive: true });
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  if (prebuilt) {
    fs.mkdirSync(path.join(dir, 'prebuilds', platformTag()), { recursive: true });
    fs.copyFileSync(built, path.join(dir, 'prebuilds', platformTag(), 'cellstate.node'));
  }
  if (wasm) {
    fs.mkdirSync(path.join(dir, 'wasm'));
    fs.copyFileSync(path.join(root, 'wasm', 'cellstate.wasm'), path.join(dir, 'wasm', 'cellstate.wasm'));
  }
  return dir;
}

function node(cwd, args, env = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELLSTATE_')));
  const r = spawnSync(process.execPath, args, { cwd, env: { ...clean, ...env }, encoding: 'utf8', timeout: 120000 });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

const dirs = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

describe('install: the prebuilt binary first, a compile only where none loads, never a failed install', function () {
  this.timeout(120000);
  before(function () { if (!built) this.skip(); }); // needs an addon to stand in for the prebuilt one

  it('the install script and the loader agree on the platform tag', function () {
    const r = node(root, ['-e', "const s=require('fs').readFileSync('scripts/install.js','utf8'); eval(s.slice(s.indexOf('function platformTag'), s.indexOf('// Load the file'))); console.log(platformTag())"]);
    expect(r.out.trim()).to.equal(platformTag());
    expect(platformTag()).to.match(/^(linux|linuxmusl|darwin|win32|freebsd)-(x64|arm64|ia32|arm|ppc64|s390x|riscv64|loong64)$/);
    expect(addonCandidates()).to.deep.equal(['build/Release/cellstate.node', `prebuilds/${platformTag()}/cellstate.node`]);
  });

  it('with a prebuilt binary that loads: one line, nothing compiled, and the library loads it', function () {
    const dir = scratchPackage({ prebuilt: true }); dirs.push(dir);
    const r = node(dir, ['scripts/install.js'], { CXX: '/bin/false', CC: '/bin/false' });
    expect(r.status).to.equal(0);
    expect(r.out.trim().split('\n')).to.deep.equal([`cellstate: using the prebuilt native addon prebuilds/${platformTag()}/cellstate.node; nothing to compile`]);
    expect(fs.existsSync(path.join(dir, 'build'))).to.equal(false);
    const b = node(dir, ['-e', "const c=require('./dist'); const n=require('./dist/backend/native.js').loadNative(); console.log(JSON.stringify([c.backend().name, n.file, n.causes]))"]);
    expect(JSON.parse(b.out)).to.deep.equal(['native', path.join(fs.realpathSync(dir), 'prebuilds', platformTag(), 'cellstate.node'), []]);
    expect(b.err).to.not.contain('CELLSTATE_TS_FALLBACK');
  });

  it('a prebuilt binary that does not load is reported with its cause, then compiled (here: fails), install exit 0', function () {
    const dir = scratchPackage(); dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'prebuilds', platformTag()), { recursive: true });
    fs.writeFileSync(path.join(dir, 'prebuilds', platformTag(), 'cellstate.node'), 'not an ELF file');
    const r = node(dir, ['scripts/install.js'], { CXX: '/bin/false', CC: '/bin/false', npm_config_nodedir: process.env.npm_config_nodedir ?? '' });
    expect(r.status).to.equal(0);
    const lines = r.out.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`^cellstate: the prebuilt addon for ${platformTag()} does not load here \\(.*(invalid ELF header|too short).*\\), and compiling one failed \\(.+\\); cellstate will run on its TypeScript backend`)); // the scratch package has no wasm module
    expect(lines[0]).to.contain('`npm rebuild cellstate`');
    expect(lines[0]).to.contain(path.join(dir, 'build', 'cellstate-install.log'));
    expect(fs.readFileSync(path.join(dir, 'build', 'cellstate-install.log'), 'utf8')).to.contain('gyp');
  });

  it('no prebuilt binary and no compiler: the install says it fell back; the warning lists every cause in full and the remedy', function () {
    const dir = scratchPackage(); dirs.push(dir);
    const r = node(dir, ['scripts/install.js'], { CXX: '/bin/false', CC: '/bin/false', npm_config_nodedir: process.env.npm_config_nodedir ?? '' });
    expect(r.status).to.equal(0);
    expect(r.out).to.match(new RegExp(`^cellstate: no prebuilt native addon for ${platformTag()} in the package, and compiling one failed`));
    const w = node(dir, ['-e', "console.log(require('./dist').backend().name)"]);
    expect(w.out.trim()).to.equal('ts');
    const warning = w.err.slice(w.err.indexOf('[CELLSTATE_TS_FALLBACK]'), w.err.indexOf('(Use `node --trace-warnings'));
    expect(warning.trim().split('\n')).to.deep.equal([
      '[CELLSTATE_TS_FALLBACK] Warning: cellstate: native addon unavailable, using the TypeScript backend (30-90x slower):',
      '  - build/Release/cellstate.node: no such file (not compiled here)',
      `  - prebuilds/${platformTag()}/cellstate.node: no such file (no prebuilt binary for this platform in the package)`,
      '  - wasm/cellstate.wasm: no such file (scripts/build-wasm.sh writes it; the package ships it)',
      '  - remedy: `npm rebuild cellstate` compiles the addon (needs python3, make and a C++17 compiler; its output is kept in build/cellstate-install.log inside the package; see docs/install.md#if-the-native-addon-does-not-load)',
    ]);
    expect(w.err).to.not.contain('build:native');
  });

  it('no addon but the wasm module: the install and the warning say wasm, and the library runs on it', function () {
    if (!fs.existsSync(path.join(root, 'wasm', 'cellstate.wasm'))) return this.skip(); // npm run build:wasm
    const dir = scratchPackage({ wasm: true }); dirs.push(dir);
    const r = node(dir, ['scripts/install.js'], { CXX: '/bin/false', CC: '/bin/false', npm_config_nodedir: process.env.npm_config_nodedir ?? '' });
    expect(r.status).to.equal(0);
    expect(r.out).to.contain('cellstate will run on its WebAssembly backend');
    const w = node(dir, ['-e', "console.log(require('./dist').backend().name)"]);
    expect(w.out.trim()).to.equal('wasm');
    expect(w.err).to.contain('[CELLSTATE_TS_FALLBACK] Warning: cellstate: native addon unavailable, using the WebAssembly backend');
  });

  it('a file that exists but does not load is named with the whole dlopen message', function () {
    const dir = scratchPackage(); dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'build', 'Release', 'cellstate.node'), 'x'.repeat(100));
    const w = node(dir, ['-e', "console.log(JSON.stringify(require('./dist/backend/native.js').loadNative().causes))"]);
    const causes = JSON.parse(w.out);
    expect(causes[0]).to.match(/^build\/Release\/cellstate\.node: .*cellstate\.node: (invalid ELF header|file too short)$/);
  });

  it('CELLSTATE_SKIP_BUILD: one line, nothing compiled', function () {
    const dir = scratchPackage(); dirs.push(dir);
    const r = node(dir, ['scripts/install.js'], { CELLSTATE_SKIP_BUILD: '1' });
    expect(r.status).to.equal(0);
    expect(r.out.trim()).to.match(/^cellstate: CELLSTATE_SKIP_BUILD is set: nothing checked or compiled/);
    expect(fs.existsSync(path.join(dir, 'build'))).to.equal(false);
  });
});
