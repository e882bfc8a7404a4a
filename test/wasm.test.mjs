// The wasm backend (lib/backend/wasm.ts over wasm/cellstate.wasm, scripts/build-wasm.sh): selection
// (native, else wasm, else ts; CELLSTATE_BACKEND=wasm and backend: 'wasm' force it), what backend()
// reports, the tier cap, the ts parity grid on shapes that break SIMD code (./helpers/parity.mjs),
// models and training on wasm. The reference cases run on it through availableBackends()
// (test/reference.test.mjs). CELLSTATE_REQUIRE_WASM=1 (CI) makes a missing module a failure.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRU, LSTM, Linear, RNN, Sequential, Trainer, Adam, availableBackends, backend, setThreads, tensor, Rng } from 'cellstate';
import { createRequire } from 'node:module';
import { parityTests } from './helpers/parity.mjs';

const require = createRequire(import.meta.url);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hasWasm = availableBackends().includes('wasm');
// The tier the module runs here: wasm_simd128 unless CELLSTATE_MAX_ISA caps it below (native/isa.json levels).
const isaTable = JSON.parse(readFileSync(path.join(root, 'native', 'isa.json'), 'utf8'));
const cap = isaTable.isas[process.env.CELLSTATE_MAX_ISA ?? '']?.level ?? Infinity;
const wantIsa = isaTable.arches.wasm32.tiers.filter((t) => isaTable.isas[t].level <= cap).at(-1);

