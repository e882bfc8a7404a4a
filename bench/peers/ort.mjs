// ONNX Runtime (onnxruntime-node, CPU execution provider) as a benchmark peer: our model exported
// with toOnnx (same weights, one LSTM/GRU node per layer) and run with a given number of intra-op
// threads. Inference only (ONNX Runtime has no training for these operators). Output names and
// shapes are ours (toOnnx's contract), so the check compares directly.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let ort = null;
/** Why onnxruntime-node could not be loaded, or null. */
export let loadError = null;

export function loadOrt() {
  if (ort || loadError) return ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    loadError = String(e?.message ?? e).split('\n')[0];
  }
  return ort;
}

export function ortSupports(w) {
  return w.kind === 'infer';
}

/** A runner: { run() -> Float32Array output, dispose() } for workload w with `threads` threads. */
export async function makeOrtRunner(w, threads, model, x, toOnnx) {
  const session = await ort.InferenceSession.create(toOnnx(model), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const feeds = { x: new ort.Tensor('float32', x.data, x.shape) };
  const last = { value: null };
  return {
    // ONNX Runtime's Node API is asynchronous: the bench awaits each call.
    async: true,
    run: async () => {
      const out = await session.run(feeds);
      last.value = out.output.data;
      return last.value;
    },
    dispose: () => session.release?.(),
  };
}
