#!/usr/bin/env node
// Builds the browser ES module: dist/browser/cellstate.mjs (lib/browser.ts and everything it
// imports, bundled by esbuild: the sources use extensionless imports a browser cannot resolve).
// It loads the package's one WebAssembly module, wasm/cellstate.wasm (scripts/build-wasm.sh), from
// ../../wasm/cellstate.wasm relative to itself: serve the package folder as it is (or let a
// bundler copy the file), or pass init({ wasm }) another URL. No second copy: the package's size
// is held to README's figures.
//
// One source tree for Node and the browser: a module `X.ts` with a sibling `X.browser.ts` is
// replaced by it here (resolveExtensions; tsconfig.browser.json's moduleSuffixes type-checks the
// same graph). The build FAILS, listing every offender, when the bundle would:
//   - import a Node built-in (node:fs, worker_threads, ...): each import and the module making it;
//   - contain require() (a CommonJS import esbuild could not bundle);
//   - use `process` or `Buffer` on a line without a `typeof` check of that name (a browser has
//     neither; lib/host.ts holds the guarded uses);
//   - not type-check as browser code (tsconfig.browser.json: no Node types).
// Usage: node scripts/build-browser.mjs [--no-typecheck] [--outdir DIR] [--entry FILE (tests: another entry)]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outdir = path.resolve(root, args.includes('--outdir') ? args[args.indexOf('--outdir') + 1] : 'dist/browser');
const require = createRequire(import.meta.url);
const entry = args.includes('--entry') ? path.resolve(args[args.indexOf('--entry') + 1]) : 'lib/browser.ts';

function fail(lines) {
  console.error(`build-browser: FAILED\n  ${lines.join('\n  ')}`);
  process.exit(1);
}

if (!args.includes('--no-typecheck')) {
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.browser.json'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    fail(['tsconfig.browser.json does not type-check (browser globals only, no Node types):', ...String(e.stdout).trim().split('\n')]);
  }
}

const esbuild = await import('esbuild');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const nodeImports = [];
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (a) => {
      if (!a.path.startsWith('node:') && !builtins.has(a.path) && !builtins.has(a.path.split('/')[0])) return undefined;
      nodeImports.push(`${path.relative(root, a.importer)} imports ${a.path}`);
      return { path: a.path, external: true }; // collected, reported together below
    });
  },
};

const outfile = path.join(outdir, 'cellstate.mjs');
const options = {
  absWorkingDir: root,
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  resolveExtensions: ['.browser.ts', '.ts', '.js'],
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  write: false,
  plugins: [noNodeBuiltins],
};
// First readable (one statement a line) for the checks, then minified for the package (the
// tarball's size is held to README's figures; keepNames keeps class names in errors).
const readable = await esbuild.build(options);
if (nodeImports.length) fail([`Node built-ins reached from ${path.relative(root, path.resolve(root, entry))} (give the importing module a .browser.ts variant):`, ...nodeImports]);

const problems = [];
readable.outputFiles[0].text.split('\n').forEach((line, i) => {
  // Code only: string literals and line comments go first (an error message may name Buffer).
  const text = line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""').replace(/\/\/.*$/, '');
  if (/\brequire\s*\(|__require\b/.test(text)) problems.push(`line ${i + 1}: require(): ${line.trim()}`);
  for (const g of ['process', 'Buffer']) {
    if (new RegExp(`(?<![.\\w$'"])${g}\\b(?!['"])`).test(text) && !text.includes(`typeof ${g}`)) problems.push(`line ${i + 1}: unguarded ${g}: ${line.trim()}`);
  }
});
if (problems.length) fail(['the bundle uses what a browser lacks:', ...problems]);

const wasm = path.join(root, 'wasm', 'cellstate.wasm');
if (!fs.existsSync(wasm)) fail(['wasm/cellstate.wasm is missing: run npm run build:wasm first (scripts/build-wasm.sh)']);
const minified = await esbuild.build({
  ...options,
  minify: true,
  keepNames: true,
  banner: { js: '// cellstate for browsers (MIT): dist/browser/cellstate.mjs, built by scripts/build-browser.mjs from lib/browser.ts. await init() first: it fetches ../../wasm/cellstate.wasm (the package\'s).' },
});
fs.mkdirSync(outdir, { recursive: true });
fs.writeFileSync(outfile, minified.outputFiles[0].contents);
console.log(`build-browser: ${path.relative(root, outfile)} (${(minified.outputFiles[0].contents.length / 1024).toFixed(0)} kB; it loads wasm/cellstate.wasm, ${(fs.statSync(wasm).size / 1024).toFixed(0)} kB)`);
