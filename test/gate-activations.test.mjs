// Configurable gate activations (issue #22; docs/equations.md, "Gate activations"): the option's
// checks and config round trip, float64 finite-difference gradients of every activation on every
// kind (ts), native and wasm against ts in float32 (forward and BPTT), quantized models, and the
// default path left as it was. The peers (TF.js, onnxruntime) are in tfjs.test.mjs and
// onnx-export.test.mjs / onnx-import.test.mjs.
import { expect } from 'chai';
import { GRU, LayerNormLSTM, LSTM, RNN, Sequential, LastStep, Linear, availableBackends, encodeModel, load, tensor } from 'cellstate';
import { randomTensor, Rng } from './helpers/random.mjs';
import { fdCheck, pickIndices } from './helpers/gradcheck.mjs';

const NAMES = ['sigmoid', 'tanh', 'relu', 'hardSigmoid', 'affine', 'leakyRelu', 'thresholdedRelu', 'scaledTanh', 'elu', 'softsign', 'softplus'];
// Parameters that exercise both sides of each function's kinks on values of a few units.
const PARAMS = {
  hardSigmoid: { alpha: 0.7, beta: 0.4 }, affine: { alpha: 0.8, beta: 0.1 }, leakyRelu: { alpha: 0.2 },
  thresholdedRelu: { alpha: 0.15 }, scaledTanh: { alpha: 1.3, beta: 0.7 }, elu: { alpha: 0.9 },
};
const act = (name) => (PARAMS[name] ? { name, ...PARAMS[name] } : name);
const Cls = { LSTM, GRU, RNN };
const SLOTS = { LSTM: 3, GRU: 2, RNN: 1 };

