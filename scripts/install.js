// npm install hook. Uses the prebuilt addon shipped in the package when it loads here
// (prebuilds/<platform>-<arch>/cellstate.node, written by `npm run prebuild` at pack time);
// compiles with node-gyp only where none does; never fails the install. It prints exactly one
// line saying which of the three happened (npm shows it with --foreground-scripts, or when the
// script fails, which it never does), and keeps the compiler's output in
// build/cellstate-install.log, which the library's fallback warning points to.
//
// CELLSTATE_SKIP_BUILD=1 does nothing (the library then loads whatever is there, else runs on ts);
// CELLSTATE_BUILD_FROM_SOURCE=1 compiles even where a prebuilt binary loads. Nothing is downloaded:
// the compile uses the C headers installed with Node (or npm's nodedir), else it is not attempted.
// Runs before dist/ exists in a checkout, so it repeats the loader's platform tag rather than
// importing it (lib/backend/native.ts platformTag(); test/prebuilt.test.mjs checks they agree).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const say = (line) => console.log(`cellstate: ${line}`);

function platformTag() {
  let libc = '';
  if (process.platform === 'linux') libc = process.report.getReport().header.glibcVersionRuntime ? '' : 'musl';
  return `${process.platform}${libc}-${process.arch}`;
}

// Load the file in a child process (a binary for the wrong CPU or libc may crash, not just throw):
// null when it loads and answers info(), else the reason on one line. Where this node cannot start
// itself (an emulator without binfmt registration, e.g. qemu-user in CI), in this process.
let selfSpawns;
function loadProblem(file) {
  if (!fs.existsSync(file)) return 'no such file';
  selfSpawns ??= spawnSync(process.execPath, ['-e', '0'], { timeout: 60000 }).status === 0;
  if (!selfSpawns) {
    try {
      require(file).info();
      return null;
    } catch (e) {
      return String(e && e.message).split('\n')[0];
    }
  }
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).info()', file],
    { encoding: 'utf8', timeout: 60000 });
  if (r.status === 0) return null;
  const msg = `${r.stderr || ''}`.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ') && !l.startsWith('^') && !l.startsWith('node:'));
  return msg.find((l) => /Error/.test(l)) ?? msg[0] ?? `exit status ${r.status}${r.signal ? `, signal ${r.signal}` : ''}`;
}

function main() {
  if (process.env.CELLSTATE_SKIP_BUILD) {
    say('CELLSTATE_SKIP_BUILD is set: nothing checked or compiled (without an addon the WebAssembly or TypeScript backend is used)');
    return;
  }
  const tag = platformTag();
  const prebuilt = path.join(root, 'prebuilds', tag, 'cellstate.node');
  let why;
  if (process.env.CELLSTATE_BUILD_FROM_SOURCE) {
    why = 'CELLSTATE_BUILD_FROM_SOURCE is set';
  } else {
    const problem = loadProblem(prebuilt);
    if (!problem) {
      say(`using the prebuilt native addon prebuilds/${tag}/cellstate.node; nothing to compile`);
      return;
    }
    why = problem === 'no such file' ? `no prebuilt native addon for ${tag} in the package` : `the prebuilt addon for ${tag} does not load here (${problem})`;
  }
  compile(why);
}

function compile(why) {
  const logFile = path.join(root, 'build', 'cellstate-install.log');
  // The package ships the wasm module (wasm/cellstate.wasm): the library runs on it where the engine has WebAssembly SIMD.
  const fallback = fs.existsSync(path.join(root, 'wasm', 'cellstate.wasm')) ? 'WebAssembly backend (several times slower)' : 'TypeScript backend (30-90x slower)';
  const fellBack = (cause) => say(`${why}, and compiling one failed (${cause}); cellstate will run on its ${fallback}. ` +
    `Compiler output: ${logFile}. Fix the cause, then run \`npm rebuild cellstate\`.`);
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = process.env.npm_config_node_gyp; // npm's bundled copy
  }
  if (!gyp || !fs.existsSync(gyp)) {
    writeLog(logFile, 'node-gyp was not found (neither installed beside cellstate nor bundled with npm)\n');
    fellBack('node-gyp not found');
    return;
  }
  const nodedir = nodeHeaders();
  if (!nodedir) {
    writeLog(logFile, `Node's C headers were not found in ${path.resolve(process.execPath, '..', '..', 'include', 'node')} and npm's nodedir is not set; node-gyp would download them, which this install never does\n`);
    fellBack(`Node's C headers are not installed beside ${process.execPath}`);
    return;
  }
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const output = `${r.stdout || ''}${r.stderr || ''}${r.error ? `\n${r.error.message}\n` : ''}`;
  writeLog(logFile, output); // after `rebuild`, which empties build/
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  if (r.status !== 0) {
    const lines = output.split('\n').map((l) => l.trim());
    // The compiler's own first error, else make's, else node-gyp's first complaint.
    const cause = lines.find((l) => /(^|\s)(fatal )?error:|not found/i.test(l)) ?? lines.find((l) => /\*\*\*.*Error \d+/.test(l)) ??
      lines.find((l) => /^gyp ERR! stack Error: /.test(l)) ?? `node-gyp exited with status ${r.status}`;
    fellBack(cause.replace(/^gyp ERR! (stack )?/, ''));
    return;
  }
  const problem = loadProblem(path.join(root, 'build', 'Release', 'cellstate.node'));
  if (problem) {
    fellBack(`the compiled addon does not load: ${problem}`);
    return;
  }
  say(`${why}: compiled the native addon with node-gyp in ${seconds} s (build/Release/cellstate.node)`);
}

// The headers to compile against, never downloaded: npm's nodedir setting, else those installed
// with this node (official tarballs, nvm and Debian/NodeSource packages put them in
// <prefix>/include/node). null when neither exists.
function nodeHeaders() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(process.execPath, '..', '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function writeLog(file, text) {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  } catch { /* a read-only package folder: the one line above still says what happened */ }
}

try {
  main();
} catch (e) {
  say(`the install check failed unexpectedly (${e && e.message}); the library will load what it can, else run on its WebAssembly or TypeScript backend`);
}
process.exit(0);
