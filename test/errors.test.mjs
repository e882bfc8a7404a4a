// Bad input: one line per case, with the error class and a fragment of the message that names the
// argument and what was expected/received. Run on every backend.
import { expect } from 'chai';
import { availableBackends, clipGradNorm, Linear, LSTM, mseLoss, Sequential, SGD, StaleCacheError, tensor, Trainer, zeros } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const f32 = (shape) => zeros(shape, 'float32');

describe('bad input', function () {
  describe('constructor', function () {
    const cases = [
      [() => new LSTM(), TypeError, 'LSTM: options'],
      [() => new LSTM({ hiddenSize: 4 }), TypeError, 'inputSize: expected a positive integer, got undefined'],
      [() => new LSTM({ inputSize: 0, hiddenSize: 4 }), RangeError, 'inputSize: expected a positive integer, got 0'],
      [() => new LSTM({ inputSize: 2.5, hiddenSize: 4 }), RangeError, 'got 2.5'],
      [() => new LSTM({ inputSize: -3, hiddenSize: 4 }), RangeError, 'got -3'],
      [() => new LSTM({ inputSize: NaN, hiddenSize: 4 }), RangeError, 'got NaN'],
      [() => new LSTM({ inputSize: 3, hiddenSize: Infinity }), RangeError, 'hiddenSize: expected a positive integer, got Infinity'],
      [() => new LSTM({ inputSize: '3', hiddenSize: 4 }), TypeError, 'inputSize: expected a positive integer, got "3"'],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 0 }), RangeError, 'numLayers'],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, bias: 1 }), TypeError, 'bias: expected true or false, got 1'],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: 'yes' }), TypeError, 'batchFirst'],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1.5 }), RangeError, 'seed'],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, dtype: 'float16' }), TypeError, "dtype: expected 'float32' or 'float64'"],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, backend: 'gpu' }), TypeError, "backend: expected 'ts', 'wasm' or 'native'"],
      [() => new LSTM({ inputSize: 3, hiddenSize: 4, hidenSize: 5 }), TypeError, 'options.hidenSize: expected one of the known options'],
      [() => new LSTM({ inputSize: 3, get hiddenSize() { throw new Error('boom'); } }), TypeError, 'hiddenSize: expected a readable value'],
      [() => new LSTM(JSON.parse('{"inputSize":3,"hiddenSize":4,"__proto__":{"bias":false}}')), TypeError, '__proto__'],
    ];
    for (const [fn, cls, frag] of cases) {
      it(`${cls.name}: ${frag}`, function () {
        expect(fn).to.throw(cls, frag);
      });
    }
  });

  for (const { backend, dtype } of backendCases()) {
    describe(`forward/backward on ${backend} ${dtype}`, function () {
      const m = () => new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1, backend, dtype });
      const z = (shape) => zeros(shape, dtype);
      const other = dtype === 'float32' ? 'float64' : 'float32';
      const cases = [
        [() => m().forward(z([5, 2])), RangeError, 'x: expected shape of rank 3, [T, B, 3], got [5, 2]'],
        [() => m().forward(z([5, 2, 4])), RangeError, 'x: expected shape [T, B, 3], got [5, 2, 4]'],
        [() => m().forward(z([0, 2, 3])), RangeError, 'with T >= 1 and B >= 1, got [0, 2, 3]'],
        [() => m().forward(zeros([5, 2, 3], other)), TypeError, 'x.data: expected a'],
        [() => m().forward({ shape: [5, 2, 3], data: new Int32Array(30) }), TypeError, 'x.data'],
        [() => m().forward({ shape: [5, 2, 3], data: dtype === 'float32' ? new Float32Array(29) : new Float64Array(29) }), RangeError, 'x: expected 30 elements'],
        [() => m().forward([[1, 2, 3]]), TypeError, 'x: expected a ' + dtype + ' Tensor (for nested arrays use tensor(x), or model.predict(x))'],
        [() => m().forward(null), TypeError, 'x: expected'],
        [() => m().forward(tensor([NaN, 0, 0], [1, 1, 3], dtype)), RangeError, 'x: expected finite values, got NaN at flat index 0'],
        // 6000 elements: float32 inputs this large are scanned by the addon when it is loaded
        ...[[4097, NaN], [5999, -Infinity], [2, Infinity]].map(([at, v]) => {
          const big = zeros([1000, 2, 3], dtype); big.data[at] = v; if (at === 2) big.data[5000] = NaN;
          return [() => m().forward(big), RangeError, `x: expected finite values, got ${v} at flat index ${at}`];
        }),
        [() => m().forward(z([1000, 2, 3]), { h0: tensor(new Array(8).fill(0).map((_, i) => (i === 7 ? NaN : 0)), [1, 2, 4], dtype) }), RangeError, 'h0: expected finite values, got NaN at flat index 7'],
        [() => m().forward(z([5, 2, 3]), { h0: z([1, 3, 4]) }), RangeError, 'h0: expected shape [1, 2, 4]'],
        [() => m().forward(z([5, 2, 3]), { c0: z([2, 4]) }), RangeError, 'c0: expected shape [1, 2, 4]'],
        [() => m().forward(z([5, 2, 3]), { lengths: [5] }), RangeError, 'lengths: expected 2 entries'],
        [() => m().forward(z([5, 2, 3]), { lengths: [5, 6] }), RangeError, 'lengths[1]: expected an integer in [1, 5]'],
        [() => m().forward(z([5, 2, 3]), { lengths: [5, 0] }), RangeError, 'lengths[1]'],
        [() => m().forward(z([5, 2, 3]), { lengths: [5, 2.5] }), RangeError, 'lengths[1]'],
        [() => m().forward(z([5, 2, 3]), { lengths: 'ab' }), TypeError, 'lengths: expected an array'],
        [() => m().forward(z([5, 2, 3]), { h1: null }), TypeError, 'options.h1'],
        [() => m().backward({}), TypeError, 'cache: expected the cache returned by forwardTrain'],
        [() => { const a = m(); const r = a.forwardTrain(z([5, 2, 3])); return a.backward(r.cache, { dOutput: z([5, 2, 3]) }); }, RangeError, 'dOutput: expected shape [5, 2, 4]'],
        [() => { const a = m(); const r = a.forwardTrain(z([5, 2, 3])); return m().backward(r.cache); }, StaleCacheError, 'another model'],
        [() => { const a = m(); const r = a.forwardTrain(z([5, 2, 3])); a.loadStateDict(a.stateDict()); return a.backward(r.cache); }, StaleCacheError, 'weights or backend changed'],
        [() => m().loadStateDict({ weight_ih_l0: z([16, 3]) }), TypeError, 'missing: weight_hh_l0, bias_ih_l0, bias_hh_l0'],
        [() => m().loadStateDict({ ...m().stateDict(), weight_ih_l1: z([16, 4]) }), TypeError, 'unexpected: weight_ih_l1'],
        [() => m().loadStateDict({ ...m().stateDict(), weight_hh_l0: z([16, 3]) }), RangeError, 'weight_hh_l0: expected shape [16, 4], got [16, 3]'],
        [() => m().loadStateDict({ ...m().stateDict(), bias_ih_l0: { shape: [16], data: new Array(16).fill(NaN) } }), RangeError, 'bias_ih_l0: expected finite numbers'],
        [() => m().loadStateDict({ ...m().stateDict(), bias_ih_l0: { shape: [16], data: 'x'.repeat(16) } }), RangeError, 'bias_ih_l0: expected data as an array'],
        [() => m().loadStateDict(null), TypeError, 'weights: expected an object'],
      ];
      for (const [fn, cls, frag] of cases) {
        it(`${cls.name}: ${frag}`, function () {
          expect(fn).to.throw(cls, frag);
        });
      }

      it('a failed loadStateDict changes nothing', function () {
        const a = m();
        const before = a.stateDict();
        const bad = { ...a.stateDict(), weight_ih_l0: zeros([16, 3], dtype), bias_hh_l0: zeros([15], dtype) };
        for (const v of bad.weight_ih_l0.data.keys()) bad.weight_ih_l0.data[v] = 9;
        expect(() => a.loadStateDict(bad)).to.throw(RangeError, 'bias_hh_l0');
        expect(a.stateDict().weight_ih_l0.data).to.deep.equal(before.weight_ih_l0.data);
      });
    });
  }
});