describe('gate activations: the option', function () {
  it('defaults to the kind\'s activations and leaves a default config as it was', function () {
    expect(new LSTM({ inputSize: 2, hiddenSize: 3 }).activations).to.deep.equal([
      { name: 'sigmoid', alpha: 0, beta: 0 }, { name: 'tanh', alpha: 0, beta: 0 }, { name: 'tanh', alpha: 0, beta: 0 }]);
    expect(new GRU({ inputSize: 2, hiddenSize: 3 }).activations.map((a) => a.name)).to.deep.equal(['sigmoid', 'tanh']);
    expect(new RNN({ inputSize: 2, hiddenSize: 3, nonlinearity: 'relu' }).activations.map((a) => a.name)).to.deep.equal(['relu']);
    for (const m of [new LSTM({ inputSize: 2, hiddenSize: 3, activations: ['sigmoid', 'tanh', 'tanh'] }), new GRU({ inputSize: 2, hiddenSize: 3 }), new RNN({ inputSize: 2, hiddenSize: 3, activations: ['tanh'] })]) {
      expect(m.config()).to.not.have.property('activations');
      expect(String(m)).to.not.contain('activations');
    }
    expect(new RNN({ inputSize: 2, hiddenSize: 3, activations: ['relu'] }).config()).to.deep.include({ nonlinearity: 'relu' });
    // A layer's resolved activations can be handed to another layer as they are.
    const m = new LSTM({ inputSize: 2, hiddenSize: 3, activations: ['hardSigmoid', 'softsign', { name: 'elu', alpha: 0.3 }] });
    expect(new LSTM({ inputSize: 2, hiddenSize: 3, activations: m.activations }).activations).to.deep.equal(m.activations);
  });

  it('fills ONNX\'s default alpha and beta, writes them back only where they differ', function () {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3, activations: ['hardSigmoid', { name: 'leakyRelu' }, { name: 'scaledTanh', alpha: 2 }] });
    expect(m.activations).to.deep.equal([{ name: 'hardSigmoid', alpha: 0.2, beta: 0.5 }, { name: 'leakyRelu', alpha: 0.01, beta: 0 }, { name: 'scaledTanh', alpha: 2, beta: 1 }]);
    expect(m.config().activations).to.deep.equal(['hardSigmoid', 'leakyRelu', { name: 'scaledTanh', alpha: 2, beta: 1 }]);
    expect(String(m)).to.contain('activations=["hardSigmoid","leakyRelu",{"name":"scaledTanh","alpha":2,"beta":1}]');
    const r = new RNN({ inputSize: 2, hiddenSize: 3, activations: [{ name: 'elu', alpha: 0.5 }] });
    expect(r.nonlinearity).to.equal(null);
    expect(r.config().activations).to.deep.equal([{ name: 'elu', alpha: 0.5 }]);
  });

  it('refuses bad entries with errors naming activations[k]', function () {
    const mk = (activations, Kind = LSTM) => () => new Kind({ inputSize: 2, hiddenSize: 3, activations });
    expect(mk('tanh')).to.throw(TypeError, /^LSTM: activations: expected an array of 3 gate activations \[f, g, h\]/);
    expect(mk(['tanh', 'tanh'])).to.throw(RangeError, /^LSTM: activations: expected 3 entries \[f, g, h\], got 2 entries/);
    expect(mk(['tanh'], GRU)).to.throw(RangeError, /^GRU: activations: expected 2 entries \[f, g\]/);
    expect(mk(['sigmoid', 'tanh', 'swish'])).to.throw(TypeError, /^LSTM: activations\[2\]: expected one of 'sigmoid', .*'softplus', got .swish./);
    expect(mk(['sigmoid', 3, 'tanh'])).to.throw(TypeError, /^LSTM: activations\[1\]: expected .*\{ name, alpha\?, beta\? \}, got 3/);
    expect(mk([{ name: 'elu', gamma: 1 }, 'tanh', 'tanh'])).to.throw(TypeError, /^LSTM: activations\[0\]\.gamma: expected one of the known activation fields \(name, alpha, beta\)/);
    expect(mk([{ name: 'relu', alpha: 1 }, 'tanh', 'tanh'])).to.throw(TypeError, /^LSTM: activations\[0\]\.alpha: expected nothing or 0 \(relu reads no alpha\)/);
    expect(mk(['sigmoid', { name: 'affine', beta: NaN }, 'tanh'])).to.throw(RangeError, /^LSTM: activations\[1\]\.beta: expected a finite number \(float32 range\), got NaN/);
    expect(mk(['sigmoid', 'tanh', { name: 'hardSigmoid', alpha: Infinity }])).to.throw(RangeError, /^LSTM: activations\[2\]\.alpha: expected a finite number/);
    expect(mk(['sigmoid', 'tanh', { name: 'hardSigmoid', alpha: '0.2' }])).to.throw(TypeError, /^LSTM: activations\[2\]\.alpha: expected a finite number, got .0\.2./);
    expect(mk([{ name: 'leakyRelu', alpha: -0.1 }, 'tanh', 'tanh'])).to.throw(RangeError, /^LSTM: activations\[0\]\.alpha: expected a number >= 0 for leakyRelu \(its derivative is read from the output\), got -0.1/);
    expect(mk([{ name: 'elu', alpha: -1 }], RNN)).to.throw(RangeError, /^RNN: activations\[0\]\.alpha: expected a number >= 0 for elu/);
    expect(() => new RNN({ inputSize: 2, hiddenSize: 3, nonlinearity: 'relu', activations: ['tanh'] })).to.throw(TypeError, /^RNN: activations: expected \['relu'\] \(as nonlinearity 'relu' says\), or no nonlinearity/);
    expect(() => new RNN({ inputSize: 2, hiddenSize: 3, nonlinearity: 'tanh', activations: ['tanh'] })).to.not.throw();
    expect(() => new LayerNormLSTM({ inputSize: 2, hiddenSize: 3, activations: ['hardSigmoid', 'tanh', 'tanh'] })).to.throw(RangeError, /^LayerNormLSTM: activations: expected the defaults \['sigmoid', 'tanh', 'tanh'\]/);
    expect(() => new LayerNormLSTM({ inputSize: 2, hiddenSize: 3, activations: ['sigmoid', 'tanh', 'tanh'] })).to.not.throw();
  });

  it('round-trips through a model file and a Sequential (summary shows them)', function () {
    const rng = new Rng(5);
    const seq = new Sequential([
      new GRU({ inputSize: 3, hiddenSize: 4, activations: [{ name: 'hardSigmoid', alpha: 0.25 }, 'softsign'], seed: 1 }),
      new LastStep(), new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 }),
    ]);
    const x = randomTensor(rng, [5, 2, 3]);
    const back = load(encodeModel(seq));
    expect(back.layers[0].activations).to.deep.equal(seq.layers[0].activations);
    expect(back.forward(x).output.data).to.deep.equal(seq.forward(x).output.data);
    expect(String(seq.summary())).to.contain('activations=[{"name":"hardSigmoid","alpha":0.25,"beta":0.5},"softsign"]');
    const rnn = new RNN({ inputSize: 3, hiddenSize: 4, activations: [{ name: 'thresholdedRelu', alpha: 0.1 }], seed: 3, numLayers: 2 });
    const r2 = load(encodeModel(rnn));
    expect(r2.activations).to.deep.equal(rnn.activations);
    expect(r2.forward(x).output.data).to.deep.equal(rnn.forward(x).output.data);
  });
});

