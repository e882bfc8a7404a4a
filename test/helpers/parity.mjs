// Backend vs ts parity on shapes that break SIMD code (with sentinels around every buffer the
// kernels write): one layer-direction through the Backend interface on `name` and on ts, every
// output and gradient compared. Run for native (test/native.test.mjs) and wasm (test/wasm.test.mjs).
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { Rng } from 'cellstate';

const require = createRequire(import.meta.url);
const { getBackend } = require('../../dist/backend/index.js');

export function parityTests(name) {
describe(`${name} vs ts parity on shapes that break SIMD code`, function () {
  const close = (a, b, atol, rtol) => Math.abs(a - b) <= atol + rtol * Math.abs(b);

  /** Rows of `width` at offset `off`, stride `ld`, in a buffer whose every other element is NaN. */
  function sentinelRows(N, off, ld) { return new Float32Array(off + N * ld + 5).fill(NaN); }
  function expectRows(got, want, N, width, off, ld, what, atol, rtol) {
    for (let p = 0; p < got.length; p++) {
      const q = p - off, r = Math.floor(q / ld), j = q - r * ld;
      if (q >= 0 && r < N && j < width) {
        if (!close(got[p], want[r * width + j], atol, rtol)) expect.fail(`${what}[${r},${j}]: ${name} ${got[p]}, ts ${want[r * width + j]}`);
      } else if (!Number.isNaN(got[p])) expect.fail(`${what}: wrote outside its rows at flat ${p}`);
    }
  }

  /** One layer-direction on both backends with the same weights; compares every output and gradient. */
  function compare(cell, I, H, T, B, rng, opt = {}) {
    const nat = getBackend(name), ts = getBackend('ts');
    const rand = (n, s = 1) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rng.uniform(-s, s); return a; };
    const G = { lstm: 4, gru: 3, rnn_tanh: 1, rnn_relu: 1 }[cell.kind] * H, N = T * B;
    const P = cell.projSize || H, hasC = cell.kind === 'lstm';
    const params = {
      kind: cell.kind, inputSize: I, hiddenSize: H, projSize: cell.projSize ?? 0,
      weightIh: rand(G * I, opt.scale ?? 0.5), weightHh: rand(G * P, opt.scale ?? 0.5), biasIh: rand(G), biasHh: rand(G),
      weightHr: cell.projSize ? rand(P * H, 0.5) : null,
      peephole: cell.peephole ? { i: rand(H), f: rand(H), o: rand(H) } : null,
      inputForget: !!cell.inputForget, clip: cell.clip ?? null, linearBeforeReset: cell.linearBeforeReset ?? true,
    };
    // The same generically, as the layer hands them over (CellParams.flags, .extra).
    params.flags = cell.kind === 'lstm' ? { peephole: !!cell.peephole, inputForget: !!cell.inputForget } : cell.kind === 'gru' ? { linearBeforeReset: params.linearBeforeReset } : {};
    params.extra = { ...(params.weightHr ? { weight_hr: params.weightHr } : {}), ...(params.peephole ? { peephole_i: params.peephole.i, peephole_f: params.peephole.f, peephole_o: params.peephole.o } : {}) };
    const wn = nat.prepare(params), wt = ts.prepare(params);
    const reverse = opt.reverse ?? (I + T + B) % 2 === 1;
    const lengths = (opt.lengths ?? true) && B > 1 && T > 1 ? Int32Array.from({ length: B }, (_, b) => 1 + ((b * 7 + H) % T)) : null;
    const ldx = I + 2, xOff = 3;
    const x = rand(xOff + N * ldx);
    const h0 = rand(B * P), c0 = hasC ? rand(B * H) : null;
    const seq = opt.batchFirst ? { T, B, rowT: 1, rowB: T, reverse, lengths } : { T, B, rowT: B, rowB: 1, reverse, lengths };
    const yT = new Float32Array(N * P), hNT = new Float32Array(B * P), cNT = hasC ? new Float32Array(B * H) : null;
    const kT = ts.forward(wt, { ...seq, x, xOffset: xOff, ldx, y: yT, yOffset: 0, ldy: P, h0, c0, hN: hNT, cN: cNT }, true);
    const ldy = P + 3, yOff = 2;
    const y = sentinelRows(N, yOff, ldy), hN = new Float32Array(B * P).fill(NaN), cN = hasC ? new Float32Array(B * H).fill(NaN) : null;
    const kN = nat.forward(wn, { ...seq, x, xOffset: xOff, ldx, y, yOffset: yOff, ldy, h0, c0, hN, cN }, true);
    const tag = `${JSON.stringify(cell)} I=${I} H=${H} T=${T} B=${B} bf=${!!opt.batchFirst} rev=${reverse} len=${lengths ? Array.from(lengths) : '-'}`;
    expectRows(y, yT, N, P, yOff, ldy, `${tag} y`, 1e-5, 1e-4);
    expectRows(hN, hNT, B, P, 0, P, `${tag} hN`, 1e-5, 1e-4);
    if (hasC) expectRows(cN, cNT, B, H, 0, H, `${tag} cN`, 1e-5, 1e-4);

    const dy = rand(N * P), dhN = rand(B * P), dcN = hasC ? rand(B * H) : null;
    const grads = () => {
      const g = {
        dWeightIh: new Float32Array(G * I), dWeightHh: new Float32Array(G * P), dBiasIh: new Float32Array(G), dBiasHh: new Float32Array(G),
        dWeightHr: cell.projSize ? new Float32Array(P * H) : null,
        dPeephole: cell.peephole ? { i: new Float32Array(H), f: new Float32Array(H), o: new Float32Array(H) } : null,
      };
      const dExtra = { ...(g.dWeightHr ? { weight_hr: g.dWeightHr } : {}), ...(g.dPeephole ? { peephole_i: g.dPeephole.i, peephole_f: g.dPeephole.f, peephole_o: g.dPeephole.o } : {}) };
      return { ...g, dExtra };
    };
    const gT = grads(), dxT = new Float32Array(N * I), dh0T = new Float32Array(B * P), dc0T = hasC ? new Float32Array(B * H) : null;
    ts.backward(wt, kT, { dy, dyOffset: 0, lddy: P, dhN, dcN, dx: dxT, dxOffset: 0, lddx: I, dh0: dh0T, dc0: dc0T, ...gT });
    const gN = grads(), dx = sentinelRows(N, 1, I + 1), dh0 = new Float32Array(B * P).fill(NaN), dc0 = hasC ? new Float32Array(B * H).fill(NaN) : null;
    for (let r = 0; r < N; r++) for (let i = 0; i < I; i++) dx[1 + r * (I + 1) + i] = 0; // dx accumulates
    nat.backward(wn, kN, { dy, dyOffset: 0, lddy: P, dhN, dcN, dx, dxOffset: 1, lddx: I + 1, dh0, dc0, ...gN });
    expectRows(dx, dxT, N, I, 1, I + 1, `${tag} dx`, 1e-4, 1e-3);
    expectRows(dh0, dh0T, B, P, 0, P, `${tag} dh0`, 1e-4, 1e-3);
    if (hasC) expectRows(dc0, dc0T, B, H, 0, H, `${tag} dc0`, 1e-4, 1e-3);
    const flat = (g) => ({ ...g, dPeephole: undefined, dExtra: undefined, ...(g.dPeephole ? { pi: g.dPeephole.i, pf: g.dPeephole.f, po: g.dPeephole.o } : {}) });
    const fT = flat(gT), fN = flat(gN);
    for (const k of Object.keys(fT)) if (fT[k]) expectRows(fN[k], fT[k], 1, fT[k].length, 0, fT[k].length, `${tag} ${k}`, 1e-4 * Math.sqrt(N), 1e-3);
  }

  // The fused LSTM path: every shape of the SIMD-breaking grid.
  for (const H of [1, 3, 7, 8, 9, 15, 16, 17, 33, 64]) {
    it(`LSTM H=${H}: every I in {1,5,32}, T in {1,2,64}, B in {1,3,8}; forward, backward, lengths, reverse`, function () {
      const rng = new Rng(H * 31);
      for (const I of [1, 5, 32]) for (const T of [1, 2, 64]) for (const B of [1, 3, 8]) compare({ kind: 'lstm' }, I, H, T, B, rng);
    });
  }
  // The forward computes X·W_ihᵀ a chunk of steps at a time (GxChunks, about 384 KB of it: 118-122
  // rows for this LSTM, 163 for the GRU, 491 for the RNN): runs over several chunks, with and
  // without lengths (rows gathered) and reverse, in both row layouts, and B = 1 (rows strided).
  it('LSTM H=200 over several input-projection chunks: lengths, reverse, time-major and batch-first, B in {1,5,9}', function () {
    const rng = new Rng(99);
    for (const B of [1, 5, 9]) for (const batchFirst of [false, true]) for (const reverse of [false, true]) for (const lengths of [false, true]) {
      compare({ kind: 'lstm' }, 6, 200, 41, B, rng, { batchFirst, reverse, lengths, scale: 1 / Math.sqrt(200) }); // PyTorch's init scale: no chaotic error growth over 41 steps
    }
  });
  // A small H with many rows: the backward's team splits the state rows (one panel of units).
  it('LSTM H=40 B=120: forward and backward with lengths, reverse, both layouts', function () {
    const rng = new Rng(41);
    for (const batchFirst of [false, true]) for (const reverse of [false, true]) {
      compare({ kind: 'lstm' }, 5, 40, 9, 120, rng, { batchFirst, reverse });
    }
  });
  const chunkVariants = [
    { kind: 'lstm', projSize: 50 }, { kind: 'lstm', peephole: true, inputForget: true, clip: 1.5 },
    { kind: 'gru' }, { kind: 'gru', linearBeforeReset: false, clip: 2 }, { kind: 'rnn_tanh' }, { kind: 'rnn_relu' },
  ];
  for (const cell of chunkVariants) {
    it(`${JSON.stringify(cell)} H=200 over several input-projection chunks: lengths, reverse, both layouts`, function () {
      const rng = new Rng(5);
      for (const [B, batchFirst, reverse, lengths] of [[9, false, false, false], [9, true, true, true], [9, false, true, true], [1, false, false, false]]) {
        compare(cell, 6, 200, 64, B, rng, { batchFirst, reverse, lengths, scale: 1 / Math.sqrt(200) });
      }
    });
  }
  // Every other cell and variant on a smaller grid that still crosses the vector widths.
  const variants = [
    { kind: 'lstm', projSize: 2 }, { kind: 'lstm', peephole: true }, { kind: 'lstm', inputForget: true },
    { kind: 'lstm', clip: 0.7 }, { kind: 'lstm', peephole: true, inputForget: true, clip: 1.1, projSize: 3 },
    { kind: 'gru' }, { kind: 'gru', linearBeforeReset: false }, { kind: 'gru', clip: 0.6 }, { kind: 'gru', linearBeforeReset: false, clip: 0.8 },
    { kind: 'rnn_tanh' }, { kind: 'rnn_relu' }, { kind: 'rnn_tanh', clip: 0.5 }, { kind: 'rnn_relu', clip: 0.4 },
  ];
  for (const cell of variants) {
    it(`${JSON.stringify(cell)}: H in {1,7,16,17}, I in {1,5}, T in {1,9}, B in {1,3}`, function () {
      const rng = new Rng(7);
      for (const H of [4, 7, 16, 17]) for (const I of [1, 5]) for (const T of [1, 9]) for (const B of [1, 3]) {
        if (cell.projSize && cell.projSize >= H) continue;
        compare(cell, I, H, T, B, rng);
      }
    });
  }
});
}