// Issue #18, item 11: errors from the trainer, the losses and clipping name the function (the
// fuzzer's NAMED pattern), instead of an engine error or a raw file-system message.
describe('errors name the function: Trainer, losses, clipping', function () {
  const NAMED = /^[^\s:]+( \([^)]*\))?: /;
  const X = [[0.5], [0.25]];
  const data = [{ x: X, y: [0.1, 0.2] }];
  for (const backend of availableBackends()) {
    describe(`on ${backend}`, function () {
      const trainer = (loss = 'mse') => {
        const model = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1, backend }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 2 })]);
        return new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss, seed: 1 });
      };
      const fit = (o, t = trainer()) => t.fit(data, { epochs: 1, progress: 'none', ...o });
      const cases = [
        // an engine TypeError ("c.onBatchEnd is not a function", "Cannot read properties of null") before
        ['a callback method that is not a function', () => fit({ callbacks: [{ onBatchEnd: 5 }] }), TypeError, 'Trainer.fit: callbacks[0].onBatchEnd: expected a function or undefined, got 5'],
        ['a null callback', () => fit({ callbacks: [null] }), TypeError, 'Trainer.fit: callbacks[0]: expected a callback object'],
        ['a progressStream without write', () => fit({ progress: 'json', progressStream: {} }), TypeError, 'Trainer.fit: progressStream: expected a writable stream'],
        ['a custom loss returning a number', () => fit({}, trainer(() => 5)), TypeError, "Trainer.fit: the loss function's result: expected { loss: number, grad: Tensor of shape [2, 1, 1] (the output's), count: number >= 0 }, got 5"],
        ['a custom loss returning a bad gradient', () => fit({}, trainer(() => ({ loss: 1, grad: 3, count: 1 }))), TypeError, "Trainer.fit: the loss function's result.grad: expected a Tensor of shape [2, 1, 1]"],
        ['evaluate with such a loss', async () => trainer(() => 5).evaluate(data), TypeError, "Trainer.evaluate: the loss function's result: expected"],
        // silently taken as NaN before (early stopping then never saw an improvement)
        ['a minDelta that is not a number', () => fit({ earlyStopping: { minDelta: 'abc' } }), RangeError, 'Trainer.fit: earlyStopping.minDelta: expected a finite number >= 0, got "abc"'],
        // a raw "ENOENT: no such file or directory" / "EBADF: bad file descriptor" (42 was read as a file descriptor) before
        ['loading a missing checkpoint', async () => trainer().loadCheckpoint('/nonexistent-cellstate/ck.safetensors'), Error, "Trainer.loadCheckpoint: file: ENOENT: no such file or directory, open '/nonexistent-cellstate/ck.safetensors'"],
        ['a checkpoint "path" that is a number', async () => trainer().loadCheckpoint(42), TypeError, 'Trainer.loadCheckpoint: file: expected a file path, got 42'],
        ['saving into a missing folder', async () => trainer().saveCheckpoint('/nonexistent-cellstate/ck.safetensors'), Error, 'Trainer.saveCheckpoint: file: ENOENT'],
        ['a loss of NaN targets', async () => mseLoss(tensor([[1]]), tensor([[NaN]])), RangeError, 'mseLoss: target: expected finite values, got NaN at flat index 0'],
        ['clipping a record that is not one', async () => clipGradNorm(5, 1), TypeError, 'clipGradNorm: grads: expected an object mapping names to gradient Tensors, got 5'],
      ];
      for (const [name, fn, cls, frag] of cases) {
        it(`${name}: ${cls.name} "${frag.slice(0, 60)}…"`, async function () {
          const err = await Promise.resolve().then(fn).then(() => null, (e) => e);
          expect(err, 'an error').to.be.instanceOf(cls);
          expect(err.message).to.match(NAMED).and.contain(frag);
          if (frag.includes('ENOENT')) expect(err.code).to.equal('ENOENT'); // still a file-system error
        });
      }
    });
  }
});