describe('gate activations: finite-difference gradients (float64, ts)', function () {
  for (const kind of Object.keys(Cls)) for (const name of NAMES) {
    it(`${kind} with every slot ${name}`, function () {
      const rng = new Rng(300 + NAMES.indexOf(name));
      const I = 3, H = 4, T = 4, B = 2;
      const activations = Array(SLOTS[kind]).fill(act(name));
      const extra = kind === 'GRU' ? { linearBeforeReset: NAMES.indexOf(name) % 2 === 0 } : {};
      const model = new Cls[kind]({ inputSize: I, hiddenSize: H, activations, dtype: 'float64', seed: 11, backend: 'ts', ...extra });
      const x = randomTensor(rng, [T, B, I], 'float64', 1.5);
      const dOutput = randomTensor(rng, [T, B, H], 'float64');
      const lengths = [4, 3];
      const r = model.forwardTrain(x, { lengths });
      const g = model.backward(r.cache, { dOutput });
      const loss = () => {
        const y = model.forward(x, { lengths }).output.data;
        let s = 0;
        for (let i = 0; i < y.length; i++) s += y[i] * dOutput.data[i];
        return s;
      };
      fdCheck('x', x.data, g.dX.data, loss, () => {}, pickIndices(x.data.length, 24, rng));
      const sd = model.stateDict();
      for (const [n, t] of Object.entries(sd)) fdCheck(n, t.data, g.grads[n].data, loss, () => model.loadStateDict(sd), pickIndices(t.data.length, 16, rng));
    });
  }
  it('LSTM variants (peephole, coupled gate, projection, clip) with mixed activations', function () {
    const rng = new Rng(77);
    for (const opts of [{ peephole: true }, { inputForget: true }, { projSize: 2 }, { clip: 0.9 }]) {
      const model = new LSTM({ inputSize: 3, hiddenSize: 4, activations: [act('hardSigmoid'), act('elu'), 'softsign'], dtype: 'float64', seed: 4, backend: 'ts', ...opts });
      const x = randomTensor(rng, [3, 2, 3], 'float64', 1.5);
      const P = opts.projSize ?? 4;
      const dOutput = randomTensor(rng, [3, 2, P], 'float64');
      const r = model.forwardTrain(x);
      const g = model.backward(r.cache, { dOutput });
      const loss = () => model.forward(x).output.data.reduce((s, v, i) => s + v * dOutput.data[i], 0);
      fdCheck('x', x.data, g.dX.data, loss, () => {}, pickIndices(x.data.length, 18, rng));
      const sd = model.stateDict();
      for (const [n, t] of Object.entries(sd)) fdCheck(n, t.data, g.grads[n].data, loss, () => model.loadStateDict(sd), pickIndices(t.data.length, 10, rng));
    }
  });
});

