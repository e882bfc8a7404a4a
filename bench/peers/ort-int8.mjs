// ONNX Runtime's int8 LSTM as a benchmark peer: the com.microsoft contrib operator
// DynamicQuantizeLSTM (CPU execution provider), built from our model's weights.
//
// We export the fp32 model with toOnnx, then rewrite each LSTM node into DynamicQuantizeLSTM:
//   inputs  X, W, R, B, sequence_lens, initial_h, initial_c, P, W_scale, W_zero_point, R_scale, R_zero_point
//   W int8 [D, I, 4H] and R int8 [D, H, 4H] (transposed from ONNX LSTM's [D, 4H, I] / [D, 4H, H]),
//   W_scale / R_scale float [D, 4H] (per output channel), zero points int8 [D, 4H], all 0 (the
//   kernel requires 0 for signed per-channel weights). Value = scale[j] * q[k, j].
// The weights are quantized by the rule of our own int8 format (docs: issue #21 contract): per
// output row j, symmetric, s = f32(amax / 127), q = clamp(rne(f32(w * f32(127 / amax))), -127, 127);
// so both libraries start from the same int8 weights. ONNX Runtime quantizes activations its own
// way (u8, asymmetric, per tensor, dynamically). Initializers (not inputs) so the kernel pre-packs
// W and R once at session creation, as it does for a deployed model.
//
// The check before timing compares with ONNX Runtime's own fp32 LSTM on the same model
// (LOW_PRECISION_TOLERANCE in bench/quant.mjs); the fp32 row in turn is checked against ours.
import { createRequire } from 'node:module';
import { loadOrt } from './ort.mjs';
import { absErrors, LOW_PRECISION_TOLERANCE as TOL } from '../quant.mjs';

const require = createRequire(import.meta.url);
/** TensorProto.DataType INT8. */
const INT8 = 3;


export function ortInt8Supports(w) {
  return w.kind === 'infer' && (w.cell ?? 'lstm') === 'lstm';
}

/** Round half to even (Math.round rounds half up). */
export function rne(v) {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * Quantizes an ONNX LSTM weight [D, N, K] (N = 4H output rows) per output row into int8
 * transposed to [D, K, N], with scales [D, N].
 */
export function quantizeRows(data, D, N, K) {
  const q = new Int8Array(D * K * N), scale = new Float32Array(D * N);
  for (let d = 0; d < D; d++) {
    for (let j = 0; j < N; j++) {
      const row = data.subarray((d * N + j) * K, (d * N + j + 1) * K);
      let amax = 0;
      for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(row[k]));
      if (amax === 0) { scale[d * N + j] = 1; continue; }
      scale[d * N + j] = Math.fround(amax / 127);
      const inv = Math.fround(127 / amax);
      for (let k = 0; k < K; k++) q[d * K * N + k * N + j] = Math.max(-127, Math.min(127, rne(Math.fround(row[k] * inv))));
    }
  }
  return { q, scale };
}

/** The ONNX bytes of `model` with every LSTM node replaced by DynamicQuantizeLSTM. */
export function int8Onnx(fp32Bytes) {
  const { decodeOnnxModel, encodeOnnxModel } = require('../../dist/io/onnx.js');
  const { ProtoWriter } = require('../../dist/io/protobuf.js');
  const m = decodeOnnxModel(fp32Bytes);
  const byName = new Map(m.graph.initializer.map((t) => [t.name, t]));
  const int8 = []; // int8 initializers, written separately below
  const drop = new Set();
  for (const node of m.graph.node) {
    if (node.opType !== 'LSTM') continue;
    const W = byName.get(node.input[1]), R = byName.get(node.input[2]);
    const [D, N, I] = W.dims, H = R.dims[2];
    const qw = quantizeRows(W.data, D, N, I), qr = quantizeRows(R.data, D, N, H);
    const p = node.name;
    int8.push({ name: `${p}_W_q`, dims: [D, I, N], data: qw.q }, { name: `${p}_R_q`, dims: [D, H, N], data: qr.q });
    int8.push({ name: `${p}_W_zp`, dims: [D, N], data: new Int8Array(D * N) }, { name: `${p}_R_zp`, dims: [D, N], data: new Int8Array(D * N) });
    m.graph.initializer.push({ name: `${p}_W_scale`, dims: [D, N], dataType: 1, data: qw.scale }, { name: `${p}_R_scale`, dims: [D, N], dataType: 1, data: qr.scale });
    drop.add(W.name).add(R.name);
    const rest = node.input.slice(3, 8);
    while (rest.length < 5) rest.push('');
    node.input = [node.input[0], `${p}_W_q`, `${p}_R_q`, ...rest, `${p}_W_scale`, `${p}_W_zp`, `${p}_R_scale`, `${p}_R_zp`];
    node.opType = 'DynamicQuantizeLSTM';
    node.domain = 'com.microsoft';
  }
  m.graph.initializer = m.graph.initializer.filter((t) => !drop.has(t.name));
  m.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  // Our ONNX writer handles float and int tensors only; the int8 initializers go in a second
  // ModelProto.graph (field 7) holding just them. Protobuf parsers merge repeated occurrences of
  // an embedded message field, concatenating its repeated fields (protobuf encoding
  // docs, "Last One Wins": embedded messages are merged as by MergeFrom), so the runtime sees one graph with all initializers.
  const extra = new ProtoWriter();
  for (const t of int8) {
    const tw = new ProtoWriter().intsUnpacked(1, t.dims).int(2, INT8).string(8, t.name);
    tw.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length));
    extra.message(5, tw);
  }
  const head = encodeOnnxModel(m), tail = new ProtoWriter().message(7, extra).finish();
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

const SESSION_OPTIONS = (threads) => ({ intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });

/** A runner { run() -> Promise<Float32Array>, dispose() } of the int8 model. */
export async function makeOrtInt8Runner(w, threads, model, x, toOnnx) {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(int8Onnx(toOnnx(model)), SESSION_OPTIONS(threads));
  const feeds = { x: new ort.Tensor('float32', x.data, x.shape) };
  return {
    async: true,
    run: async () => (await session.run(feeds)).output.data,
    dispose: () => session.release?.(),
  };
}

/**
 * Checks the int8 model against ONNX Runtime's fp32 LSTM on the same weights and input: null when
 * within the tolerance, else a message with the errors.
 */
export async function checkOrtInt8(w, threads, model, x, toOnnx) {
  const ort = loadOrt();
  const feeds = { x: new ort.Tensor('float32', x.data, x.shape) };
  const fp32 = await ort.InferenceSession.create(toOnnx(model), SESSION_OPTIONS(threads));
  const want = (await fp32.run(feeds)).output.data;
  await fp32.release?.();
  const runner = await makeOrtInt8Runner(w, threads, model, x, toOnnx);
  const got = await runner.run();
  await runner.dispose();
  const e = absErrors(got, want);
  if (e === null) return `int8 output has ${got.length} values, fp32 ${want.length}`;
  if (!(e.max <= TOL.maxAbs && e.mean <= TOL.meanAbs)) {
    return `int8 output differs from ONNX Runtime fp32: max abs ${e.max.toExponential(2)}, mean abs ${e.mean.toExponential(2)} (allowed ${TOL.maxAbs}, ${TOL.meanAbs})`;
  }
  return null;
}
