// Inspection (Recurrent.inspect, Sequential.inspect; docs/inspection.md) and the per-step state
// gradients (Recurrent.stateGradients). The recorded gates are recomputed from the weights by a
// float64 reference written out below (PyTorch's LSTM / GRU / RNN equations, docs/equations.md),
// fed the recorded previous state; h and c must equal forward's results exactly; every backend
// agrees with ts. The state gradients are checked against central differences.
import { expect } from 'chai';
import { availableBackends, GRU, LayerNormLSTM, Linear, LSTM, RNN, Sequential, Embedding, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

const sig = (v) => 1 / (1 + Math.exp(-v));
const GATES = { LSTM: ['i', 'f', 'g', 'o'], GRU: ['r', 'z', 'n'], RNN: [], LayerNormLSTM: ['i', 'f', 'g', 'o'] };

/** W·v for a row block: rows [r0, r0+n) of W [rows, cols]. */
function mv(W, cols, r0, n, v) {
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < cols; k++) s += W[(r0 + j) * cols + k] * v[k]; out[j] = s; }
  return out;
}

/**
 * The float64 reference of one step of layer-direction (k, d): gates and states from x_t and the
 * recorded state the step started from. Returns { name: Float64Array(H) }.
 */
function refStep(type, sd, sfx, H, I, x, hPrev, cPrev, nonlinearity) {
  const W = (n) => sd[`${n}${sfx}`].data;
  const G = (GATES[type].length || 1) * H;
  const gi = mv(W('weight_ih'), I, 0, G, x), gh = mv(W('weight_hh'), H, 0, G, hPrev);
  const bi = W('bias_ih'), bh = W('bias_hh');
  const out = {};
  if (type === 'LSTM') {
    const a = (q, j) => gi[q * H + j] + bi[q * H + j] + gh[q * H + j] + bh[q * H + j];
    for (const n of ['i', 'f', 'g', 'o', 'c', 'h']) out[n] = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      out.i[j] = sig(a(0, j)); out.f[j] = sig(a(1, j)); out.g[j] = Math.tanh(a(2, j)); out.o[j] = sig(a(3, j));
      out.c[j] = out.f[j] * cPrev[j] + out.i[j] * out.g[j];
      out.h[j] = out.o[j] * Math.tanh(out.c[j]);
    }
  } else if (type === 'GRU') {
    for (const n of ['r', 'z', 'n', 'h']) out[n] = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      out.r[j] = sig(gi[j] + bi[j] + gh[j] + bh[j]);
      out.z[j] = sig(gi[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
      out.n[j] = Math.tanh(gi[2 * H + j] + bi[2 * H + j] + out.r[j] * (gh[2 * H + j] + bh[2 * H + j]));
      out.h[j] = (1 - out.z[j]) * out.n[j] + out.z[j] * hPrev[j];
    }
  } else {
    out.h = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      const v = gi[j] + bi[j] + gh[j] + bh[j];
      out.h[j] = nonlinearity === 'relu' ? Math.max(0, v) : Math.tanh(v);
    }
  }
  return out;
}

const at = (t, T, B, U, ti, b) => t.data.subarray((ti * B + b) * U, (ti * B + b + 1) * U);

function makeModel(type, opts) {
  const C = { LSTM, GRU, RNN, LayerNormLSTM }[type];
  return new C(opts);
}

const CONFIGS = [
  { type: 'LSTM', extra: {} },
  { type: 'GRU', extra: {} },
  { type: 'RNN', extra: {} },
  { type: 'RNN', extra: { nonlinearity: 'relu' } },
  { type: 'LayerNormLSTM', extra: {} },
];

