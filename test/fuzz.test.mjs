// Seeded fuzzing with a short budget (CELLSTATE_FUZZ_MS, default 3000 ms per part; scripts/harden.sh
// and scripts/fuzz-api.mjs run longer): the public API on every backend (test/helpers/fuzz-api.mjs)
// and the raw addon entry points, whose C++ re-checks are the last line before memory is touched.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { availableBackends, Rng } from 'cellstate';
import { fuzzApi } from './helpers/fuzz-api.mjs';
// Every slot of cellPrepare's gate activations at the kind's default (rnn_tanh tanh, rnn_relu relu, else sigmoid, tanh, tanh).
const defActs = (k) => ({ act0: k === 3 ? 2 : k === 2 ? 1 : 0, alpha0: 0, beta0: 0, act1: 1, alpha1: 0, beta1: 0, act2: 1, alpha2: 0, beta2: 0 });


const require = createRequire(import.meta.url);
const { loadNative } = require('../dist/backend/native.js');
const schema = require('../dist/backend/schema.gen.js');
const KIND_CODE = schema.CELL_KIND_CODE;
const MS = Number(process.env.CELLSTATE_FUZZ_MS ?? 3000);
const hasNative = availableBackends().includes('native');

describe('fuzzing', function () {
  this.timeout(MS * 4 + 30000);

  it(`public API on ${availableBackends().join(' and ')}: every call succeeds correctly or throws a named argument error`, async function () {
    const s = await fuzzApi({ seed: 20240601, ms: MS, backends: availableBackends() });
    console.log(`      fuzz: ${s.tried} inputs, ${s.ok} succeeded, threw ${JSON.stringify(s.threw)}`);
    expect(s.failures.map((f) => `${f.target} (seed ${f.seed} round ${f.round}) ${f.desc}: ${f.error}`)).to.deep.equal([]);
    expect(s.tried).to.be.above(100);
    expect(Object.keys(s.perTarget).length).to.be.above(15);
  });

  (hasNative ? it : it.skip)('native addon: hostile descriptors throw TypeError/RangeError, never crash', function () {
    // Valid descriptors (scripts/addon-schema.js) encoded to the wire, then 1-3 hostile edits: a
    // header field set to a hostile number, or any wire argument (the header itself included)
    // replaced by a hostile value or a resized Float32Array; sometimes hostile lengths or a wrong
    // argument count.
    const addon = loadNative().addon;
    const rng = new Rng(7);
    const int = (n) => Math.floor(rng.next() * n);
    const pick = (a) => a[int(a.length)];
    const f32 = (n) => new Float32Array(Math.max(0, n));
    const nums = [0, 1, 2, 3, 4, 5, 7, -1, 2.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 63, -0, 1e308];
    const arb = () => pick([null, undefined, true, 1, -1, 2 ** 40, NaN, f32(int(40)), new Float64Array(4), new Float64Array(20), new Int32Array(2), {}, [], 'x', 3n,
      (() => { const a = f32(8); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; })(), new Float32Array(new SharedArrayBuffer(64))]);
    // A cell's parameter list, each entry sized by its declared shape and there when declared so.
    const list = (kind, I, H, P, flags) => {
      const k = schema.SCHEMA.cellKinds[kind], G = k.gates * H, dims = { I, H, P: P || H, G };
      return [...schema.SCHEMA.cellParams, ...k.params].map((q) => {
        const there = q.when === 'always' || q.when === 'optional' || (q.when === 'projection' ? P > 0 : (flags & schema.CELL_KINDS[k.name].flags[q.when]) !== 0);
        return there ? f32(q.shape.reduce((a, d) => a * dims[d], 1)) : null;
      });
    };
    const prepare = (kind, I, H, P, flags, clip) => addon.cellPrepare(...schema.encodeCellPrepare({ kind, I, H, P, flags, clip, precision: 0, ...defActs(kind), params: list(kind, I, H, P, flags), qparams: null, qscales: null },
      new Float64Array(schema.CELL_PREPARE_HEADER)));
    let tried = 0, ok = 0;
    const deadline = Date.now() + MS;
    while (Date.now() < deadline) {
      const kind = int(4), I = 1 + int(5), H = 2 + int(6), P = kind === 0 && rng.next() < 0.3 ? 1 + int(H - 1) : 0;
      const flags = int(1 + Object.values(schema.CELL_KINDS[schema.SCHEMA.cellKinds[kind].name].flags).reduce((a, b) => a | b, 0)), clip = rng.next() < 0.3 ? 1 : 0;
      const w = prepare(kind, I, H, P, flags, clip);
      const T = 1 + int(5), B = 1 + int(4), N = T * B, Hout = P || H, G = schema.CELL_GATES[schema.SCHEMA.cellKinds[kind].name] * H;
      const lstm = kind === KIND_CODE.lstm;
      const cacheN = addon.cellCacheSize(...schema.encodeCellCacheSize({ w, T, B }, new Float64Array(2)));
      const seq = { w, T, B, rowT: B, rowB: 1, reverse: rng.next() < 0.5, lengths: null };
      const x = f32(N * I), cache = f32(cacheN);
      const fwd = schema.encodeCellForward({ ...seq, x, xOffset: 0, ldx: I, y: f32(N * Hout), yOffset: 0, ldy: Hout, h0: null, c0: null,
        hN: f32(B * Hout), cN: lstm ? f32(B * H) : null, cache }, new Float64Array(schema.CELL_FORWARD_HEADER));
      const bwd = schema.encodeCellBackward({ ...seq, x, xOffset: 0, ldx: I, cache, dy: f32(N * Hout), dyOffset: 0, lddy: Hout, dhN: null, dcN: null,
        dx: f32(N * I), dxOffset: 0, lddx: I, dh0: f32(B * Hout), dc0: lstm ? f32(B * H) : null, grads: list(kind, I, H, P, flags) },
        new Float64Array(schema.CELL_BACKWARD_HEADER));
      // The GEMM test hook reads the most index arithmetic of any call: a valid random one, then edited.
      const [M, Nn, K] = [int(9), int(70), 1 + int(9)], ta = rng.next() < 0.5, tb = rng.next() < 0.5, ld = (c) => c + int(3);
      const lda = ld(ta ? M : K), ldb = ld(tb ? K : Nn), ldc = ld(Nn);
      const gemm = schema.encodeSgemm({ transA: ta, transB: tb, M, N: Nn, K, A: f32((ta ? K : M) * lda + 2), aOffset: int(3), lda, B: f32((tb ? Nn : K) * ldb + 2),
        bOffset: int(3), ldb, beta: int(2), C: f32(M * ldc + 2), cOffset: int(3), ldc, packed: !ta && rng.next() < 0.5 }, new Float64Array(schema.SGEMM_HEADER));
      const u = rng.next();
      const [args, fn] = u < 0.4 ? [fwd, 'cellForward'] : u < 0.8 ? [bwd, 'cellBackward'] : [gemm, 'sgemm'];
      const k = 1 + int(3);
      for (let j = 0; j < k; j++) {
        if (rng.next() < 0.5 && args[0] instanceof Float64Array && args[0].length > 0) {
          args[0][int(args[0].length)] = pick(nums); // a header field
        } else {
          const i = int(args.length);
          if (Array.isArray(args[i]) && args[i].length > 0 && rng.next() < 0.7) { // an entry of the gradient list
            const l = args[i], e = int(l.length);
            l[e] = rng.next() < 0.5 && l[e] instanceof Float32Array ? f32(l[e].length + int(5) - 3) : rng.next() < 0.3 ? null : arb();
            if (rng.next() < 0.1) l.length = int(l.length + 2);
          } else args[i] = rng.next() < 0.5 && args[i] instanceof Float32Array ? f32(args[i].length + int(5) - 3) : arb();
        }
      }
      if (fn !== 'sgemm' && rng.next() < 0.2) args[2] = Int32Array.from({ length: B }, () => pick([1, T, T + 1, 0, -1])); // lengths
      if (rng.next() < 0.1) args.length = int(args.length + 2);
      tried++;
      try {
        addon[fn](...args);
        ok++;
      } catch (e) {
        if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
        expect(e.message).to.match(/^(cellForward|cellBackward|sgemm): /);
      }
    }
    console.log(`      addon fuzz: ${tried} calls, ${ok} accepted (every accepted call was in bounds by the C++ checks)`);
    expect(tried).to.be.above(50);
  });

  (hasNative ? it : it.skip)('native addon: row layouts other than (B, 1) / (1, T) are refused (aliased rows)', function () {
    const addon = loadNative().addon;
    const f = (n) => new Float32Array(n);
    const w = addon.cellPrepare(...schema.encodeCellPrepare({ kind: KIND_CODE.rnn_tanh, I: 2, H: 3, P: 0, flags: 0, clip: 0, precision: 0, ...defActs(KIND_CODE.rnn_tanh), params: [f(6), f(9), null, null], qparams: null, qscales: null },
      new Float64Array(schema.CELL_PREPARE_HEADER)));
    const forward = (T, B, rowT, rowB, x, y, hN) => addon.cellForward(...schema.encodeCellForward({ w, T, B, rowT, rowB, reverse: false, lengths: null,
      x, xOffset: 0, ldx: 2, y, yOffset: 0, ldy: 3, h0: null, c0: null, hN, cN: null, cache: null }, new Float64Array(schema.CELL_FORWARD_HEADER)));
    // T*B = 2^30 rows mapped onto row 0: tiny buffers passed the old check.
    expect(() => forward(2 ** 15, 2 ** 15, 0, 0, f(2), f(3), f(3 * 2 ** 15)))
      .to.throw(RangeError, 'rowT/rowB map rows outside the T*B rows or onto each other: expected (B, 1) or (1, T)');
    expect(() => forward(2, 2, 1, 1, f(8), f(12), f(6))).to.throw(RangeError, 'onto each other');
    forward(2, 3, 1, 2, f(12), f(18), f(9)); // batch-first
  });
});

