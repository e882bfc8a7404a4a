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
    expect(() => new GRU({ inputSize: 1, hiddenSize: 1, numLayers: 2 ** 31 - 1 })).to.throw(RangeError, 'GRU: numLayers: expected an integer in [1, 1024] (the layer limit, see SECURITY.md), got 2147483647');
    expect(new LSTM({ inputSize: 1, hiddenSize: 1, numLayers: 3, backend: 'ts' }).numLayers).to.equal(3);
  });

  it('LastStep refuses T = 0 (it selected row -1; backward then wrote out of bounds)', function () {
    const ls = new LastStep();
    expect(() => ls.forwardTrain(zeros([0, 2, 3]))).to.throw(RangeError, 'LastStep.forwardTrain: x: expected shape [T, B, F] with T >= 1, got [0, 2, 3]');
    expect(() => new LastStep({ batchFirst: true }).forward(zeros([2, 0, 3]))).to.throw(RangeError, 'with T >= 1');
  });

});
