// Seeded fuzzing with a short budget (CELLSTATE_FUZZ_MS, default 3000 ms per part; scripts/harden.sh
// and scripts/fuzz-api.mjs run longer): the public API on every backend (test/helpers/fuzz-api.mjs)
// and the raw addon entry points, whose C++ re-checks are the last line before memory is touched.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { availableBackends, Rng } from 'cellstate';
import { fuzzApi } from './helpers/fuzz-api.mjs';

const require = createRequire(import.meta.url);
const { loadNative, KIND_CODE } = require('../dist/backend/native.js');
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

  (hasNative ? it : it.skip)('native addon: hostile raw arguments throw TypeError/RangeError, never crash', function () {
    const addon = loadNative().addon;
    const rng = new Rng(7);
    const int = (n) => Math.floor(rng.next() * n);
    const pick = (a) => a[int(a.length)];
    const f32 = (n) => new Float32Array(Math.max(0, n));
    const nums = [0, 1, 2, 3, 4, 5, 7, -1, 2.5, NaN, Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 53, -0];
    const arb = () => pick([null, undefined, true, 1, -1, 2 ** 40, NaN, f32(int(40)), new Float64Array(4), new Int32Array(2), {}, [], 'x', 3n,
      (() => { const a = f32(8); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; })(), new Float32Array(new SharedArrayBuffer(64))]);
    const prepare = (kind, I, H, P, flags, clip) => {
      const G = (kind === 0 ? 4 : kind === 1 ? 3 : 1) * H, Hout = P || H;
      return addon.cellPrepare(kind, I, H, P, flags, clip, f32(G * I), f32(G * Hout), f32(G), f32(G), P ? f32(P * H) : null,
        flags & 1 ? f32(H) : null, flags & 1 ? f32(H) : null, flags & 1 ? f32(H) : null);
    };
    let tried = 0, ok = 0;
    const deadline = Date.now() + MS;
    while (Date.now() < deadline) {
      const kind = int(4), I = 1 + int(5), H = 2 + int(6), P = kind === 0 && rng.next() < 0.3 ? 1 + int(H - 1) : 0;
      const flags = kind === 0 ? int(8) : int(8) & 4, clip = rng.next() < 0.3 ? 1 : 0;
      const w = prepare(kind, I, H, P, flags, clip);
      const T = 1 + int(5), B = 1 + int(4), N = T * B, Hout = P || H, G = (kind === 0 ? 4 : kind === 1 ? 3 : 1) * H;
      const lstm = kind === 0;
      const cacheN = addon.cellCacheSize(w, T, B);
      const fwd = [w, T, B, B, 1, rng.next() < 0.5, null, f32(N * I), 0, I, f32(N * Hout), 0, Hout, null, null, f32(B * Hout), lstm ? f32(B * H) : null, f32(cacheN)];
      const bwd = [w, T, B, B, 1, fwd[5], null, fwd[7], 0, I, fwd[17], f32(N * Hout), 0, Hout, null, null, f32(N * I), 0, I, f32(B * Hout), lstm ? f32(B * H) : null,
        f32(G * I), f32(G * Hout), f32(G), f32(G), P ? f32(P * H) : null, flags & 1 && lstm ? f32(H) : null, flags & 1 && lstm ? f32(H) : null, flags & 1 && lstm ? f32(H) : null];
      const [args, fn] = rng.next() < 0.5 ? [fwd, 'cellForward'] : [bwd, 'cellBackward'];
      const k = 1 + int(3);
      for (let j = 0; j < k; j++) {
        const i = int(args.length);
        args[i] = rng.next() < 0.5 ? pick(nums) : rng.next() < 0.5 ? f32(Math.max(0, (args[i]?.length ?? 4) + int(5) - 3)) : arb();
      }
      if (rng.next() < 0.2) args[6] = Int32Array.from({ length: B }, () => pick([1, T, T + 1, 0, -1]));
      if (rng.next() < 0.1) args.length = int(args.length + 2);
      tried++;
      try {
        addon[fn](...args);
        ok++;
      } catch (e) {
        if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
        expect(e.message).to.match(/^(cellForward|cellBackward): /);
      }
    }
    console.log(`      addon fuzz: ${tried} calls, ${ok} accepted (every accepted call was in bounds by the C++ checks)`);
    expect(tried).to.be.above(50);
  });

  (hasNative ? it : it.skip)('native addon: row layouts other than (B, 1) / (1, T) are refused (aliased rows)', function () {
    const addon = loadNative().addon;
    const f = (n) => new Float32Array(n);
    const w = addon.cellPrepare(KIND_CODE.rnn_tanh, 2, 3, 0, 0, 0, f(6), f(9), null, null, null, null, null, null);
    // T*B = 2^30 rows mapped onto row 0: tiny buffers passed the old check.
    expect(() => addon.cellForward(w, 2 ** 15, 2 ** 15, 0, 0, false, null, f(2), 0, 2, f(3), 0, 3, null, null, f(3 * 2 ** 15), null, null))
      .to.throw(RangeError, 'rowT/rowB map rows outside the T*B rows or onto each other: expected (B, 1) or (1, T)');
    expect(() => addon.cellForward(w, 2, 2, 1, 1, false, null, f(8), 0, 2, f(12), 0, 3, null, null, f(6), null, null)).to.throw(RangeError, 'onto each other');
    addon.cellForward(w, 2, 3, 1, 2, false, null, f(12), 0, 2, f(18), 0, 3, null, null, f(9), null, null); // batch-first
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
      const w = addon.cellPrepare(kind, I, H, 0, kind === KIND_CODE.gru ? 0 : 0, 0.5, rnd(GH * I), rnd(GH * H), rnd(GH), rnd(GH), null, null, null, null);
      const x = rnd(N * I), dy = rnd(N * H), lengths = Int32Array.of(2, 5);
      const run = (fillValue) => {
        const cache = f(addon.cellCacheSize(w, T, B), fillValue);
        const lstm = kind === KIND_CODE.lstm;
        addon.cellForward(w, T, B, B, 1, true, lengths, x, 0, I, f(N * H), 0, H, null, null, f(B * H), lstm ? f(B * H) : null, cache);
        const dWih = f(GH * I), dWhh = f(GH * H), dBih = f(GH), dBhh = f(GH);
        addon.cellBackward(w, T, B, B, 1, true, lengths, x, 0, I, cache, dy, 0, H, null, null, f(N * I), 0, I, f(B * H), lstm ? f(B * H) : null, dWih, dWhh, dBih, dBhh, null, null, null, null);
        return [...dWih, ...dWhh, ...dBih, ...dBhh];
      };
      const clean = run(0), dirty = run(NaN);
      expect(clean.every(Number.isFinite)).to.equal(true);
      expect(dirty, `kind ${kind}`).to.deep.equal(clean);
    }
  });
});
