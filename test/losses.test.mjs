// Losses against reference values computed independently (NumPy float64, values pasted below),
// gradients against central finite differences, masking, ignore index and stability.
import { expect } from 'chai';
import { bceWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, tensor } from 'cellstate';
import { randomTensor, Rng } from './helpers/random.mjs';

const f64 = (v, s) => tensor(v, s, 'float64');
const y = () => f64([[0.5, -1.2, 3.0], [2.0, 0.1, -0.7]]);
const t = () => f64([[1.0, -1.0, 0.5], [2.5, 0.1, 1.0]]);

/** Central differences of loss(output) against result.grad. */
function fdCheck(lossOf, out) {
  const g = lossOf(out).grad.data;
  for (let i = 0; i < out.data.length; i++) {
    const old = out.data[i];
    out.data[i] = old + 1e-6; const lp = lossOf(out).loss;
    out.data[i] = old - 1e-6; const lm = lossOf(out).loss;
    out.data[i] = old;
    expect(g[i], `grad[${i}]`).to.be.closeTo((lp - lm) / 2e-6, 1e-7);
  }
}

describe('losses: reference values (NumPy float64)', function () {
  it('mse, l1, huber (delta 1 and 0.4)', function () {
    expect(mseLoss(y(), t()).loss).to.be.closeTo(1.6133333333333333, 1e-15);
    expect(l1Loss(y(), t()).loss).to.be.closeTo(0.9, 1e-15);
    expect(huberLoss(y(), t()).loss).to.be.closeTo(0.5783333333333333, 1e-15);
    expect(huberLoss(y(), t(), { delta: 0.4 }).loss).to.be.closeTo(0.29666666666666663, 1e-15);
  });

  it('crossEntropy from logits with integer targets and ignoreIndex, stable at ±1000', function () {
    const z = f64([[2, -1, 0.5, 0], [0.1, 0.2, 0.3, 0.4], [1000, 0, -1000, 5], [-3, 4, 1, 1]]);
    const r = crossEntropy(z, [0, 3, 1, -100]);
    expect(r.count).to.equal(3);
    expect(r.loss).to.be.closeTo(333.861628370615, 1e-9);
    const g = Array.from(r.grad.data.subarray(4, 8));
    [0.07127940678866147, 0.07877592744051254, 0.08706086405169185, -0.23711619828086591].forEach((v, i) => expect(g[i]).to.be.closeTo(v, 1e-15));
    expect(Array.from(r.grad.data.subarray(12, 16))).to.deep.equal([0, 0, 0, 0]); // ignored row
    // float32 logits of 1000 stay finite (log-sum-exp)
    const r32 = crossEntropy(tensor([[1000, 0, -1000, 5]]), [1]);
    expect(r32.loss).to.equal(1000);
  });

  it('bceWithLogits, stable at ±50', function () {
    const x = f64([3, -2, 0, 50, -50, 0.7]), yy = f64([1, 0, 0.5, 0, 1, 0.3]);
    const r = bceWithLogits(x, yy);
    expect(r.loss).to.be.closeTo(16.96030809867702, 1e-13);
    [-0.00790431219626111, 0.01986715367035292, 0, 0.16666666666666666, -0.16666666666666666, 0.06136462869469436]
      .forEach((v, i) => expect(r.grad.data[i]).to.be.closeTo(v, 1e-15));
  });
});

describe('losses: gradients and masking', function () {
  const rng = new Rng(5);
  const target = randomTensor(rng, [3, 2, 4], 'float64');
  const probs = f64(Array.from(target.data, (v) => (v + 1) / 2), [3, 2, 4]);
  const mask = [1, 0, 1, 1, 0, 1];
  const cls = [2, 0, 3, -100, 1, 1];
  const losses = {
    mse: (o) => mseLoss(o, target, { mask }),
    l1: (o) => l1Loss(o, target, { mask }),
    huber: (o) => huberLoss(o, target, { mask, delta: 0.3 }),
    crossEntropy: (o) => crossEntropy(o, cls, { mask }),
    bceWithLogits: (o) => bceWithLogits(o, probs, { mask }),
  };
  for (const [name, fn] of Object.entries(losses)) {
    it(`${name}: gradient matches finite differences; masked rows take no part`, function () {
      const out = randomTensor(new Rng(9), [3, 2, 4], 'float64', 2);
      fdCheck(fn, out);
      const r = fn(out);
      for (const row of [1, 4]) expect(Array.from(r.grad.data.subarray(row * 4, row * 4 + 4))).to.deep.equal([0, 0, 0, 0]);
      // Changing a masked row changes nothing.
      out.data[4] += 10;
      expect(fn(out).loss).to.equal(r.loss);
    });
  }

  it('a fully masked batch gives loss 0 and zero gradient (count 0)', function () {
    const r = crossEntropy(f64([[1, 2]]), [-100]);
    expect(r).to.include({ loss: 0, count: 0 });
    expect(Array.from(r.grad.data)).to.deep.equal([0, 0]);
  });

  it('errors name the argument and what was received', function () {
    expect(() => mseLoss(y(), f64([1, 2]))).to.throw(RangeError, /mseLoss: target: expected shape \[2, 3\]/);
    expect(() => crossEntropy(y(), [0, 3])).to.throw(RangeError, /target\[1\]: expected a class index in \[0, 2\]/);
    expect(() => crossEntropy(y(), [0])).to.throw(RangeError, /target: expected 2 class indices/);
    expect(() => mseLoss(y(), t(), { mask: [1] })).to.throw(RangeError, /mask: expected 2 entries/);
    expect(() => bceWithLogits(y(), t())).to.throw(RangeError, /bceWithLogits: target: expected values in \[0, 1\]/);
    expect(() => huberLoss(y(), t(), { delta: 0 })).to.throw(RangeError, /delta/);
  });
});
