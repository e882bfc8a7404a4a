// Linear, Embedding, activations, LastStep and Sequential: values against hand-written formulas,
// gradients against central finite differences (float64, ts), names, state dicts and errors.
import { expect } from 'chai';
import { Embedding, GRU, LastStep, Linear, LSTM, ReLU, RNN, Sequential, Sigmoid, Tanh, tensor, StaleCacheError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { gradcheck } from './helpers/gradcheck.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

const fwd = (m, x, opts) => m.forward(x, opts).output;

describe('Linear', function () {
  it('computes x·Wᵀ + b over the last axis with PyTorch names and shapes', function () {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1, dtype: 'float64' });
    expect(lin.namedParameters().map(([n, t]) => [n, t.shape])).to.deep.equal([['weight', [2, 3]], ['bias', [2]]]);
    lin.loadStateDict({ weight: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, bias: { shape: [2], data: [0.5, -1] } });
    const y = lin.forward(tensor([[[1, 0, -1]], [[2, 1, 0]]], undefined, 'float64')).output;
    expect(y.shape).to.deep.equal([2, 1, 2]);
    expect(Array.from(y.data)).to.deep.equal([1 - 3 + 0.5, 4 - 6 - 1, 2 + 2 + 0.5, 8 + 5 - 1]);
  });

  it('initialises U(-1/√in, 1/√in) from its seed: same seed, same weights', function () {
    const a = new Linear({ inFeatures: 16, outFeatures: 4, seed: 9 }), b = new Linear({ inFeatures: 16, outFeatures: 4, seed: 9 });
    expect(Array.from(a.stateDict().weight.data)).to.deep.equal(Array.from(b.stateDict().weight.data));
    for (const v of a.stateDict().weight.data) expect(Math.abs(v)).to.be.at.most(0.25);
  });

  for (const bias of [true, false]) {
    it(`gradients match finite differences (float64, bias=${bias})`, function () {
      const rng = new Rng(11);
      const lin = new Linear({ inFeatures: 5, outFeatures: 3, bias, seed: 2, dtype: 'float64' });
      const x = randomTensor(rng, [4, 2, 5], 'float64');
      gradcheck(lin, x, randomTensor(rng, [4, 2, 3], 'float64'), fwd, { rng });
    });
  }

  it('rejects a wrong feature count naming x and the shapes, and a stale cache', function () {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 });
    expect(() => lin.forward(tensor([[1, 2]]))).to.throw(RangeError, /Linear.forward: x: expected shape \[\.\.\., 3\], got \[1, 2\]/);
    expect(() => new Linear({ inFeatures: 0, outFeatures: 2 })).to.throw(RangeError, /inFeatures/);
    expect(() => new Linear({ inFeatures: 2, outFeatures: 2, bogus: 1 })).to.throw(TypeError, /bogus/);
    const r = lin.forwardTrain(tensor([[1, 2, 3]]));
    lin.commitParameters();
    expect(() => lin.backward(r.cache, { dOutput: tensor([[1, 1]]) })).to.throw(StaleCacheError);
  });
});

describe('Embedding', function () {
  it('looks rows up by index; paddingIdx starts at 0 and gets no gradient', function () {
    const emb = new Embedding({ numEmbeddings: 5, embeddingDim: 3, paddingIdx: 0, seed: 3, dtype: 'float64' });
    const W = emb.stateDict().weight.data;
    expect(Array.from(W.subarray(0, 3))).to.deep.equal([0, 0, 0]);
    const x = tensor([[1, 0], [4, 1]], undefined, 'float64'); // [T=2, B=2]
    const r = emb.forwardTrain(x);
    expect(r.output.shape).to.deep.equal([2, 2, 3]);
    expect(Array.from(r.output.data.subarray(6, 9))).to.deep.equal(Array.from(W.subarray(12, 15)));
    const dy = tensor(Array.from({ length: 12 }, (_, i) => i + 1), [2, 2, 3], 'float64');
    const g = emb.backward(r.cache, { dOutput: dy }).grads.weight.data;
    expect(Array.from(g.subarray(0, 3))).to.deep.equal([0, 0, 0]); // padding row
    expect(Array.from(g.subarray(3, 6))).to.deep.equal([1 + 10, 2 + 11, 3 + 12]); // index 1 used twice: summed
  });

  it('weight gradient matches finite differences (float64)', function () {
    const rng = new Rng(12);
    const emb = new Embedding({ numEmbeddings: 6, embeddingDim: 4, seed: 4, dtype: 'float64' });
    const x = tensor([[0, 5, 2], [2, 2, 1]], undefined, 'float64');
    gradcheck(emb, x, randomTensor(rng, [2, 3, 4], 'float64'), fwd, { rng, checkInput: false });
  });

  it('rejects indices that are not integers in range, naming the position', function () {
    const emb = new Embedding({ numEmbeddings: 4, embeddingDim: 2, seed: 1 });
    expect(() => emb.forward(tensor([1, 4]))).to.throw(RangeError, /x: expected integer indices in \[0, 3\], got 4 at flat index 1/);
    expect(() => emb.forward(tensor([0.5]))).to.throw(RangeError, /0.5 at flat index 0/);
  });
});

