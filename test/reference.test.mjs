// Every applicable case of shared/reference/ (see its README) on every backend and dtype:
// PyTorch cases check outputs and every gradient, ONNX cases check outputs.
import { expect } from 'chai';
import { LSTM, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose, expectedPytorchOutputs, initialState, isBatchFirst, loadAllCases } from './helpers/reference.mjs';

/** What the LSTM layer supports, decided from a case's config alone. */
function lstmSupports(cfg, cell) {
  return cell === 'lstm' && cfg.direction !== 'reverse' && !cfg.proj_size && !cfg.peephole && !cfg.input_forget && cfg.clip == null;
}

const all = loadAllCases();
const applicable = all.filter((c) => lstmSupports(c.config, c.cell));
let ran = 0;

describe('reference cases: LSTM', function () {
  after(function () {
    // A driver that silently runs nothing must fail: every applicable case ran on every backend.
    expect(applicable.length, 'applicable LSTM cases').to.be.at.least(15);
    expect(ran, 'case runs').to.equal(applicable.length * backendCases().length);
    console.log(`      reference driver: ${applicable.length} of ${all.length} cases apply to LSTM; ${ran} runs over ${backendCases().length} backend/dtype combinations`);
  });

  for (const { backend, dtype } of backendCases()) {
    describe(`${backend} ${dtype}`, function () {
      for (const c of applicable) {
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
  const L = cfg.num_layers, D = cfg.num_directions, H = cfg.hidden_size, B = cfg.batch;
  const model = new LSTM({
    inputSize: cfg.input_size, hiddenSize: H, numLayers: L, bias: cfg.bias,
    bidirectional: D === 2, batchFirst: isBatchFirst(c), dtype, backend, seed: 1,
  });
  model.loadStateDict(Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, T(v.data, v.shape)])));
  const stateShape = [L * D, B, H];
  const h0 = initialState(c, 'h0');
  const c0 = initialState(c, 'c0');
  const opts = {
    h0: h0 && T(h0, stateShape),
    c0: c0 && T(c0, stateShape),
    lengths: c.inputs.lengths ? c.inputs.lengths.data : null,
  };
  const x = T(c.inputs.x.data, c.inputs.x.shape);
  const exp = expectedPytorchOutputs(c);
  const tolF = c.folder === 'pytorch' ? c.tolerance[dtype].forward : c.tolerance.forward;

  const withGrad = c.folder === 'pytorch' && c.grad;
  const r = withGrad ? model.forwardTrain(x, opts) : model.forward(x, opts);
  for (const [name, got] of [['output', r.output], ['h_n', r.hN], ['c_n', r.cN]]) {
    if (!exp[name]) continue;
    const miss = allclose(got.data, exp[name], tolF);
    expect(miss, `${name}`).to.equal(null);
  }
  if (!withGrad) return;

  const up = c.grad.upstream;
  const g = model.backward(r.cache, {
    dOutput: T(up.output.data, up.output.shape),
    dHN: T(up.h_n.data, up.h_n.shape),
    dCN: T(up.c_n.data, up.c_n.shape),
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
