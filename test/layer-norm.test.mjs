// LayerNorm (torch.nn.LayerNorm over the last axis): forward against numpy in float64 and against
// ONNX Runtime's LayerNormalization (through toOnnx), backward against float64 central finite
// differences, options, errors, save/load and summary, in a Sequential under Trainer on every backend.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Adam, LayerNorm, Linear, LSTM, Sequential, Trainer, load, tensor, toOnnx, UnsupportedModelError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { gradcheck } from './helpers/gradcheck.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const fwd = (m, x) => m.forward(x).output;

/** numpy float64 layer norm of each case { x, shape, w, b, eps } (w, b null for none): the reference, one python run. */
function numpyLayerNorm(cases) {
  const script = `
import json, sys, numpy as np
out = []
for a in json.load(sys.stdin):
    x = np.array(a['x'], dtype=np.float64).reshape(a['shape'])
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    y = (x - m) / np.sqrt(v + a['eps'])
    if a['w'] is not None: y = y * np.array(a['w'], dtype=np.float64)
    if a['b'] is not None: y = y + np.array(a['b'], dtype=np.float64)
    out.append(y.reshape(-1).tolist())
print(json.dumps(out))
`;
  const input = cases.map((c) => ({ x: Array.from(c.x), shape: c.shape, w: c.w && Array.from(c.w), b: c.b && Array.from(c.b), eps: c.eps }));
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3/numpy failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function expectClose(got, want, tol, what) {
  expect(got.length, `${what} length`).to.equal(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).to.be.at.most(tol.atol + tol.rtol * Math.abs(want[i]));
}

describe('LayerNorm', function () {
  this.timeout(60000);

  it('has PyTorch names, shapes and initial values (weight 1, bias 0) and its options', function () {
    const ln = new LayerNorm({ normalizedShape: 4 });
    expect(ln.namedParameters().map(([n, t]) => [n, t.shape, Array.from(t.data)])).to.deep.equal([['weight', [4], [1, 1, 1, 1]], ['bias', [4], [0, 0, 0, 0]]]);
    expect(ln.eps).to.equal(1e-5);
    expect(new LayerNorm({ normalizedShape: [3], bias: false }).namedParameters().map(([n]) => n)).to.deep.equal(['weight']);
    expect(new LayerNorm({ normalizedShape: 3, elementwiseAffine: false }).namedParameters()).to.deep.equal([]);
    expect(String(ln)).to.equal('LayerNorm(normalizedShape=4, eps=0.00001, elementwiseAffine=true, bias=true)');
  });

  for (const dtype of ['float32', 'float64']) {
    for (const [label, opts] of [['affine', {}], ['no bias', { bias: false }], ['no affine', { elementwiseAffine: false }], ['eps 0.1', { eps: 0.1 }]]) {
      it(`forward matches numpy float64 (${dtype}, ${label}, D in {1, 3, 7, 17})`, function () {
        const rng = new Rng(31);
        const runs = [1, 3, 7, 17].map((D) => {
          const ln = new LayerNorm({ normalizedShape: D, dtype, ...opts });
          const sd = ln.stateDict();
          // Non-trivial affine parameters, and rows with an offset and a scale (the mean must be removed).
          const load = {};
          for (const [n, t] of Object.entries(sd)) load[n] = randomTensor(rng, t.shape, dtype, 2);
          ln.loadStateDict(load);
          const x = randomTensor(rng, [3, 2, D], dtype, 3);
          for (let i = 0; i < x.data.length; i++) x.data[i] += 5;
          const y = ln.forward(x).output;
          expect(y.shape).to.deep.equal([3, 2, D]);
          expect(y.dtype).to.equal(dtype);
          return { D, y, ref: { x: x.data, shape: x.shape, w: load.weight?.data ?? null, b: load.bias?.data ?? null, eps: ln.eps } };
        });
        const want = numpyLayerNorm(runs.map((r) => r.ref));
        runs.forEach(({ D, y }, k) => expectClose(y.data, want[k], dtype === 'float64' ? { atol: 1e-12, rtol: 1e-12 } : { atol: 2e-5, rtol: 2e-5 }, `y (D=${D})`));
      });
    }
  }

  for (const [label, opts] of [['affine', {}], ['no bias', { bias: false }], ['no affine', { elementwiseAffine: false }]]) {
    it(`gradients match float64 central finite differences (${label})`, function () {
      const rng = new Rng(7);
      for (const D of [2, 5, 9]) {
        const ln = new LayerNorm({ normalizedShape: D, dtype: 'float64', ...opts });
        const sd = ln.stateDict();
        const load = {};
        for (const [n, t] of Object.entries(sd)) load[n] = randomTensor(rng, t.shape, 'float64', 1.5);
        ln.loadStateDict(load);
        const x = randomTensor(rng, [4, 3, D], 'float64', 2);
        const { checked } = gradcheck(ln, x, randomTensor(rng, [4, 3, D], 'float64'), fwd, { rng, maxCoords: 40 });
        expect(checked).to.equal(Object.keys(sd).length);
      }
    });
  }

  it('float32 backward agrees with float64 backward', function () {
    const rng = new Rng(9);
    const x = randomTensor(rng, [5, 6], 'float64', 2), dy = randomTensor(rng, [5, 6], 'float64');
    const w = randomTensor(rng, [6], 'float64'), b = randomTensor(rng, [6], 'float64');
    const grads = (dtype) => {
      const ln = new LayerNorm({ normalizedShape: 6, dtype }).loadStateDict({ weight: w, bias: b });
      const r = ln.forwardTrain(x.clone(dtype));
      return ln.backward(r.cache, { dOutput: dy.clone(dtype) });
    };
    const g32 = grads('float32'), g64 = grads('float64');
    expectClose(g32.dX.data, g64.dX.data, { atol: 1e-5, rtol: 1e-4 }, 'dX');
    expectClose(g32.grads.weight.data, g64.grads.weight.data, { atol: 1e-5, rtol: 1e-4 }, 'dweight');
    expectClose(g32.grads.bias.data, g64.grads.bias.data, { atol: 1e-5, rtol: 1e-4 }, 'dbias');
  });

  it('refuses bad options and inputs naming the argument', function () {
    expect(() => new LayerNorm()).to.throw(TypeError, /LayerNorm: options/);
    expect(() => new LayerNorm({ normalizedShape: 0 })).to.throw(RangeError, /LayerNorm: normalizedShape: expected a positive integer, got 0/);
    expect(() => new LayerNorm({ normalizedShape: [2, 3] })).to.throw(RangeError, /normalizedShape: expected a size D or \[D\] \(the last axis only\), got an array of 2 sizes/);
    expect(() => new LayerNorm({ normalizedShape: 2, eps: 0 })).to.throw(RangeError, /eps: expected a positive finite number, got 0/);
    expect(() => new LayerNorm({ normalizedShape: 2, momentum: 1 })).to.throw(TypeError, /momentum/);
    const ln = new LayerNorm({ normalizedShape: 3 });
    expect(() => ln.forward(tensor([[1, 2]]))).to.throw(RangeError, /LayerNorm.forward: x: expected shape \[\.\.\., 3\], got \[1, 2\]/);
    expect(() => ln.forward(tensor([[1, 2, 3]], undefined, 'float64'))).to.throw(TypeError, /LayerNorm.forward: x.data: expected a Float32Array/);
  });

  it('exports to ONNX (LayerNormalization, opset 17) and ONNX Runtime computes what forward does', async function () {
    const rng = new Rng(5);
    const model = new Sequential([new Linear({ inFeatures: 3, outFeatures: 6, seed: 1 }), new LayerNorm({ normalizedShape: 6 }), new Linear({ inFeatures: 6, outFeatures: 2, seed: 2 })]);
    model.layers[1].loadStateDict({ weight: randomTensor(rng, [6], 'float32', 2), bias: randomTensor(rng, [6], 'float32') });
    const x = randomTensor(rng, [4, 3], 'float32', 3);
    const session = await ort.InferenceSession.create(toOnnx(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const got = (await session.run({ x: new ort.Tensor('float32', x.data, x.shape) })).output;
    const want = model.forward(x).output;
    expect(got.dims).to.deep.equal(want.shape);
    expectClose(got.data, want.data, { atol: 1e-5, rtol: 1e-4 }, 'output');
    const noAffine = new Sequential([new Linear({ inFeatures: 3, outFeatures: 4, seed: 1 }), new LayerNorm({ normalizedShape: 4, elementwiseAffine: false, eps: 0.01 })]);
    const s2 = await ort.InferenceSession.create(toOnnx(noAffine), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    expectClose((await s2.run({ x: new ort.Tensor('float32', x.data, x.shape) })).output.data, noAffine.forward(x).output.data, { atol: 1e-5, rtol: 1e-4 }, 'no affine');
    expect(() => toOnnx(model, { opset: 16 })).to.throw(UnsupportedModelError, /LayerNorm needs opset >= 17/);
  });

  for (const { backend, dtype } of backendCases()) {
    it(`trains in a Sequential under Trainer, saves, loads and summarises (${backend}, ${dtype})`, async function () {
      const model = new Sequential([
        new LSTM({ inputSize: 2, hiddenSize: 5, batchFirst: true, seed: 1, dtype, backend }),
        new LayerNorm({ normalizedShape: 5, dtype }),
        new Linear({ inFeatures: 5, outFeatures: 1, seed: 2, dtype }),
      ]);
      const rng = new Rng(3);
      const data = Array.from({ length: 8 }, () => {
        const x = Array.from({ length: 4 }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1)]);
        return { x, y: x.map(([a, b]) => a - b) };
      });
      const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.05 }), loss: 'mse', seed: 4 });
      const before = trainer.evaluate(data).loss;
      const h = await trainer.fit(data, { epochs: 15, batchSize: 4, progress: 'none' });
      expect(h.at(-1).loss).to.be.below(before);
      const w = model.layers[1].stateDict().weight.data;
      expect(Array.from(w).some((v) => v !== 1), 'LayerNorm weight trained').to.equal(true);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-ln-')), 'm.safetensors');
      model.save(file);
      const again = load(file, { backend });
      const x = tensor([data[0].x], undefined, dtype); // [B=1, T=4, 2]
      expect(Array.from(again.forward(x).output.data)).to.deep.equal(Array.from(model.forward(x).output.data));
      expect(again.layers[1].eps).to.equal(1e-5);
      const row = model.summary().split('\n').find((l) => l.startsWith('1 '));
      expect(row).to.match(/^1\s+LayerNorm\(normalizedShape=5.*\)\s+\[B, T, 5\]\s+10$/);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });
  }
});