describe('activations', function () {
  for (const Act of [Tanh, Sigmoid, ReLU]) {
    it(`${Act.name}: values and finite-difference gradients (float64)`, function () {
      const rng = new Rng(13);
      const act = new Act();
      const x = randomTensor(rng, [3, 2, 4], 'float64', 3);
      const y = act.forward(x).output.data;
      const f = { Tanh: Math.tanh, Sigmoid: (v) => 1 / (1 + Math.exp(-v)), ReLU: (v) => Math.max(v, 0) }[Act.name];
      for (let i = 0; i < y.length; i++) expect(y[i]).to.be.closeTo(f(x.data[i]), 1e-15);
      gradcheck(act, x, randomTensor(rng, [3, 2, 4], 'float64'), fwd, { rng });
      expect(act.namedParameters()).to.deep.equal([]);
    });
  }
  it('Sigmoid does not overflow for large |x|', function () {
    const y = new Sigmoid().forward(tensor([-1000, 1000], undefined, 'float64')).output.data;
    expect(Array.from(y)).to.deep.equal([0, 1]);
  });
});

describe('LastStep', function () {
  it('picks each entry\'s last valid step, time-major and batch-first', function () {
    const x = tensor(Array.from({ length: 3 * 2 * 2 }, (_, i) => i), [3, 2, 2]); // [T=3, B=2, F=2]
    expect(Array.from(new LastStep().forward(x, { lengths: [2, 3] }).output.data)).to.deep.equal([4, 5, 10, 11]);
    expect(Array.from(new LastStep({ batchFirst: true }).forward(x, { lengths: [1, 2, 2] }).output.data)).to.deep.equal([0, 1, 6, 7, 10, 11]); // [B=3, T=2, F=2]
    const r = new LastStep().forward(x);
    expect(Array.from(r.output.data)).to.deep.equal([8, 9, 10, 11]);
  });
});

