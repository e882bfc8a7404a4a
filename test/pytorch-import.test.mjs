// PyTorch state dicts saved as safetensors load into every model by PyTorch names (and back),
// with one clear report of what does not fit. The numbers come from the shared PyTorch cases.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Embedding, GRU, Linear, LSTM, readSafetensors, RNN, tensor, toTensors, writeSafetensors } from 'cellstate';
import { allclose, loadAllCases } from './helpers/reference.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-pt-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('PyTorch state dicts through safetensors', function () {
  const cases = loadAllCases().filter((c) => c.folder === 'pytorch' && c.config.num_layers === 2 && c.config.bidirectional);
  it('has multi-layer bidirectional PyTorch cases to load', () => expect(cases.length).to.be.at.least(3));
  for (const c of cases) {
    it(`${c.name}: the case's state dict written as safetensors loads and reproduces PyTorch's output`, function () {
      const cfg = c.config;
      const opts = { inputSize: cfg.input_size, hiddenSize: cfg.hidden_size, numLayers: cfg.num_layers, bidirectional: true, batchFirst: !!cfg.batch_first, seed: 1 };
      const model = c.cell === 'lstm' ? new LSTM({ ...opts, projSize: cfg.proj_size || 0 }) : c.cell === 'gru' ? new GRU(opts) : new RNN({ ...opts, nonlinearity: c.cell === 'rnn_relu' ? 'relu' : 'tanh' });
      const file = path.join(dir, `${c.name}.safetensors`);
      writeSafetensors(file, Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, tensor(v.data, v.shape)])));
      model.loadStateDict(toTensors(readSafetensors(file)));
      const P = cfg.proj_size || cfg.hidden_size;
      const r = model.forward(tensor(c.inputs.x.data, c.inputs.x.shape), {
        h0: c.inputs.h0 && tensor(c.inputs.h0.data, [cfg.num_layers * 2, cfg.batch, P]),
        c0: c.inputs.c0 && tensor(c.inputs.c0.data, c.inputs.c0.shape),
        lengths: c.inputs.lengths?.data,
      });
      expect(allclose(r.output.data, c.outputs.output.data, c.tolerance.float32.forward)).to.equal(null);
      // And back: our state dict round-trips bit for bit.
      writeSafetensors(file, model.stateDict());
      const again = toTensors(readSafetensors(file));
      for (const [k, t] of Object.entries(model.stateDict())) expect(again.get(k).data).to.deep.equal(t.data);
    });
  }

  it('Linear and Embedding load by PyTorch names (weight, bias)', function () {
    const file = path.join(dir, 'head.safetensors');
    writeSafetensors(file, { weight: tensor([1, 2, 3, 4, 5, 6], [2, 3]), bias: tensor([0.5, -0.5], [2]) });
    const lin = new Linear({ inFeatures: 3, outFeatures: 2 }).loadStateDict(toTensors(readSafetensors(file)));
    expect(Array.from(lin.forward(tensor([[1, 0, -1]])).output.data)).to.deep.equal([1 - 3 + 0.5, 4 - 6 - 0.5]);
    writeSafetensors(file, { weight: tensor([0, 0, 1, 1, 2, 2], [3, 2]) });
    const emb = new Embedding({ numEmbeddings: 3, embeddingDim: 2 }).loadStateDict(toTensors(readSafetensors(file)));
    expect(Array.from(emb.forward(tensor([[2, 0]])).output.data)).to.deep.equal([2, 2, 0, 0]);
  });

  it('one error reports every missing, unexpected and mis-shaped tensor; nothing is loaded', function () {
    const m = new GRU({ inputSize: 3, hiddenSize: 4, seed: 1 });
    const before = m.stateDict();
    const sd = m.stateDict();
    delete sd.bias_hh_l0;
    sd.weight_ih_l1 = tensor(new Float32Array(12 * 4), [12, 4]);
    sd.weight_hh_l0 = tensor(new Float32Array(12 * 3), [12, 3]);
    const file = path.join(dir, 'bad.safetensors');
    writeSafetensors(file, sd);
    expect(() => m.loadStateDict(toTensors(readSafetensors(file)))).to.throw(TypeError, /unexpected: weight_ih_l1.*missing: bias_hh_l0.*weight_hh_l0: expected shape \[12, 4\], got \[12, 3\]/);
    expect(m.stateDict().weight_hh_l0.data).to.deep.equal(before.weight_hh_l0.data);
  });

  it('half-precision tensors are refused naming the dtype (never silently converted)', function () {
    const header = JSON.stringify({ weight: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } });
    const pad = (8 - (header.length % 8)) % 8;
    const h = Buffer.from(header + ' '.repeat(pad));
    const bytes = Buffer.concat([Buffer.alloc(8), h, Buffer.alloc(4)]);
    bytes.writeBigUInt64LE(BigInt(h.length), 0);
    const file = path.join(dir, 'f16.safetensors');
    fs.writeFileSync(file, bytes);
    expect(() => toTensors(readSafetensors(file))).to.throw(/F16/);
  });
});
