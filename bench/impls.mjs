// Implementations the benchmark runs, and how each builds a runner for a workload and checks its
// answer against ours. Used inside one worker process per implementation (bench/worker.mjs).
import { encodeSafetensors, GRU, LayerNormLSTM, LSTM, Rng, setThreads, tensor, toOnnx } from 'cellstate';
import { loadTfjs, makeTfjsRunner, tfjsSupports, toBatchFirst } from './peers/tfjs.mjs';
import { loadOrt, makeOrtRunner, ortSupports } from './peers/ort.mjs';
import { checkOrtInt8, makeOrtInt8Runner, ortInt8Supports } from './peers/ort-int8.mjs';
import { makeTorchRunner, torchSupports } from './peers/pytorch.mjs';
import { absErrors, LOW_PRECISION_TOLERANCE, quantizeAvailable } from './quant.mjs';

function randomTensor(rng, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.uniform(-1, 1);
  return tensor(d, shape);
}

export function supports(w, impl) {
  if (w.cell === 'lnlstm' && impl.backend !== 'native' && impl.backend !== 'ts') return false; // no peer has a layer-normalised LSTM
  if (impl.backend === 'tfjs') return tfjsSupports(w);
  if (impl.backend === 'ort') return impl.precision === 'int8' ? ortInt8Supports(w) && !!w.quant : ortSupports(w);
  if (impl.backend === 'torch') return !w.activations && torchSupports(w); // torch.nn.LSTM has no other gate activations
  // Our bf16/int8 rows: inference and streaming workloads marked `quant` (training stays fp32).
  if ((impl.precision ?? 'fp32') !== 'fp32') return !!w.quant && w.kind !== 'train';
  return true;
}

/** Per-process setup for an implementation (threads, peer backend). */
export async function setup(impl) {
  if (impl.backend === 'native') setThreads(impl.threads);
  if (impl.backend === 'wasm') setThreads(impl.threads, 'wasm');
  if (impl.backend === 'tfjs') await (await loadTfjs()).setBackend(impl.tfBackend);
  if (impl.backend === 'ort') loadOrt();
}

/**
 * Our model and data for workload w: seed-1 weights, seed-2 inputs (the same in every process),
 * quantized with model.quantize(precision) unless fp32. `linearBeforeReset` (GRU) defaults to
 * false, the formula every peer but PyTorch implements.
 */
export function makeOurRunner(w, backend, precision = 'fp32', { linearBeforeReset = false } = {}) {
  const opts = { inputSize: w.I, hiddenSize: w.H, numLayers: w.layers ?? 1, bidirectional: !!w.bidir, seed: 1, backend, ...(w.activations ? { activations: w.activations } : {}) };
  let model = w.cell === 'gru' ? new GRU({ ...opts, linearBeforeReset }) : w.cell === 'lnlstm' ? new LayerNormLSTM(opts) : new LSTM(opts);
  if (precision !== 'fp32') {
    if (!quantizeAvailable()) throw new Error(`${precision}: model.quantize() is not available in this build`);
    model = model.quantize(precision);
    // quantize() falls back to ts where the backend has no kernels: never time that as `backend`.
    if (model.backend !== backend) throw new Error(`${precision}: the ${backend} backend has no ${precision} kernels (quantize() chose ${model.backend})`);
  }
  const rng = new Rng(2);
  const x = randomTensor(rng, [w.T, w.B, w.I]);
  const dOutput = randomTensor(rng, [w.T, w.B, (w.bidir ? 2 : 1) * w.H]);
  if (w.kind === 'infer') return { model, x, dOutput, run: () => model.forward(x).output.data };
  if (w.kind === 'stream') {
    // T calls of step(): one step at a time, as a streaming server would.
    const steps = Array.from({ length: w.T }, (_, t) => tensor(x.data.subarray(t * w.B * w.I, (t + 1) * w.B * w.I), [w.B, w.I]));
    return { model, x, dOutput, run: () => { let st = null, out = null; for (const xt of steps) ({ output: out, state: st } = model.step(xt, st)); return out.data; } };
  }
  return { model, x, dOutput, run: () => model.backward(model.forwardTrain(x).cache, { dOutput }).grads.weight_ih_l0.data };
}

