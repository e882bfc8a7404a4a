// Every applicable case of test/fixtures/reference/ (the shared reference cases; see its README) on every backend and dtype:
// PyTorch cases check outputs and every gradient, ONNX cases check outputs.
import { expect } from 'chai';
import { GRU, LSTM, RNN, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose, expectedPytorchOutputs, initialState, isBatchFirst, loadAllCases } from './helpers/reference.mjs';

/** The model a case describes, from its config alone (null when the library cannot express it). */
function modelFor(c, backend, dtype) {
  const cfg = c.config;
  const common = {
    inputSize: cfg.input_size, hiddenSize: cfg.hidden_size, numLayers: cfg.num_layers, bias: cfg.bias,
    bidirectional: cfg.num_directions === 2, reverse: cfg.direction === 'reverse', batchFirst: isBatchFirst(c),
    clip: cfg.clip ?? null, dtype, backend, seed: 1,
  };
  if (c.cell === 'lstm') return new LSTM({ ...common, projSize: cfg.proj_size || 0, peephole: !!cfg.peephole, inputForget: !!cfg.input_forget });
  if (c.cell === 'gru') return new GRU({ ...common, linearBeforeReset: cfg.linear_before_reset !== 0 });
  if (c.cell === 'rnn_tanh' || c.cell === 'rnn_relu') return new RNN({ ...common, nonlinearity: c.cell === 'rnn_relu' ? 'relu' : 'tanh' });
  return null;
}

const all = loadAllCases();
let ran = 0;

describe('reference cases: every cell and variant', function () {
  after(function () {
    // A driver that silently runs (or skips) anything must fail: all 45 cases on every backend.
    expect(all.length, 'cases found').to.equal(45);
    expect(ran, 'case runs').to.equal(all.length * backendCases().length);
    console.log(`      reference driver: ${all.length} cases, ${ran} runs over ${backendCases().length} backend/dtype combinations`);
  });

  for (const { backend, dtype } of backendCases()) {
    describe(`${backend} ${dtype}`, function () {
      for (const c of all) {
        it(`${c.folder}/${c.name}`, function () {
          runCase(c, backend, dtype);
          ran++;
        });
      }
    });
  }
});

function runCase(c, backend, dtype) {
  const cfg = c.config;
  const T = (data, shape) => tensor(data, shape, dtype);
  const L = cfg.num_layers, D = cfg.num_directions, H = cfg.hidden_size, B = cfg.batch, P = cfg.proj_size || H;
  const model = modelFor(c, backend, dtype);
  expect(model, `a model for ${c.cell}`).to.not.equal(null);
  model.loadStateDict(Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, T(v.data, v.shape)])));
  const h0 = initialState(c, 'h0');
  const c0 = initialState(c, 'c0');
  const opts = {
    h0: h0 && T(h0, [L * D, B, P]),
    c0: c0 && T(c0, [L * D, B, H]),
    lengths: c.inputs.lengths ? c.inputs.lengths.data : null,
  };
  const x = T(c.inputs.x.data, c.inputs.x.shape);
  const exp = expectedPytorchOutputs(c);
  const tolF = c.folder === 'pytorch' ? c.tolerance[dtype].forward : c.tolerance.forward;

  const withGrad = c.folder === 'pytorch' && c.grad;
  const r = withGrad ? model.forwardTrain(x, opts) : model.forward(x, opts);
  for (const [name, got] of [['output', r.output], ['h_n', r.hN], ['c_n', r.cN]]) {
    if (!exp[name]) continue;
    expect(got, name).to.not.equal(undefined);
    const miss = allclose(got.data, exp[name], tolF);
    expect(miss, `${name}`).to.equal(null);
  }
  if (!withGrad) return;

  const up = c.grad.upstream;
  const g = model.backward(r.cache, {
    dOutput: T(up.output.data, up.output.shape),
    dHN: T(up.h_n.data, up.h_n.shape),
    dCN: up.c_n ? T(up.c_n.data, up.c_n.shape) : null,
  });
  const tolG = c.tolerance[dtype].grad;
  expect(allclose(g.dX.data, c.grad.x.data, tolG), 'grad x').to.equal(null);
  if (c.grad.h0) expect(allclose(g.dH0.data, c.grad.h0.data, tolG), 'grad h0').to.equal(null);
  if (c.grad.c0) expect(allclose(g.dC0.data, c.grad.c0.data, tolG), 'grad c0').to.equal(null);
  const names = Object.keys(c.grad.weights);
  expect(Object.keys(g.grads).sort()).to.deep.equal(names.slice().sort());
  for (const name of names) {
    expect(allclose(g.grads[name].data, c.grad.weights[name].data, tolG), `grad ${name}`).to.equal(null);
  }
}
