// Size limits (docs/security.md): every tensor and every buffer the library allocates holds at most
// maxElements() elements (2^31 by default, lower with setMaxElements / CELLSTATE_MAX_ELEMENTS);
// sizes over it are a RangeError naming the argument, thrown before anything is allocated.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRU, Linear, Embedding, LSTM, MAX_ELEMENTS, maxElements, RNN, setMaxElements, Tensor, tensor, zeros } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('size limits', function () {
  afterEach(() => setMaxElements(MAX_ELEMENTS));

  it('default to 2^31 elements; setMaxElements validates its argument', function () {
    expect(MAX_ELEMENTS).to.equal(2 ** 31);
    expect(maxElements()).to.equal(MAX_ELEMENTS);
    expect(() => setMaxElements(0)).to.throw(RangeError, 'setMaxElements: n: expected an integer in [1, 2147483648], got 0');
    expect(() => setMaxElements(2 ** 31 + 1)).to.throw(RangeError, 'got 2147483649');
    expect(() => setMaxElements(1.5)).to.throw(RangeError, 'got 1.5');
    expect(() => setMaxElements('9')).to.throw(TypeError, 'got "9"');
    setMaxElements(10);
    expect(maxElements()).to.equal(10);
  });

  it('shapes over the limit are refused by tensor(), zeros() and new Tensor(), zero-size ones included', function () {
    expect(() => zeros([2 ** 16, 2 ** 16])).to.throw(RangeError, 'zeros: shape: expected at most 2147483648 elements (the size limit, see docs/security.md#limits), got [65536, 65536]');
    expect(() => zeros([2 ** 40, 0])).to.throw(RangeError, 'got [1099511627776, 0]');
    expect(() => new Tensor(new Float32Array(0), [0, 2 ** 53])).to.throw(RangeError, 'Tensor: shape: expected at most');
    expect(() => tensor([], [2 ** 32, 0])).to.throw(RangeError, 'tensor: shape: expected at most');
    expect(zeros([2 ** 20, 0]).size).to.equal(0);
    setMaxElements(6);
    expect(() => zeros([2, 4])).to.throw(RangeError, 'zeros: shape: expected at most 6 elements');
    expect(() => tensor([1, 2, 3, 4, 5, 6, 7])).to.throw(RangeError, 'tensor: shape: expected at most 6');
    expect(zeros([2, 3]).size).to.equal(6);
  });

  it('model parameters over the limit are refused by name before any allocation', function () {
    expect(() => new LSTM({ inputSize: 2 ** 16, hiddenSize: 2 ** 16 })).to.throw(RangeError, 'LSTM: weight_ih_l0: expected at most 2147483648 elements per buffer (the size limit, see docs/security.md#limits), got shape [262144, 65536] = 17179869184');
    expect(() => new GRU({ inputSize: 1, hiddenSize: 2 ** 30 })).to.throw(RangeError, 'GRU: weight_ih_l0: expected at most');
    expect(() => new RNN({ inputSize: 1, hiddenSize: 2 ** 40 })).to.throw(RangeError, 'RNN: weight_ih_l0: expected at most');
    expect(() => new Linear({ inFeatures: 2 ** 26, outFeatures: 2 ** 26 })).to.throw(RangeError, 'Linear: weight: expected at most');
    expect(() => new Embedding({ numEmbeddings: 2 ** 40, embeddingDim: 2 })).to.throw(RangeError, 'Embedding: weight: expected at most');
    setMaxElements(100);
    expect(() => new LSTM({ inputSize: 4, hiddenSize: 8 })).to.throw(RangeError, 'LSTM: weight_ih_l0: expected at most 100 elements per buffer');
  });

  for (const { backend, dtype } of backendCases()) {
    it(`${backend} ${dtype}: a small input whose outputs or gate buffers would exceed the limit is refused, naming x`, async function () {
      const m = new LSTM({ inputSize: 1, hiddenSize: 16, seed: 1, backend, dtype });
      const x = zeros([40, 2, 1], dtype); // N = 80 rows; gates 80 * 64 = 5120 elements
      setMaxElements(4096);
      const frag = 'x: expected at most 4096 elements per buffer (the size limit, see docs/security.md#limits), got the gate pre-activations of T*B = 80 rows of 64 = 5120';
      expect(() => m.forward(x)).to.throw(RangeError, frag);
      expect(() => m.forwardTrain(x)).to.throw(RangeError, frag);
      expect(() => m.step(zeros([80, 1], dtype))).to.throw(RangeError, 'LSTM.step: x: expected at most 4096');
      const err = await m.forwardAsync(x).then(() => null, (e) => e);
      expect(err).to.be.instanceOf(RangeError).and.have.property('message').that.contains(frag);
      setMaxElements(5120);
      expect(m.forward(x).output.shape).to.deep.equal([40, 2, 16]);
    });
  }

  it('CELLSTATE_MAX_ELEMENTS sets the limit for a process; a bad value is a RangeError', function () {
    const run = (v) => spawnSync(process.execPath, ['-e', "const c=require('./dist'); console.log(c.maxElements()); c.zeros([5, 5])"], { cwd: root, env: { ...process.env, CELLSTATE_MAX_ELEMENTS: v }, encoding: 'utf8' });
    const ok = run('30');
    expect(ok.stdout.trim()).to.equal('30');
    expect(ok.status).to.equal(0);
    const low = run('20');
    expect(low.stderr).to.contain('zeros: shape: expected at most 20 elements');
    expect(run('-1').stderr).to.contain('CELLSTATE_MAX_ELEMENTS: expected an integer in [1, 2147483648], got "-1"');
  });
});
