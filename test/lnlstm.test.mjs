// LayerNormLSTM (TF Addons' LayerNormLSTMCell; docs/equations.md, "Layer-normalised LSTM"):
// reference cases from an independent implementation (test/fixtures/lnlstm/gen_lnlstm_torch.py:
// the cell written out in PyTorch, autograd gradients, float64) on every backend and dtype, and
// the API a kind owes: names, initial values, options, config, model files.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { LayerNormLSTM, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
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
