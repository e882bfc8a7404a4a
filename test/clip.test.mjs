// Gradient clipping on hostile records (issue #18, items 9 and 10): every entry and value is read
// once, and finite gradients give a finite norm (computed without overflowing a double).
import { expect } from 'chai';
import { clipGradNorm, clipGradValue, gradNorm, tensor } from 'cellstate';

describe('gradient clipping: read once, no overflow', function () {
  it('clipGradNorm reads each entry once: the tensors measured are the tensors scaled', function () {
    // A getter answering a small gradient, then a large one: the norm was taken of the second
    // (Object.entries read again), and the first scaled by it.
    const small = tensor([0.3, 0.4], [2]), large = tensor([300, 400], [2]);
    let reads = 0;
    const grads = Object.defineProperty({}, 'w', { get: () => (reads++ === 0 ? small : large), enumerable: true });
    expect(clipGradNorm(grads, 1)).to.be.closeTo(0.5, 1e-7);
    expect(reads).to.equal(1);
    expect(Array.from(small.data)).to.deep.equal([Math.fround(0.3), Math.fround(0.4)]); // under maxNorm: untouched
    expect(Array.from(large.data)).to.deep.equal([300, 400]);
  });

  it('finite float64 gradients whose squares overflow a double: a finite norm, and clipping works (it returned Infinity)', function () {
    const g = { a: tensor([3e200, 4e200], [2], 'float64'), b: tensor([0], [1], 'float64') };
    expect(gradNorm(g)).to.be.closeTo(5e200, 1e186);
    expect(clipGradNorm(g, 1)).to.be.closeTo(5e200, 1e186);
    expect(g.a.data[0]).to.be.closeTo(0.6, 1e-12);
    expect(g.a.data[1]).to.be.closeTo(0.8, 1e-12);
    // A norm beyond the largest double is not representable: a RangeError naming it.
    const huge = { a: tensor([1.7e308, 1.7e308], [2], 'float64') };
    expect(() => gradNorm(huge)).to.throw(RangeError, 'gradNorm: grads: expected finite gradients whose global norm fits a double');
    // Non-finite gradients still give NaN / Infinity (the trainer's policy decides), nothing scaled.
    const inf = { a: tensor([Infinity, 1], [2]) };
    expect(clipGradNorm(inf, 1)).to.equal(Infinity);
    expect(inf.a.data[1]).to.equal(1);
    expect(clipGradNorm({ a: tensor([1e200, NaN], [2], 'float64') }, 1)).to.be.NaN;
  });

  it('clipGradValue reads each entry once', function () {
    const a = tensor([5, -5, 0.5], [3]);
    let reads = 0;
    const grads = Object.defineProperty({}, 'w', { get: () => { reads++; return a; }, enumerable: true });
    clipGradValue(grads, 1);
    expect(reads).to.equal(1);
    expect(Array.from(a.data)).to.deep.equal([1, -1, 0.5]);
  });

  it('a gradient whose buffer was detached is refused, naming it', function () {
    const g = tensor([3, 4], [2]);
    structuredClone(g.data.buffer, { transfer: [g.data.buffer] });
    for (const fn of [clipGradNorm, clipGradValue]) {
      expect(() => fn({ g }, 1)).to.throw(RangeError, `${fn.name}: grads['g']: expected 2 elements for shape [2], got 0 elements in data (a detached buffer?)`);
    }
  });
});
