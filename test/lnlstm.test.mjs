// LayerNormLSTM (TF Addons' LayerNormLSTMCell; docs/equations.md, "Layer-normalised LSTM"):
// reference cases from an independent implementation (test/fixtures/lnlstm/gen_lnlstm_torch.py:
// the cell written out in PyTorch, autograd gradients, float64) on every backend and dtype, and
// the API a kind owes: names, initial values, options, config, model files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { availableBackends, createBatcher, encodeTfjs, LastStep, LayerNormLSTM, Linear, load, saveModel, Sequential, tensor, toOnnx, UnsupportedModelError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';
import { allclose } from './helpers/reference.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, 'fixtures', 'lnlstm', 'cases.json'), 'utf8'));

function modelFor(c, backend, dtype) {
  const cfg = c.config;
  const m = new LayerNormLSTM({
    inputSize: cfg.input_size, hiddenSize: cfg.hidden_size, numLayers: cfg.num_layers, bias: cfg.bias,
    bidirectional: cfg.num_directions === 2, batchFirst: cfg.batch_first, normEpsilon: cfg.eps, dtype, backend, seed: 1,
  });
  m.loadStateDict(Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, tensor(v.data, v.shape, dtype)])));
  return m;
}

describe('LayerNormLSTM reference cases (PyTorch autograd, written-out cell)', function () {
  it('has its cases', function () {
    expect(fixture.cases.map((c) => c.name)).to.have.length(4);
  });
  for (const { backend, dtype } of backendCases()) {
    describe(`${backend} ${dtype}`, function () {
      const tol = fixture.tolerance[dtype];
      for (const c of fixture.cases) {
        it(c.name, async function () {
          const m = modelFor(c, backend, dtype);
          const T = (v) => v && tensor(v.data, v.shape, dtype);
          const opts = { h0: T(c.inputs.h0), c0: T(c.inputs.c0), lengths: c.inputs.lengths };
          const x = T(c.inputs.x);
          const r = m.forwardTrain(x, opts);
          for (const [name, got] of [['output', r.output], ['h_n', r.hN], ['c_n', r.cN]]) {
            expect(allclose(got.data, c.outputs[name].data, tol.forward), name).to.equal(null);
          }
          // Inference (and the async path) gives the training forward's numbers.
          const inf = await m.forwardAsync(x, opts);
          expect(allclose(inf.output.data, c.outputs.output.data, tol.forward), 'forwardAsync').to.equal(null);
          const up = c.upstream;
          const g = m.backward(r.cache, { dOutput: T(up.output), dHN: T(up.h_n), dCN: T(up.c_n) });
          expect(allclose(g.dX.data, c.grads.x.data, tol.grad), 'dX').to.equal(null);
          expect(allclose(g.dH0.data, c.grads.h0.data, tol.grad), 'dH0').to.equal(null);
          expect(allclose(g.dC0.data, c.grads.c0.data, tol.grad), 'dC0').to.equal(null);
          expect(Object.keys(g.grads)).to.deep.equal(Object.keys(c.grads.params));
          for (const [n, e] of Object.entries(c.grads.params)) expect(allclose(g.grads[n].data, e.data, tol.grad), n).to.equal(null);
        });
      }
    });
  }
});