/** A runner { run() -> Float32Array | Promise, async?, dispose? } for workload w on impl. */
export async function makeRunner(w, impl) {
  if (impl.backend === 'tfjs') {
    const ours = makeOurRunner(w, 'ts');
    return makeTfjsRunner(w, impl.tfBackend, ours.model, ours.x.data, ours.dOutput.data);
  }
  if (impl.backend === 'ort') {
    const ours = makeOurRunner(w, 'ts');
    if (impl.precision === 'int8') return makeOrtInt8Runner(w, impl.threads, ours.model, ours.x, toOnnx);
    return makeOrtRunner(w, impl.threads, ours.model, ours.x, toOnnx);
  }
  if (impl.backend === 'torch') {
    const ours = makeOurRunner(w, 'ts', 'fp32', { linearBeforeReset: true });
    return makeTorchRunner(w, impl, ours.model, ours.x, encodeSafetensors);
  }
  return makeOurRunner(w, impl.backend, impl.precision ?? 'fp32');
}

/**
 * Compare with ts on the same weights, on the first steps only (ts is slow on big shapes):
 * inference outputs, or the input-weight gradient of a training step. Peers answer in their own
 * layout (batch-first output, transposed kernel), converted here before comparing.
 */
export async function check(w, impl) {
  if (impl.backend === 'ts') return null;
  const short = { ...w, T: Math.min(w.T, 4) };
  const precision = impl.precision ?? 'fp32';
  if (impl.backend === 'ort' && precision === 'int8') {
    // Against ONNX Runtime's own fp32 LSTM on the same weights (whose row is checked against ours).
    const ours = makeOurRunner(short, 'ts');
    return checkOrtInt8(short, impl.threads, ours.model, ours.x, toOnnx);
  }
  if (precision !== 'fp32') {
    // Peers' bf16/int8 against our fp32 (their own rounding: an accuracy bound); our native
    // bf16/int8 against our ts backend in the same precision (the reference, same rounding rules).
    const a = await makeRunner(short, impl);
    const b = impl.peer ? makeOurRunner(short, 'ts', 'fp32', { linearBeforeReset: impl.backend === 'torch' }) : makeOurRunner(short, 'ts', precision);
    const ra = await a.run(), rb = b.run();
    a.dispose?.();
    const e = absErrors(ra, rb), tol = LOW_PRECISION_TOLERANCE;
    if (e === null) return `output has ${ra.length} values, expected ${rb.length}`;
    if (e.max <= tol.maxAbs && e.mean <= tol.meanAbs) return null;
    return `${precision} output differs from ${impl.peer ? 'our fp32' : `ts ${precision}`}: max abs ${e.max.toExponential(2)}, mean abs ${e.mean.toExponential(2)} (allowed ${tol.maxAbs}, ${tol.meanAbs})`;
  }
  const a = await makeRunner(short, impl), b = makeOurRunner(short, 'ts', 'fp32', { linearBeforeReset: impl.backend === 'torch' });
  const ra = await a.run();
  let rb = b.run();
  a.dispose?.();
  if (impl.backend === 'tfjs') {
    const G = (w.cell === 'gru' ? 3 : 4) * w.H;
    if (w.kind === 'infer') rb = toBatchFirst(rb, short.T, short.B, w.H);
    else if (w.cell === 'gru') return null; // Keras reorders GRU blocks: its gradient layout differs (GRU outputs are checked on GRU-M)
    else { const t = new Float32Array(rb.length); for (let r = 0; r < G; r++) for (let c = 0; c < w.I; c++) t[c * G + r] = rb[r * w.I + c]; rb = t; }
  }
  if (ra.length !== rb.length) return `output has ${ra.length} values, expected ${rb.length}`;
  let worst = 0;
  for (let i = 0; i < rb.length; i++) worst = Math.max(worst, Math.abs(ra[i] - rb[i]) / (1e-3 + Math.abs(rb[i])));
  return worst < 1e-2 ? null : `output differs from ts (worst relative error ${worst.toExponential(2)})`;
}