describe('Sequential', function () {
  it('names parameters PyTorch-style and chains many-to-many (LSTM -> Tanh -> Linear per step)', function () {
    const lstm = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, dtype: 'float64' });
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 2, dtype: 'float64' });
    const model = new Sequential([lstm, new Tanh(), lin]);
    expect(model.namedParameters().map(([n]) => n)).to.deep.equal(['0.weight_ih_l0', '0.weight_hh_l0', '0.bias_ih_l0', '0.bias_hh_l0', '2.weight', '2.bias']);
    const x = randomTensor(new Rng(1), [4, 2, 2], 'float64');
    const y = model.forward(x).output;
    const manual = lin.forward(new Tanh().forward(lstm.forward(x).output).output).output;
    expect(Array.from(y.data)).to.deep.equal(Array.from(manual.data));
  });

  const cases = [
    { label: 'LSTM -> Tanh -> Linear, lengths', build: () => [new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, dtype: 'float64' }), new Tanh(), new Linear({ inFeatures: 3, outFeatures: 2, seed: 2, dtype: 'float64' })], x: [5, 3, 2], out: [5, 3, 2], lengths: [5, 2, 4] },
    { label: '2-layer bidirectional LSTM -> LastStep -> Linear (many-to-one)', build: () => [new LSTM({ inputSize: 2, hiddenSize: 2, numLayers: 2, bidirectional: true, seed: 3, dtype: 'float64' }), new LastStep(), new Linear({ inFeatures: 4, outFeatures: 3, seed: 4, dtype: 'float64' })], x: [4, 2, 2], out: [2, 3], lengths: [3, 4] },
    { label: 'GRU (ONNX formula) -> LastStep -> Linear, lengths', build: () => [new GRU({ inputSize: 2, hiddenSize: 3, linearBeforeReset: false, seed: 8, dtype: 'float64' }), new LastStep(), new Linear({ inFeatures: 3, outFeatures: 2, seed: 9, dtype: 'float64' })], x: [4, 3, 2], out: [3, 2], lengths: [4, 1, 3] },
    { label: 'RNN relu 2-layer -> GRU -> Linear', build: () => [new RNN({ inputSize: 2, hiddenSize: 3, numLayers: 2, nonlinearity: 'relu', seed: 10, dtype: 'float64' }), new GRU({ inputSize: 3, hiddenSize: 2, seed: 11, dtype: 'float64' }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 12, dtype: 'float64' })], x: [3, 2, 2], out: [3, 2, 1] },
    { label: 'Embedding -> LSTM -> ReLU -> Linear', tokens: 5, build: () => [new Embedding({ numEmbeddings: 5, embeddingDim: 3, seed: 5, dtype: 'float64' }), new LSTM({ inputSize: 3, hiddenSize: 4, seed: 6, dtype: 'float64' }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 5, seed: 7, dtype: 'float64' })], x: [3, 2], out: [3, 2, 5] },
  ];
  for (const c of cases) {
    it(`gradients match finite differences: ${c.label}`, function () {
      const rng = new Rng(21);
      const model = new Sequential(c.build());
      const x = c.tokens ? tensor(Array.from({ length: c.x[0] * c.x[1] }, () => Math.floor(rng.next() * c.tokens)), c.x, 'float64') : randomTensor(rng, c.x, 'float64');
      const opts = { lengths: c.lengths };
      const { checked } = gradcheck(model, x, randomTensor(rng, c.out, 'float64'), (m, xx) => m.forward(xx, opts).output, { rng, fwdOpts: opts, checkInput: !c.tokens, maxCoords: 12 });
      expect(checked).to.equal(model.namedParameters().length);
    });
  }

  for (const { backend } of backendCases().filter((b) => b.dtype === 'float32')) {
    it(`${backend}: carries state between chunks: two halves equal one whole forward`, function () {
      const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 5, seed: 8, backend }), new Linear({ inFeatures: 5, outFeatures: 1, seed: 9 })]);
      const x = randomTensor(new Rng(3), [6, 2, 2]);
      const whole = model.forward(x).output.data;
      const a = model.forwardTrain(new (x.constructor)(x.data.slice(0, 3 * 4), [3, 2, 2]));
      const b = model.forward(new (x.constructor)(x.data.slice(12), [3, 2, 2]), { state: a.state });
      expect(a.state[0].c.shape).to.deep.equal([1, 2, 5]);
      expect(a.state[1]).to.equal(null);
      const joined = [...a.output.data, ...b.output.data];
      joined.forEach((v, i) => expect(v).to.be.closeTo(whole[i], 1e-6));
    });
  }

  it('stateDict round-trips; loadStateDict is all-or-nothing and names unknown keys', function () {
    const mk = (s) => new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: s }), new Linear({ inFeatures: 3, outFeatures: 1, seed: s + 1 })]);
    const a = mk(1), b = mk(5);
    const before = b.stateDict();
    const bad = { ...a.stateDict(), '1.bias': { shape: [2], data: [1, 2] } };
    expect(() => b.loadStateDict(bad)).to.throw(RangeError, /^Sequential\.loadStateDict: weights: mis-shaped: 1\.bias \(expected \[1\], got \[2\]\)/);
    // Every problem at once, by full name: missing, unexpected and mis-shaped, with the expected names.
    const { '0.bias_hh_l0': _drop, ...partial } = a.stateDict();
    expect(() => b.loadStateDict({ ...partial, '0.extra': a.stateDict()['1.bias'], '1.weight': a.stateDict()['1.bias'] })).to.throw(TypeError,
      /^Sequential\.loadStateDict: weights: missing: 0\.bias_hh_l0; unexpected: 0\.extra; mis-shaped: 1\.weight \(expected \[1, 3\], got \[1\]\) \(expected the names 0\.weight_ih_l0, /);
    for (const [k, t] of Object.entries(b.stateDict())) expect(Array.from(t.data)).to.deep.equal(Array.from(before[k].data));
    expect(() => b.loadStateDict({ ...a.stateDict(), '7.weight': a.stateDict()['1.weight'] })).to.throw(TypeError, /unexpected: 7\.weight \(expected the names 0\.weight_ih_l0, 0\.weight_hh_l0, 0\.bias_ih_l0, 0\.bias_hh_l0, 1\.weight, 1\.bias\)/);
    b.loadStateDict(a.stateDict());
    const x = randomTensor(new Rng(2), [3, 1, 2]);
    expect(Array.from(b.forward(x).output.data)).to.deep.equal(Array.from(a.forward(x).output.data));
  });

  it('rejects mixed dtypes and non-layers', function () {
    expect(() => new Sequential([new Linear({ inFeatures: 2, outFeatures: 2, dtype: 'float64' }), new Linear({ inFeatures: 2, outFeatures: 2 })])).to.throw(RangeError, /layers\[1\].dtype/);
    expect(() => new Sequential([{}])).to.throw(TypeError, /layers\[0\]/);
    expect(() => new Sequential([])).to.throw(TypeError, /layers/);
  });
});

