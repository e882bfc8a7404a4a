// toOnnx: an LSTM / GRU / RNN -> an ONNX model (opset 14-21) that ONNX Runtime runs.
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
import { toOnnxTensors, type DirectionWeights } from './gates';

export interface ToOnnxOptions {
  opset?: number; // 14..21, default 17
  batchFirst?: boolean; // graph input/output layout; default: the model's own
  lengths?: boolean; // add an int32 graph input `lengths` [B] (ONNX sequence_lens); default false
  initialState?: boolean; // add graph inputs `h0` (and `c0` for LSTM); default false (zeros)
  layout?: 0 | 1; // batch-first via transposes (0, default) or the layout attribute (1)
}

export const ONNX_OPSET_RANGE = [14, 21] as const;
const IR_FOR_OPSET: Record<number, number> = { 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** The ONNX op type and our cell kind of a model, or a clear refusal. */
export function onnxOpType(model: Recurrent): 'LSTM' | 'GRU' | 'RNN' {
  if (model instanceof LSTM) return 'LSTM';
  if (model instanceof GRU) return 'GRU';
  if (model instanceof RNN) return 'RNN';
  throw argTypeError('toOnnx', 'model', 'an LSTM, GRU or RNN', model);
}

export function toOnnx(model: Recurrent, options?: ToOnnxOptions): Uint8Array {
  const where = 'toOnnx';
  if (!(model instanceof Recurrent)) throw argTypeError(where, 'model', 'an LSTM, GRU or RNN', model);
  const op = onnxOpType(model);
  const o = readOptions(where, 'options', options, ['opset', 'batchFirst', 'lengths', 'initialState', 'layout']);
  const opset = o.opset === undefined ? 17 : o.opset;
  if (typeof opset !== 'number' || !Number.isInteger(opset)) throw argTypeError(where, 'options.opset', 'an integer opset version', opset);
  if (opset < ONNX_OPSET_RANGE[0] || opset > ONNX_OPSET_RANGE[1]) throw argRangeError(where, 'options.opset', `an opset in [${ONNX_OPSET_RANGE.join(', ')}]`, describe(opset));
  const batchFirst = optionalBool(where, 'options.batchFirst', o.batchFirst, model.batchFirst);
  const withLengths = optionalBool(where, 'options.lengths', o.lengths, false);
  const withState = optionalBool(where, 'options.initialState', o.initialState, false);
  if (o.layout !== undefined && o.layout !== 0 && o.layout !== 1) throw argTypeError(where, 'options.layout', '0 or 1', o.layout);
  const layoutAttr = batchFirst && o.layout === 1;

  const kind: CellKind = model instanceof LSTM ? 'lstm' : model instanceof GRU ? 'gru' : (model as RNN).nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh';
  if (model instanceof LSTM && model.projSize) {
    throw new UnsupportedModelError(`${where}: model.projSize: ONNX's LSTM operator has no projection; expected projSize 0, got ${model.projSize}`);
  }
  const H = model.hiddenSize, L = model.numLayers, D = model.numDirections, I0 = model.inputSize, GH = gateCount(kind) * H;
  const isLstm = kind === 'lstm';
  const sd = model.stateDict();
  const f32 = (name: string) => Float32Array.from(sd[name].data);

  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const node = (opType: string, input: string[], output: string[], attribute: OnnxAttribute[] = []) => {
    nodes.push({ name: `${opType}_${nodes.length}`, opType, domain: '', input, output, attribute });
  };
  const init = (name: string, dims: number[], dataType: number, data: OnnxTensor['data']) => {
    inits.push({ name, dims, dataType, data });
    return name;
  };
  const ints = (name: string, v: number[]): OnnxAttribute => ({ name, type: ATTR.INTS, ints: v });

  const inputs: OnnxValueInfo[] = [{ name: 'x', elemType: FLOAT, shape: batchFirst ? ['B', 'T', I0] : ['T', 'B', I0] }];
  if (withLengths) inputs.push({ name: 'lengths', elemType: INT32, shape: ['B'] });
  if (withState) {
    inputs.push({ name: 'h0', elemType: FLOAT, shape: [L * D, 'B', H] });
    if (isLstm) inputs.push({ name: 'c0', elemType: FLOAT, shape: [L * D, 'B', H] });
  }
  let x = 'x';
  if (batchFirst && !layoutAttr) {
    node('Transpose', ['x'], ['x_time_major'], [ints('perm', [1, 0, 2])]);
    x = 'x_time_major';
  }
  const reshapeTo3 = init('shape_0_0_m1', [3], INT64, [0, 0, -1]);
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
    const nodeIn = [x, init(`W_l${k}`, [D, GH, Ik], FLOAT, t.W), init(`R_l${k}`, [D, GH, H], FLOAT, t.R)];
    nodeIn.push(t.B ? init(`B_l${k}`, [D, 2 * GH], FLOAT, t.B) : '');
    nodeIn.push(withLengths ? 'lengths' : '');
    if (withState) {
      const starts = init(`h0_start_l${k}`, [1], INT64, [k * D]), ends = init(`h0_end_l${k}`, [1], INT64, [(k + 1) * D]);
      const axes = init(`h0_axes_l${k}`, [1], INT64, [0]);
      for (const st of isLstm ? ['h0', 'c0'] : ['h0']) {
        node('Slice', [st, starts, ends, axes], [`${st}_l${k}`]);
        let name = `${st}_l${k}`;
        if (layoutAttr) { node('Transpose', [name], [`${name}_bdh`], [ints('perm', [1, 0, 2])]); name = `${name}_bdh`; }
        nodeIn.push(name);
      }
    } else if (isLstm && t.P) nodeIn.push('', '');
    else if (!isLstm) { /* GRU/RNN: initial_h is the last optional input */ }
    if (isLstm && t.P) nodeIn.push(init(`P_l${k}`, [D, 3 * H], FLOAT, t.P));
    while (nodeIn[nodeIn.length - 1] === '') nodeIn.pop(); // trailing optional inputs are simply left out

    const attrs: OnnxAttribute[] = [
      { name: 'hidden_size', type: ATTR.INT, i: H },
      { name: 'direction', type: ATTR.STRING, s: D === 2 ? 'bidirectional' : model.reverse ? 'reverse' : 'forward' },
    ];
    if (model.clip !== null) attrs.push({ name: 'clip', type: ATTR.FLOAT, f: model.clip });
    if (model instanceof LSTM && model.inputForget) attrs.push({ name: 'input_forget', type: ATTR.INT, i: 1 });
    if (model instanceof GRU) attrs.push({ name: 'linear_before_reset', type: ATTR.INT, i: model.linearBeforeReset ? 1 : 0 });
    if (kind === 'rnn_relu') attrs.push({ name: 'activations', type: ATTR.STRINGS, strings: new Array(D).fill('Relu') });
    if (layoutAttr) attrs.push({ name: 'layout', type: ATTR.INT, i: 1 });
    const outs = [`Y_l${k}`, `Y_h_l${k}`];
    if (isLstm) outs.push(`Y_c_l${k}`);
    node(op, nodeIn, outs, attrs);

    // Y -> [T, B, D*H] (layout 1: Y is already [B, T, D, H]).
    if (layoutAttr) {
      node('Reshape', [`Y_l${k}`, reshapeTo3], [`X_l${k + 1}`]);
    } else {
      node('Transpose', [`Y_l${k}`], [`Y_tbdh_l${k}`], [ints('perm', [0, 2, 1, 3])]);
      node('Reshape', [`Y_tbdh_l${k}`, reshapeTo3], [`X_l${k + 1}`]);
    }
    x = `X_l${k + 1}`;
    for (const [src, list] of isLstm ? [[`Y_h_l${k}`, yh], [`Y_c_l${k}`, yc]] as const : [[`Y_h_l${k}`, yh]] as const) {
      if (layoutAttr) { node('Transpose', [src], [`${src}_dbh`], [ints('perm', [1, 0, 2])]); list.push(`${src}_dbh`); } else list.push(src);
    }
  }
  if (batchFirst && !layoutAttr) node('Transpose', [x], ['output'], [ints('perm', [1, 0, 2])]);
  else node('Identity', [x], ['output']);
  node(L > 1 ? 'Concat' : 'Identity', yh, ['h_n'], L > 1 ? [{ name: 'axis', type: ATTR.INT, i: 0 }] : []);
  if (isLstm) node(L > 1 ? 'Concat' : 'Identity', yc, ['c_n'], L > 1 ? [{ name: 'axis', type: ATTR.INT, i: 0 }] : []);

  const outputs: OnnxValueInfo[] = [
    { name: 'output', elemType: FLOAT, shape: batchFirst ? ['B', 'T', D * H] : ['T', 'B', D * H] },
    { name: 'h_n', elemType: FLOAT, shape: [L * D, 'B', H] },
  ];
  if (isLstm) outputs.push({ name: 'c_n', elemType: FLOAT, shape: [L * D, 'B', H] });
  return encodeOnnxModel({
    irVersion: IR_FOR_OPSET[opset], producerName: 'cellstate', producerVersion: '0.1.0', docString: '',
    opsetImport: [{ domain: '', version: opset }],
    metadata: { 'cellstate.model': op, 'cellstate.layout': batchFirst ? 'batch_first' : 'time_major' },
    graph: { name: `cellstate_${op.toLowerCase()}`, node: nodes, initializer: inits, input: inputs, output: outputs, valueInfo: [] },
  });
}