// Normalised max difference: max |a - b| / max(1, max |b|).
function maxRel(a, b) {
  let m = 0, s = 1;
  for (let i = 0; i < b.length; i++) s = Math.max(s, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / s;
}

const others = availableBackends().filter((b) => b !== 'ts');
describe('gate activations: native and wasm against ts (float32, forward and BPTT)', function () {
  if (!others.length) {
    // Only a machine where neither the addon nor the wasm module loads; CI requires both.
    if (process.env.CELLSTATE_REQUIRE_NATIVE === '1' || process.env.CELLSTATE_REQUIRE_WASM === '1') throw new Error('native and wasm are required here but neither loads');
    return it.skip('no native or wasm backend here (the ts backend is the reference these compare against)');
  }
  const shapes = [{ H: 1, T: 2, B: 1 }, { H: 7, T: 3, B: 3 }, { H: 16, T: 2, B: 2 }, { H: 17, T: 3, B: 1 }];
  for (const backend of others) for (const kind of Object.keys(Cls)) for (const name of NAMES) {
    it(`${backend} ${kind} ${name}`, function () {
      const rng = new Rng(900 + NAMES.indexOf(name));
      for (const [si, { H, T, B }] of shapes.entries()) {
        const I = 5;
        // Slot f is the named one; the others cycle through the set so every slot sees every function.
        const activations = Array.from({ length: SLOTS[kind] }, (_, k) => act(k === 0 ? name : NAMES[(NAMES.indexOf(name) + 3 * k + si) % NAMES.length]));
        const opts = { inputSize: I, hiddenSize: H, activations, seed: 21 + si, bidirectional: si === 1, ...(kind === 'GRU' ? { linearBeforeReset: si % 2 === 0 } : {}), ...(kind === 'LSTM' && si === 2 ? { peephole: true, clip: 1.2 } : {}), ...(kind === 'LSTM' && si === 3 ? { projSize: 5 } : {}) };
        const ref = new Cls[kind]({ ...opts, backend: 'ts' });
        const m = new Cls[kind]({ ...opts, backend });
        const x = randomTensor(rng, [T, B, I], 'float32', 1.5);
        const lengths = B > 1 ? Array.from({ length: B }, (_, b) => T - (b % T)) : undefined;
        const D = opts.bidirectional ? 2 : 1, P = opts.projSize ?? H;
        const dOutput = randomTensor(rng, [T, B, D * P]);
        const rr = ref.forwardTrain(x, { lengths }), rm = m.forwardTrain(x, { lengths });
        const where = `${JSON.stringify(activations)} H=${H}`;
        expect(maxRel(rm.output.data, rr.output.data), `output ${where}`).to.be.below(2e-5);
        const gr = ref.backward(rr.cache, { dOutput }), gm = m.backward(rm.cache, { dOutput });
        expect(maxRel(gm.dX.data, gr.dX.data), `dX ${where}`).to.be.below(5e-5);
        for (const n of Object.keys(gr.grads)) expect(maxRel(gm.grads[n].data, gr.grads[n].data), `${n} ${where}`).to.be.below(5e-5);
        expect(maxRel(m.forward(x, { lengths }).output.data, rr.output.data), `inference ${where}`).to.be.below(2e-5);
      }
    });
  }
});

describe('gate activations: quantized models keep them', function () {
  for (const backend of availableBackends()) for (const precision of ['bf16', 'int8']) {
    it(`${backend} ${precision}: LSTM, GRU and RNN with non-default activations follow their fp32 model`, function () {
      const rng = new Rng(41);
      const x = randomTensor(rng, [6, 3, 8]);
      for (const [kind, activations] of [['LSTM', [act('hardSigmoid'), act('elu'), 'softsign']], ['GRU', ['hardSigmoid', 'softplus']], ['RNN', [act('leakyRelu')]]]) {
        const fp = new Cls[kind]({ inputSize: 8, hiddenSize: 16, activations, seed: 8, backend });
        const q = new Cls[kind]({ inputSize: 8, hiddenSize: 16, activations, seed: 8, backend }).quantize(precision);
        const qDefault = new Cls[kind]({ inputSize: 8, hiddenSize: 16, seed: 8, backend }).quantize(precision);
        const y = fp.forward(x).output.data, yq = q.forward(x).output.data;
        expect(q.activations).to.deep.equal(fp.activations);
        expect(maxRel(yq, y), `${kind} quantized vs fp32`).to.be.below(precision === 'bf16' ? 3e-2 : 3e-2);
        // The activations are in effect: the default-activation model differs by far more.
        expect(maxRel(qDefault.forward(x).output.data, y), `${kind} default vs custom`).to.be.above(5e-2);
        const qts = new Cls[kind]({ inputSize: 8, hiddenSize: 16, activations, seed: 8, backend: 'ts' }).quantize(precision);
        expect(maxRel(qts.forward(x).output.data, yq), `${kind} ${backend} vs ts, quantized`).to.be.below(1e-4);
      }
    });
  }
});
