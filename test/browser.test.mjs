// The browser build (scripts/build-browser.mjs -> dist/browser/cellstate.mjs, which loads the
// package's wasm/cellstate.wasm) in a real headless browser: Node makes a model, saves its bytes and computes its output; a page
// (test/browser/index.html, the example of docs/browser.md) served from 127.0.0.1 loads the bundle,
// init()s the wasm backend, loads the model and runs it; it POSTs what it got and the test compares
// with Node (bit-identical to Node's own wasm module, within 1e-5 of the default backend).
// Chromium: CELLSTATE_CHROMIUM, else /usr/bin/chromium (Debian's `chromium`), chromium-browser or
// google-chrome. Without one the test is skipped with the reason printed, unless
// CELLSTATE_REQUIRE_BROWSER=1 (CI), which makes it a failure.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LSTM, Linear, Sequential, encodeModel, backend, init, Rng } from 'cellstate';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'browser');
const page = fs.readFileSync(path.join(root, 'test', 'browser', 'index.html'), 'utf8');

function findChromium() {
  const candidates = [process.env.CELLSTATE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean);
  return candidates.find((c) => fs.existsSync(c)) ?? null;
}

function build(...args) {
  return spawnSync(process.execPath, ['scripts/build-browser.mjs', ...args], { cwd: root, encoding: 'utf8' });
}

