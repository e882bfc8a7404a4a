// Losses against reference values computed independently (NumPy float64, values pasted below),
// gradients against central finite differences, masking, ignore index and stability.
import { expect } from 'chai';
import { bceWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, Tensor, tensor } from 'cellstate';
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

// Issue #18, items 9 and 10: every value is read once (an array that changes between reads cannot
// make the values used differ from the values checked), non-finite values are refused, and
// finite inputs give a finite loss and gradient or a RangeError naming the overflow.
describe('losses: values read once, non-finite refused, no overflow', function () {
  /** An array (a Proxy) whose entry i answers vals[i][k] at its k-th read (then the last value). */
  const changing = (vals) => {
    const reads = vals.map(() => 0);
    const p = new Proxy(vals.map((v) => v[0]), { get(a, k) { const i = Number(k); return Number.isInteger(i) && i >= 0 && i < vals.length ? vals[i][Math.min(reads[i]++, vals[i].length - 1)] : a[k]; } });
    return { p, reads };
  };
  const ELEMENTWISE = { mseLoss, l1Loss, huberLoss, bceWithLogits };

  it('mseLoss reads each mask entry once (a mask answering 1, 1, 0, 1 gave a -Infinity gradient)', function () {
    const { p, reads } = changing([[1, 1, 0, 1]]);
    const r = mseLoss(tensor([[1]]), tensor([[2]]), { mask: p });
    expect(reads).to.deep.equal([1]);
    expect(r).to.include({ loss: 1, count: 1 });
    expect(Array.from(r.grad.data)).to.deep.equal([-2]);
  });

  it('crossEntropy reads each target once (a target answering 0, then 7, gave a NaN loss)', function () {
    const z = tensor([[1, 2]]);
    const clean = crossEntropy(z, [0]);
    const { p, reads } = changing([[0, 0, 7]]);
    const r = crossEntropy(z, p);
    expect(reads).to.deep.equal([1]);
    expect(r.loss).to.equal(clean.loss);
    expect(Array.from(r.grad.data)).to.deep.equal(Array.from(clean.grad.data));
    // An ignored row read as -100 stays ignored (it was counted, then read as class 0).
    const ign = changing([[-100, 0, 0], [1]]);
    const ri = crossEntropy(tensor([[1, 2], [3, 1]]), ign.p);
    expect(ign.reads).to.deep.equal([1, 1]);
    expect(ri.count).to.equal(1);
  });

  for (const [name, fn] of Object.entries({ ...ELEMENTWISE, crossEntropy })) {
    it(`${name}: values changed while the loss runs (a SharedArrayBuffer written from a mask getter) are not used`, function () {
      const shape = [2, 3];
      const out = new Tensor(new Float32Array(new SharedArrayBuffer(24)), shape);
      out.data.set([0.5, -1, 2, 0.25, 1.5, -0.5]);
      const tgt = fn === crossEntropy ? [2, 0] : new Tensor(new Float64Array(new SharedArrayBuffer(48)), shape);
      if (fn !== crossEntropy) tgt.data.set([0, 1, 0.5, 1, 0.25, 0]);
      const clean = fn(new Tensor(out.data.slice(), shape), fn === crossEntropy ? tgt : new Tensor(tgt.data.slice(), shape));
      // The mask's first entry, when read, overwrites the output and target as another thread could.
      const mask = new Proxy([1, 1], { get(a, k) {
        if (k === '0') { out.data.fill(NaN); if (fn !== crossEntropy) tgt.data.fill(7); }
        return a[k];
      } });
      const r = fn(out, tgt, { mask });
      expect(r.loss).to.equal(clean.loss);
      expect(Array.from(r.grad.data)).to.deep.equal(Array.from(clean.grad.data));
    });
  }

  for (const dtype of ['float32', 'float64']) {
    for (const [name, fn] of Object.entries(ELEMENTWISE)) {
      it(`${name} ${dtype}: NaN / ±Infinity in the output or the target is a RangeError naming it`, function () {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const good = tensor([[0.5, 0.25]], undefined, dtype);
          expect(() => fn(tensor([[0.5, bad]], undefined, dtype), good), `output ${bad}`).to.throw(RangeError, `${name}: ${name === 'bceWithLogits' ? 'logits' : 'output'}: expected finite values, got ${bad} at flat index 1`);
          expect(() => fn(good, tensor([[bad, 0.5]], undefined, dtype)), `target ${bad}`).to.throw(RangeError, `${name}: target: expected finite values, got ${bad} at flat index 0`);
        }
      });
    }
    it(`crossEntropy ${dtype}: NaN / ±Infinity logits are a RangeError naming them`, function () {
      for (const bad of [NaN, Infinity, -Infinity]) {
        expect(() => crossEntropy(tensor([[1, 2], [bad, 0]], undefined, dtype), [0, 1])).to.throw(RangeError, `crossEntropy: logits: expected finite values, got ${bad} at flat index 2`);
      }
      expect(() => crossEntropy(tensor([[1, 2]], undefined, dtype), [NaN])).to.throw(RangeError, 'crossEntropy: target[0]: expected a class index in [0, 1]');
    });
  }

  it('finite extremes: computed in doubles (mseLoss(3e38, -3e38) gave Infinity); an unrepresentable float32 gradient is a RangeError', function () {
    const big = (v, dtype = 'float32') => tensor([[v]], undefined, dtype);
    // float64: the true values are representable.
    const r64 = mseLoss(big(3e38, 'float64'), big(-3e38, 'float64'));
    expect(r64.loss).to.equal(6e38 * 6e38);
    expect(r64.grad.data[0]).to.equal(1.2e39);
    // float32: the gradient 1.2e39 is not; the loss says so instead of returning Infinity.
    expect(() => mseLoss(big(3e38), big(-3e38))).to.throw(RangeError, /^mseLoss: output: expected values whose loss and gradient are finite, got a gradient of 1\.2\d*e\+39 at flat index 0, beyond the float32 range/);
    expect(() => huberLoss(big(3e38), big(-3e38), { delta: 1e300 })).to.throw(RangeError, 'huberLoss: output: expected values whose loss and gradient are finite');
    // The other losses' gradients are bounded: finite results.
    for (const fn of [l1Loss, huberLoss]) {
      const r = fn(big(3e38), big(-3e38));
      expect(Number.isFinite(r.loss) && Number.isFinite(r.grad.data[0]), fn.name).to.equal(true);
    }
    const b = bceWithLogits(tensor([[3e38, -3e38]]), tensor([[0, 1]]));
    expect(b.loss).to.be.closeTo(3e38, 1e31);
    const ce = crossEntropy(tensor([[3e38, -3e38]]), [1]);
    expect(ce.loss).to.be.closeTo(6e38, 1e31);
    expect(Array.from(ce.grad.data)).to.deep.equal([1, -1]);
    // float64 terms whose sum overflows a double while the mean does not: the mean.
    const m = bceWithLogits(tensor([[1.5e308, 1.5e308]], undefined, 'float64'), tensor([[0, 0]], undefined, 'float64'));
    expect(m.loss).to.equal(1.5e308);
    // A float64 loss term beyond the largest double is not representable.
    expect(() => mseLoss(big(1e300, 'float64'), big(-1e300, 'float64'))).to.throw(RangeError, 'mseLoss: output: expected values whose loss and gradient are finite, got a loss term beyond the largest double');
    expect(() => crossEntropy(tensor([[1.5e308, -1.5e308]], undefined, 'float64'), [1])).to.throw(RangeError, 'crossEntropy: logits: expected values whose loss and gradient are finite');
  });

  it('a mask or target that cannot be read is a TypeError naming it', function () {
    const boom = new Proxy([1], { get(a, k) { if (k === '0') throw new Error('boom'); return a[k]; } });
    expect(() => mseLoss(tensor([[1]]), tensor([[1]]), { mask: boom })).to.throw(TypeError, 'mseLoss: mask: expected 1 entries (one 0 or 1 per row of the output) that can be read (reading it threw: boom)');
    expect(() => crossEntropy(tensor([[1, 2]]), boom)).to.throw(TypeError, 'crossEntropy: target: expected 1 class indices');
    const huge = new Proxy([1], { get(a, k) { return k === 'length' ? 2 ** 40 : a[k]; } });
    expect(() => crossEntropy(tensor([[1, 2]]), huge)).to.throw(RangeError, 'crossEntropy: target: expected 1 class indices (integers, one per row of the logits: an array, typed array or Tensor), got 1099511627776 entries');
  });
});
