// Central finite differences in float64 against backward(), for every gradient BPTT returns
// (x, h0, c0, every parameter), over shapes and options that exercise the index arithmetic.
import { expect } from 'chai';
import { GRU, LayerNormLSTM, LSTM, RNN, tensor } from 'cellstate';
import { randomTensor, Rng } from './helpers/random.mjs';
import { fdCheck, pickIndices } from './helpers/gradcheck.mjs';


/** loss = Σ output*R + Σ hN*S (+ Σ cN*U) with fixed random R, S, U. */
function makeLoss(model, x, h0, c0, lengths, up) {
  return () => {
    const r = model.forward(x, { h0, c0, lengths });
    let s = 0;
    for (const [t, u] of [[r.output, up.dOutput], [r.hN, up.dHN], [r.cN, up.dCN]]) {
      if (!t) continue;
      for (let i = 0; i < t.data.length; i++) s += t.data[i] * u.data[i];
    }
    return s;
  };
}

/** Central differences at up to `maxCoords` coordinates of arr (see helpers/gradcheck.mjs). */
function checkArray(name, arr, analytic, loss, rng, maxCoords, reprepare) {
  fdCheck(name, arr, analytic, loss, reprepare, pickIndices(arr.length, maxCoords, rng));
}

const Cls = { LSTM, GRU, RNN, LayerNormLSTM };
const configs = [];
for (const H of [1, 3, 8, 17]) configs.push({ cls: 'LSTM', I: 3, H, T: 4, B: 2 });
configs.push({ cls: 'LSTM', I: 2, H: 3, T: 5, B: 3, lengths: [5, 2, 4] });
configs.push({ cls: 'LSTM', I: 2, H: 3, T: 4, B: 2, bidirectional: true, batchFirst: true });
configs.push({ cls: 'LSTM', I: 3, H: 2, T: 3, B: 3, numLayers: 2, bidirectional: true, lengths: [1, 3, 2] });
configs.push({ cls: 'LSTM', I: 2, H: 4, T: 3, B: 2, bias: false });
configs.push({ cls: 'LSTM', I: 3, H: 5, T: 4, B: 2, projSize: 2, numLayers: 2, bidirectional: true });
configs.push({ cls: 'LSTM', I: 3, H: 4, T: 4, B: 3, peephole: true, lengths: [4, 1, 3] });
configs.push({ cls: 'LSTM', I: 3, H: 4, T: 4, B: 2, inputForget: true, peephole: true });
configs.push({ cls: 'LSTM', I: 3, H: 4, T: 5, B: 2, clip: 0.8 });
configs.push({ cls: 'LSTM', I: 2, H: 3, T: 4, B: 2, reverse: true, lengths: [2, 4] });
for (const linearBeforeReset of [true, false]) {
  configs.push({ cls: 'GRU', I: 3, H: 4, T: 4, B: 2, linearBeforeReset });
  configs.push({ cls: 'GRU', I: 2, H: 3, T: 5, B: 3, linearBeforeReset, bidirectional: true, lengths: [5, 1, 3], clip: 0.9 });
}
configs.push({ cls: 'GRU', I: 3, H: 2, T: 3, B: 2, numLayers: 2, batchFirst: true });
for (const nonlinearity of ['tanh', 'relu']) {
  configs.push({ cls: 'RNN', I: 3, H: 4, T: 5, B: 2, nonlinearity });
  configs.push({ cls: 'RNN', I: 2, H: 3, T: 4, B: 3, nonlinearity, numLayers: 2, bidirectional: true, lengths: [4, 2, 1], clip: 0.7 });
}
// The layer-normalised LSTM (its layer norms' gains and biases drawn away from 1 and 0 below).
for (const H of [1, 3, 8]) configs.push({ cls: 'LayerNormLSTM', I: 3, H, T: 4, B: 2 });
configs.push({ cls: 'LayerNormLSTM', I: 2, H: 3, T: 5, B: 3, lengths: [5, 2, 4], normEpsilon: 1e-5 });
configs.push({ cls: 'LayerNormLSTM', I: 3, H: 2, T: 3, B: 3, numLayers: 2, bidirectional: true, batchFirst: true, lengths: [1, 3, 2] });
configs.push({ cls: 'LayerNormLSTM', I: 2, H: 4, T: 3, B: 2, bias: false, reverse: true });
configs.push({ cls: 'LayerNormLSTM', I: 3, H: 4, T: 5, B: 2, clip: 0.8 });

