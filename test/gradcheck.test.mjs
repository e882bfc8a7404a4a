// Central finite differences in float64 against backward(), for every gradient BPTT returns
// (x, h0, c0, every parameter), over shapes and options that exercise the index arithmetic.
import { expect } from 'chai';
import { LSTM } from 'cellstate';
import { randomTensor, Rng } from './helpers/random.mjs';

const EPS = 1e-6;

/** loss = Σ output*R + Σ hN*S + Σ cN*U with fixed random R, S, U. */
function makeLoss(model, x, h0, c0, lengths, up) {
  return () => {
    const r = model.forward(x, { h0, c0, lengths });
    let s = 0;
    for (const [t, u] of [[r.output, up.dOutput], [r.hN, up.dHN], [r.cN, up.dCN]]) {
      for (let i = 0; i < t.data.length; i++) s += t.data[i] * u.data[i];
    }
    return s;
  };
}

/** Perturb `arr[i]` in place by ±EPS, compare (L+ - L-)/2EPS with `analytic`; checks up to `maxCoords` coordinates. */
function checkArray(name, arr, analytic, loss, rng, maxCoords, reprepare) {
  const n = arr.length;
  const idx = n <= maxCoords ? [...Array(n).keys()] : Array.from({ length: maxCoords }, () => Math.floor(rng.next() * n));
  for (const i of idx) {
    const old = arr[i];
    arr[i] = old + EPS; reprepare();
    const lp = loss();
    arr[i] = old - EPS; reprepare();
    const lm = loss();
    arr[i] = old; reprepare();
    const fd = (lp - lm) / (2 * EPS);
    const err = Math.abs(fd - analytic[i]);
    expect(err, `${name}[${i}]: finite difference ${fd}, backward ${analytic[i]}`).to.be.at.most(1e-6 + 1e-5 * Math.abs(fd));
  }
}

const configs = [];
for (const H of [1, 3, 8, 17]) configs.push({ I: 3, H, T: 4, B: 2 });
configs.push({ I: 2, H: 3, T: 5, B: 3, lengths: [5, 2, 4] });
configs.push({ I: 2, H: 3, T: 4, B: 2, bidirectional: true, batchFirst: true });
configs.push({ I: 3, H: 2, T: 3, B: 3, numLayers: 2, bidirectional: true, lengths: [1, 3, 2] });
configs.push({ I: 2, H: 4, T: 3, B: 2, bias: false });

describe('finite-difference gradient checks (float64, ts)', function () {
  for (const cfg of configs) {
    const label = Object.entries(cfg).map(([k, v]) => `${k}=${v}`).join(' ');
    it(label, function () {
      const rng = new Rng(1000 + cfg.H * 7 + cfg.T);
      const { I, H, T, B } = cfg;
      const L = cfg.numLayers ?? 1, D = cfg.bidirectional ? 2 : 1;
      const model = new LSTM({ inputSize: I, hiddenSize: H, numLayers: L, bidirectional: !!cfg.bidirectional,
        batchFirst: !!cfg.batchFirst, bias: cfg.bias ?? true, dtype: 'float64', seed: 7 });
      const x = randomTensor(rng, cfg.batchFirst ? [B, T, I] : [T, B, I], 'float64');
      const h0 = randomTensor(rng, [L * D, B, H], 'float64', 0.5);
      const c0 = randomTensor(rng, [L * D, B, H], 'float64', 0.5);
      const up = {
        dOutput: randomTensor(rng, cfg.batchFirst ? [B, T, D * H] : [T, B, D * H], 'float64'),
        dHN: randomTensor(rng, [L * D, B, H], 'float64'),
        dCN: randomTensor(rng, [L * D, B, H], 'float64'),
      };
      const r = model.forwardTrain(x, { h0, c0, lengths: cfg.lengths });
      const g = model.backward(r.cache, up);
      const loss = makeLoss(model, x, h0, c0, cfg.lengths, up);
      const noop = () => {};
      checkArray('x', x.data, g.dX.data, loss, rng, 40, noop);
      checkArray('h0', h0.data, g.dH0.data, loss, rng, 40, noop);
      checkArray('c0', c0.data, g.dC0.data, loss, rng, 40, noop);
      // Parameters: perturb a copy of the state dict and reload it (the public way to change weights).
      const sd = model.stateDict();
      for (const [name, t] of Object.entries(sd)) {
        checkArray(name, t.data, g.grads[name].data, loss, rng, 30, () => model.loadStateDict(sd));
      }
      if (cfg.lengths) {
        // Inputs at padded steps take no part: their gradient is exactly 0.
        for (let b = 0; b < B; b++) for (let t = cfg.lengths[b]; t < T; t++) for (let i = 0; i < I; i++) {
          const at = cfg.batchFirst ? (b * T + t) * I + i : (t * B + b) * I + i;
          expect(g.dX.data[at]).to.equal(0);
        }
      }
    });
  }
});