function runNode(code, env) {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

describe('wasm backend: loading', function () {
  this.timeout(60000);
  it('is available (required when CELLSTATE_REQUIRE_WASM=1)', function () {
    if (process.env.CELLSTATE_REQUIRE_WASM === '1') expect(hasWasm, 'wasm/cellstate.wasm loads (npm run build:wasm)').to.equal(true);
    if (hasWasm) expect(backend('wasm')).to.deep.equal({ name: 'wasm', isa: wantIsa, threads: 1, blas: null });
  });
  it('without an addon the library falls back to wasm and says so once', function () {
    if (!hasWasm) return this.skip();
    const r = runNode(
      "const c=require('./dist'); new c.LSTM({inputSize:1,hiddenSize:1}); new c.LSTM({inputSize:1,hiddenSize:1}); console.log(JSON.stringify(c.backend()))",
      { CELLSTATE_ADDON_PATH: '/nonexistent/cellstate.node', CELLSTATE_BACKEND: '', CELLSTATE_QUIET: '', CELLSTATE_MAX_ISA: '' });
    expect(JSON.parse(r.out)).to.deep.equal({ name: 'wasm', isa: 'wasm_simd128', threads: 1, blas: null });
    expect(r.err.match(/CELLSTATE_TS_FALLBACK/g) ?? []).to.have.length(1);
    expect(r.err).to.contain('using the WebAssembly backend');
  });
  it('CELLSTATE_BACKEND=wasm forces it; CELLSTATE_MAX_ISA=scalar caps its kernels, an unknown tier is reported', function () {
    if (!hasWasm) return this.skip();
    const code = "const c=require('./dist'); console.log(JSON.stringify([c.backend(), new c.LSTM({inputSize:1,hiddenSize:1}).backend]))";
    expect(JSON.parse(runNode(code, { CELLSTATE_BACKEND: 'wasm', CELLSTATE_MAX_ISA: '' }).out)).to.deep.equal([{ name: 'wasm', isa: 'wasm_simd128', threads: 1, blas: null }, 'wasm']);
    expect(JSON.parse(runNode(code, { CELLSTATE_BACKEND: 'wasm', CELLSTATE_MAX_ISA: 'scalar' }).out)[0].isa).to.equal('scalar');
    const r = runNode("console.log(require('./dist/backend/wasm-load.js').loadWasm().causes.join())", { CELLSTATE_MAX_ISA: 'avx9' });
    expect(r.out).to.contain("CELLSTATE_MAX_ISA='avx9' is not one of");
  });
  it('CELLSTATE_BACKEND=wasm without a loadable module throws one error naming the cause', function () {
    const r = runNode("require('./dist').backend()", { CELLSTATE_BACKEND: 'wasm', CELLSTATE_WASM_PATH: '/nonexistent/cellstate.wasm' });
    expect(r.err).to.contain('BackendUnavailableError');
    expect(r.err).to.contain('CELLSTATE_WASM_PATH=/nonexistent/cellstate.wasm: no such file');
  });
});

(hasWasm ? describe : describe.skip)('wasm backend: kernels', function () {
  parityTests('wasm');

  it("models on backend: 'wasm' match ts (LSTM 2 layers bidirectional, GRU): outputs and gradients", function () {
    const rng = new Rng(3);
    const x = tensor(Array.from({ length: 4 }, () => Array.from({ length: 3 }, () => Array.from({ length: 5 }, () => rng.uniform(-1, 1))))); // [T=4, B=3, I=5]
    for (const [Cls, opt] of [[LSTM, { numLayers: 2, bidirectional: true }], [GRU, {}]]) {
      const out = {};
      for (const b of ['ts', 'wasm']) {
        const m = new Cls({ inputSize: 5, hiddenSize: 6, seed: 9, backend: b, ...opt });
        const t = m.forwardTrain(x);
        const g = m.backward(t.cache, { dOutput: t.output });
        out[b] = { y: Array.from(t.output.data), g: Object.entries(g.grads).map(([n, v]) => [n, Array.from(v.data)]) };
      }
      const close = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 + 1e-4 * Math.abs(b[i]));
      expect(close(out.wasm.y, out.ts.y), `${Cls.name} output`).to.equal(true);
      expect(out.wasm.g.map(([n]) => n)).to.deep.equal(out.ts.g.map(([n]) => n));
      out.ts.g.forEach(([n, g], i) => expect(close(out.wasm.g[i][1], g), `${Cls.name} ${n}`).to.equal(true));
    }
  });

  it('calls free what they allocate in the module: 100 training steps and 100 prepare/release pairs do not grow its memory', function () {
    const { loadWasm } = require('../dist/backend/wasm-load.js');
    const m = new LSTM({ inputSize: 64, hiddenSize: 64, seed: 4, backend: 'wasm' });
    const x = tensor(new Float32Array(20 * 8 * 64).fill(0.1), [20, 8, 64]); // ~40 KB in, ~40 KB out, a cache of ~400 KB per step
    const step = () => { const t = m.forwardTrain(x); m.backward(t.cache, { dOutput: t.output }); };
    for (let i = 0; i < 5; i++) step();
    const before = loadWasm().memoryBytes();
    for (let i = 0; i < 100; i++) step(); // a leak of one cache per step would be 40 MB
    const be = require('../dist/backend/index.js').getBackend('wasm');
    const rand = (n) => new Float32Array(n).fill(0.01);
    const params = { kind: 'lstm', inputSize: 64, hiddenSize: 64, projSize: 0, weightIh: rand(256 * 64), weightHh: rand(256 * 64), biasIh: rand(256), biasHh: rand(256),
      weightHr: null, peephole: null, inputForget: false, clip: null, linearBeforeReset: true, precision: 'fp32', flags: {}, extra: {} };
    for (let i = 0; i < 100; i++) be.release(be.prepare(params)); // ~260 KB of packed weights each
    const w = be.prepare(params);
    be.release(w);
    expect(() => be.forward(w, {}, false)).to.throw(TypeError, /released/);
    expect(loadWasm().memoryBytes()).to.equal(before);
  });

  it('training on wasm (Adam: the wasm update) follows the ts run step for step', async function () {
    const waves = Array.from({ length: 16 }, (_, i) => {
      const v = Array.from({ length: 11 }, (_, t) => Math.sin(0.3 * (t + i)));
      return { x: v.slice(0, 10).map((s) => [s]), y: v.slice(1) };
    });
    const history = {};
    for (const b of ['ts', 'wasm']) {
      const net = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 8, seed: 1, backend: b }), new Linear({ inFeatures: 8, outFeatures: 1, seed: 2 })]);
      const trainer = new Trainer({ model: net, optimizer: new Adam(net, { lr: 0.02, backend: b }), loss: 'mse', seed: 3 });
      history[b] = (await trainer.fit(waves, { epochs: 8, batchSize: 8, progress: 'none' })).map((h) => h.loss);
    }
    history.ts.forEach((l, i) => expect(history.wasm[i], `epoch ${i}`).to.be.closeTo(l, 1e-4 * Math.max(1, l)));
    expect(history.wasm.at(-1)).to.be.below(history.wasm[0] / 2);
  });
});

