// The layers heads and imported models are built from: Linear, Embedding, the activations (Softmax
// among them), Dropout and LastStep's finalStates (Keras' return_sequences=False): the math on
// hand-checkable examples, gradients by finite differences, and argument errors. Linear/Embedding
// argument errors are covered in layers.test.mjs.
import { expect } from 'chai';
import { Dropout, Embedding, GRU, LastStep, Linear, ReLU, Rng, Sequential, Sigmoid, Softmax, Tanh, Tensor, tensor } from 'cellstate';
import { randomTensor } from './helpers/random.mjs';

describe('Linear, Embedding, activations, Dropout, LastStep', function () {
  it('Linear: y = x · weightᵀ + bias over the last axis, PyTorch names and shapes', function () {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 });
    expect(Object.fromEntries(Object.entries(lin.stateDict()).map(([k, v]) => [k, v.shape]))).to.deep.equal({ weight: [2, 3], bias: [2] });
    lin.loadStateDict({ weight: { shape: [2, 3], data: [1, 2, 3, -1, 0, 1] }, bias: { shape: [2], data: [0.5, -0.5] } });
    const y = lin.forward(tensor([[[1, 1, 1], [0, 2, 0]]])).output; // [1, 2, 3]
    expect(y.shape).to.deep.equal([1, 2, 2]);
    expect(Array.from(y.data)).to.deep.equal([6.5, -0.5, 4.5, -0.5]);
  });

  it('Embedding: rows of weight by index, any index shape', function () {
    const e = new Embedding({ numEmbeddings: 4, embeddingDim: 2, seed: 1 });
    e.loadStateDict({ weight: { shape: [4, 2], data: [0, 0, 1, 1, 2, 2, 3, 3] } });
    const y = e.forward(tensor([[3, 1, 0]])).output;
    expect(y.shape).to.deep.equal([1, 3, 2]);
    expect(Array.from(y.data)).to.deep.equal([3, 3, 1, 1, 0, 0]);
  });

  it('activations: softmax over the last axis sums to 1; relu, tanh, sigmoid elementwise', function () {
    const x = tensor([[1, 2, 3], [-1, 0, 1]]);
    const s = new Softmax().forward(x).output.data;
    expect(s[0] + s[1] + s[2]).to.be.closeTo(1, 1e-6);
    expect(s[2] / s[1]).to.be.closeTo(Math.E, 1e-5);
    expect(s[3] + s[4] + s[5]).to.be.closeTo(1, 1e-6);
    expect(Array.from(new ReLU().forward(x).output.data)).to.deep.equal([1, 2, 3, 0, 0, 1]);
    expect(new Tanh().forward(x).output.data[3]).to.be.closeTo(Math.tanh(-1), 1e-7);
    expect(new Sigmoid().forward(x).output.data[4]).to.equal(0.5);
  });

  it('Softmax backward matches central differences (float64)', function () {
    const rng = new Rng(2);
    const x = new Tensor(Float64Array.from({ length: 12 }, () => rng.uniform(-2, 2)), [2, 2, 3]);
    const w = Float64Array.from({ length: 12 }, () => rng.uniform(-1, 1)); // loss = sum(w * softmax(x))
    const sm = new Softmax();
    const loss = (xd) => sm.forward(new Tensor(xd, x.shape)).output.data.reduce((a, v, i) => a + v * w[i], 0);
    const { cache } = sm.forwardTrain(x);
    const dx = sm.backward(cache, { dOutput: new Tensor(w.slice(), x.shape) }).dX.data;
    for (let i = 0; i < 12; i++) {
      const p = x.data.slice(), m = x.data.slice();
      p[i] += 1e-6; m[i] -= 1e-6;
      expect(dx[i]).to.be.closeTo((loss(p) - loss(m)) / 2e-6, 1e-8);
    }
  });

  it('Dropout: the identity at inference; in training zeros with probability p, scales the rest by 1/(1-p), and backward uses the same mask', function () {
    const d = new Dropout({ p: 0.25, seed: 3 });
    const x = new Tensor(new Float32Array(4000).fill(2), [4000]);
    expect(d.forward(x).output).to.equal(x);
    const { output, cache } = d.forwardTrain(x);
    const kept = output.data.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 2 / 0.75) < 1e-6)).to.equal(true);
    expect(kept.length / 4000).to.be.closeTo(0.75, 0.03);
    const dx = d.backward(cache, { dOutput: new Tensor(new Float32Array(4000).fill(1), [4000]) }).dX.data;
    for (let i = 0; i < 4000; i++) expect(dx[i]).to.equal(output.data[i] / 2);
    expect(new Dropout({ p: 0.25, seed: 3 }).forwardTrain(x).output.data).to.deep.equal(output.data); // seeded
  });

  it('LastStep finalStates: the forward half at the last step, the reverse half at t = 0 (each direction\'s final state)', function () {
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, batchFirst: true, seed: 4 });
    const x = randomTensor(new Rng(4), [2, 5, 2]);
    const { hN } = gru.forward(x); // [4, 2, 3]: l0 fwd, l0 rev, l1 fwd, l1 rev
    const y = new Sequential([gru, new LastStep({ batchFirst: true, finalStates: true })]).forward(x).output;
    expect(y.shape).to.deep.equal([2, 6]);
    for (let b = 0; b < 2; b++) for (let d = 0; d < 2; d++) for (let j = 0; j < 3; j++) {
      expect(y.data[b * 6 + d * 3 + j]).to.equal(hN.data[((2 + d) * 2 + b) * 3 + j]);
    }
    // Backward puts each half of the gradient at the row it came from.
    const ls = new LastStep({ batchFirst: true, finalStates: true });
    const z = randomTensor(new Rng(5), [2, 5, 4]);
    const { cache } = ls.forwardTrain(z);
    const dz = ls.backward(cache, { dOutput: tensor([[1, 2, 3, 4], [5, 6, 7, 8]]) }).dX;
    const at = (b, t, f) => dz.data[(b * 5 + t) * 4 + f];
    expect([at(0, 4, 0), at(0, 4, 1), at(0, 0, 2), at(0, 0, 3), at(1, 4, 0), at(1, 0, 3)]).to.deep.equal([1, 2, 3, 4, 5, 8]);
    expect(dz.data.reduce((a, v) => a + v, 0)).to.equal(36);
  });

  const cases = [
    [() => new Linear({ inFeatures: 0, outFeatures: 2 }), RangeError, 'Linear: inFeatures: expected a positive integer, got 0'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2, bais: false }), TypeError, 'options.bais'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2 }).forward(tensor([[1, 2, 3]])), RangeError, 'Linear.forward: x: expected shape [..., 2], got [1, 3]'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2 }).loadStateDict({ weight: { shape: [2, 2], data: [1, 2, 3, 4] } }), TypeError, 'missing: bias'],
    [() => new Dropout({ p: 1 }), RangeError, 'Dropout: p: expected a probability in [0, 1), got 1'],
    [() => new Dropout({ rate: 0.1 }), TypeError, 'Dropout: options.rate'],
    [() => new LastStep({ finalStates: true }).forward(randomTensor(new Rng(1), [2, 1, 3])), RangeError, 'LastStep.forward: x: expected shape [..., F] with F even'],
  ];
  for (const [fn, cls, frag] of cases) {
    it(`${cls.name}: ${frag}`, function () {
      expect(fn).to.throw(cls, frag);
    });
  }
});
