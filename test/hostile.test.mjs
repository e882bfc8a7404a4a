// Regression tests for what the public-API fuzzer (test/helpers/fuzz-api.mjs) found: each case
// failed before its fix with an engine error, a user's own exception escaping unexplained, a
// partial write, garbage, or (numLayers) an aborted process.
import { expect } from 'chai';
import {
  clipGradValue, decodeSafetensors, encodeSafetensors, fromOnnx, GRU, huberLoss, LastStep, Linear, LSTM, MAX_LAYERS, ReLU,
  Sequential, SGD, Tensor, tensor, toOnnx, Trainer, zeros,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

class Boom extends Error {}
const throwingShape = () => new Proxy([2, 3], { get(t, k) { if (k === '0') throw new Boom('shape read'); return t[k]; } });
const detached = (a) => { structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };

describe('hostile arguments (fuzzer findings)', function () {
  it('numLayers is bounded: 2^31 layers used to exhaust the JS heap and abort the process', function () {
    expect(MAX_LAYERS).to.equal(1024);
    expect(() => new GRU({ inputSize: 1, hiddenSize: 1, numLayers: 2 ** 31 - 1 })).to.throw(RangeError, 'GRU: numLayers: expected an integer in [1, 1024] (the layer limit, see docs/security.md#limits), got 2147483647');
    expect(new LSTM({ inputSize: 1, hiddenSize: 1, numLayers: 3, backend: 'ts' }).numLayers).to.equal(3);
  });

  it('LastStep refuses T = 0 (it selected row -1; backward then wrote out of bounds)', function () {
    const ls = new LastStep();
    expect(() => ls.forwardTrain(zeros([0, 2, 3]))).to.throw(RangeError, 'LastStep.forwardTrain: x: expected shape [T, B, F] with T >= 1, got [0, 2, 3]');
    expect(() => new LastStep({ batchFirst: true }).forward(zeros([2, 0, 3]))).to.throw(RangeError, 'with T >= 1');
  });

  for (const { backend, dtype } of backendCases()) {
    it(`${backend} ${dtype}: loadStateDict with a name mapped to undefined fails whole, changing nothing`, function () {
      const m = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend, dtype });
      const before = m.stateDict();
      const bad = { ...m.stateDict(), weight_ih_l0: zeros([12, 2], dtype).clone(), bias_hh_l0: undefined };
      bad.weight_ih_l0.data.fill(7);
      expect(() => m.loadStateDict(bad)).to.throw(RangeError, 'bias_hh_l0: expected a Tensor or {shape, data}, got undefined');
      for (const [k, t] of Object.entries(m.stateDict())) expect(Array.from(t.data), k).to.deep.equal(Array.from(before[k].data));
    });
  }

  describe('throwing getters and proxies are argument errors naming the argument', function () {
    const m = () => new LSTM({ inputSize: 3, hiddenSize: 2, seed: 1 });
    const cases = [
      ['a tensor shape whose entry throws', () => m().forward({ shape: throwingShape(), data: new Float32Array(6) }), 'LSTM.forward: x.shape: expected a readable array of dimensions (reading it threw: shape read)'],
      ['new Tensor with such a shape', () => new Tensor(new Float32Array(6), throwingShape()), 'Tensor: shape: expected a readable array'],
      ['tensor() of a proxy that throws', () => tensor(new Proxy([1, 2], { get() { throw new Boom('values read'); } }), [2]), 'tensor: values: expected readable nested arrays or array-likes of numbers (reading them threw: values read)'],
      ['loadStateDict of a proxy', () => m().loadStateDict(new Proxy({}, { ownKeys() { throw new Boom('keys'); } })), 'LSTM.loadStateDict: weights: expected an object whose entries can be read'],
      ['loadStateDict with a throwing getter', () => m().loadStateDict(Object.defineProperty({}, 'weight_ih_l0', { get() { throw new Boom('w'); }, enumerable: true })), 'weights: expected an object whose entries can be read (reading them threw: w)'],
      ['loadStateDict with a throwing shape', () => { const a = m(); return a.loadStateDict({ ...a.stateDict(), bias_ih_l0: { shape: throwingShape(), data: new Float32Array(8) } }); }, 'bias_ih_l0: reading its shape threw: shape read'],
      ['clipGradValue of a proxy', () => clipGradValue(new Proxy({}, { ownKeys() { throw new Boom('k'); } }), 1), 'clipGradValue: grads: expected an object whose entries can be read'],
      ['encodeSafetensors of a proxy', () => encodeSafetensors(new Proxy({}, { ownKeys() { throw new Boom('k'); } })), 'encodeSafetensors: tensors: expected an object whose entries can be read'],
      ['huberLoss with a throwing delta getter', () => huberLoss(zeros([2, 1]), zeros([2, 1]), Object.defineProperty({}, 'delta', { get() { throw new Boom('d'); }, enumerable: true })), 'huberLoss: options.delta: expected a readable value'],
      ['a Trainer whose model throws on access', () => new Trainer({ model: new Proxy({}, { get() { throw new Boom('m'); } }), optimizer: null, loss: 'mse' }), 'Trainer: model: expected a Sequential (reading it threw: m)'],
      ['a Trainer whose optimizer throws on access', () => { const s = new Sequential([new Linear({ inFeatures: 1, outFeatures: 1 })]); return new Trainer({ model: s, optimizer: new Proxy({}, { get() { throw new Boom('o'); } }), loss: 'mse' }); }, 'Trainer: optimizer: expected an Optimizer'],
      ['OnnxModel.forward feeds that cannot be listed', () => fromOnnx(toOnnx(new LSTM({ inputSize: 2, hiddenSize: 2, seed: 1 })), { as: 'graph' }).forward(new Proxy({}, { ownKeys() { throw new Boom('f'); } })), 'feeds: expected an object whose keys can be read'],
    ];
    for (const [name, fn, frag] of cases) {
      it(name, function () {
        let err;
        try { fn(); } catch (e) { err = e; }
        // A TypeError, except inside loadStateDict's all-or-nothing report (a RangeError there).
        expect(err, 'an error').to.satisfy((e) => e instanceof TypeError || (e instanceof RangeError && name.startsWith('loadStateDict')));
        expect(err).to.not.be.instanceOf(Boom);
        expect(err.message).to.contain(frag);
      });
    }
    it('an optimizer gradient getter that throws names the gradient', function () {
      const a = new Sequential([new Linear({ inFeatures: 1, outFeatures: 1, seed: 1 })]);
      const g = { '0.bias': zeros([1]) };
      Object.defineProperty(g, '0.weight', { get() { throw new Boom('g'); }, enumerable: true });
      expect(() => new SGD(a, { lr: 0.1 }).step(g)).to.throw(TypeError, "SGD.step: grads['0.weight']: expected a readable gradient (reading it threw: g)");
    });
  });

  describe('detached buffers', function () {
    it('a tensor detached after construction is refused (and a zero-size one works)', function () {
      const t = tensor([[[1, 2, 3]]]);
      detached(t.data);
      expect(() => new LSTM({ inputSize: 3, hiddenSize: 2, seed: 1 }).forward(t)).to.throw(RangeError, 'x: expected 3 elements for shape [1, 1, 3], got 0 elements in data (a detached buffer?)');
      const z = new Tensor(new Float32Array(0), [0, 2, 3]);
      detached(z.data);
      expect(new ReLU().forwardTrain(z).output.shape).to.deep.equal([0, 2, 3]);
    });
    it('encodeSafetensors refuses a detached tensor instead of writing a header that lies', function () {
      const t = tensor([1, 2, 3, 4], [2, 2]);
      detached(t.data);
      expect(() => encodeSafetensors({ a: t })).to.throw(RangeError, "encodeSafetensors: tensors['a']: expected 4 elements for shape [2, 2], got 0 elements in data");
      const z = new Tensor(new Float32Array(0), [0]);
      detached(z.data);
      expect(decodeSafetensors(Buffer.concat(encodeSafetensors({ z }))).tensors.get('z').shape).to.deep.equal([0]);
    });
    it('OnnxModel.forward refuses a detached feed instead of computing on NaN', function () {
      const onnx = fromOnnx(toOnnx(new LSTM({ inputSize: 2, hiddenSize: 2, seed: 1 }), { batchFirst: true }), { as: 'graph' });
      const x = tensor([[[1, 2]]]);
      detached(x.data);
      expect(() => onnx.forward({ x })).to.throw(RangeError, 'feeds.x: expected 2 elements');
    });
  });
  describe('loadStateDict loads what it checked (each value read once into a staging copy)', function () {
    for (const { backend, dtype } of backendCases()) {
      const make = () => new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend, dtype });
      const finiteWeights = (m) => Object.values(m.stateDict()).every((t) => t.data.every(Number.isFinite));

      it(`${backend} ${dtype}: an array whose entries read finite once and NaN afterwards`, function () {
        const m = make(), sd = make().stateDict();
        const src = Array.from(sd.bias_ih_l0.data), reads = new Map();
        const data = new Proxy(src, { get(t, k) { if (typeof k === 'string' && /^\d+$/.test(k)) { reads.set(k, (reads.get(k) ?? 0) + 1); if (reads.get(k) > 1) return NaN; } return t[k]; } });
        m.loadStateDict({ ...sd, bias_ih_l0: { shape: [12], data } });
        expect(finiteWeights(m)).to.equal(true);
        expect(Array.from(m.stateDict().bias_ih_l0.data)).to.deep.equal(Array.from(sd.bias_ih_l0.data));
        expect(Math.max(...reads.values())).to.equal(1);
      });

      it(`${backend} ${dtype}: a typed array changed by another entry's getter after it was checked`, function () {
        const m = make(), sd = make().stateDict();
        const ih = sd.weight_ih_l0.data.slice(), want = Array.from(ih);
        // weight_ih_l0 is checked first; reading weight_hh_l0's data then poisons it.
        const weights = { ...sd, weight_ih_l0: { shape: sd.weight_ih_l0.shape, data: ih },
          weight_hh_l0: { shape: sd.weight_hh_l0.shape, get data() { ih.fill(NaN); return sd.weight_hh_l0.data; } } };
        m.loadStateDict(weights);
        expect(finiteWeights(m)).to.equal(true);
        expect(Array.from(m.stateDict().weight_ih_l0.data)).to.deep.equal(want);
      });
    }

    it('a finite float64 value that overflows a float32 parameter is refused (the copy is what is checked)', function () {
      const m = new Linear({ inFeatures: 1, outFeatures: 1, seed: 1 }), before = Array.from(m.stateDict().weight.data);
      expect(() => m.loadStateDict({ weight: { shape: [1, 1], data: Float64Array.of(1e39) }, bias: { shape: [1], data: [0] } }))
        .to.throw(RangeError, 'Linear.loadStateDict: weights: weight: expected finite numbers (in float32), got Infinity at flat index 0');
      expect(Array.from(m.stateDict().weight.data)).to.deep.equal(before);
    });
  });
});
