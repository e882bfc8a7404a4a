// The native backend: loading and fallback, the library GEMM against a naive product, native vs
// ts parity on shapes that break SIMD code (with sentinels around every buffer the kernels write),
// async calls, and the C++ argument checks (the parity grid: ./helpers/parity.mjs, also run on wasm). Runs on whatever ISA tier CELLSTATE_MAX_ISA selects
// (CI runs the suite once per tier).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LSTM, availableBackends, backend, Rng, setThreads } from 'cellstate';
import { randomTensor } from './helpers/random.mjs';
import { parityTests } from './helpers/parity.mjs';
// Every slot of cellPrepare's gate activations at the kind's default (rnn_tanh tanh, rnn_relu relu, else sigmoid, tanh, tanh).
const defActs = (k) => ({ act0: k === 3 ? 2 : k === 2 ? 1 : 0, alpha0: 0, beta0: 0, act1: 1, alpha1: 0, beta1: 0, act2: 1, alpha2: 0, beta2: 0 });


const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { getBackend } = require('../dist/backend/index.js');
const { loadNative } = require('../dist/backend/native.js');
const schema = require('../dist/backend/schema.gen.js');
const hasNative = availableBackends().includes('native');
// The one ISA table (tiers per architecture, levels, flags) that the builds read too.
const isaTable = require('../native/isa.json');