describe("wasm backend: helper threads (setThreads(n, 'wasm'))", function () {
  this.timeout(60000);
  if (!hasWasm) return;
  after(() => setThreads(1, 'wasm'));
  const rng = new Rng(21);
  const rand = (shape) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
  const cases = [
    ['LSTM', LSTM, {}], ['LSTM proj, 2 layers, bidirectional', LSTM, { projSize: 3, numLayers: 2, bidirectional: true }],
    ['GRU batchFirst', GRU, { batchFirst: true }], ['RNN relu', RNN, { nonlinearity: 'relu' }],
  ];
  const cores = Math.max(1, require('node:os').availableParallelism?.() ?? require('node:os').cpus().length); // helpers: at most one per core

  it('reports the threads; at most one per core; n is checked; which must be native or wasm', function () {
    setThreads(2, 'wasm');
    expect(backend('wasm').threads).to.equal(Math.min(2, cores));
    setThreads(1, 'wasm');
    expect(backend('wasm').threads).to.equal(1);
    setThreads(1024, 'wasm');
    expect(backend('wasm').threads).to.equal(cores);
    setThreads(1, 'wasm');
    expect(() => setThreads(0, 'wasm')).to.throw(RangeError, 'setThreads: n: expected an integer in [1, 1024], got 0');
    expect(() => setThreads(2, 'ts')).to.throw(TypeError, `setThreads: which: expected 'native' or 'wasm', got "ts"`);
  });

  for (const [name, Cls, opt] of cases) {
    it(`${name}: batch-split forwards equal one thread's bit for bit (B = 2, 3, 5; lengths; initial state)`, function () {
      for (const B of [2, 3, 5]) {
        const T = 6, I = 4, x = rand(opt.batchFirst ? [B, T, I] : [T, B, I]);
        const lengths = Array.from({ length: B }, (_, b) => 1 + ((b * 5 + 2) % T));
        setThreads(1, 'wasm');
        const one = new Cls({ inputSize: I, hiddenSize: 5, seed: 8, backend: 'wasm', ...opt });
        setThreads(2, 'wasm');
        const two = new Cls({ inputSize: I, hiddenSize: 5, seed: 8, backend: 'wasm', ...opt });
        for (const o of [{}, { lengths }]) {
          const a = one.forward(x, o), b = two.forward(x, o);
          for (const k of ['output', 'hN', 'cN']) {
            if (a[k]) expect(Array.from(b[k].data), `B=${B} ${k} ${JSON.stringify(o)}`).to.deep.equal(Array.from(a[k].data));
          }
          // Carry the state on: an initial state sliced across the threads.
          const s = { h0: a.hN, ...(a.cN ? { c0: a.cN } : {}) };
          expect(Array.from(two.forward(x, s).output.data)).to.deep.equal(Array.from(one.forward(x, s).output.data));
        }
      }
    });
  }

  it('training runs on the calling thread and equals one thread; cells prepared with helpers run alone once they stop', function () {
    setThreads(2, 'wasm');
    const m = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 2, backend: 'wasm' });
    setThreads(1, 'wasm');
    const m1 = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 2, backend: 'wasm' });
    const x = rand([5, 4, 3]), dOutput = rand([5, 4, 4]);
    setThreads(2, 'wasm');
    const run = (net) => { const t = net.forwardTrain(x); return { y: Array.from(t.output.data), g: Object.values(net.backward(t.cache, { dOutput }).grads).map((v) => Array.from(v.data)) }; };
    expect(run(m)).to.deep.equal(run(m1));
    setThreads(1, 'wasm'); // the helper m was prepared on stops: m runs on the calling thread
    expect(Array.from(m.forward(x).output.data)).to.deep.equal(Array.from(m1.forward(x).output.data));
  });

  // A helper that dies while a forward waits for it (lib/backend/wasm-threads.ts, "A helper that
  // dies"). The test-only CELLSTATE_TEST_WASM_HELPER_DEATH=<how>@2 (lib/backend/wasm-supervisor.ts)
  // makes the first helper die at its second forward request instead of answering it. The
  // scenario runs in a child with a timeout, so a hang fails the test instead of wedging mocha.
  const deathScript = `
    const c = require('./dist');
    const x = c.tensor(Float32Array.from({ length: 5 * 4 * 3 }, (_, i) => Math.sin(i)), [5, 4, 3]);
    const one = new c.LSTM({ inputSize: 3, hiddenSize: 6, seed: 3, backend: 'wasm' }); // prepared with 1 thread
    c.setThreads(2, 'wasm');
    const two = new c.LSTM({ inputSize: 3, hiddenSize: 6, seed: 3, backend: 'wasm' }); // prepared on the helper too
    const want = Array.from(one.forward(x).output.data), same = (m) => JSON.stringify(Array.from(m.forward(x).output.data)) === JSON.stringify(want);
    const r = { threads: [c.backend('wasm').threads], first: same(two) };
    const t0 = Date.now();
    try { two.forward(x); r.second = 'returned'; } catch (e) { r.second = { name: e.name, message: e.message, ms: Date.now() - t0 }; }
    r.threads.push(c.backend('wasm').threads);
    r.third = same(two); // the dead helper left out: the calling thread alone
    c.setThreads(2, 'wasm'); // a fresh helper, for cells prepared from now on
    r.threads.push(c.backend('wasm').threads);
    const three = new c.LSTM({ inputSize: 3, hiddenSize: 6, seed: 3, backend: 'wasm' });
    r.fresh = same(three) && same(three) && same(two);
    console.log(JSON.stringify(r));`;
  const deaths = [
    ['exits (process.exit(3))', 'exit@2', /: its thread exited with code 3\. /],
    ['throws an uncaught error', 'throw@2', /: it threw an uncaught Error: cellstate \(wasm\): test-only helper death/],
    ['is terminated', 'terminate@2', /: its thread exited with code 1 \(it was terminated, or exited with 1\)\. /],
    ['runs out of memory (a 16 MB heap limit, ERR_WORKER_OUT_OF_MEMORY)', 'oom@2', /: it ran out of memory \(ERR_WORKER_OUT_OF_MEMORY: /],
  ];
  for (const [what, how, reason] of deaths) {
    it(`a helper that ${what} while a forward waits: that forward throws an Error naming it, the next ones run without it, the process exits`, function () {
      if (cores < 2) this.skip(); // one core: no helpers
      const r = spawnSync(process.execPath, ['-e', deathScript], {
        cwd: root, env: { ...process.env, CELLSTATE_QUIET: '1', CELLSTATE_TEST_WASM_HELPER_DEATH: how }, encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL',
      });
      expect(r.signal, `the child hung (killed after 30 s); stderr: ${r.stderr}`).to.equal(null);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0); // it exits by itself: neither the dead helper nor the supervisor keeps it alive
      const o = JSON.parse(r.stdout);
      expect(o.first, 'the first forward (helper alive) equals one thread').to.equal(true);
      expect(o.second).to.be.an('object');
      expect(o.second.name).to.equal('Error');
      expect(o.second.message).to.match(/^cellstate \(wasm\): helper thread 1 is gone without answering this forward: /);
      expect(o.second.message).to.match(reason);
      expect(o.second.message).to.match(/later forwards run without that helper \(on the remaining helpers and the calling thread\)$/);
      expect(o.second.ms, 'the forward learned of the death within a few seconds').to.be.below(5000);
      expect(o.third, 'the next forward equals one thread').to.equal(true);
      expect(o.threads).to.deep.equal([2, 1, 2]); // the dead helper is not counted; setThreads starts another
      expect(o.fresh, 'forwards on the fresh helper equal one thread').to.equal(true);
    });
  }

  it('a helper that cannot be started: the forward that waits for it throws naming why (or, told before, runs without it); later ones run without it', function () {
    if (cores < 2) this.skip(); // one core: no helpers
    // An invalid value of the test-only variable makes the supervisor's new Worker() fail.
    const r = spawnSync(process.execPath, ['-e', `
      const c = require('./dist');
      const x = c.tensor(Float32Array.from({ length: 5 * 4 * 3 }, (_, i) => Math.cos(i)), [5, 4, 3]);
      const one = new c.LSTM({ inputSize: 3, hiddenSize: 6, seed: 3, backend: 'wasm' });
      c.setThreads(2, 'wasm');
      const two = new c.LSTM({ inputSize: 3, hiddenSize: 6, seed: 3, backend: 'wasm' });
      const want = JSON.stringify(Array.from(one.forward(x).output.data));
      let first;
      try { first = JSON.stringify(Array.from(two.forward(x).output.data)) === want; } catch (e) { first = e.message; }
      console.log(JSON.stringify({ first, next: JSON.stringify(Array.from(two.forward(x).output.data)) === want, threads: c.backend('wasm').threads }));`], {
      cwd: root, env: { ...process.env, CELLSTATE_QUIET: '1', CELLSTATE_TEST_WASM_HELPER_DEATH: 'bogus' }, encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL',
    });
    expect(r.signal, `the child hung (killed after 30 s); stderr: ${r.stderr}`).to.equal(null);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const o = JSON.parse(r.stdout);
    if (o.first !== true) {
      expect(o.first).to.equal('cellstate (wasm): helper thread 1 is gone without answering this forward: it could not be started: CELLSTATE_TEST_WASM_HELPER_DEATH: ' +
        'expected <exit|throw|terminate|oom>@<n>, got "bogus". The forward is abandoned; later forwards run without that helper (on the remaining helpers and the calling thread)');
    }
    expect(o.next).to.equal(true);
    expect(o.threads).to.equal(1);
  });

  it('a process that used helper threads exits by itself', function () {
    const r = runNode("const c = require('./dist'); c.setThreads(2, 'wasm'); const m = new c.LSTM({ inputSize: 2, hiddenSize: 3, backend: 'wasm' }); " +
      "console.log(m.forward(c.tensor(new Float32Array(12).fill(0.5), [2, 3, 2])).output.shape.join(','))", { CELLSTATE_QUIET: '1' });
    expect(r.err).to.equal('');
    expect(r.out.trim()).to.equal('2,3,3');
    expect(r.status).to.equal(0);
  });
});