describe('inspect: every step\'s gates and states', function () {
  const T = 6, B = 3, I = 4, H = 5;
  const lengths = [6, 2, 4];

  for (const { backend, dtype } of backendCases()) {
    for (const { type, extra } of CONFIGS) {
      for (const batchFirst of [false, true]) {
        it(`${type}${extra.nonlinearity ? ' relu' : ''} on ${backend} ${dtype}${batchFirst ? ', batch-first' : ''}: 2 layers, bidirectional, lengths`, function () {
          const m = makeModel(type, { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst, seed: 7, dtype, backend, ...extra });
          const x = randomTensor(new Rng(3), batchFirst ? [B, T, I] : [T, B, I], dtype);
          const r = m.inspect(x, { lengths });
          const f = m.forward(x, { lengths });
          // The forward's results, unchanged.
          expect(Array.from(r.output.data)).to.deep.equal(Array.from(f.output.data));
          expect(Array.from(r.hN.data)).to.deep.equal(Array.from(f.hN.data));
          expect(r.layers).to.have.length(4);
          const names = [...GATES[type], ...(m.hasCellState ? ['c'] : []), 'h'];
          for (const [i, L] of r.layers.entries()) {
            expect(L.layer).to.equal(i >> 1);
            expect(L.direction).to.equal(i & 1);
            expect(L.reverse).to.equal((i & 1) === 1);
            expect(Object.keys(L.values)).to.deep.equal(names);
            for (const n of names) expect(L.values[n].shape).to.deep.equal([T, B, H]);
            for (let b = 0; b < B; b++) {
              // h equals the output exactly (last layer) and the final state equals hN / cN.
              const tLast = L.reverse ? 0 : lengths[b] - 1;
              expect(Array.from(at(L.values.h, T, B, H, tLast, b))).to.deep.equal(Array.from(f.hN.data.subarray((i * B + b) * H, (i * B + b + 1) * H)));
              if (m.hasCellState) expect(Array.from(at(L.values.c, T, B, H, tLast, b))).to.deep.equal(Array.from(f.cN.data.subarray((i * B + b) * H, (i * B + b + 1) * H)));
              for (let t = 0; t < T; t++) {
                if (L.layer === 1) {
                  const o = f.output.data, D2 = 2 * H;
                  const row = batchFirst ? b * T + t : t * B + b;
                  expect(Array.from(at(L.values.h, T, B, H, t, b))).to.deep.equal(Array.from(o.subarray(row * D2 + L.direction * H, row * D2 + L.direction * H + H)));
                }
                if (t >= lengths[b]) for (const n of names) expect(Array.from(at(L.values[n], T, B, H, t, b)).every((v) => v === 0), `${n} past the length`).to.equal(true);
              }
            }
          }
          if (type === 'LayerNormLSTM') return; // its reference: the parity test below (ts is the spec)
          // Recompute every gate of every step from the weights, fed the recorded previous state.
          const sd = m.stateDict();
          const tol = dtype === 'float64' ? 1e-12 : 2e-5;
          for (const L of r.layers) {
            const sfx = `_l${L.layer}${L.direction ? '_reverse' : ''}`;
            const Ik = L.layer === 0 ? I : 2 * H;
            for (let b = 0; b < B; b++) {
              for (let t = 0; t < lengths[b]; t++) {
                let xt;
                if (L.layer === 0) xt = batchFirst ? x.data.subarray((b * T + t) * I, (b * T + t + 1) * I) : x.data.subarray((t * B + b) * I, (t * B + b + 1) * I);
                else xt = Float64Array.from([...at(r.layers[0].values.h, T, B, H, t, b), ...at(r.layers[1].values.h, T, B, H, t, b)]);
                const tp = L.reverse ? t + 1 : t - 1;
                const first = tp < 0 || tp >= lengths[b];
                const hPrev = first ? new Float64Array(H) : at(L.values.h, T, B, H, tp, b);
                const cPrev = first || !L.values.c ? new Float64Array(H) : at(L.values.c, T, B, H, tp, b);
                const want = refStep(type, sd, sfx, H, Ik, xt, hPrev, cPrev, extra.nonlinearity);
                for (const n of Object.keys(want)) {
                  const got = at(L.values[n], T, B, H, t, b);
                  for (let j = 0; j < H; j++) expect(Math.abs(got[j] - want[n][j]), `${n}${sfx} t=${t} b=${b} j=${j}`).to.be.below(tol);
                }
              }
            }
          }
        });
      }
    }
  }

  for (const backend of availableBackends().filter((b) => b !== 'ts')) {
    for (const { type, extra } of CONFIGS) {
      it(`${type}${extra.nonlinearity ? ' relu' : ''}: ${backend} records what ts records (within 1e-5)`, function () {
        const opts = { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 11, ...extra };
        const x = randomTensor(new Rng(5), [T, B, I]);
        const a = makeModel(type, { ...opts, backend }).inspect(x, { lengths });
        const b = makeModel(type, { ...opts, backend: 'ts' }).inspect(x, { lengths });
        for (const [i, L] of a.layers.entries()) {
          for (const n of Object.keys(L.values)) {
            const u = L.values[n].data, v = b.layers[i].values[n].data;
            let worst = 0;
            for (let j = 0; j < u.length; j++) worst = Math.max(worst, Math.abs(u[j] - v[j]));
            expect(worst, `${n} of layer-direction ${i}`).to.be.below(1e-5);
          }
        }
      });
    }
  }

  it('an LSTM with projection and peepholes: gates, c and the projected h', function () {
    const m = new LSTM({ inputSize: I, hiddenSize: H, projSize: 2, peephole: true, seed: 2, backend: 'ts', dtype: 'float64' });
    const x = randomTensor(new Rng(9), [T, B, I], 'float64');
    const r = m.inspect(x);
    expect(r.layers[0].values.h.shape).to.deep.equal([T, B, 2]);
    expect(r.layers[0].values.c.shape).to.deep.equal([T, B, H]);
    expect(Array.from(r.layers[0].values.h.data)).to.deep.equal(Array.from(m.forward(x).output.data));
    // h_t = W_hr (o * tanh c) from the recorded o and c.
    const Whr = m.stateDict().weight_hr_l0.data;
    const o = r.layers[0].values.o.data, c = r.layers[0].values.c.data, h = r.layers[0].values.h.data;
    for (let row = 0; row < T * B; row++) {
      for (let p = 0; p < 2; p++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += Whr[p * H + j] * o[row * H + j] * Math.tanh(c[row * H + j]);
        expect(Math.abs(h[row * 2 + p] - s)).to.be.below(1e-12);
      }
    }
  });

  it('Sequential.inspect records each recurrent layer, null for the others; its output is forward\'s', function () {
    const model = new Sequential([new Embedding({ numEmbeddings: 7, embeddingDim: 3, seed: 1 }), new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1 }), new GRU({ inputSize: 4, hiddenSize: 2, seed: 2 }), new Linear({ inFeatures: 2, outFeatures: 7, seed: 3 })]);
    const x = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    const r = model.inspect(x);
    expect(r.layers.map((l) => (l ? l.length : null))).to.deep.equal([null, 1, 1, null]);
    expect(Object.keys(r.layers[1][0].values)).to.deep.equal(['i', 'f', 'g', 'o', 'c', 'h']);
    expect(Object.keys(r.layers[2][0].values)).to.deep.equal(['r', 'z', 'n', 'h']);
    expect(Array.from(r.output.data)).to.deep.equal(Array.from(model.forward(x).output.data));
  });

  it('refuses a quantized model, naming what to do', function () {
    const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 }).quantize('bf16');
    expect(() => m.inspect(randomTensor(new Rng(1), [T, B, I]))).to.throw(TypeError, /LSTM\.inspect: this: expected an fp32 model .*inspect the fp32 model it came from/);
  });

  it('leaves the dropout stream alone: training after an inspect draws the masks it would have drawn', function () {
    const mk = () => new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, dropout: 0.5, seed: 4, backend: 'ts' });
    const x = randomTensor(new Rng(2), [T, B, I]);
    const a = mk(), b = mk();
    a.inspect(x);
    expect(a.forwardTrain(x).cache.dropoutMasks).to.deep.equal(b.forwardTrain(x).cache.dropoutMasks);
  });
});