describe('LayerNormLSTM: ts and native agree over the shapes that break SIMD code', function () {
  const native = availableBackends().includes('native');
  // H off the vector widths, T 1/2/64, B 1/3, lengths, bidirectional, clip; loose enough for
  // float32 with a different order of additions (the reference cases above pin both to PyTorch).
  const shapes = [];
  for (const H of [1, 3, 7, 8, 9, 15, 16, 17, 33]) shapes.push({ H, T: 2, B: 3 });
  shapes.push({ H: 5, T: 1, B: 1 }, { H: 16, T: 64, B: 3, lengths: [64, 17, 1] }, { H: 9, T: 6, B: 3, bidirectional: true, numLayers: 2, lengths: [3, 6, 1] },
    { H: 8, T: 5, B: 2, clip: 0.5, normEpsilon: 1e-5 }, { H: 7, T: 4, B: 3, reverse: true, batchFirst: true, bias: false });
  for (const s of shapes) {
    it(JSON.stringify(s), function () {
      if (!native) this.skip();
      const { H, T, B, lengths, ...opts } = s;
      const I = 5, D = s.bidirectional ? 2 : 1, L = s.numLayers ?? 1;
      const rng = new Rng(H * 31 + T);
      const mk = (backend) => new LayerNormLSTM({ inputSize: I, hiddenSize: H, ...opts, seed: 9, backend });
      const a = mk('ts'), b = mk('native');
      const sd = a.stateDict();
      for (const [n, t] of Object.entries(sd)) if (n.startsWith('ln_')) t.data.forEach((_v, i) => { t.data[i] = (n.includes('weight') ? 1 : 0) + rng.uniform(-0.5, 0.5); });
      a.loadStateDict(sd); b.loadStateDict(sd);
      const x = randomTensor(rng, s.batchFirst ? [B, T, I] : [T, B, I]);
      const h0 = randomTensor(rng, [L * D, B, H], 'float32', 0.5), c0 = randomTensor(rng, [L * D, B, H], 'float32', 0.5);
      const up = { dOutput: randomTensor(rng, s.batchFirst ? [B, T, D * H] : [T, B, D * H]), dHN: randomTensor(rng, [L * D, B, H]), dCN: randomTensor(rng, [L * D, B, H]) };
      const ra = a.forwardTrain(x, { h0, c0, lengths }), rb = b.forwardTrain(x, { h0, c0, lengths });
      const tolF = { rtol: 1e-4, atol: 1e-5 }, tolG = { rtol: 1e-3, atol: 1e-4 };
      for (const k of ['output', 'hN', 'cN']) expect(allclose(rb[k].data, ra[k].data, tolF), k).to.equal(null);
      const inf = b.forward(x, { h0, c0, lengths });
      expect(allclose(inf.output.data, rb.output.data, { rtol: 0, atol: 0 }), 'native inference = training forward').to.equal(null);
      const ga = a.backward(ra.cache, up), gb = b.backward(rb.cache, up);
      for (const k of ['dX', 'dH0', 'dC0']) expect(allclose(gb[k].data, ga[k].data, tolG), k).to.equal(null);
      for (const n of Object.keys(ga.grads)) expect(allclose(gb.grads[n].data, ga.grads[n].data, tolG), n).to.equal(null);
    });
  }
});