function runNode(code, env) {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

describe('native backend: loading', function () {
  it('loads when required (CELLSTATE_REQUIRE_NATIVE=1, as in CI), else explains why not', function () {
    if (process.env.CELLSTATE_REQUIRE_NATIVE === '1') {
      expect(loadNative().causes.join('; '), 'load failures').to.satisfy(() => hasNative);
      expect(backend().name).to.equal('native');
    } else if (!hasNative) {
      expect(loadNative().causes.length).to.be.at.least(1);
    } else {
      expect(backend('native').isa).to.be.oneOf(Object.keys(isaTable.isas));
    }
  });
  it('CELLSTATE_BACKEND=native with no loadable addon throws one error listing the causes', function () {
    const r = runNode("require('./dist').backend()", { CELLSTATE_BACKEND: 'native', CELLSTATE_ADDON_PATH: '/nonexistent/cellstate.node' });
    expect(r.err).to.contain('BackendUnavailableError');
    expect(r.err).to.contain('CELLSTATE_ADDON_PATH=/nonexistent/cellstate.node');
  });
  it('without an addon or a wasm module the library falls back to ts and says so exactly once', function () {
    const r = runNode(
      "const c=require('./dist'); new c.LSTM({inputSize:1,hiddenSize:1}); new c.LSTM({inputSize:1,hiddenSize:1}); console.log(c.backend().name)",
      { CELLSTATE_ADDON_PATH: '/nonexistent/cellstate.node', CELLSTATE_WASM_PATH: '/nonexistent/cellstate.wasm', CELLSTATE_BACKEND: '', CELLSTATE_QUIET: '' });
    expect(r.out.trim()).to.equal('ts');
    expect(r.err.match(/CELLSTATE_TS_FALLBACK/g) ?? []).to.have.length(1);
  });
  it('CELLSTATE_BACKEND=ts forces the ts backend; a bad value is a TypeError', function () {
    expect(runNode("console.log(require('./dist').backend().name)", { CELLSTATE_BACKEND: 'ts' }).out.trim()).to.equal('ts');
    expect(runNode("require('./dist').backend()", { CELLSTATE_BACKEND: 'gpu' }).err).to.contain("CELLSTATE_BACKEND: expected 'ts', 'wasm' or 'native'");
  });
  it('CELLSTATE_MAX_ISA caps the kernel tier at every level of native/isa.json, which the C++ tiers match', function () {
    if (!hasNative) return expect(hasNative).to.equal(false);
    // A cap is a level, the same on either kind of CPU (x86-64 avx2 and AArch64 neon are both 1).
    const level = Object.fromEntries(Object.entries(isaTable.isas).map(([isa, row]) => [isa, row.level]));
    const tiers = Object.values(isaTable.arches).find((a) => a.aliases.includes(process.arch))?.tiers ?? ['scalar'];
    const detected = loadNative().addon.info().detectedIsa;
    expect(tiers, `native/isa.json's tiers for ${process.arch}`).to.include(detected);
    for (const cap of Object.keys(level)) {
      const info = JSON.parse(runNode("console.log(JSON.stringify(require('./dist/backend/native.js').loadNative().addon.info()))", { CELLSTATE_MAX_ISA: cap }).out);
      // the highest tier of this architecture at or below both the cap and the CPU
      const want = tiers.filter((t) => level[t] <= Math.min(level[cap], level[detected])).at(-1);
      expect(info.warning, `CELLSTATE_MAX_ISA=${cap}: the C++ side knows every ISA of the table`).to.equal('');
      expect(info.isa, `CELLSTATE_MAX_ISA=${cap} on ${detected}`).to.equal(want);
    }
  });
  it('info().bf16Kernel names the bf16 kernels; at avx512_bf16 CELLSTATE_BF16_KERNEL picks vdpbf16ps or widen (else a timing does), a bad value warns', function () {
    if (!hasNative) return expect(hasNative).to.equal(false);
    const info = (env) => JSON.parse(runNode("console.log(JSON.stringify(require('./dist/backend/native.js').loadNative().addon.info()))", env).out);
    const kinds = { scalar: ['scalar'], avx2: ['widen'], avx2_vnni: ['widen'], avx512: ['widen'], avx512_vnni: ['widen'], avx512_bf16: ['vdpbf16ps', 'widen'], amx: ['amx'], neon: ['widen'] };
    const here = info({});
    expect(kinds[here.isa], here.isa).to.include(here.bf16Kernel);
    expect(info({ CELLSTATE_MAX_ISA: 'scalar' }).bf16Kernel).to.equal('scalar');
    const level = (isa) => isaTable.isas[isa].level;
    if (process.arch !== 'x64' || level(here.detectedIsa) < level('avx512_bf16')) return;
    for (const k of ['vdpbf16ps', 'widen']) {
      const got = info({ CELLSTATE_MAX_ISA: 'avx512_bf16', CELLSTATE_BF16_KERNEL: k });
      expect([got.isa, got.bf16Kernel, got.warning]).to.deep.equal(['avx512_bf16', k, '']);
    }
    const timed = info({ CELLSTATE_MAX_ISA: 'avx512_bf16', CELLSTATE_BF16_KERNEL: '' });
    expect(['vdpbf16ps', 'widen']).to.include(timed.bf16Kernel);
    const bad = info({ CELLSTATE_MAX_ISA: 'avx512_bf16', CELLSTATE_BF16_KERNEL: 'vdp' });
    expect(bad.warning).to.equal("CELLSTATE_BF16_KERNEL='vdp' is not vdpbf16ps or widen; ignored");
    expect(['vdpbf16ps', 'widen']).to.include(bad.bf16Kernel);
  });
  it('the C++ tiers are native/isa.json as generated (native/cpu/isa.gen.h is current)', function () {
    const r = spawnSync(process.execPath, ['scripts/gen-isa.js', '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr + r.stdout).to.equal('');
    expect(r.status).to.equal(0);
    const warn = runNode("console.log(require('./dist/backend/native.js').loadNative().addon?.info().warning ?? '')", { CELLSTATE_MAX_ISA: 'avx9' }).out;
    if (hasNative) expect(warn).to.contain(`is not one of ${Object.keys(isaTable.isas).join('|')}`);
  });
});

(hasNative ? describe : describe.skip)('native backend: kernels', function () {
  const addon = () => loadNative().addon;

  describe('GEMM against a naive product', function () {
    const rng = new Rng(77);
    function naive(ta, tb, M, N, K, A, lda, B, ldb) {
      const C = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
        C[i * N + j] = s;
      }
      return C;
    }
    function filled(n) { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1); return a; }
    let checked = 0;
    for (const packed of [false, true]) for (const ta of packed ? [false] : [false, true]) for (const tb of [false, true]) {
      it(`${packed ? 'packed ' : ''}transA=${ta} transB=${tb}: sizes off the tile, padded strides, sentinels, beta 0 and 1`, function () {
        for (const M of [1, 2, 5, 6, 7, 13]) for (const N of [1, 15, 16, 17, 33, 63, 64, 65]) for (const K of [1, 7, 64, 257]) {
          const [ar, ac] = ta ? [K, M] : [M, K];
          const [br, bc] = tb ? [N, K] : [K, N];
          const lda = ac + 3, ldb = bc + 5, ldc = N + 2, off = 4;
          const A = filled(off + ar * lda), B = filled(off + br * ldb);
          const want = naive(ta, tb, M, N, K, A.subarray(off), lda, B.subarray(off), ldb);
          for (const beta of [0, 1]) {
            const C = new Float32Array(off + M * ldc + 8).fill(NaN);
            for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) C[off + i * ldc + j] = beta ? 0.25 : NaN;
            addon().sgemm(...schema.encodeSgemm({ transA: ta, transB: tb, M, N, K, A, aOffset: off, lda, B, bOffset: off, ldb, beta, C, cOffset: off, ldc, packed }, new Float64Array(schema.SGEMM_HEADER)));
            for (let p = 0; p < C.length; p++) {
              const q = p - off, i = Math.floor(q / ldc), j = q - i * ldc;
              if (q >= 0 && i < M && j < N) {
                const e = want[i * N + j] + (beta ? 0.25 : 0);
                if (!(Math.abs(C[p] - e) <= 1e-5 * Math.sqrt(K) * (1 + Math.abs(e)))) {
                  expect.fail(`M=${M} N=${N} K=${K} beta=${beta} C[${i},${j}] = ${C[p]}, expected ${e}`);
                }
              } else if (!Number.isNaN(C[p])) {
                expect.fail(`M=${M} N=${N} K=${K}: wrote outside C at flat ${p}`);
              }
            }
            checked++;
          }
        }
        expect(checked).to.be.above(0);
      });
    }
  });

  parityTests('native');

  describe('threads', function () {
    it('results do not depend on the thread count (bidirectional directions run concurrently with 2+)', function () {
      const hw = loadNative().addon.info().hardwareThreads;
      const run = (n) => {
        setThreads(n);
        const m = new LSTM({ inputSize: 16, hiddenSize: 40, numLayers: 2, bidirectional: true, seed: 5, backend: 'native' });
        const x = randomTensor(new Rng(1), [20, 9, 16]);
        const r = m.forwardTrain(x, { lengths: [20, 3, 17, 9, 20, 1, 5, 11, 8] });
        const g = m.backward(r.cache, { dOutput: randomTensor(new Rng(2), [20, 9, 80]) });
        return [r.output.data, r.hN.data, g.dX.data, g.grads.weight_hh_l1_reverse.data];
      };
      try {
        const one = run(1), two = run(Math.max(2, hw));
        one.forEach((a, i) => expect(two[i]).to.deep.equal(a));
      } finally {
        setThreads(hw);
      }
    });
  });

  describe('threads (fused LSTM team)', function () {
    // One direction of a plain LSTM runs its whole sequence as a team of threads, each owning a
    // range of hidden units (native/lstm/lstm_forward.cc, lstm_backward.cc). Every element is
    // computed by the same kernel calls whatever the team's size, so results are bit-identical;
    // 3 threads on a 2-core machine also exercises a team larger than the cores.
    // H=200 splits the hidden units; H=40 (one panel of the backward's product) splits the rows.
    it('1, 2 and 3 threads give bit-identical outputs and gradients (H=200 B=7 and H=40 B=120, with and without lengths, both layouts)', function () {
      const hw = loadNative().addon.info().hardwareThreads;
      const run = (n, H, B, batchFirst, withLengths) => {
        setThreads(n);
        const m = new LSTM({ inputSize: 24, hiddenSize: H, batchFirst, seed: 8, backend: 'native' });
        const x = randomTensor(new Rng(3), batchFirst ? [B, 30, 24] : [30, B, 24]);
        const lengths = withLengths ? Array.from({ length: B }, (_, b) => 1 + ((b * 13) % 30)) : undefined;
        const r = m.forwardTrain(x, { lengths });
        const g = m.backward(r.cache, { dOutput: randomTensor(new Rng(4), batchFirst ? [B, 30, H] : [30, B, H]) });
        return [r.output.data, r.hN.data, r.cN.data, g.dX.data, g.grads.weight_ih_l0.data, g.grads.weight_hh_l0.data, g.grads.bias_hh_l0.data];
      };
      try {
        for (const [H, B] of [[200, 7], [40, 120]]) for (const batchFirst of [false, true]) for (const withLengths of [false, true]) {
          const one = run(1, H, B, batchFirst, withLengths);
          for (const n of [2, 3]) {
            const many = run(n, H, B, batchFirst, withLengths);
            one.forEach((a, i) => expect(many[i], `H=${H} threads=${n} batchFirst=${batchFirst} lengths=${withLengths} result ${i}`).to.deep.equal(a));
          }
        }
      } finally {
        setThreads(hw);
      }
    });
  });

  describe('async calls', function () {
    it('many concurrent forwardAsync calls give the sync results', async function () {
      const rng = new Rng(3);
      const m = new LSTM({ inputSize: 8, hiddenSize: 33, numLayers: 2, bidirectional: true, seed: 2, backend: 'native' });
      const xs = Array.from({ length: 40 }, (_, i) => randomTensor(rng, [5 + (i % 7), 1 + (i % 4), 8]));
      const want = xs.map((x) => m.forward(x));
      const got = await Promise.all(xs.map((x) => m.forwardAsync(x)));
      got.forEach((g, i) => {
        expect(g.output.data).to.deep.equal(want[i].output.data);
        expect(g.hN.data).to.deep.equal(want[i].hN.data);
      });
    });
    it('forwardTrainAsync + backwardAsync give the sync gradients', async function () {
      const rng = new Rng(4);
      const m = new LSTM({ inputSize: 5, hiddenSize: 17, numLayers: 2, bidirectional: true, seed: 2, backend: 'native' });
      const x = randomTensor(rng, [6, 3, 5]), dOutput = randomTensor(rng, [6, 3, 34]);
      const s = m.backward(m.forwardTrain(x, { lengths: [6, 2, 4] }).cache, { dOutput });
      const r = await m.forwardTrainAsync(x, { lengths: [6, 2, 4] });
      const a = await m.backwardAsync(r.cache, { dOutput });
      expect(a.dX.data).to.deep.equal(s.dX.data);
      for (const k of Object.keys(s.grads)) expect(a.grads[k].data).to.deep.equal(s.grads[k].data);
    });
    it('weights replaced while a call is in flight: the call uses the weights of its start', async function () {
      const rng = new Rng(5);
      const m = new LSTM({ inputSize: 64, hiddenSize: 128, seed: 2, backend: 'native' });
      const x = randomTensor(rng, [50, 16, 64]);
      const want = m.forward(x);
      const p = m.forwardAsync(x);
      m.loadStateDict(new LSTM({ inputSize: 64, hiddenSize: 128, seed: 9 }).stateDict());
      expect((await p).output.data).to.deep.equal(want.output.data);
    });
    it('released packed weights: later calls throw a TypeError, a call in flight finishes with them', async function () {
      const be = getBackend('native');
      const params = (seed) => {
        const m = new LSTM({ inputSize: 16, hiddenSize: 64, seed, backend: 'native' });
        const p = Object.fromEntries(m.namedParameters().map(([n, t]) => [n, t.data]));
        return { kind: 'lstm', inputSize: 16, hiddenSize: 64, projSize: 0, weightIh: p.weight_ih_l0, weightHh: p.weight_hh_l0, biasIh: p.bias_ih_l0,
          biasHh: p.bias_hh_l0, weightHr: null, peephole: null, inputForget: false, clip: null, linearBeforeReset: true, flags: {}, extra: {} };
      };
      const w = be.prepare(params(1));
      const T = 200, B = 8, rng = new Rng(4);
      const args = () => ({ T, B, rowT: B, rowB: 1, reverse: false, lengths: null, x: randomTensor(rng, [T * B * 16]).data, xOffset: 0, ldx: 16,
        y: new Float32Array(T * B * 64), yOffset: 0, ldy: 64, h0: null, c0: null, hN: new Float32Array(B * 64), cN: new Float32Array(B * 64) });
      const a = args(), b = { ...a, y: new Float32Array(T * B * 64), hN: new Float32Array(B * 64), cN: new Float32Array(B * 64) };
      be.forward(w, b, false);
      const p = be.forwardAsync(w, a, false);
      be.release(w);
      be.release(w); // twice: harmless
      for (let i = 0; i < 20; i++) be.prepare(params(2 + i)); // reuse the freed memory if it was freed
      await p;
      expect(a.y).to.deep.equal(b.y);
      expect(() => be.forward(w, args(), false)).to.throw(TypeError, /^cellForward: w \(argument 1\): expected prepared cell weights that were not released/);
      expect(() => be.forward(w, args(), true)).to.throw(TypeError, /^cellCacheSize: w \(argument 1\): expected prepared cell weights that were not released/);
      expect(() => addon().cellCacheSize(...schema.encodeCellCacheSize({ w: w.handle, T: 1, B: 1 }, new Float64Array(2)))).to.throw(TypeError, /not released/);
    });
    it('the event loop keeps ticking while a long call runs', async function () {
      const rng = new Rng(6);
      const m = new LSTM({ inputSize: 256, hiddenSize: 512, seed: 2, backend: 'native' });
      const x = randomTensor(rng, [400, 64, 256]); // ~0.2 s on 2 cores (T = 100 had come down to 50 ms)
      // Measured from when the call has returned its promise: checking and copying the input and
      // allocating the outputs happen before that, on the calling thread (with
      // CELLSTATE_POISON_UNINIT their NaN fill alone took ~200 ms of this machine's 450).
      const t0 = performance.now();
      const p = m.forwardAsync(x);
      const setup = performance.now() - t0;
      let last = performance.now(), worst = 0, ticks = 0;
      const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; }, 1);
      await p;
      const took = performance.now() - t0;
      clearInterval(timer);
      // The compute takes a good fraction of a second after the promise is returned (a call that
      // computed before returning would fail here); a blocked loop would show a gap that long.
      const off = took - setup;
      expect(off, `ms between the promise's return and its settling (setup took ${setup.toFixed(0)} ms)`).to.be.above(100);
      expect(ticks).to.be.above(5);
      expect(worst, `worst timer gap during the ${off.toFixed(0)} ms after the call returned`).to.be.below(Math.max(40, off / 3));
    });
  });

  describe('the addon re-checks what would be unsafe', function () {
    const f = (n) => new Float32Array(n);
    const w = () => getBackend('native').prepare({ kind: 'lstm', inputSize: 2, hiddenSize: 3, projSize: 0, weightIh: f(24), weightHh: f(36),
      biasIh: null, biasHh: null, weightHr: null, peephole: null, inputForget: false, clip: null, linearBeforeReset: true, flags: {}, extra: {} }).handle;
    // One descriptor per call (scripts/addon-schema.js), encoded as the library encodes it; a
    // case overrides fields by name (a function: the raw wire arguments instead).
    const fwd = (over) => () => {
      const d = { w: w(), T: 4, B: 2, rowT: 2, rowB: 1, reverse: false, lengths: null, x: f(16), xOffset: 0, ldx: 2, y: f(24), yOffset: 0, ldy: 3,
        h0: null, c0: null, hN: f(6), cN: f(6), cache: null, ...over };
      return addon().cellForward(...schema.encodeCellForward(d, new Float64Array(schema.CELL_FORWARD_HEADER)));
    };
    const prep = (over) => () => {
      // The LSTM's list: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, peephole_i, peephole_f, peephole_o.
      const d = { kind: 0, I: 2, H: 3, P: 0, flags: 0, clip: 0, precision: 0, ...defActs(0), params: [f(24), f(36), null, null, null, null, null, null], qparams: null, qscales: null, ...over };
      return addon().cellPrepare(...schema.encodeCellPrepare(d, new Float64Array(schema.CELL_PREPARE_HEADER)));
    };
    const wire = (edit) => () => {
      const a = schema.encodeCellForward({ w: w(), T: 4, B: 2, rowT: 2, rowB: 1, reverse: false, lengths: null, x: f(16), xOffset: 0, ldx: 2, y: f(24),
        yOffset: 0, ldy: 3, h0: null, c0: null, hN: f(6), cN: f(6), cache: null }, new Float64Array(schema.CELL_FORWARD_HEADER));
      return addon().cellForward(...edit(a));
    };
    const cases = [
      ['a valid call', fwd({}), null],
      ['x too short', fwd({ x: f(15) }), [RangeError, 'x: expected at least 16 elements, got 15']],
      ['x offset pushes past the end', fwd({ xOffset: 1 }), [RangeError, 'x: expected at least 17']],
      ['y stride below H', fwd({ ldy: 2 }), [RangeError, 'ldy: expected an integer in [3, 2147483648], got 2']],
      ['x as Float64Array', fwd({ x: new Float64Array(16) }), [TypeError, 'cellForward: x (argument 3): expected a Float32Array']],
      ['hN too short', fwd({ hN: f(5) }), [RangeError, 'hN: expected at least 6']],
      ['an LSTM without cN', fwd({ cN: null }), [TypeError, 'cN (argument 8): expected a Float32Array']],
      ['rows outside T*B', fwd({ rowT: 3 }), [RangeError, 'rowT/rowB map rows outside']],
      ['lengths too long', fwd({ lengths: Int32Array.of(5, 1) }), [RangeError, 'lengths: every entry must be in [1, T]']],
      ['lengths as a plain array', fwd({ lengths: [1, 1] }), [TypeError, 'lengths (argument 2): expected an Int32Array or null']],
      ['lengths of the wrong count', fwd({ lengths: Int32Array.of(1) }), [RangeError, 'lengths: expected 2 entries, got 1']],
      ['not prepared weights', fwd({ w: {} }), [TypeError, 'w (argument 1): expected prepared cell weights']],
      ['a fractional T', fwd({ T: 2.5 }), [RangeError, 'T: expected an integer in [1, 2147483648], got 2.5']],
      ['a negative B', fwd({ B: -1 }), [RangeError, 'B: expected an integer']],
      ['a NaN offset', fwd({ yOffset: NaN }), [RangeError, 'yOffset: expected an integer in [0, 2147483648], got NaN']],
      ['a huge T*B', fwd({ T: 2 ** 31, B: 2 ** 31 }), [RangeError, 'T*B is too large']],
      ['a training cache too short', fwd({ cache: f(10) }), [RangeError, 'cache: expected at least']],
      ['a flag other than 0 or 1', wire((a) => { a[0][4] = 2; return a; }), [RangeError, 'reverse: expected 0 or 1 (a flag), got 2']],
      ['the header as a Float32Array', wire((a) => [new Float32Array(a[0]), ...a.slice(1)]), [TypeError, 'cellForward: argument 0: expected the header, a Float64Array of 9 (T, B, rowT, rowB, reverse, xOffset, ldx, yOffset, ldy)']],
      ['a header one field short', wire((a) => [a[0].subarray(1), ...a.slice(1)]), [TypeError, 'expected the header']],
      ['a header in a SharedArrayBuffer (copied before it is checked)', wire((a) => { const h = new Float64Array(new SharedArrayBuffer(72)); h.set(a[0]); return [h, ...a.slice(1)]; }), null],
      ['too few arguments', () => addon().cellForward(new Float64Array(9), w()), [TypeError, 'cellForward: expected 10 arguments, got 2']],
      ['prepare: unknown kind', prep({ kind: 7 }), [RangeError, `kind: expected an integer in [0, ${Object.keys(schema.CELL_KIND_CODE).length - 1}], got 7`]],
      ['prepare: weights too short', prep({ params: [f(24), f(35), null, null, null, null, null, null] }), [RangeError, 'params[1] (weight_hh): expected at least 36 elements, got 35']],
      ['prepare: projection without weight_hr', prep({ P: 2, params: [f(24), f(24), null, null, null, null, null, null] }), [TypeError, 'params[4] (weight_hr) (argument 1): expected a Float32Array']],
      ['prepare: projSize >= H', prep({ P: 3, params: [f(24), f(36), null, null, f(9), null, null, null] }), [RangeError, 'P: expected an integer in [0, 2]']],
      ['prepare: unknown flag bits', prep({ flags: 4 }), [RangeError, 'flags: expected an integer in [0, 3]']],
      ['prepare: a list without the LSTM\'s own entries', prep({ params: [f(24), f(36), null, null] }), [TypeError, 'params (argument 1): expected an Array of 8 entries for a lstm cell']],
      ['prepare: negative clip', prep({ clip: -1 }), [RangeError, 'clip']],
      ['prepare: NaN clip', prep({ clip: NaN }), [RangeError, 'clip']],
      ['prepare: peephole flag without peepholes', prep({ flags: schema.CELL_KINDS.lstm.flags.peephole }), [TypeError, 'params[5] (peephole_i) (argument 1): expected a Float32Array']],
      ['prepare: peepholes without the flag', prep({ params: [f(24), f(36), null, null, null, f(3), null, null] }), [TypeError, 'params[5] (peephole_i) (argument 1): expected null (this cell has none)']],
      ['firstNonFinite: a Float64Array', () => addon().firstNonFinite(new Float64Array(4)), [TypeError, 'firstNonFinite: a (argument 0): expected a Float32Array']],
      ['firstNonFinite: no argument', () => addon().firstNonFinite(), [TypeError, 'firstNonFinite: expected 1 arguments, got 0']],
      ['setThreads: 0', () => addon().setThreads(new Float64Array([0])), [RangeError, 'setThreads: threads: expected an integer in [1, 1024], got 0']],
      ['setThreads: a plain number', () => addon().setThreads(4), [TypeError, 'setThreads: argument 0: expected the header, a Float64Array of 1 (threads)']],
      ['fmaPeak: 2000 threads', () => addon().fmaPeak(new Float64Array([2000])), [RangeError, 'fmaPeak: threads: expected an integer in [1, 1024], got 2000']],
      ['sgemm: beta 0.5', () => addon().sgemm(new Float64Array([0, 0, 1, 1, 1, 0, 1, 0, 1, 0.5, 0, 1, 0]), f(1), f(1), f(1)), [RangeError, 'sgemm: beta: expected 0 or 1, got 0.5']],
      ['sgemm: C too short', () => addon().sgemm(new Float64Array([0, 0, 2, 2, 1, 0, 1, 0, 2, 0, 0, 2, 0]), f(2), f(2), f(3)), [RangeError, 'sgemm: C: expected at least 4 elements, got 3']],
    ];
    it('firstNonFinite: the first NaN/±Inf of a view (byteOffset respected), across block edges', function () {
      const buf = new Float32Array(3000);
      const view = buf.subarray(7, 2900);
      expect(addon().firstNonFinite(view)).to.equal(-1);
      let first = Infinity;
      for (const [at, v] of [[2892, NaN], [1024, Infinity], [512, NaN], [511, -Infinity], [600, NaN], [0, NaN]]) {
        view[at] = v;
        first = Math.min(first, at);
        expect(addon().firstNonFinite(view)).to.equal(first);
      }
      buf[3] = NaN; buf[2950] = NaN; // outside the view
      view.fill(1);
      expect(addon().firstNonFinite(view)).to.equal(-1);
      expect(addon().firstNonFinite(new Float32Array(0))).to.equal(-1);
    });
    for (const [name, fn, err] of cases) {
      it(err ? `${name}: ${err[0].name}` : name, function () {
        if (err) expect(fn).to.throw(err[0], err[1]);
        else expect(fn).to.not.throw();
      });
    }
  });
});