describe('Sequential layout', function () {
  // A batch-first LSTM then a time-major LastStep took the wrong axis: x [3, 6, 5] gave [6, 2].
  it('layers that disagree on batchFirst are an error at construction, naming the layer', function () {
    const lstm = new LSTM({ inputSize: 5, hiddenSize: 4, batchFirst: true, seed: 1 });
    expect(() => new Sequential([lstm, new LastStep(), new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 })]))
      .to.throw(RangeError, /^Sequential: layers\[1\]\.batchFirst: expected true like layers\[0\]/);
    expect(() => new Sequential([new LSTM({ inputSize: 5, hiddenSize: 4, seed: 1 }), new GRU({ inputSize: 4, hiddenSize: 3, batchFirst: true })]))
      .to.throw(RangeError, /^Sequential: layers\[1\]\.batchFirst: expected false like layers\[0\]/);
  });
  it('a batch-first chain takes [B, T, I] and gives one row per sequence: the last valid step of each', function () {
    const rng = new Rng(3);
    const lstm = new LSTM({ inputSize: 5, hiddenSize: 4, batchFirst: true, seed: 1 });
    const head = new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 });
    const m = new Sequential([lstm, new LastStep({ batchFirst: true }), head]);
    expect(m.batchFirst).to.equal(true);
    const x = randomTensor(rng, [3, 6, 5]);
    const lengths = [6, 2, 4];
    const y = m.forward(x, { lengths }).output;
    expect(y.shape).to.deep.equal([3, 2]);
    // Against each sequence alone: out[b, len-1] through the head.
    for (let b = 0; b < 3; b++) {
      const xb = tensor(Array.from(x.data.subarray(b * 30, b * 30 + lengths[b] * 5)), [1, lengths[b], 5]);
      const out = lstm.forward(xb).output; // [1, len, 4]
      const last = tensor(Array.from(out.data.subarray((lengths[b] - 1) * 4, lengths[b] * 4)), [1, 4]);
      const want = head.forward(last).output.data;
      for (let j = 0; j < 2; j++) expect(y.data[b * 2 + j]).to.be.closeTo(want[j], 1e-6);
    }
  });
});

describe('describing a model', function () {
  const model = () => new Sequential([
    new Embedding({ numEmbeddings: 50, embeddingDim: 8, seed: 1 }),
    new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, batchFirst: true, seed: 1 }),
    new LastStep({ batchFirst: true }), new Linear({ inFeatures: 32, outFeatures: 3, seed: 2 }), new Tanh(),
  ]);
  it('numParameters counts every trainable value (PyTorch: sum of numel over parameters())', function () {
    const m = model();
    // Embedding 50*8; LSTM per direction 4H(I+H) + 8H: layer 0 (I = 8) and layer 1 (I = 32); Linear 32*3 + 3.
    const lstm = 2 * (4 * 16 * (8 + 16) + 8 * 16) + 2 * (4 * 16 * (32 + 16) + 8 * 16);
    expect(m.numParameters()).to.equal(400 + lstm + 99);
    expect(m.layers[1].numParameters()).to.equal(lstm);
  });
  it('String(model) lists each layer with its options; summary() adds output shapes and parameter counts', function () {
    const m = model();
    expect(String(m)).to.equal([
      'Sequential(',
      '  (0): Embedding(numEmbeddings=50, embeddingDim=8, paddingIdx=null)',
      '  (1): LSTM(inputSize=8, hiddenSize=16, numLayers=2, bias=true, batchFirst=true, bidirectional=true)',
      '  (2): LastStep(batchFirst=true)',
      '  (3): Linear(inFeatures=32, outFeatures=3, bias=true)',
      '  (4): Tanh()',
      ')',
    ].join('\n'));
    const s = m.summary().split('\n');
    expect(s[0]).to.equal('Sequential (batch-first, float32)');
    const row = (i) => s.find((l) => l.startsWith(`${i} `)).split(/\s{2,}/);
    expect(row(0).slice(-2)).to.deep.equal(['[B, T, 8]', '400']);
    expect(row(1).slice(-2)).to.deep.equal(['[B, T, 32]', '9,728']);
    expect(row(2).slice(-2)).to.deep.equal(['[B, 32]', '0']);
    expect(row(3).slice(-2)).to.deep.equal(['[B, 3]', '99']);
    expect(s.at(-1)).to.equal('parameters: 10,227');
    expect(String(new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 2, peephole: true, clip: 3 }))).to.equal(
      'LSTM(inputSize=2, hiddenSize=4, numLayers=1, bias=true, batchFirst=false, bidirectional=false, projSize=2, peephole=true, clip=3)');
    expect(String(new RNN({ inputSize: 2, hiddenSize: 3, nonlinearity: 'relu', dtype: 'float64', backend: 'ts' }))).to.match(/nonlinearity='relu'/);
  });
});

