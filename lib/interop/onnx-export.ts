// toOnnx: an LSTM / GRU / RNN, or a Sequential chain of them with Embedding, Linear, activations and
// LastStep, -> an ONNX model (opset 14-21) that ONNX Runtime runs.
//
// One ONNX recurrent node per layer (all directions of a layer are one node). ONNX's node output
// Y is [T, D, B, H], so between layers and at the end the graph reshapes it to our [T, B, D*H]:
//
//   x [T, B, I]  (batch-first: [B, T, I] -> Transpose(1, 0, 2))
//   layer k:  LSTM/GRU/RNN(X_k, W, R, B, sequence_lens, initial_h_k, initial_c_k, P) -> Y, Y_h, Y_c
//             Y [T, D, B, H] -> Transpose(0, 2, 1, 3) -> [T, B, D, H] -> Reshape(0, 0, -1) -> X_{k+1}
//   output = X_L [T, B, D*H] (batch-first: Transpose back);  h_n = Concat_k(Y_h) [L*D, B, H]; c_n likewise
//   initial states (option initialState): h0 [L*D, B, H] -> Slice(k*D, (k+1)*D) per layer
//
// With `layout: 1` batch-first models use ONNX's layout attribute instead of the transposes
// (ONNX Runtime's CPU kernels reject it; other runtimes may prefer it).
// Weights are written as float32 (ONNX Runtime's recurrent kernels are float32 only; a float64
// model is rounded). Refused with an UnsupportedModelError: projSize (ONNX's LSTM has no
// projection).

