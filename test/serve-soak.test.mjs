// Soak: thousands of requests through one batcher (with aborts and queue-full refusals mixed
// in) must leave memory where it was: no queue, listener or buffer kept per request. Memory is
// measured after forced garbage collections; the bound is generous (tens of MB of headroom on
// a working set of a few MB), since only a leak proportional to the request count matters.
import { getEventListeners, setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { LSTM, Rng, createBatcher, QueueFullError, RequestAbortedError } from 'cellstate';
import { randomSequences } from './helpers/serve.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

async function settledMemory() {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('serve: soak', function () {
  this.timeout(60000);

  it('6000 requests in waves (with aborts and refusals) keep memory bounded', async () => {
    const model = new LSTM({ inputSize: 8, hiddenSize: 32, seed: 1 });
    const b = createBatcher(model, { maxBatch: 64, maxDelayMs: 0, maxQueue: 256 });
    const xs = randomSequences(new Rng(41), 64, 8, 1, 30);
    const shared = new AbortController(); // one long-lived signal on every request: must not gather listeners
    setMaxListeners(0, shared.signal); // hundreds of requests share it at once, by design
    const counts = { ok: 0, aborted: 0, full: 0 };
    const wave = async (w) => {
      const ps = [];
      for (let i = 0; i < 300; i++) {
        const own = i % 50 === 7 ? new AbortController() : null;
        ps.push(b.run(xs[(w * 300 + i) % xs.length], { signal: own ? own.signal : shared.signal }));
        if (own) own.abort();
      }
      for (const r of await Promise.allSettled(ps)) {
        if (r.status === 'fulfilled') counts.ok++;
        else if (r.reason instanceof RequestAbortedError) counts.aborted++;
        else if (r.reason instanceof QueueFullError) counts.full++;
        else throw r.reason;
      }
    };
    for (let w = 0; w < 3; w++) await wave(w); // warm up
    const before = await settledMemory();
    for (let w = 3; w < 20; w++) await wave(w);
    const after = await settledMemory();
    if (process.env.CELLSTATE_SOAK_VERBOSE) console.log({ before, after, ...counts, ...b.stats() });
    expect(counts.ok + counts.aborted + counts.full).to.equal(6000);
    expect(counts.aborted).to.equal(20 * 6);
    expect(counts.full).to.be.greaterThan(0); // 300 at once against maxQueue 256
    expect(b.stats()).to.include({ queued: 0, running: 0 });
    expect(getEventListeners(shared.signal, 'abort')).to.have.length(0);
    expect(after - before, `memory grew from ${before} to ${after} bytes`).to.be.below(24 * 1024 * 1024);
  });
});