describe('LayerNormLSTM: the API of a recurrent kind', function () {
  it('PyTorch-style parameter names and shapes; gains start at 1, layer-norm biases at 0', function () {
    const m = new LayerNormLSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 2 });
    const names = m.paramSpecs().filter((p) => p.name.endsWith('_l1_reverse')).map((p) => `${p.name}:${p.shape.join('x')}`);
    expect(names).to.deep.equal(['weight_ih_l1_reverse:16x8', 'weight_hh_l1_reverse:16x4', 'bias_ih_l1_reverse:16', 'bias_hh_l1_reverse:16',
      'ln_ih_weight_l1_reverse:16', 'ln_ih_bias_l1_reverse:16', 'ln_hh_weight_l1_reverse:16', 'ln_hh_bias_l1_reverse:16',
      'ln_c_weight_l1_reverse:4', 'ln_c_bias_l1_reverse:4']);
    const sd = m.stateDict();
    for (const [n, t] of Object.entries(sd)) {
      if (n.startsWith('ln_')) expect([...new Set(t.data)], n).to.deep.equal([n.includes('weight') ? 1 : 0]);
      else expect(new Set(t.data).size, n).to.be.greaterThan(1); // drawn like an LSTM's
    }
  });
  it('normEpsilon: 1e-3 or 1e-5, anything else refused by name', function () {
    expect(new LayerNormLSTM({ inputSize: 2, hiddenSize: 2 }).normEpsilon).to.equal(1e-3);
    expect(new LayerNormLSTM({ inputSize: 2, hiddenSize: 2, normEpsilon: 1e-5 }).normEpsilon).to.equal(1e-5);
    expect(() => new LayerNormLSTM({ inputSize: 2, hiddenSize: 2, normEpsilon: 1e-4 })).to.throw(RangeError, /LayerNormLSTM: normEpsilon: expected 1e-3 \(TF Addons\) or 1e-5 \(PyTorch\), got 0.0001/);
    expect(() => new LayerNormLSTM({ inputSize: 2, hiddenSize: 2, projSize: 1 })).to.throw(TypeError, /projSize/);
  });
  it('config, fromConfig, a model file and summary keep it (and its epsilon)', function () {
    const m = new LayerNormLSTM({ inputSize: 3, hiddenSize: 4, normEpsilon: 1e-5, seed: 4 });
    const seq = new Sequential([m, new LastStep(), new Linear({ inFeatures: 4, outFeatures: 2, seed: 1 })]);
    expect(m.config()).to.include({ type: 'LayerNormLSTM', normEpsilon: 1e-5 });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lnlstm-')), 'm.safetensors');
    saveModel(file, seq);
    const back = load(file);
    expect(back.layers[0]).to.be.instanceOf(LayerNormLSTM);
    expect(back.layers[0].normEpsilon).to.equal(1e-5);
    const x = randomTensor(new Rng(5), [6, 2, 3]);
    expect(Array.from(back.forward(x).output.data)).to.deep.equal(Array.from(seq.forward(x).output.data));
    // 216 = W_ih 16·3 + W_hh 16·4 + biases 2·16 + gate LNs 4·16 + LN_c 2·4
    expect(seq.summary()).to.match(/LayerNormLSTM\(inputSize=3, hiddenSize=4, .*normEpsilon=0.00001.*\s+\[T, B, 4\]\s+216/);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
  it('toOnnx and toTfjs refuse it with UnsupportedModelError', function () {
    const m = new LayerNormLSTM({ inputSize: 3, hiddenSize: 4 });
    expect(() => toOnnx(m)).to.throw(UnsupportedModelError, /toOnnx: LayerNormLSTM\(.*\): ONNX has no operator for it/);
    expect(() => toOnnx(new Sequential([m]))).to.throw(UnsupportedModelError, /ONNX has no operator/);
    expect(() => encodeTfjs(new Sequential([m]))).to.throw(UnsupportedModelError, /only LSTM, GRU and RNN layers have a TF\.js form/);
  });
  it('quantize(): int8 / bf16 weight matrices on ts, the layer norms fp32, close to the fp32 model', function () {
    const m = new LayerNormLSTM({ inputSize: 6, hiddenSize: 8, seed: 6 });
    const x = randomTensor(new Rng(6), [5, 2, 6]);
    const want = m.forward(x).output.data;
    for (const p of ['bf16', 'int8']) {
      const q = m.quantize(p);
      expect(q.precision).to.equal(p);
      const got = q.forward(x).output.data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst, p).to.be.below(p === 'int8' ? 0.05 : 0.02).and.above(0); // quantized, not the fp32 weights
    }
  });
  it('quantize() on native runs the quantized products (the same as the ts reference), not the empty fp32 packs', function () {
    if (!availableBackends().includes('native')) this.skip();
    const x = randomTensor(new Rng(9), [6, 3, 7]);
    for (const p of ['bf16', 'int8']) {
      const on = (backend) => new LayerNormLSTM({ inputSize: 7, hiddenSize: 9, numLayers: 2, bidirectional: true, seed: 9, backend }).quantize(p);
      const nat = on('native'), ts = on('ts');
      expect(nat.backend, p).to.equal('native');
      const a = nat.forward(x), b = ts.forward(x);
      let worst = 0;
      for (let i = 0; i < a.output.data.length; i++) worst = Math.max(worst, Math.abs(a.output.data[i] - b.output.data[i]));
      expect(worst, p).to.be.below(2e-5);
    }
  });
  it('serves: a batcher gives each request what the model gives it alone, state included', async function () {
    const m = new LayerNormLSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 8 });
    const batcher = createBatcher(m, { maxBatch: 4, maxDelayMs: 1 });
    const rng = new Rng(8);
    const xs = [4, 1, 7].map((T) => randomTensor(rng, [T, 3]));
    const got = await Promise.all(xs.map((x) => batcher.run(x)));
    for (let i = 0; i < xs.length; i++) {
      const alone = m.forward(tensor(xs[i].data, [xs[i].shape[0], 1, 3]));
      expect(Array.from(got[i].output.data)).to.deep.equal(Array.from(alone.output.data));
      expect(Array.from(got[i].cN.data)).to.deep.equal(Array.from(alone.cN.data));
    }
    await batcher.close();
  });
});
