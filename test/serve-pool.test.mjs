// The ts worker pool: the same numbers as the model on this thread (bit for bit), weights shared
// once through a SharedArrayBuffer and refreshed on demand, errors of the same classes, and a
// batcher spreading its batches over the workers.
import { expect } from 'chai';
import { GRU, LSTM, Rng, createBatcher, createTsWorkerPool, tensor, ServeClosedError } from 'cellstate';
import { expectExact, forwardOne, randomSequences } from './helpers/serve.mjs';

describe('serve: TsWorkerPool', function () {
  this.timeout(30000);

  for (const dtype of ['float32', 'float64']) {
    it(`${dtype}: a batcher over 2 workers gives each request its own forward exactly`, async () => {
      const model = new LSTM({ inputSize: 5, hiddenSize: 12, numLayers: 2, seed: 8, backend: 'ts', dtype });
      const pool = createTsWorkerPool(model, { workers: 2 });
      try {
        const b = createBatcher(pool, { maxBatch: 6, maxDelayMs: 1 });
        expect(b.concurrency).to.equal(2);
        const xs = randomSequences(new Rng(31), 25, 5, 1, 20, dtype);
        const rs = await Promise.all(xs.map((x) => b.run(x)));
        xs.forEach((x, i) => {
          const want = forwardOne(model, x);
          expectExact(rs[i].output.data, want.output, `request ${i} output`);
          expectExact(rs[i].cN.data, want.cN, `request ${i} cN`);
        });
        expect(b.stats().batches).to.be.greaterThan(1);
      } finally {
        await pool.close();
      }
    });
  }

  it('forwardAsync with lengths and h0 equals the model; refresh() carries new weights', async () => {
    const model = new GRU({ inputSize: 4, hiddenSize: 7, bidirectional: true, seed: 3, backend: 'ts' });
    const pool = createTsWorkerPool(model, { workers: 1 });
    try {
      const [x] = randomSequences(new Rng(32), 1, 4 * 3, 6, 6); // [6, 12] -> [6, 3, 4]
      const x3 = tensor(x.data, [6, 3, 4]);
      const h0 = tensor(randomSequences(new Rng(33), 1, 7, 6, 6)[0].data, [2, 3, 7]);
      const opts = { lengths: [6, 2, 4], h0 };
      const want = model.forward(x3, opts);
      const got = await pool.forwardAsync(x3, opts);
      expectExact(got.output.data, want.output.data, 'output');
      expectExact(got.hN.data, want.hN.data, 'hN');
      expect(got.output.shape).to.deep.equal([6, 3, 14]);
      model.loadStateDict(new GRU({ inputSize: 4, hiddenSize: 7, bidirectional: true, seed: 99 }).stateDict());
      pool.refresh();
      expectExact((await pool.forwardAsync(x3, opts)).output.data, model.forward(x3, opts).output.data, 'after refresh');
    } finally {
      await pool.close();
    }
  });

  it('rejects bad inputs with the classes the model throws, and refuses work after close()', async () => {
    const model = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1, backend: 'ts' });
    const pool = createTsWorkerPool(model, { workers: 1 });
    const x = tensor(new Float32Array(6), [2, 1, 3]);
    const e1 = await pool.forwardAsync(tensor(new Float32Array(6), [2, 3])).then(() => null, (e) => e);
    expect(e1).to.be.instanceOf(RangeError);
    expect(e1.message).to.match(/TsWorkerPool\.forwardAsync: x: expected shape of rank 3/);
    const e2 = await pool.forwardAsync(x, { h0: tensor(new Float32Array(3), [1, 1, 3]) }).then(() => null, (e) => e);
    expect(e2).to.be.instanceOf(RangeError); // checked by the worker's model
    expect(e2.message).to.match(/h0: expected shape \[1, 1, 4\]/);
    expectExact((await pool.forwardAsync(x)).output.data, forwardOne(model, tensor(x.data, [2, 3])).output, 'still serving');
    await pool.close();
    expect(await pool.forwardAsync(x).then(() => null, (e) => e)).to.be.instanceOf(ServeClosedError);
    expect(() => createTsWorkerPool(model, { workers: 0 })).to.throw(RangeError, /workers/);
    expect(() => createTsWorkerPool({})).to.throw(TypeError, /createTsWorkerPool: model/);
  });
});