describe('stateGradients: ∂loss/∂h_t and ∂loss/∂c_t of every step', function () {
  const T = 5, B = 2, I = 3, H = 4;
  for (const type of ['LSTM', 'GRU', 'RNN', 'LayerNormLSTM']) {
    it(`${type}: equal central differences of the loss in a perturbation of h_t (c_t), float64`, function () {
      // loss = sum(w ⊙ output) at the last step only. ∂loss/∂h_t is checked by adding eps to h_t:
      // the steps after t are rerun from (h_t + eps e_j, c_t) via forward with h0 / c0; likewise c_t.
      const m = makeModel(type, { inputSize: I, hiddenSize: H, seed: 3, backend: 'ts', dtype: 'float64' });
      const x = randomTensor(new Rng(8), [T, B, I], 'float64');
      const wl = randomTensor(new Rng(9), [B, H], 'float64');
      const dOut = new Float64Array(T * B * H);
      dOut.set(wl.data, (T - 1) * B * H);
      const { cache } = m.forwardTrain(x);
      const g = m.stateGradients(cache, { dOutput: tensor(dOut, [T, B, H], 'float64') });
      const plain = m.backward(m.forwardTrain(x).cache, { dOutput: tensor(dOut, [T, B, H], 'float64') });
      expect(Array.from(g.dX.data)).to.deep.equal(Array.from(plain.dX.data)); // the same backward
      const ins = m.inspect(x).layers[0].values;
      const lossFrom = (t, h, c) => {
        if (t === T - 1) { let s = 0; for (let k = 0; k < B * H; k++) s += wl.data[k] * h[k]; return s; }
        const rest = tensor(x.data.slice((t + 1) * B * I), [T - 1 - t, B, I], 'float64');
        const o = m.forward(rest, { h0: tensor(h, [1, B, H], 'float64'), c0: c ? tensor(c, [1, B, H], 'float64') : undefined }).output.data;
        let s = 0;
        for (let k = 0; k < B * H; k++) s += wl.data[k] * o[(T - 2 - t) * B * H + k];
        return s;
      };
      const eps = 1e-6;
      for (const t of [0, 2, T - 1]) {
        const h = ins.h.data.slice(t * B * H, (t + 1) * B * H);
        const c = ins.c ? ins.c.data.slice(t * B * H, (t + 1) * B * H) : null;
        for (const [name, v, got] of [['h', h, g.steps[0].dH], ...(c ? [['c', c, g.steps[0].dC]] : [])]) {
          for (let k = 0; k < B * H; k++) {
            const p = v.slice(), q = v.slice();
            p[k] += eps; q[k] -= eps;
            // c_t moves h_t = o_t ⊙ tanh(c_t) too (both LSTMs): the total derivative.
            const hOf = (cc) => cc.map((cv, j) => ins.o.data[t * B * H + j] * Math.tanh(cv));
            const num = name === 'h' ? (lossFrom(t, p, c) - lossFrom(t, q, c)) / (2 * eps) : (lossFrom(t, hOf(p), p) - lossFrom(t, hOf(q), q)) / (2 * eps);
            expect(Math.abs(got.data[t * B * H + k] - num), `d${name} t=${t} k=${k}`).to.be.below(1e-7);
          }
        }
      }
    });
  }

  it('refuses a model on another backend, naming useBackend(\'ts\')', function () {
    const other = availableBackends().find((b) => b !== 'ts');
    if (!other) this.skip();
    const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1, backend: other });
    const { cache } = m.forwardTrain(randomTensor(new Rng(1), [T, B, I]));
    expect(() => m.stateGradients(cache)).to.throw(TypeError, /LSTM\.stateGradients: this: expected a model on the 'ts' backend \(useBackend\('ts'\)/);
  });
});