describe('native training cache', function () {
  (hasNative ? it : it.skip)('backward does not depend on what the cache buffer held before forward (variable lengths)', function () {
    // Found by native/tests/fuzz_cell.cc: padded rows of the cache were never written, and the
    // weight-gradient GEMMs multiplied their zero ∂ rows by whatever the buffer held (NaN -> NaN).
    const addon = loadNative().addon;
    const f = (n, v = 0) => new Float32Array(n).fill(v);
    const rng = new Rng(3);
    const rnd = (n) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
    for (const [kind, G] of [[KIND_CODE.gru, 3], [KIND_CODE.lstm, 4], [KIND_CODE.rnn_tanh, 1]]) {
      const I = 3, H = 4, T = 5, B = 2, N = T * B, GH = G * H;
      const none = kind === KIND_CODE.lstm ? [null, null, null, null] : []; // the LSTM's weight_hr and peepholes
      const w = addon.cellPrepare(...schema.encodeCellPrepare({ kind, I, H, P: 0, flags: 0, clip: 0.5, precision: 0, ...defActs(kind), params: [rnd(GH * I), rnd(GH * H), rnd(GH), rnd(GH), ...none], qparams: null, qscales: null },
        new Float64Array(schema.CELL_PREPARE_HEADER)));
      const x = rnd(N * I), dy = rnd(N * H), lengths = Int32Array.of(2, 5);
      const seq = { w, T, B, rowT: B, rowB: 1, reverse: true, lengths };
      const run = (fillValue) => {
        const cache = f(addon.cellCacheSize(...schema.encodeCellCacheSize({ w, T, B }, new Float64Array(2))), fillValue);
        const lstm = kind === KIND_CODE.lstm;
        addon.cellForward(...schema.encodeCellForward({ ...seq, x, xOffset: 0, ldx: I, y: f(N * H), yOffset: 0, ldy: H, h0: null, c0: null,
          hN: f(B * H), cN: lstm ? f(B * H) : null, cache }, new Float64Array(schema.CELL_FORWARD_HEADER)));
        const dWih = f(GH * I), dWhh = f(GH * H), dBih = f(GH), dBhh = f(GH);
        addon.cellBackward(...schema.encodeCellBackward({ ...seq, x, xOffset: 0, ldx: I, cache, dy, dyOffset: 0, lddy: H, dhN: null, dcN: null,
          dx: f(N * I), dxOffset: 0, lddx: I, dh0: f(B * H), dc0: lstm ? f(B * H) : null, grads: [dWih, dWhh, dBih, dBhh, ...none] },
          new Float64Array(schema.CELL_BACKWARD_HEADER)));
        return [...dWih, ...dWhh, ...dBih, ...dBhh];
      };
      const clean = run(0), dirty = run(NaN);
      expect(clean.every(Number.isFinite)).to.equal(true);
      expect(dirty, `kind ${kind}`).to.deep.equal(clean);
    }
  });
});