describe('finite-difference gradient checks (float64, ts)', function () {
  for (const cfg of configs) {
    const label = Object.entries(cfg).map(([k, v]) => `${k}=${v}`).join(' ');
    it(label, function () {
      const rng = new Rng(1000 + cfg.H * 7 + cfg.T);
      const { cls, I, H, T, B, lengths, ...opts } = cfg;
      const L = cfg.numLayers ?? 1, D = cfg.bidirectional ? 2 : 1, P = cfg.projSize || H;
      const model = new Cls[cls]({ inputSize: I, hiddenSize: H, ...opts, dtype: 'float64', seed: 7 });
      const hasC = cls === 'LSTM' || cls === 'LayerNormLSTM';
      if (cls === 'LayerNormLSTM') {
        const sd = model.stateDict();
        for (const [n, t] of Object.entries(sd)) if (n.startsWith('ln_')) t.data.forEach((_v, i) => { t.data[i] = (n.includes('weight') ? 1 : 0) + 0.5 * (rng.next() * 2 - 1); });
        model.loadStateDict(sd);
      }
      const x = randomTensor(rng, cfg.batchFirst ? [B, T, I] : [T, B, I], 'float64');
      const h0 = randomTensor(rng, [L * D, B, P], 'float64', 0.5);
      const c0 = hasC ? randomTensor(rng, [L * D, B, H], 'float64', 0.5) : undefined;
      const up = {
        dOutput: randomTensor(rng, cfg.batchFirst ? [B, T, D * P] : [T, B, D * P], 'float64'),
        dHN: randomTensor(rng, [L * D, B, P], 'float64'),
        dCN: hasC ? randomTensor(rng, [L * D, B, H], 'float64') : undefined,
      };
      const r = model.forwardTrain(x, { h0, c0, lengths });
      const g = model.backward(r.cache, up);
      const loss = makeLoss(model, x, h0, c0, lengths, up);
      const noop = () => {};
      checkArray('x', x.data, g.dX.data, loss, rng, 40, noop);
      checkArray('h0', h0.data, g.dH0.data, loss, rng, 40, noop);
      if (hasC) checkArray('c0', c0.data, g.dC0.data, loss, rng, 40, noop);
      // Parameters: perturb a copy of the state dict and reload it (the public way to change weights).
      const sd = model.stateDict();
      for (const [name, t] of Object.entries(sd)) {
        checkArray(name, t.data, g.grads[name].data, loss, rng, 30, () => model.loadStateDict(sd));
      }
      if (lengths) {
        // Inputs at padded steps take no part: their gradient is exactly 0.
        for (let b = 0; b < B; b++) for (let t = lengths[b]; t < T; t++) for (let i = 0; i < I; i++) {
          const at = cfg.batchFirst ? (b * T + t) * I + i : (t * B + b) * I + i;
          expect(g.dX.data[at]).to.equal(0);
        }
      }
    });
  }
});

describe('dropout between layers', function () {
  it('a 2-layer model with dropout equals two 1-layer models composed with the same mask, forward and backward', function () {
    const rng = new Rng(21);
    const I = 3, H = 4, T = 5, B = 2;
    const model = new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, dropout: 0.4, dtype: 'float64', seed: 3 });
    const x = randomTensor(rng, [T, B, I], 'float64');
    const dOutput = randomTensor(rng, [T, B, H], 'float64');
    const r = model.forwardTrain(x);
    const mask = r.cache.dropoutMasks[0];
    expect(mask.some((v) => v === 0) && mask.some((v) => v > 1)).to.equal(true);
    const g = model.backward(r.cache, { dOutput });
    const sd = model.stateDict();
    const part = (k) => Object.fromEntries(Object.entries(sd).filter(([n]) => n.endsWith(`_l${k}`)).map(([n, t]) => [n.replace(`_l${k}`, '_l0'), t]));
    const m0 = new LSTM({ inputSize: I, hiddenSize: H, dtype: 'float64' }).loadStateDict(part(0));
    const m1 = new LSTM({ inputSize: H, hiddenSize: H, dtype: 'float64' }).loadStateDict(part(1));
    const r0 = m0.forwardTrain(x);
    const in1 = tensor(r0.output.data.map((v, i) => v * mask[i]), r0.output.shape, 'float64');
    const r1 = m1.forwardTrain(in1);
    r1.output.data.forEach((v, i) => expect(v).to.be.closeTo(r.output.data[i], 1e-12));
    const g1 = m1.backward(r1.cache, { dOutput });
    const g0 = m0.backward(r0.cache, { dOutput: tensor(g1.dX.data.map((v, i) => v * mask[i]), g1.dX.shape, 'float64') });
    g0.dX.data.forEach((v, i) => expect(v).to.be.closeTo(g.dX.data[i], 1e-12));
    g0.grads.weight_ih_l0.data.forEach((v, i) => expect(v).to.be.closeTo(g.grads.weight_ih_l0.data[i], 1e-12));
    // Inference never drops: forward equals the composition without a mask.
    const plain = m1.forward(m0.forward(x).output).output;
    model.forward(x).output.data.forEach((v, i) => expect(v).to.be.closeTo(plain.data[i], 1e-12));
  });
  it('warns (does not throw) when dropout is set with one layer, as PyTorch does', function () {
    const seen = [];
    const on = (w) => seen.push(w.code);
    process.on('warning', on);
    return new Promise((resolve) => {
      new GRU({ inputSize: 2, hiddenSize: 2, dropout: 0.5 });
      setImmediate(() => { process.off('warning', on); expect(seen).to.include('CELLSTATE_DROPOUT_ONE_LAYER'); resolve(); });
    });
  });
});