describe('browser build (dist/browser/cellstate.mjs)', function () {
  this.timeout(180000);
  before(function () {
    if (!fs.existsSync(path.join(root, 'wasm', 'cellstate.wasm'))) {
      if (process.env.CELLSTATE_REQUIRE_WASM === '1' || process.env.CELLSTATE_REQUIRE_BROWSER === '1') throw new Error('wasm/cellstate.wasm is missing (npm run build:wasm)');
      console.log('    (skipped: wasm/cellstate.wasm is missing; npm run build:wasm builds it)');
      this.skip();
    }
    const r = build();
    expect(r.status, r.stderr + r.stdout).to.equal(0);
  });

  it('holds no Node built-in or require(), and finds the package\'s wasm module from where it is', function () {
    const code = fs.readFileSync(path.join(dist, 'cellstate.mjs'), 'utf8');
    expect(code).to.not.match(/from\s*["']node:|import\(["']node:|\brequire\(/);
    expect(code).to.include('new URL("../../wasm/cellstate.wasm",import.meta.url)');
    expect(fs.existsSync(path.resolve(dist, '../../wasm/cellstate.wasm'))).to.equal(true);
    // The library's own exports, minus what needs Node (files, workers), plus init.
    for (const name of ['init', 'load', 'encodeModel', 'decodeSafetensors', 'toOnnx', 'fromOnnx', 'encodeTfjs', 'loadTfjsModel', 'Trainer', 'Sequential', 'LSTM', 'backend']) {
      expect(code, name).to.match(new RegExp(`\\b${name}\\b`));
    }
    const exported = code.slice(code.lastIndexOf('export{'));
    for (const name of ['saveModel', 'readSafetensors', 'saveCheckpoint', 'createTsWorkerPool', 'createBatcher']) expect(exported, name).to.not.match(new RegExp(`\\b${name}\\b`));
  });

  it('before init() models run on ts; init() makes wasm the default; file calls name the bytes forms', async function () {
    // The bundle is a plain ES module: Node can import it too (it then runs its browser paths).
    const c = await import(`${pathToFileURL(path.join(dist, 'cellstate.mjs')).href}?t=${Date.now()}`);
    expect(c.saveModel, 'no file API in the browser build').to.equal(undefined);
    expect(c.createTsWorkerPool).to.equal(undefined);
    expect(c.availableBackends()).to.deep.equal(['ts']);
    const early = new c.LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(early.backend).to.equal('ts');
    expect(() => c.load('model.safetensors')).to.throw(TypeError, /files are not available in a browser; use the in-memory forms: load\(bytes\)/);
    expect(() => new c.Sequential([early]).save('m.safetensors')).to.throw(TypeError, /files are not available in a browser/);
    const err = await c.init({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1]) }).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(c.BackendUnavailableError);
    expect(err.message).to.match(/init: the wasm backend cannot be used:\n  - init: wasm: /);
    expect((await c.init({ wasm: 'nope:', fallback: true })).name).to.equal('ts');
    for (const [bad, re] of [[42, /init: options: expected an options object, got 42/], [{ wasm: 7 }, /init: options\.wasm: expected a URL, .*got 7/],
      [{ fallback: 'yes' }, /init: options\.fallback: expected true or false/], [{ wsam: 'x' }, /wsam/]]) {
      const e = await c.init(bad).then(() => null, (x) => x);
      expect(e, JSON.stringify(bad)).to.be.instanceOf(TypeError);
      expect(e.message).to.match(re);
    }
    const quiet = process.env.CELLSTATE_QUIET;
    process.env.CELLSTATE_QUIET = '1'; // (under Node the bundle would warn once that native is missing)
    const info = await c.init({ wasm: fs.readFileSync(path.join(root, 'wasm', 'cellstate.wasm')) }).finally(() => {
      if (quiet === undefined) delete process.env.CELLSTATE_QUIET; else process.env.CELLSTATE_QUIET = quiet;
    });
    expect(info).to.deep.equal({ name: 'wasm', isa: 'wasm_simd128', threads: 1, blas: null });
    expect(await c.init()).to.deep.equal(info); // loaded once; later calls return it
    const late = new c.LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(late.backend).to.equal('wasm');
    // The bytes forms round-trip in the bundle: encodeModel -> load, on wasm, same numbers as ts.
    const x = c.tensor(Float32Array.from({ length: 2 * 1 * 2 }, (_, i) => i / 4 - 0.3), [2, 1, 2]);
    const back = c.load(c.encodeModel(new c.Sequential([early])));
    expect(back.layers[0].backend).to.equal('wasm');
    const a = Array.from(early.forward(x).output.data), b = Array.from(back.forward(x).output.data);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).to.be.below(1e-6);
  });

  it("under Node, init() (the same script as a page's) waits for the module and reports the default backend", async function () {
    expect(await init()).to.deep.equal(backend());
    expect(await init({ wasm: fs.readFileSync(path.join(root, 'wasm', 'cellstate.wasm')) })).to.deep.equal(backend());
    const e = await init({ wasm: null }).then(() => null, (x) => x);
    expect(e).to.be.instanceOf(TypeError);
    expect(e.message).to.match(/init: options\.wasm: expected a URL/);
  });

  it("the README's browser example is the tested page's code (comments aside)", function () {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = /## In the browser[\s\S]*?```js[^\n]*\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README.md: a js block in "In the browser"').to.not.equal(null);
    const code = (l) => l.replace(/\s*\/\/ .*$/, '').trim();
    const pageLines = new Set(page.split('\n').map(code));
    const lines = block[1].split('\n').map(code).filter(Boolean);
    expect(lines.length).to.be.at.least(4);
    for (const l of lines) expect(pageLines.has(l), `README line not in test/browser/index.html: ${l}`).to.equal(true);
  });

  it('docs/browser.md shows the tested page verbatim', function () {
    const doc = fs.readFileSync(path.join(root, 'docs', 'browser.md'), 'utf8');
    const blocks = [...doc.matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).to.deep.equal([page]);
  });

  it('fails, naming the module and the import, when something reachable imports a Node built-in', function () {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-browser-'));
    try {
      const entry = path.join(tmp, 'entry.ts');
      fs.writeFileSync(entry, `export * from ${JSON.stringify(path.join(root, 'lib', 'serve', 'ts-worker-pool'))};\n`);
      const r = build('--no-typecheck', '--entry', entry, '--outdir', path.join(tmp, 'out'));
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/Node built-ins reached from/);
      expect(r.stderr).to.match(/lib\/serve\/ts-worker-pool\.ts imports node:worker_threads/);
      expect(fs.existsSync(path.join(tmp, 'out', 'cellstate.mjs'))).to.equal(false);
      // process / Buffer without a typeof check (a browser has neither); guarded uses and strings pass.
      fs.writeFileSync(entry, [
        "export const a = () => process.env.X;", "export const b = (s: string) => Buffer.from(s);",
        "export const c = typeof process !== 'undefined' ? process.pid : 0;", "export const d = 'a Buffer or process';", '',
      ].join('\n'));
      const g = build('--no-typecheck', '--entry', entry, '--outdir', path.join(tmp, 'out'));
      expect(g.status).to.equal(1);
      expect(g.stderr.match(/unguarded (process|Buffer)/g)).to.deep.equal(['unguarded process', 'unguarded Buffer']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a page loads a model Node saved and runs it on wasm with the numbers Node computed', async function () {
    const chromium = findChromium();
    if (!chromium) {
      if (process.env.CELLSTATE_REQUIRE_BROWSER === '1') throw new Error('CELLSTATE_REQUIRE_BROWSER=1 but no Chromium: apt-get install chromium (or set CELLSTATE_CHROMIUM)');
      console.log('    (skipped: no Chromium at /usr/bin/chromium; apt-get install chromium, or set CELLSTATE_CHROMIUM)');
      return this.skip();
    }
    // A two-layer LSTM with a dense head, T=7 steps, B=3, I=4 (sizes off the SIMD width).
    const model = new Sequential([new LSTM({ inputSize: 4, hiddenSize: 9, numLayers: 2, seed: 11 }), new Linear({ inFeatures: 9, outFeatures: 3, seed: 12 })]);
    const shape = [7, 3, 4];
    const rng = new Rng(13);
    const x = Array.from({ length: 7 * 3 * 4 }, () => rng.uniform(-1, 1));
    const bytes = encodeModel(model);
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-chromium-')); // the browser's profile, and the child's inputs
    fs.writeFileSync(path.join(profile, 'm.safetensors'), bytes);
    fs.writeFileSync(path.join(profile, 'x.json'), JSON.stringify({ x, shape }));
    const want = Array.from(model.predict(Float32Array.from(x), { shape }).data);
    // Node's own wasm module on the same model (a child process: no tier cap, as in the browser).
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { load } from 'cellstate'; import fs from 'node:fs';
      const m = load(fs.readFileSync(process.argv[1]), { backend: 'wasm' });
      const { x, shape } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
      console.log(JSON.stringify(Array.from(m.predict(Float32Array.from(x), { shape }).data)));`,
    path.join(profile, 'm.safetensors'), path.join(profile, 'x.json')], { cwd: root, encoding: 'utf8', env: { ...process.env, CELLSTATE_MAX_ISA: '' } });
    expect(child.status, child.stderr).to.equal(0);
    const wantWasm = JSON.parse(child.stdout);

    const files = {
      '/index.html': ['text/html', page],
      // The package as it lies in a project's node_modules (only the files the page needs).
      '/node_modules/cellstate/dist/browser/cellstate.mjs': ['text/javascript', fs.readFileSync(path.join(dist, 'cellstate.mjs'))],
      '/node_modules/cellstate/wasm/cellstate.wasm': ['application/wasm', fs.readFileSync(path.join(root, 'wasm', 'cellstate.wasm'))],
      '/model.safetensors': ['application/octet-stream', Buffer.from(bytes)],
      '/input.json': ['application/json', JSON.stringify({ x, shape })],
    };
    let resolveResult;
    const result = new Promise((res) => { resolveResult = res; });
    const served = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method === 'POST' && url.pathname === '/result') {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => { res.end('ok'); resolveResult(JSON.parse(body)); });
        return;
      }
      const f = files[url.pathname];
      served.push(url.pathname);
      if (!f) { res.statusCode = 404; res.end(); return; }
      res.setHeader('content-type', f[0]);
      res.end(f[1]);
    });
    await new Promise((res) => server.listen(0, '127.0.0.1', res));
    const browser = spawn(chromium, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`, `http://127.0.0.1:${server.address().port}/index.html`,
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    browser.stderr.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
    const exited = new Promise((res) => browser.on('exit', (code, signal) => res(`chromium exited (${code ?? signal}) before the page reported`)));
    let timer;
    try {
      const got = await Promise.race([
        result,
        exited.then((why) => { throw new Error(`${why}:\n${stderr}`); }),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`no result from the page in 90 s (served: ${served.join(', ')}):\n${stderr}`)), 90000); }),
      ]);
      expect(got.error, 'the page threw').to.equal(undefined);
      expect(got.backend).to.equal('wasm');
      expect(got.isa).to.equal('wasm_simd128');
      expect(got.layerBackend).to.equal('wasm');
      expect(got.shape).to.deep.equal([7, 3, 3]);
      expect(got.output).to.have.length(want.length);
      const diff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      const vsDefault = diff(got.output, want);
      console.log(`    page on wasm vs Node ${backend().name}: max |diff| ${vsDefault.toExponential(2)}; vs Node's wasm: ${diff(got.output, wantWasm)}`);
      expect(got.output).to.deep.equal(wantWasm); // the same module on the same numbers: the same bits
      expect(vsDefault).to.be.below(1e-5);
    } finally {
      clearTimeout(timer);
      try { process.kill(-browser.pid, 'SIGKILL'); } catch { /* already gone */ }
      await new Promise((res) => (browser.exitCode !== null || browser.signalCode !== null ? res() : browser.on('exit', res)));
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });
});
