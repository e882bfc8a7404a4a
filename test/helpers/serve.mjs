// Helpers for the serving tests: seeded sequences, exact comparison, and a runner that wraps a
// model to record (and optionally hold or fail) every batch call the batcher makes.
import { expect } from 'chai';
import { LSTM, tensor } from 'cellstate';

/** n sequences [T, I] with T uniform in [minT, maxT], seeded. */
export function randomSequences(rng, n, I, minT, maxT, dtype = 'float32') {
  const out = [];
  for (let i = 0; i < n; i++) {
    const T = minT + Math.floor(rng.next() * (maxT - minT + 1));
    const a = dtype === 'float64' ? new Float64Array(T * I) : new Float32Array(T * I);
    for (let j = 0; j < a.length; j++) a[j] = rng.uniform(-1, 1);
    out.push(tensor(a, [T, I]));
  }
  return out;
}

/** The model's own forward for one sequence [T, I] (batch of one), as [T, D*Hout] etc. */
export function forwardOne(model, x, opts = {}) {
  const T = x.shape[0], I = x.shape[1];
  const LD = model.numLayers * model.numDirections;
  const o = {};
  if (opts.h0) o.h0 = tensor(opts.h0.data, [LD, 1, model.outSize]);
  if (opts.c0) o.c0 = tensor(opts.c0.data, [LD, 1, model.hiddenSize]);
  const r = model.forward(tensor(x.data, model.batchFirst ? [1, T, I] : [T, 1, I]), o);
  return { output: r.output.data, hN: r.hN.data, cN: r.cN ? r.cN.data : null };
}

/** Bit-for-bit equality of two typed arrays (reports the first difference). */
export function expectExact(got, want, what) {
  expect(got.length, `${what}: length`).to.equal(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (not bit-identical)`);
  }
}

/**
 * A ForwardRunner over `model` that records each batch's lengths. Options: `hold` (a promise each
 * call awaits first), `failIf(x, options)` (throw to fail the whole batch call).
 */
export function spyRunner(model, { hold = null, failIf = null } = {}) {
  const calls = [];
  return {
    calls,
    inputSize: model.inputSize, hiddenSize: model.hiddenSize, outSize: model.outSize, numLayers: model.numLayers,
    numDirections: model.numDirections, batchFirst: model.batchFirst, dtype: model.dtype,
    hasCellState: model instanceof LSTM, streamable: !model.bidirectional && !model.reverse, backendName: model.backend,
    async forwardAsync(x, options) {
      calls.push(Array.from(options.lengths));
      if (hold) await hold();
      if (failIf) failIf(x, options);
      return model.forwardAsync(x, options);
    },
  };
}

/** A gate: `wait()` resolves once `open()` is called. */
export function gate() {
  let open;
  const p = new Promise((r) => { open = r; });
  return { wait: () => p, open };
}