describe('layers without parameters: loadStateDict', function () {
  it('takes an empty object or Map; any name is unexpected, naming the layer', function () {
    for (const l of [new LastStep(), new Tanh()]) {
      l.loadStateDict({});
      l.loadStateDict(new Map());
      expect(() => l.loadStateDict(new Map([['w', tensor([1])]]))).to.throw(TypeError, /loadStateDict: weights: expected no parameters \(this layer has none\), got "unexpected: w"/);
    }
  });
});

describe('Sequential with named layers (PyTorch attribute names)', function () {
  const make = () => new Sequential({
    lstm: new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 1 }),
    last: new LastStep({ batchFirst: true }),
    fc: new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 }),
  });
  it("parameters are named like a PyTorch module's state_dict; one with those names loads as it is (object or Map)", function () {
    const m = make();
    expect(m.layerNames).to.deep.equal(['lstm', 'last', 'fc']);
    expect(Object.keys(m.stateDict())).to.deep.equal(['lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0', 'fc.weight', 'fc.bias']);
    expect(m.namedParameters().map(([n]) => n)).to.deep.equal(Object.keys(m.stateDict()));
    // What torch's model.state_dict() holds for class M(nn.Module): lstm = nn.LSTM(...); fc = nn.Linear(...)
    const other = new Sequential(new Map([['lstm', new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 7 })], ['last', new LastStep({ batchFirst: true })], ['fc', new Linear({ inFeatures: 4, outFeatures: 2, seed: 8 })]]));
    const x = randomTensor(new Rng(1), [2, 5, 3]);
    m.loadStateDict(new Map(Object.entries(other.stateDict())));
    expect(Array.from(m.forward(x).output.data)).to.deep.equal(Array.from(other.forward(x).output.data));
    expect(() => m.loadStateDict({ ...other.stateDict(), '0.weight': tensor([1]) })).to.throw(TypeError, /unexpected: 0\.weight \(expected the names lstm\.weight_ih_l0, .*fc\.bias\)/);
    expect(String(m).split('\n')[1]).to.match(/^ {2}\(lstm\): LSTM\(/);
    expect(m.summary()).to.match(/\nfc +Linear\(inFeatures=4/);
  });
  it('backward and training key gradients by those names', function () {
    const m = make();
    const f = m.forwardTrain(randomTensor(new Rng(2), [2, 5, 3]));
    const g = m.backward(f.cache, { dOutput: tensor([[1, 0], [0, 1]]) });
    expect(Object.keys(g.grads)).to.deep.equal(Object.keys(m.stateDict()));
  });
  it('names must be non-empty and dot-free', function () {
    expect(() => new Sequential({ 'a.b': new Tanh() })).to.throw(TypeError, /^Sequential: layers \(name 0\): expected a non-empty name without dots, got "a\.b"/);
    expect(() => new Sequential(new Map([['', new Tanh()]]))).to.throw(TypeError, /non-empty name without dots/);
    expect(() => new Sequential({})).to.throw(TypeError, /^Sequential: layers: expected a non-empty array of layers/);
  });
});
