import { expect } from 'chai';
import { LSTM, Tensor, tensor, zeros, Rng } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { randomTensor } from './helpers/random.mjs';

describe('Tensor', function () {
  it('builds from nested arrays (row-major) and round-trips toArray', function () {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).to.deep.equal([2, 3]);
    expect(t.dtype).to.equal('float32');
    expect(Array.from(t.data)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(t.toArray()).to.deep.equal([[1, 2, 3], [4, 5, 6]]);
  });
  it('wraps a typed array view without copying, byteOffset included', function () {
    const buf = new Float32Array(10);
    const view = buf.subarray(3, 9);
    const t = tensor(view, [2, 3]);
    expect(t.data).to.equal(view);
    buf[3] = 7;
    expect(t.data[0]).to.equal(7);
  });
  it('rejects ragged arrays, bad shapes and size mismatches', function () {
    expect(() => tensor([[1, 2], [3]])).to.throw(RangeError, 'ragged');
    expect(() => tensor([1, 2, 3], [2, 2])).to.throw(RangeError, 'values: expected 4 elements for shape [2, 2], got 3');
    expect(() => tensor([1, 2], [-1, -2])).to.throw(RangeError, 'non-negative integer dimensions');
    expect(() => new Tensor(new Float32Array(3), [2, 2])).to.throw(RangeError, 'expected 4 elements');
    expect(() => new Tensor([1, 2], [2])).to.throw(TypeError, 'Float32Array or Float64Array');
    expect(() => tensor([1, 'a'])).to.throw(TypeError, 'a number');
  });
  it('zeros and dtype conversion', function () {
    expect(zeros([2, 2], 'float64').data).to.be.instanceOf(Float64Array);
    expect(tensor(new Float32Array([1.5]), [1], 'float64').data).to.be.instanceOf(Float64Array);
  });
});

describe('LSTM weights and inputs', function () {
  it('same seed gives the same weights; another seed different ones; all within U(-1/sqrt(H), 1/sqrt(H))', function () {
    const a = new LSTM({ inputSize: 5, hiddenSize: 16, seed: 42 }).stateDict();
    const b = new LSTM({ inputSize: 5, hiddenSize: 16, seed: 42 }).stateDict();
    const c = new LSTM({ inputSize: 5, hiddenSize: 16, seed: 43 }).stateDict();
    expect(Object.keys(a)).to.deep.equal(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']);
    expect(a.weight_ih_l0.shape).to.deep.equal([64, 5]);
    expect(a.weight_hh_l0.shape).to.deep.equal([64, 16]);
    expect(a.bias_ih_l0.shape).to.deep.equal([64]);
    for (const k of Object.keys(a)) expect(a[k].data).to.deep.equal(b[k].data);
    expect(a.weight_ih_l0.data).to.not.deep.equal(c.weight_ih_l0.data);
    let lo = Infinity, hi = -Infinity;
    for (const t of Object.values(a)) for (const v of t.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect(lo).to.be.at.least(-0.25);
    expect(hi).to.be.below(0.25);
    expect(hi - lo).to.be.above(0.45); // spread over the interval
  });
  it('stateDict returns copies; loadStateDict accepts {shape, data} with plain arrays', function () {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const sd = m.stateDict();
    sd.weight_ih_l0.data[0] = 100;
    expect(m.stateDict().weight_ih_l0.data[0]).to.not.equal(100);
    const json = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }]))));
    m.loadStateDict(json);
    expect(m.stateDict().weight_ih_l0.data[0]).to.equal(100);
  });

  for (const { backend, dtype } of backendCases()) {
    it(`${backend} ${dtype}: inputs given as views with a byteOffset give the same results`, function () {
      const rng = new Rng(5);
      const m = new LSTM({ inputSize: 3, hiddenSize: 5, seed: 3, backend, dtype });
      const x = randomTensor(rng, [4, 2, 3], dtype);
      const h0 = randomTensor(rng, [1, 2, 5], dtype);
      const Ctor = dtype === 'float64' ? Float64Array : Float32Array;
      const big = new Ctor(x.data.length + 7);
      big.set(x.data, 7);
      const xv = tensor(big.subarray(7), x.shape);
      expect(xv.data.byteOffset).to.equal(7 * Ctor.BYTES_PER_ELEMENT);
      const a = m.forward(x, { h0 });
      const b = m.forward(xv, { h0 });
      expect(b.output.data).to.deep.equal(a.output.data);
      expect(b.hN.data).to.deep.equal(a.hN.data);
    });
    it(`${backend} ${dtype}: two training forwards in flight keep separate caches`, function () {
      const rng = new Rng(9);
      const m = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 3, backend, dtype });
      const x1 = randomTensor(rng, [3, 2, 3], dtype), x2 = randomTensor(rng, [5, 1, 3], dtype);
      const up1 = { dOutput: randomTensor(rng, [3, 2, 4], dtype) };
      const up2 = { dOutput: randomTensor(rng, [5, 1, 4], dtype) };
      const ref1 = m.backward(m.forwardTrain(x1).cache, up1);
      const ref2 = m.backward(m.forwardTrain(x2).cache, up2);
      const r1 = m.forwardTrain(x1), r2 = m.forwardTrain(x2);
      x1.data.fill(0); // changing x after forwardTrain must not affect its backward
      const g2 = m.backward(r2.cache, up2), g1 = m.backward(r1.cache, up1);
      expect(g1.grads.weight_hh_l0.data).to.deep.equal(ref1.grads.weight_hh_l0.data);
      expect(g1.dX.data).to.deep.equal(ref1.dX.data);
      expect(g2.grads.weight_ih_l0.data).to.deep.equal(ref2.grads.weight_ih_l0.data);
    });
    it(`${backend} ${dtype}: forward equals the inference part of forwardTrain; batchFirst is a transpose`, function () {
      const rng = new Rng(11);
      const tm = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 4, backend, dtype });
      const bf = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 4, backend, dtype, batchFirst: true });
      const x = randomTensor(rng, [4, 3, 2], dtype);
      const xt = zeros([3, 4, 2], dtype);
      for (let t = 0; t < 4; t++) for (let b = 0; b < 3; b++) for (let i = 0; i < 2; i++) xt.data[(b * 4 + t) * 2 + i] = x.data[(t * 3 + b) * 2 + i];
      const a = tm.forward(x), a2 = tm.forwardTrain(x);
      expect(a2.output.data).to.deep.equal(a.output.data);
      const c = bf.forward(xt);
      expect(c.output.shape).to.deep.equal([3, 4, 3]);
      for (let t = 0; t < 4; t++) for (let b = 0; b < 3; b++) for (let j = 0; j < 3; j++) {
        expect(c.output.data[(b * 4 + t) * 3 + j]).to.equal(a.output.data[(t * 3 + b) * 3 + j]);
      }
      expect(c.hN.data).to.deep.equal(a.hN.data);
    });
  }
});

describe('LSTM live parameters', function () {
  it('namedParameters views the model storage; commitParameters applies in-place changes', function () {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const x = tensor([[[1, 2]]]);
    const before = m.forward(x).output.data.slice();
    const params = m.namedParameters();
    expect(params.map(([n]) => n)).to.deep.equal(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']);
    const cache = m.forwardTrain(x).cache;
    params[2][1].data.fill(0.5); // bias_ih_l0
    m.commitParameters();
    expect(m.stateDict().bias_ih_l0.data.every((v) => v === 0.5)).to.equal(true);
    expect(m.forward(x).output.data).to.not.deep.equal(before);
    expect(() => m.backward(cache)).to.throw('weights or backend changed');
  });
});
