// The native backend: loading and fallback, the library GEMM against a naive product, native vs
// ts parity on shapes that break SIMD code (with sentinels around every buffer the kernels write),
// async calls, and the C++ argument checks. Runs on whatever ISA tier CELLSTATE_MAX_ISA selects
// (CI runs the suite once per tier).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LSTM, availableBackends, backend, Rng } from 'cellstate';
import { randomTensor } from './helpers/random.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { getBackend } = require('../dist/backend/index.js');
const { loadNative } = require('../dist/backend/native.js');
const hasNative = availableBackends().includes('native');

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
      expect(backend('native').isa).to.be.oneOf(['scalar', 'avx2', 'avx512']);
    }
  });
  it('CELLSTATE_BACKEND=native with no loadable addon throws one error listing the causes', function () {
    const r = runNode("require('./dist').backend()", { CELLSTATE_BACKEND: 'native', CELLSTATE_ADDON_PATH: '/nonexistent/cellstate.node' });
    expect(r.err).to.contain('BackendUnavailableError');
    expect(r.err).to.contain('CELLSTATE_ADDON_PATH=/nonexistent/cellstate.node');
  });
  it('without an addon the library falls back to ts and says so exactly once', function () {
    const r = runNode(
      "const c=require('./dist'); new c.LSTM({inputSize:1,hiddenSize:1}); new c.LSTM({inputSize:1,hiddenSize:1}); console.log(c.backend().name)",
      { CELLSTATE_ADDON_PATH: '/nonexistent/cellstate.node', CELLSTATE_BACKEND: '', CELLSTATE_QUIET: '' });
    expect(r.out.trim()).to.equal('ts');
    expect(r.err.match(/CELLSTATE_TS_FALLBACK/g) ?? []).to.have.length(1);
  });
  it('CELLSTATE_BACKEND=ts forces the ts backend; a bad value is a TypeError', function () {
    expect(runNode("console.log(require('./dist').backend().name)", { CELLSTATE_BACKEND: 'ts' }).out.trim()).to.equal('ts');
    expect(runNode("require('./dist').backend()", { CELLSTATE_BACKEND: 'gpu' }).err).to.contain("CELLSTATE_BACKEND: expected 'ts' or 'native'");
  });
  it('CELLSTATE_MAX_ISA caps the kernel tier', function () {
    if (!hasNative) return expect(hasNative).to.equal(false);
    const caps = { scalar: 0, avx2: 1, avx512: 2 };
    const detected = loadNative().addon.info().detectedIsa;
    for (const cap of ['scalar', 'avx2', 'avx512']) {
      const isa = runNode("console.log(require('./dist').backend('native').isa)", { CELLSTATE_MAX_ISA: cap }).out.trim();
      expect(isa).to.equal(caps[cap] <= caps[detected] ? cap : detected);
    }
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
            addon().sgemm(ta, tb, M, N, K, A, off, lda, B, off, ldb, beta, C, off, ldc, packed);
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

  describe('native vs ts parity on shapes that break SIMD code', function () {
    const Hs = [1, 3, 7, 8, 9, 15, 16, 17, 33, 64], Is = [1, 5, 32], Ts = [1, 2, 64], Bs = [1, 3, 8];
    const close = (a, b, atol, rtol) => Math.abs(a - b) <= atol + rtol * Math.abs(b);

    /** Rows of `width` at offset `off`, stride `ld`, in a buffer whose every other element is NaN. */
    function sentinelRows(N, width, off, ld) { return new Float32Array(off + N * ld + 5).fill(NaN); }
    function expectRows(got, want, N, width, off, ld, what, atol, rtol) {
      for (let p = 0; p < got.length; p++) {
        const q = p - off, r = Math.floor(q / ld), j = q - r * ld;
        if (q >= 0 && r < N && j < width) {
          if (!close(got[p], want[r * width + j], atol, rtol)) expect.fail(`${what}[${r},${j}]: native ${got[p]}, ts ${want[r * width + j]}`);
        } else if (!Number.isNaN(got[p])) expect.fail(`${what}: wrote outside its rows at flat ${p}`);
      }
    }

    for (const H of Hs) {
      it(`H=${H}: every I in {1,5,32}, T in {1,2,64}, B in {1,3,8}; forward, backward, lengths, reverse`, function () {
        const nat = getBackend('native'), ts = getBackend('ts');
        const rng = new Rng(H * 31);
        for (const I of Is) for (const T of Ts) for (const B of Bs) {
          const rand = (n, s = 1) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rng.uniform(-s, s); return a; };
          const G = 4 * H, N = T * B;
          const params = { inputSize: I, hiddenSize: H, weightIh: rand(G * I, 0.5), weightHh: rand(G * H, 0.5), biasIh: rand(G), biasHh: rand(G) };
          const wn = nat.lstmPrepare(params), wt = ts.lstmPrepare(params);
          const reverse = (I + T + B) % 2 === 1;
          const lengths = B > 1 && T > 1 ? Int32Array.from({ length: B }, (_, b) => 1 + ((b * 7 + H) % T)) : null;
          const ldx = I + 2, xOff = 3;
          const x = rand(xOff + N * ldx);
          const h0 = rand(B * H), c0 = rand(B * H);
          const seq = { T, B, rowT: B, rowB: 1, reverse, lengths };
          // ts reference: plain buffers.
          const yT = new Float32Array(N * H), hNT = new Float32Array(B * H), cNT = new Float32Array(B * H);
          const kT = ts.lstmForward(wt, { ...seq, x, xOffset: xOff, ldx, y: yT, yOffset: 0, ldy: H, h0, c0, hN: hNT, cN: cNT }, true);
          // native: sentinel-filled buffers with padded strides.
          const ldy = H + 3, yOff = 2;
          const y = sentinelRows(N, H, yOff, ldy), hN = new Float32Array(B * H).fill(NaN), cN = new Float32Array(B * H).fill(NaN);
          const kN = nat.lstmForward(wn, { ...seq, x, xOffset: xOff, ldx, y, yOffset: yOff, ldy, h0, c0, hN, cN }, true);
          const tag = `I=${I} T=${T} B=${B} rev=${reverse} len=${lengths ? Array.from(lengths) : '-'}`;
          expectRows(y, yT, N, H, yOff, ldy, `${tag} y`, 1e-5, 1e-4);
          expectRows(hN, hNT, B, H, 0, H, `${tag} hN`, 1e-5, 1e-4);
          expectRows(cN, cNT, B, H, 0, H, `${tag} cN`, 1e-5, 1e-4);

          const dy = rand(N * H), dhN = rand(B * H), dcN = rand(B * H);
          const grads = () => ({ dWeightIh: new Float32Array(G * I), dWeightHh: new Float32Array(G * H), dBiasIh: new Float32Array(G), dBiasHh: new Float32Array(G) });
          const gT = grads(), dxT = new Float32Array(N * I), dh0T = new Float32Array(B * H), dc0T = new Float32Array(B * H);
          ts.lstmBackward(wt, kT, { dy, dyOffset: 0, lddy: H, dhN, dcN, dx: dxT, dxOffset: 0, lddx: I, dh0: dh0T, dc0: dc0T, ...gT });
          const gN = grads(), dx = sentinelRows(N, I, 1, I + 1), dh0 = new Float32Array(B * H).fill(NaN), dc0 = new Float32Array(B * H).fill(NaN);
          for (let r = 0; r < N; r++) for (let i = 0; i < I; i++) dx[1 + r * (I + 1) + i] = 0; // dx accumulates
          nat.lstmBackward(wn, kN, { dy, dyOffset: 0, lddy: H, dhN, dcN, dx, dxOffset: 1, lddx: I + 1, dh0, dc0, ...gN });
          expectRows(dx, dxT, N, I, 1, I + 1, `${tag} dx`, 1e-4, 1e-3);
          expectRows(dh0, dh0T, B, H, 0, H, `${tag} dh0`, 1e-4, 1e-3);
          expectRows(dc0, dc0T, B, H, 0, H, `${tag} dc0`, 1e-4, 1e-3);
          for (const k of Object.keys(gT)) expectRows(gN[k], gT[k], 1, gT[k].length, 0, gT[k].length, `${tag} ${k}`, 1e-4 * Math.sqrt(N), 1e-3);
        }
      });
    }
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
    it('the event loop keeps ticking while a long call runs', async function () {
      const rng = new Rng(6);
      const m = new LSTM({ inputSize: 256, hiddenSize: 512, seed: 2, backend: 'native' });
      const x = randomTensor(rng, [100, 64, 256]);
      let last = performance.now(), worst = 0, ticks = 0;
      const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; }, 1);
      const t0 = performance.now();
      await m.forwardAsync(x);
      const took = performance.now() - t0;
      clearInterval(timer);
      // The call takes a good fraction of a second; a blocked loop would show a gap that long.
      expect(took).to.be.above(50);
      expect(ticks).to.be.above(5);
      expect(worst, `worst timer gap during a ${took.toFixed(0)} ms call`).to.be.below(Math.max(40, took / 3));
    });
  });

  describe('the addon re-checks what would be unsafe', function () {
    const f = (n) => new Float32Array(n);
    const w = () => getBackend('native').lstmPrepare({ inputSize: 2, hiddenSize: 3, weightIh: f(24), weightHh: f(36), biasIh: null, biasHh: null }).handle;
    // lstmForward(w, T, B, rowT, rowB, reverse, lengths, x, xOff, ldx, y, yOff, ldy, h0, c0, hN, cN, gates, c, hprev, c0copy)
    const fwd = (over) => {
      const a = [w(), 4, 2, 2, 1, false, null, f(16), 0, 2, f(24), 0, 3, null, null, f(6), f(6), null, null, null, null];
      for (const [i, v] of Object.entries(over)) a[i] = v;
      return () => addon().lstmForward(...a);
    };
    const cases = [
      ['a valid call', fwd({}), null],
      ['x too short', fwd({ 7: f(15) }), [RangeError, 'x: expected at least 16 elements, got 15']],
      ['x offset pushes past the end', fwd({ 8: 1 }), [RangeError, 'x: expected at least 17']],
      ['y stride below H', fwd({ 12: 2 }), [RangeError, 'argument 12: expected an integer in [3,']],
      ['x as Float64Array', fwd({ 7: new Float64Array(16) }), [TypeError, 'a Float32Array for x']],
      ['hN too short', fwd({ 15: f(5) }), [RangeError, 'hN: expected at least 6']],
      ['rows outside T*B', fwd({ 3: 3 }), [RangeError, 'rowT/rowB map rows outside']],
      ['lengths too long', fwd({ 6: Int32Array.of(5, 1) }), [RangeError, 'lengths: every entry must be in [1, T]']],
      ['lengths as a plain array', fwd({ 6: [1, 1] }), [TypeError, 'an Int32Array of lengths']],
      ['lengths of the wrong count', fwd({ 6: Int32Array.of(1) }), [RangeError, 'lengths: expected B entries']],
      ['not prepared weights', fwd({ 0: {} }), [TypeError, 'prepared LSTM weights']],
      ['a fractional T', fwd({ 1: 2.5 }), [RangeError, 'argument 1: expected an integer']],
      ['a negative B', fwd({ 2: -1 }), [RangeError, 'argument 2']],
      ['a huge T*B', fwd({ 1: 2 ** 31, 2: 2 ** 31 }), [RangeError, 'T*B is too large']],
      ['training buffers too short', fwd({ 17: f(10), 18: f(24), 19: f(24), 20: f(6) }), [RangeError, 'gates: expected at least 96']],
      ['too few arguments', () => addon().lstmForward(w()), [TypeError, 'expected 21 arguments']],
    ];
    for (const [name, fn, err] of cases) {
      it(err ? `${name}: ${err[0].name}` : name, function () {
        if (err) expect(fn).to.throw(err[0], err[1]);
        else expect(fn).to.not.throw();
      });
    }
  });
});
