// Whole-model files: model.save(file) and load(file) rebuild the model with no user code, bit for
// bit, on every backend and in a fresh process; a Trainer checkpoint loads as a model; a hostile
// file is refused by name before it can cost memory out of proportion to its size.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Adam, Dropout, Embedding, encodeModel, encodeSafetensors, GRU, LastStep, Linear, load, LSTM, ReLU, RNN, SafetensorsError, Sequential, Softmax, Tanh,
  Tensor, tensor, Trainer, UnsupportedModelError,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-model-'));
const same = (a, b, what) => { expect(a.length, what).to.equal(b.length); for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`); };

const MODELS = [
  ['an Embedding -> 2-layer bidirectional batch-first LSTM -> LastStep -> Dropout -> Linear classifier', (backend) => new Sequential([
    new Embedding({ numEmbeddings: 9, embeddingDim: 4, seed: 1 }),
    new LSTM({ inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, batchFirst: true, seed: 2, backend }),
    new LastStep({ batchFirst: true }), new Dropout({ p: 0.2 }), new Linear({ inFeatures: 10, outFeatures: 3, seed: 3 })]), 'ids'],
  ['a GRU (ONNX formula, clip) -> Tanh -> Linear (no bias) -> Softmax per step', (backend) => new Sequential([
    new GRU({ inputSize: 3, hiddenSize: 4, linearBeforeReset: false, clip: 2, seed: 4, backend }), new Tanh(),
    new Linear({ inFeatures: 4, outFeatures: 2, bias: false, seed: 5 }), new Softmax()]), 'floats'],
  ['an RNN (relu) -> ReLU -> bidirectional LSTM -> LastStep (finalStates) -> Linear', (backend) => new Sequential([
    new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu', seed: 6, backend }), new ReLU(),
    new LSTM({ inputSize: 4, hiddenSize: 3, bidirectional: true, seed: 7, backend }), new LastStep({ finalStates: true }), new Linear({ inFeatures: 6, outFeatures: 1, seed: 8 })]), 'floats'],
  ['a bare LSTM with projection and peepholes', (backend) => new LSTM({ inputSize: 3, hiddenSize: 6, projSize: 2, peephole: true, numLayers: 2, seed: 9, backend }), 'floats'],
];

function input(model, kind, rng) {
  const bf = model.batchFirst;
  if (kind === 'ids') return new Tensor(Float32Array.from({ length: 12 }, () => Math.floor(rng.next() * 9)), bf ? [3, 4] : [4, 3]);
  return randomTensor(rng, bf ? [3, 4, 3] : [4, 3, 3]);
}

describe('model files: save and load', function () {
  this.timeout(60000);
  for (const { backend, dtype } of backendCases().filter((c) => c.dtype === 'float32')) {
    for (const [name, make, kind] of MODELS) {
      it(`${backend}: ${name}: round trip through a file and through bytes, bit for bit`, function () {
        const m = make(backend);
        const dir = tmp();
        try {
          const file = path.join(dir, 'model.safetensors');
          m.save(file);
          const x = input(m, kind, new Rng(1));
          const want = m.forward(x).output.data;
          for (const back of [load(file, { backend }), load(encodeModel(m), { backend }), load(fs.readFileSync(file), { backend })]) {
            expect(String(back)).to.equal(String(m));
            expect(Object.keys(back.stateDict())).to.deep.equal(Object.keys(m.stateDict()));
            for (const [k, t] of Object.entries(m.stateDict())) same(back.stateDict()[k].data, t.data, k);
            same(back.forward(x).output.data, want, 'output');
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }

  it('loads in a fresh process with no user code, giving the same outputs', function () {
    const dir = tmp();
    try {
      const m = MODELS[0][1]('ts');
      const file = path.join(dir, 'model.safetensors');
      m.save(file);
      const x = input(m, 'ids', new Rng(2));
      const code = `const { load, Tensor } = require('cellstate'); const m = load(${JSON.stringify(file)}, { backend: 'ts' });
        process.stdout.write(JSON.stringify(Array.from(m.forward(new Tensor(Float32Array.from(${JSON.stringify(Array.from(x.data))}), ${JSON.stringify(x.shape)})).output.data)));`;
      const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      same(Float32Array.from(JSON.parse(r.stdout)), m.forward(x).output.data, 'output');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a Trainer checkpoint loads as a model (its optimizer state is left out)', async function () {
    const dir = tmp();
    try {
      const m = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 4, seed: 1 }), new Linear({ inFeatures: 4, outFeatures: 1, seed: 2 })]);
      const t = new Trainer({ model: m, optimizer: new Adam(m, { lr: 0.01 }), loss: 'mse', seed: 3 });
      await t.fit([{ x: [[0.1], [0.2], [0.3]], y: [0.2, 0.3, 0.4] }], { epochs: 2, progress: 'none' });
      const file = path.join(dir, 'ck.safetensors');
      t.saveCheckpoint(file);
      const back = load(file);
      const x = tensor([[[0.5]], [[0.1]]]);
      same(back.forward(x).output.data, m.forward(x).output.data, 'output');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('hostile files', function () {
    const file = (config, tensors = {}, extra = {}) => Buffer.concat(encodeSafetensors(tensors, { format: 'cellstate.model', format_version: '1', config: JSON.stringify(config), ...extra }));
    const small = new Linear({ inFeatures: 2, outFeatures: 1, seed: 1 });
    const cases = [
      ['not a model file', () => load(Buffer.concat(encodeSafetensors({ a: tensor([1]) }, { format: 'other' }))), SafetensorsError, /^load: model bytes: not a cellstate model or checkpoint/],
      ['a newer format version', () => load(file(small.config(), small.stateDict(), { format_version: '2' })), SafetensorsError, /format version "2" is not supported/],
      ['no format version', () => load(Buffer.concat(encodeSafetensors(small.stateDict(), { format: 'cellstate.model', config: JSON.stringify(small.config()) }))), SafetensorsError, /^load: .*: model metadata has no 'format_version' \(this library reads 1\)$/],
      ['a config that is not JSON', () => load(file(null, {}, { config: '{' })), SafetensorsError, /metadata 'config' is not valid JSON/],
      ['an unknown layer type', () => load(file({ type: 'Conv1d' })), UnsupportedModelError, /^load: config\.type: expected one of Sequential, LSTM/],
      ['a __proto__ layer type', () => load(file({ type: '__proto__' })), UnsupportedModelError, /config\.type/],
      ['a constructor layer type inside a Sequential', () => load(file({ type: 'Sequential', layers: [{ type: 'constructor' }] })), UnsupportedModelError, /config\.layers\[0\]\.type/],
      ['a Sequential inside a Sequential', () => load(file({ type: 'Sequential', layers: [{ type: 'Sequential', layers: [] }] })), UnsupportedModelError, /a Sequential inside a Sequential/],
      ['an unknown option', () => load(file({ type: 'Sequential', layers: [{ ...small.config(), kernel: 3 }] }, { '0.weight': small.stateDict().weight, '0.bias': small.stateDict().bias })), TypeError, /^load: config\.layers\[0\]: Linear: options\.kernel/],
      ['a __proto__ option from JSON', () => load(Buffer.concat(encodeSafetensors(small.stateDict(), { format: 'cellstate.model', format_version: '1', config: '{"type":"Linear","inFeatures":2,"outFeatures":1,"__proto__":{"polluted":1}}' }))), TypeError, /^load: config: Linear: options\.__proto__/],
      ['a tiny file that declares a huge model', () => load(file({ type: 'LSTM', inputSize: 100000, hiddenSize: 100000, numLayers: 1000 })), SafetensorsError, /the config implies \d+ parameter values, the file holds 0/],
      ['weights that do not match the config', () => load(file(small.config(), { weight: tensor([[1, 2, 3]]), bias: tensor([0]) })), SafetensorsError, /implies 3 parameter values, the file holds 4/],
      ['a missing weight', () => load(file({ type: 'Sequential', layers: [small.config()] }, { '0.weight': tensor([[1, 2]]), '0.baias': tensor([0]) })), TypeError, /^load: model bytes: Sequential\.loadStateDict: weights: missing: 0\.bias; unexpected: 0\.baias/],
      ['a lone layer that is no model', () => load(file(small.config(), small.stateDict())), UnsupportedModelError, /^load: model bytes: the config describes a Linear, expected a Sequential or a recurrent layer/],
      ['saving a lone layer that is no model', () => encodeModel(small), TypeError, /^encodeModel: model: expected a model: a Sequential, or a lone LSTM, GRU, RNN or LayerNormLSTM \(wrap a lone Linear in a Sequential\)/],
      ['a source that is neither a path nor bytes', () => load(42), TypeError, /^load: file: expected a file path|^load: source/],
    ];
    for (const [what, f, cls, re] of cases) {
      it(`${what}: ${cls.name}`, function () {
        const canary = Object.getOwnPropertyNames(Object.prototype).length;
        const t0 = performance.now();
        expect(f).to.throw(cls, re);
        expect(performance.now() - t0, 'refused before building anything big').to.be.below(2000);
        expect(Object.getOwnPropertyNames(Object.prototype).length).to.equal(canary);
        expect(Object.prototype.polluted).to.equal(undefined);
      });
    }
  });
});

describe('model files keep layer names', function () {
  it('a named Sequential loads with the same names and outputs', function () {
    const m = new Sequential({ lstm: new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1 }), head: new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 }) });
    const back = load(encodeModel(m));
    expect(back.layerNames).to.deep.equal(['lstm', 'head']);
    expect(Object.keys(back.stateDict())).to.deep.equal(Object.keys(m.stateDict()));
    const x = randomTensor(new Rng(3), [4, 2, 3]);
    same(back.forward(x).output.data, m.forward(x).output.data, 'output');
  });
});
