// The layers imported models are built from (the training toolkit's Linear and Embedding, and
// Activation) and the LayerStack that chains them: the math on a hand-checkable example, and
// argument errors. Linear/Embedding argument errors are covered in layers.test.mjs.
import { expect } from 'chai';
import { Activation, Embedding, LayerStack, Linear, StackRecurrentLayer, GRU, Rng, tensor } from 'cellstate';
import { randomTensor } from './helpers/random.mjs';

describe('Linear, Embedding, Activation, LayerStack', function () {
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

  it('Activation: softmax over the last axis sums to 1; relu, tanh, sigmoid elementwise', function () {
    const x = tensor([[1, 2, 3], [-1, 0, 1]]);
    const s = new Activation('softmax').forward(x).data;
    expect(s[0] + s[1] + s[2]).to.be.closeTo(1, 1e-6);
    expect(s[2] / s[1]).to.be.closeTo(Math.E, 1e-5);
    expect(Array.from(new Activation('relu').forward(x).data)).to.deep.equal([1, 2, 3, 0, 0, 1]);
    expect(new Activation('tanh').forward(x).data[3]).to.be.closeTo(Math.tanh(-1), 1e-7);
    expect(new Activation('sigmoid').forward(x).data[4]).to.equal(0.5);
  });

  it('StackRecurrentLayer without sequences returns the last layer\'s final states, directions concatenated', function () {
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, batchFirst: true, seed: 4 });
    const x = randomTensor(new Rng(4), [2, 5, 2]);
    const { hN } = gru.forward(x); // [4, 2, 3]: l0 fwd, l0 rev, l1 fwd, l1 rev
    const y = new LayerStack([new StackRecurrentLayer(gru, false)]).forward(x);
    expect(y.shape).to.deep.equal([2, 6]);
    for (let b = 0; b < 2; b++) for (let d = 0; d < 2; d++) for (let j = 0; j < 3; j++) {
      expect(y.data[b * 6 + d * 3 + j]).to.equal(hN.data[((2 + d) * 2 + b) * 3 + j]);
    }
  });

  const cases = [
    [() => new Linear({ inFeatures: 0, outFeatures: 2 }), RangeError, 'Linear: inFeatures: expected a positive integer, got 0'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2, bais: false }), TypeError, 'options.bais'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2 }).forward(tensor([[1, 2, 3]])), RangeError, 'Linear.forward: x: expected shape [..., 2], got [1, 3]'],
    [() => new Linear({ inFeatures: 2, outFeatures: 2 }).loadStateDict({ weight: { shape: [2, 2], data: [1, 2, 3, 4] } }), TypeError, 'missing: bias'],
    [() => new Activation('gelu'), TypeError, "Activation: fn: expected 'relu', 'sigmoid', 'tanh', 'softmax', got \"gelu\""],
    [() => new StackRecurrentLayer(new GRU({ inputSize: 1, hiddenSize: 1, seed: 1 }), true), TypeError, 'a batch-first recurrent layer'],
    [() => new LayerStack([{}]), TypeError, 'LayerStack: layers: expected an array of layers'],
  ];
  for (const [fn, cls, frag] of cases) {
    it(`${cls.name}: ${frag}`, function () {
      expect(fn).to.throw(cls, frag);
    });
  }
});
