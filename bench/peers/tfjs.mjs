// TensorFlow.js as a benchmark peer: @tensorflow/tfjs on its pure-JS `cpu` backend and on
// @tensorflow/tfjs-backend-wasm, running the same workload with the same weights as ours.
//
// Weights go from our PyTorch layout to Keras's: kernel = W_ihᵀ [I, G·H], recurrentKernel =
// W_hhᵀ [H, G·H]. LSTM gate order i, f, g, o is Keras's i, f, c, o already (bias = b_ih + b_hh);
// GRU blocks r, z, n become Keras's z, r, h; TF.js cannot build reset_after=true, so the GRU
// rows use the ONNX/Keras default formula on every implementation (ours: linearBeforeReset:
// false), whose single bias is b_ih + b_hh. Inputs are batch-first for tfjs, so the check
// transposes.
// Stacked/bidirectional and streaming rows are not run on tfjs (reported as n/a).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let tf = null;
let wasmThreads = 1;
/** Why tfjs could not be loaded (reported by the benchmark), or null. */
export let loadError = null;
export async function loadTfjs() {
  if (tf) return tf;
  try {
    tf = require('@tensorflow/tfjs');
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    // Threads need the threaded wasm build and workers; report what the backend actually uses.
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
    wasmThreads = wasm.getThreadsCount?.() ?? 1;
    await tf.setBackend('cpu');
  } catch (e) {
    loadError = String(e?.message ?? e);
    tf = null;
  }
  return tf;
}

export function tfjsThreads(backend) {
  return backend === 'wasm' ? wasmThreads : 1;
}

/** Whether tfjs can run this workload (single-layer, unidirectional, whole-sequence LSTM or GRU). */
export function tfjsSupports(w) {
  return !w.layers && !w.bidir && w.kind !== 'stream';
}

function transpose2(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Our [T, B, F] rows as tfjs's [B, T, F]. */
export function toBatchFirst(data, T, B, F) {
  const out = new Float32Array(T * B * F);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(data.subarray((t * B + b) * F, (t * B + b + 1) * F), (b * T + t) * F);
  return out;
}

/** Keras weights [kernel, recurrentKernel, bias] from our state dict. */
function kerasWeights(sd, cell, I, H) {
  const G = (cell === 'gru' ? 3 : 4) * H;
  let wih = sd.weight_ih_l0.data, whh = sd.weight_hh_l0.data, bih = sd.bias_ih_l0.data, bhh = sd.bias_hh_l0.data;
  if (cell === 'gru') {
    // Reorder row blocks r, z, n -> z, r, n (Keras z, r, h).
    const perm = (a, width) => {
      const out = new Float32Array(a.length);
      const blk = H * width;
      out.set(a.subarray(blk, 2 * blk), 0);
      out.set(a.subarray(0, blk), blk);
      out.set(a.subarray(2 * blk, 3 * blk), 2 * blk);
      return out;
    };
    wih = perm(wih, I); whh = perm(whh, H); bih = perm(bih, 1); bhh = perm(bhh, 1);
  }
  const bias = new Float32Array(G);
  for (let j = 0; j < G; j++) bias[j] = bih[j] + bhh[j];
  return [tf.tensor2d(transpose2(wih, G, I), [I, G]), tf.tensor2d(transpose2(whh, G, H), [H, G]), tf.tensor1d(bias)];
}

/**
 * A runner for workload `w` on tfjs backend `name` ('cpu' | 'wasm') with the weights of `model`
 * (ours). `run()` returns the output (inference, [B, T, H]) or the kernel gradient (training,
 * Keras layout [I, G·H]) as a Float32Array.
 */
export async function makeTfjsRunner(w, name, model, xData, dOutData) {
  await loadTfjs();
  await tf.setBackend(name);
  const cell = w.cell === 'gru' ? 'gru' : 'lstm';
  // Zero initialisers: the weights are overwritten, and tfjs's orthogonal init is slow and noisy.
  // recurrentActivation: 'sigmoid', or TF.js's own default 'hardSigmoid' for an HS- row (w.activations).
  const opts = { units: w.H, returnSequences: true, recurrentActivation: w.activations?.[0] === 'hardSigmoid' ? 'hardSigmoid' : 'sigmoid', inputShape: [w.T, w.I], kernelInitializer: 'zeros', recurrentInitializer: 'zeros' };
  const layer = cell === 'gru' ? tf.layers.gru({ ...opts, resetAfter: false }) : tf.layers.lstm(opts);
  const x = tf.tensor3d(toBatchFirst(xData, w.T, w.B, w.I), [w.B, w.T, w.I]);
  layer.apply(x); // builds the weights
  layer.setWeights(kerasWeights(model.stateDict(), cell, w.I, w.H));
  if (w.kind === 'infer') {
    return {
      run: () => tf.tidy(() => layer.apply(x).dataSync()),
      dispose: () => { x.dispose(); layer.dispose(); },
    };
  }
  const dOut = tf.tensor3d(toBatchFirst(dOutData, w.T, w.B, w.H), [w.B, w.T, w.H]);
  const kernel = layer.trainableWeights[0].val;
  return {
    // Forward + full BPTT: gradients of sum(output * dOutput) for every trainable weight.
    run: () => tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x), dOut)), layer.trainableWeights.map((v) => v.val));
      return grads[kernel.name].dataSync();
    }),
    dispose: () => { x.dispose(); dOut.dispose(); layer.dispose(); },
  };
}