import type { CellKind } from '../backend/types';
import { gateCount } from '../backend/types';
import { argRangeError, argTypeError, describe, UnsupportedModelError } from '../errors';
import { encodeOnnxModel, FLOAT, INT32, INT64, ATTR, type OnnxAttribute, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../io/onnx';
import { GRU } from '../nn/gru';
import { LSTM } from '../nn/lstm';
import { readOptions, optionalBool } from '../nn/options';
import { Recurrent } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { ReLU, Sigmoid, Softmax, Tanh } from '../nn/activations';
import { ACTIVATIONS } from '../backend/schema.gen';
import { isDefaultActivations, type ActivationName } from '../nn/gate-activations';
import { Dropout } from '../nn/dropout';
import { LayerNorm } from '../nn/layer-norm';
import { Embedding } from '../nn/embedding';
import { LastStep } from '../nn/last-step';
import { Linear } from '../nn/linear';
import { Sequential } from '../nn/sequential';
import { describeLayer } from '../nn/summary';
import { toOnnxTensors, type DirectionWeights } from './gates';


// The kinds' default gate activations (not written to the node).
const DEFAULT_ACTS: Record<string, readonly ActivationName[]> = { lstm: ['sigmoid', 'tanh', 'tanh'], gru: ['sigmoid', 'tanh'], rnn_tanh: ['tanh'], rnn_relu: ['relu'] };

/** How toOnnx writes the graph. */
export interface ToOnnxOptions {
  /**
   * The ONNX opset, 14 to 21.
   * @default 17
   */
  opset?: number;
  /**
   * Graph input/output layout: [B, T, ·] when true, else [T, B, ·].
   * @default the model's own batchFirst
   */
  batchFirst?: boolean;
  /**
   * Add an int32 graph input `lengths` [B] (ONNX sequence_lens) for variable-length batches.
   * @default false
   */
  lengths?: boolean;
  /**
   * Add graph inputs `h0` (and `c0` for LSTM); without them the graph starts from zeros.
   * @default false
   */
  initialState?: boolean;
  /**
   * How a batch-first recurrent layer is written: 0 with Transpose nodes around the op, 1 with
   * the op's layout attribute (recurrent layers only, not a Sequential).
   * @default 0
   */
  layout?: 0 | 1;
}

export const ONNX_OPSET_RANGE = [14, 21] as const;
const IR_FOR_OPSET: Record<number, number> = { 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** The ONNX op type and our cell kind of a model, or a clear refusal. */
export function onnxOpType(model: Recurrent): 'LSTM' | 'GRU' | 'RNN' {
  if (model instanceof LSTM) return 'LSTM';
  if (model instanceof GRU) return 'GRU';
  if (model instanceof RNN) return 'RNN';
  // A recurrent kind without an ONNX operator (LayerNormLSTM): ONNX's recurrent ops have no layer norm.
  throw new UnsupportedModelError(`toOnnx: ${describeLayer(model)}: ONNX has no operator for it (its recurrent operators are LSTM, GRU and RNN)`);
}

/** Nodes and initializers of one graph under construction. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly inits: OnnxTensor[] = [];
  private readonly names = new Set<string>();
  node(opType: string, input: string[], output: string[], attribute: OnnxAttribute[] = []): void {
    this.nodes.push({ name: `${opType}_${this.nodes.length}`, opType, domain: '', input, output, attribute });
  }
  init(name: string, dims: number[], dataType: number, data: OnnxTensor['data']): string {
    if (!this.names.has(name)) {
      this.names.add(name);
      this.inits.push({ name, dims, dataType, data });
    }
    return name;
  }
}
const ints = (name: string, v: number[]): OnnxAttribute => ({ name, type: ATTR.INTS, ints: v });
const int = (name: string, v: number): OnnxAttribute => ({ name, type: ATTR.INT, i: v });
const float = (name: string, v: number): OnnxAttribute => ({ name, type: ATTR.FLOAT, f: v });

interface RecurrentExport {
  lengths: string | null; // graph value of the int32 lengths [B], if any
  state: string | null; // name prefix of per-layer initial states h0 (and c0) [L*D, B, H], if any
  layoutAttr: boolean; // ONNX layout=1: x and Y batch-first, states [B, D, H]
  prefix: string; // for initializer and value names (a chain has several recurrent layers)
}

/**
 * The ONNX nodes of a recurrent model reading x ([T, B, I], or [B, T, I] with layoutAttr): returns
 * its output value ([T, B, D*H]; [B, T, D*H] with layoutAttr) and each layer's final states.
 */
function emitRecurrent(g: GraphBuilder, model: Recurrent, x: string, e: RecurrentExport): { y: string; yh: string[]; yc: string[] } {
  const where = 'toOnnx';
  const op = onnxOpType(model);
  const kind: CellKind = model instanceof LSTM ? 'lstm' : model instanceof GRU ? 'gru' : (model as RNN).nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh';
  if (model instanceof LSTM && model.projSize) {
    throw new UnsupportedModelError(`${where}: model.projSize: ONNX's LSTM operator has no projection; expected projSize 0, got ${model.projSize}`);
  }
  const H = model.hiddenSize, L = model.numLayers, D = model.numDirections, I0 = model.inputSize, GH = gateCount(kind) * H;
  const isLstm = kind === 'lstm';
  const sd = model.stateDict();
  const f32 = (name: string) => Float32Array.from(sd[name].data);
  const P = e.prefix, layoutAttr = e.layoutAttr;
  const reshapeTo3 = g.init('shape_0_0_m1', [3], INT64, [0, 0, -1]);
  const yh: string[] = [], yc: string[] = [];
  for (let k = 0; k < L; k++) {
    const dirs: DirectionWeights[] = [];
    for (let d = 0; d < D; d++) {
      const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
      dirs.push({
        weight_ih: f32(`weight_ih${s}`), weight_hh: f32(`weight_hh${s}`),
        bias_ih: model.bias ? f32(`bias_ih${s}`) : null, bias_hh: model.bias ? f32(`bias_hh${s}`) : null,
        peephole: model instanceof LSTM && model.peephole ? { i: f32(`peephole_i${s}`), f: f32(`peephole_f${s}`), o: f32(`peephole_o${s}`) } : null,
      });
    }
    const Ik = k === 0 ? I0 : D * H;
    const t = toOnnxTensors(kind, dirs, H);
    const nodeIn = [x, g.init(`${P}W_l${k}`, [D, GH, Ik], FLOAT, t.W), g.init(`${P}R_l${k}`, [D, GH, H], FLOAT, t.R)];
    nodeIn.push(t.B ? g.init(`${P}B_l${k}`, [D, 2 * GH], FLOAT, t.B) : '');
    nodeIn.push(e.lengths ?? '');
    if (e.state !== null) {
      const starts = g.init(`${P}h0_start_l${k}`, [1], INT64, [k * D]), ends = g.init(`${P}h0_end_l${k}`, [1], INT64, [(k + 1) * D]);
      const axes = g.init('axes_0', [1], INT64, [0]);
      for (const st of isLstm ? ['h0', 'c0'] : ['h0']) {
        g.node('Slice', [`${e.state}${st}`, starts, ends, axes], [`${P}${st}_l${k}`]);
        let name = `${P}${st}_l${k}`;
        if (layoutAttr) { g.node('Transpose', [name], [`${name}_bdh`], [ints('perm', [1, 0, 2])]); name = `${name}_bdh`; }
        nodeIn.push(name);
      }
    } else if (isLstm && t.P) nodeIn.push('', '');
    if (isLstm && t.P) nodeIn.push(g.init(`${P}P_l${k}`, [D, 3 * H], FLOAT, t.P));
    while (nodeIn[nodeIn.length - 1] === '') nodeIn.pop(); // trailing optional inputs are simply left out

    const attrs: OnnxAttribute[] = [
      int('hidden_size', H),
      { name: 'direction', type: ATTR.STRING, s: D === 2 ? 'bidirectional' : model.reverse ? 'reverse' : 'forward' },
    ];
    if (model.clip !== null) attrs.push({ name: 'clip', type: ATTR.FLOAT, f: model.clip });
    if (model instanceof LSTM && model.inputForget) attrs.push(int('input_forget', 1));
    if (model instanceof GRU) attrs.push(int('linear_before_reset', model.linearBeforeReset ? 1 : 0));
    if (kind === 'rnn_relu') attrs.push({ name: 'activations', type: ATTR.STRINGS, strings: new Array(D).fill('Relu') });
    else if (!isDefaultActivations(model.activations, DEFAULT_ACTS[kind])) {
      // Every direction the same functions; alpha / beta of those that read them, in order (written
      // even at ONNX's defaults: onnxruntime's own defaults for Affine, ScaledTanh and
      // ThresholdedRelu are 0, not the operators').
      const acts = Array.from({ length: D }, () => model.activations).flat();
      attrs.push({ name: 'activations', type: ATTR.STRINGS, strings: acts.map((a) => ACTIVATIONS[a.name].onnx) });
      const alphas = acts.filter((a) => ACTIVATIONS[a.name].alpha).map((a) => a.alpha);
      const betas = acts.filter((a) => ACTIVATIONS[a.name].beta).map((a) => a.beta);
      if (alphas.length) attrs.push({ name: 'activation_alpha', type: ATTR.FLOATS, floats: alphas });
      if (betas.length) attrs.push({ name: 'activation_beta', type: ATTR.FLOATS, floats: betas });
    }
    if (layoutAttr) attrs.push(int('layout', 1));
    const outs = [`${P}Y_l${k}`, `${P}Y_h_l${k}`];
    if (isLstm) outs.push(`${P}Y_c_l${k}`);
    g.node(op, nodeIn, outs, attrs);

    // Y -> [T, B, D*H] (layout 1: Y is already [B, T, D, H]).
    if (layoutAttr) {
      g.node('Reshape', [`${P}Y_l${k}`, reshapeTo3], [`${P}X_l${k + 1}`]);
    } else {
      g.node('Transpose', [`${P}Y_l${k}`], [`${P}Y_tbdh_l${k}`], [ints('perm', [0, 2, 1, 3])]);
      g.node('Reshape', [`${P}Y_tbdh_l${k}`, reshapeTo3], [`${P}X_l${k + 1}`]);
    }
    x = `${P}X_l${k + 1}`;
    for (const [src, list] of isLstm ? [[`${P}Y_h_l${k}`, yh], [`${P}Y_c_l${k}`, yc]] as const : [[`${P}Y_h_l${k}`, yh]] as const) {
      if (layoutAttr) { g.node('Transpose', [src], [`${src}_dbh`], [ints('perm', [1, 0, 2])]); list.push(`${src}_dbh`); } else list.push(src);
    }
  }
  return { y: x, yh, yc };
}

function encode(g: GraphBuilder, opset: number, name: string, metadata: Record<string, string>, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): Uint8Array {
  return encodeOnnxModel({
    irVersion: IR_FOR_OPSET[opset], producerName: 'cellstate', producerVersion: '0.1.0', docString: '',
    opsetImport: [{ domain: '', version: opset }],
    metadata,
    graph: { name, node: g.nodes, initializer: g.inits, input: inputs, output: outputs, valueInfo: [] },
  });
}

/**
 * An LSTM / GRU / RNN, or a Sequential chain of them with Embedding, Linear, Tanh / Sigmoid /
 * ReLU and LastStep layers, as ONNX bytes.
 */
export function toOnnx(model: Recurrent | Sequential, options?: ToOnnxOptions): Uint8Array {
  const where = 'toOnnx';
  if (!(model instanceof Recurrent) && !(model instanceof Sequential)) throw argTypeError(where, 'model', 'an LSTM, GRU or RNN, or a Sequential of exportable layers', model);
  if (model instanceof Recurrent) onnxOpType(model);
  // ONNX's LSTM/GRU/RNN take float weights: exporting the dequantized values would be a
  // different model than the one that computes here (its activations are rounded too).
  if (model.precision !== 'fp32') throw new UnsupportedModelError(`${where}: model: a ${model.precision} model (quantize()) cannot be exported: ONNX export takes the fp32 model (see docs/low-precision.md#what-a-quantized-model-refuses)`);
  const o = readOptions(where, 'options', options, ['opset', 'batchFirst', 'lengths', 'initialState', 'layout']);
  const opset = o.opset === undefined ? 17 : o.opset;
  if (typeof opset !== 'number' || !Number.isInteger(opset)) throw argTypeError(where, 'options.opset', 'an integer opset version', opset);
  if (opset < ONNX_OPSET_RANGE[0] || opset > ONNX_OPSET_RANGE[1]) throw argRangeError(where, 'options.opset', `an opset in [${ONNX_OPSET_RANGE.join(', ')}]`, describe(opset));
  const batchFirst = optionalBool(where, 'options.batchFirst', o.batchFirst, model.batchFirst);
  const withLengths = optionalBool(where, 'options.lengths', o.lengths, false);
  const withState = optionalBool(where, 'options.initialState', o.initialState, false);
  if (o.layout !== undefined && o.layout !== 0 && o.layout !== 1) throw argTypeError(where, 'options.layout', '0 or 1', o.layout);
  if (model instanceof Sequential) {
    if (withState) throw argTypeError(where, 'options.initialState', 'false for a Sequential (its recurrent layers start from zeros)', true);
    if (o.layout === 1) throw argTypeError(where, 'options.layout', '0 for a Sequential', 1);
    return chainToOnnx(model, opset, batchFirst, withLengths);
  }
  const layoutAttr = batchFirst && o.layout === 1;
  const op = onnxOpType(model);
  const isLstm = model instanceof LSTM;
  const H = model.hiddenSize, L = model.numLayers, D = model.numDirections, I0 = model.inputSize;

  const g = new GraphBuilder();
  const inputs: OnnxValueInfo[] = [{ name: 'x', elemType: FLOAT, shape: batchFirst ? ['B', 'T', I0] : ['T', 'B', I0] }];
  if (withLengths) inputs.push({ name: 'lengths', elemType: INT32, shape: ['B'] });
  if (withState) {
    inputs.push({ name: 'h0', elemType: FLOAT, shape: [L * D, 'B', H] });
    if (isLstm) inputs.push({ name: 'c0', elemType: FLOAT, shape: [L * D, 'B', H] });
  }
  let x = 'x';
  if (batchFirst && !layoutAttr) {
    g.node('Transpose', ['x'], ['x_time_major'], [ints('perm', [1, 0, 2])]);
    x = 'x_time_major';
  }
  const r = emitRecurrent(g, model, x, { lengths: withLengths ? 'lengths' : null, state: withState ? '' : null, layoutAttr, prefix: '' });
  if (batchFirst && !layoutAttr) g.node('Transpose', [r.y], ['output'], [ints('perm', [1, 0, 2])]);
  else g.node('Identity', [r.y], ['output']);
  g.node(L > 1 ? 'Concat' : 'Identity', r.yh, ['h_n'], L > 1 ? [int('axis', 0)] : []);
  if (isLstm) g.node(L > 1 ? 'Concat' : 'Identity', r.yc, ['c_n'], L > 1 ? [int('axis', 0)] : []);

  const outputs: OnnxValueInfo[] = [
    { name: 'output', elemType: FLOAT, shape: batchFirst ? ['B', 'T', D * H] : ['T', 'B', D * H] },
    { name: 'h_n', elemType: FLOAT, shape: [L * D, 'B', H] },
  ];
  if (isLstm) outputs.push({ name: 'c_n', elemType: FLOAT, shape: [L * D, 'B', H] });
  return encode(g, opset, `cellstate_${op.toLowerCase()}`, { 'cellstate.model': op, 'cellstate.layout': batchFirst ? 'batch_first' : 'time_major' }, inputs, outputs);
}

/**
 * A chain: every value between layers is time-major ([T, B, F], or [B, F] after a LastStep);
 * a batch-first graph transposes its input once at the start and its output at the end. Token ids
 * for a first Embedding are an int64 input x [T, B] ([B, T] batch-first). LastStep gathers step
 * T-1, or with `lengths` each entry's step lengths[b]-1 (GatherND over [B, T, F], batch_dims 1).
 */
function chainToOnnx(model: Sequential, opset: number, batchFirst: boolean, withLengths: boolean): Uint8Array {
  const where = 'toOnnx';
  const g = new GraphBuilder();
  const first = model.layers[0];
  const ids = first instanceof Embedding;
  let F: number; // features of the current value
  if (first instanceof Recurrent) F = first.inputSize;
  else if (first instanceof Linear) F = first.inFeatures;
  else if (ids) F = 1;
  else throw new UnsupportedModelError(`${where}: model.layers[0]: expected an Embedding, LSTM, GRU, RNN or Linear first (it fixes the input's shape), got ${describeLayer(first)}`);
  let time = ids || first instanceof Recurrent; // whether the current value has a time axis
  const inShape = ids ? (batchFirst ? ['B', 'T'] : ['T', 'B']) : time ? (batchFirst ? ['B', 'T', F] : ['T', 'B', F]) : ['B', F];
  const inputs: OnnxValueInfo[] = [{ name: 'x', elemType: ids ? INT64 : FLOAT, shape: inShape }];
  if (withLengths) inputs.push({ name: 'lengths', elemType: INT32, shape: ['B'] });
  let x = 'x';
  if (batchFirst && time) {
    g.node('Transpose', ['x'], ['x_time_major'], [ints('perm', ids ? [1, 0] : [1, 0, 2])]);
    x = 'x_time_major';
  }
  const f32 = (t: { data: ArrayLike<number> }) => Float32Array.from(t.data);
  model.layers.forEach((l, i) => {
    const P = `${i}_`;
    const out = `${P}out`;
    if (l instanceof Recurrent) {
      if (!time) throw new UnsupportedModelError(`${where}: model.layers[${i}]: a recurrent layer after a LastStep has no sequence to read`);
      const r = emitRecurrent(g, l, x, { lengths: withLengths ? 'lengths' : null, state: null, layoutAttr: false, prefix: P });
      g.node('Identity', [r.y], [out]);
      F = l.numDirections * l.hiddenSize;
    } else if (l instanceof Embedding) {
      if (i !== 0) throw new UnsupportedModelError(`${where}: model.layers[${i}]: an Embedding must come first (it reads token ids)`);
      g.node('Gather', [g.init(`${P}weight`, [l.numEmbeddings, l.embeddingDim], FLOAT, f32(l.stateDict().weight)), x], [out], [int('axis', 0)]);
      F = l.embeddingDim;
    } else if (l instanceof Linear) {
      const sd = l.stateDict();
      const w = sd.weight.data, wt = new Float32Array(l.inFeatures * l.outFeatures); // [in, out] = weightᵀ
      for (let r = 0; r < l.outFeatures; r++) for (let c = 0; c < l.inFeatures; c++) wt[c * l.outFeatures + r] = w[r * l.inFeatures + c];
      const mm = l.bias ? `${P}matmul` : out;
      g.node('MatMul', [x, g.init(`${P}weight_t`, [l.inFeatures, l.outFeatures], FLOAT, wt)], [mm]);
      if (l.bias) g.node('Add', [mm, g.init(`${P}bias`, [l.outFeatures], FLOAT, f32(sd.bias))], [out]);
      F = l.outFeatures;
    } else if (l instanceof Tanh || l instanceof Sigmoid || l instanceof ReLU) {
      g.node(l instanceof Tanh ? 'Tanh' : l instanceof Sigmoid ? 'Sigmoid' : 'Relu', [x], [out]);
    } else if (l instanceof Softmax) {
      g.node('Softmax', [x], [out], [int('axis', -1)]);
    } else if (l instanceof Dropout) {
      g.node('Identity', [x], [out]); // inference
    } else if (l instanceof LayerNorm) {
      // LayerNormalization (opset 17) over the last axis; its Scale input is required: ones without elementwiseAffine.
      if (opset < 17) throw new UnsupportedModelError(`${where}: model.layers[${i}]: LayerNorm needs opset >= 17 (ONNX LayerNormalization), got opset ${opset}`);
      const D = l.normalizedShape, sd = l.stateDict();
      const ins = [x, g.init(`${P}weight`, [D], FLOAT, l.elementwiseAffine ? f32(sd.weight) : new Float32Array(D).fill(1))];
      if (l.bias) ins.push(g.init(`${P}bias`, [D], FLOAT, f32(sd.bias)));
      g.node('LayerNormalization', ins, [out], [int('axis', -1), float('epsilon', l.eps)]);
    } else if (l instanceof LastStep) {
      if (!time) throw new UnsupportedModelError(`${where}: model.layers[${i}]: a LastStep after a LastStep has no sequence to read`);
      const last = l.finalStates ? `${P}last_step` : out;
      if (withLengths) {
        // idx [B, 1] = lengths - 1; GatherND over [B, T, F] with one batch dim picks x[b, idx_b].
        g.node('Cast', ['lengths'], [`${P}len64`], [int('to', INT64)]);
        g.node('Sub', [`${P}len64`, g.init('one_i64', [1], INT64, [1])], [`${P}last`]);
        g.node('Unsqueeze', [`${P}last`, g.init('axes_1', [1], INT64, [1])], [`${P}idx`]);
        g.node('Transpose', [x], [`${P}btf`], [ints('perm', [1, 0, 2])]);
        g.node('GatherND', [`${P}btf`, `${P}idx`], [last], [int('batch_dims', 1)]);
      } else {
        g.node('Gather', [x, g.init('minus_one_i64', [], INT64, [-1])], [last], [int('axis', 0)]);
      }
      if (l.finalStates) {
        // The reverse half (the last F/2 features) where the reverse direction ends: t = 0.
        const half = F / 2, axes = g.init('axes_1', [1], INT64, [1]);
        g.node('Gather', [x, g.init('zero_i64', [], INT64, [0])], [`${P}first_step`], [int('axis', 0)]);
        g.node('Slice', [last, g.init('zero_1_i64', [1], INT64, [0]), g.init(`${P}half`, [1], INT64, [half]), axes], [`${P}fwd`]);
        g.node('Slice', [`${P}first_step`, g.init(`${P}half`, [1], INT64, [half]), g.init(`${P}full`, [1], INT64, [F]), axes], [`${P}rev`]);
        g.node('Concat', [`${P}fwd`, `${P}rev`], [out], [int('axis', 1)]);
      }
      time = false;
    } else {
      throw new UnsupportedModelError(`${where}: model.layers[${i}]: ${describeLayer(l)} has no ONNX export (expected Embedding, LSTM, GRU, RNN, Linear, Tanh, Sigmoid, ReLU, Softmax, Dropout, LayerNorm or LastStep)`);
    }
    x = out;
  });
  if (batchFirst && time) g.node('Transpose', [x], ['output'], [ints('perm', [1, 0, 2])]);
  else g.node('Identity', [x], ['output']);
  const outShape = time ? (batchFirst ? ['B', 'T', F] : ['T', 'B', F]) : ['B', F];
  return encode(g, opset, 'cellstate_sequential', { 'cellstate.model': 'Sequential', 'cellstate.layout': batchFirst ? 'batch_first' : 'time_major' },
    inputs, [{ name: 'output', elemType: FLOAT, shape: outShape }]);
}
