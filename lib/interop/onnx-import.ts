// fromOnnx: an ONNX model -> a Sequential when its graph is a chain of layers (lib/interop/
// onnx-chain.ts), else an OnnxModel: LSTM / GRU / RNN nodes plus a little glue and a dense head
// (lib/interop/onnx-ops.ts), run node by node for inference, with each recurrent node turned into
// one of our layers at load time. An OnnxModel does not train; it records why it is not a chain
// (`notChain`) and says so in the errors of everything that wants a Sequential.
//
// A recurrent node's W, R, B, P must be initializers (constant weights); its X, sequence_lens,
// initial_h and initial_c may be any graph value. Attributes honoured: hidden_size, direction
// (forward / reverse / bidirectional), layout (0, 1), clip, input_forget (LSTM),
// linear_before_reset (GRU), activations, activation_alpha and activation_beta (every ONNX
// activation, the layer's gate activations: docs/equations.md, "Gate activations"; the alpha / beta
// lists consumed in order by the functions that read them, ONNX's operator defaults past their
// end, as onnxruntime does; a bidirectional node's two directions must agree, one layer having
// one set). An unknown operator, attribute or domain is refused with an UnsupportedModelError naming it. Names from the file (values,
// attributes, outputs) are kept in Maps and null-prototype objects. The ONNX <-> PyTorch gate re-ordering is
// lib/interop/gates.ts (shared with toOnnx and the TF.js importer).

import type { BackendName, CellKind, GateActivation } from '../backend/types';
import { ACTIVATIONS } from '../backend/schema.gen';
import { ACTIVATION_DEFAULTS, gateActivation, sameActivation, type ActivationName } from '../nn/gate-activations';
import { gateCount } from '../backend/types';
import { argTypeError, describe, DESCRIBE, formatShape, UnsupportedModelError } from '../errors';
import { decodeOnnxModel, dtypeName, FLOAT, INT32, INT64, DOUBLE, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../io/onnx';
import { GRU } from '../nn/gru';
import { LSTM } from '../nn/lstm';
import type { Recurrent } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { checkTensorArg, Tensor } from '../tensor';
import { BACKEND_NAMES_TEXT, isBackendName } from '../backend';
import { readOptions } from '../nn/options';
import { directionStateDict, fromOnnxTensors } from './gates';
import { OP_ATTRIBUTES, runOp, SUPPORTED_OPS, transpose, type Attrs, type Value } from './onnx-ops';
import { chainFromOnnx } from './onnx-chain';
import type { Sequential } from '../nn/sequential';

/** The raw description of one ONNX recurrent node: its tensors and attributes. */
export interface OnnxRecurrentSpec {
  /** The ONNX operator. */
  opType: 'LSTM' | 'GRU' | 'RNN';
  /** Its attributes by ONNX name (hidden_size, direction, clip, activations, ...). */
  attributes: Record<string, number | string | number[] | string[]>;
  /** Input weights, [D, G*H, I] (G gates, in ONNX's order). */
  W: {
    /** Its ONNX dims. */
    dims: number[];
    /** Its elements, row-major. */
    data: ArrayLike<number>;
  };
  /** Recurrent weights, [D, G*H, H]. */
  R: {
    /** Its ONNX dims. */
    dims: number[];
    /** Its elements, row-major. */
    data: ArrayLike<number>;
  };
  /** Biases Wb and Rb concatenated, [D, 2*G*H]; none when omitted. */
  B?: {
    /** Its ONNX dims. */
    dims: number[];
    /** Its elements, row-major. */
    data: ArrayLike<number>;
  } | null;
  /** LSTM peepholes, [D, 3*H]; none when omitted. */
  P?: {
    /** Its ONNX dims. */
    dims: number[];
    /** Its elements, row-major. */
    data: ArrayLike<number>;
  } | null;
}

/** A recurrent layer built from an ONNX node, plus the node's layout (how its I/O is shaped). */
export interface OnnxRecurrentLayer {
  /** The layer, with PyTorch's weight layout. */
  module: Recurrent;
  /** The node's layout attribute: 0 time-major, 1 batch-first. */
  layout: 0 | 1;
}

const DEFAULT_ACTIVATIONS: Record<string, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };
/** ONNX activation names, lower case (ONNX compares them so), to ours. */
const ONNX_ACTIVATION: Record<string, ActivationName> = Object.assign(Object.create(null),
  Object.fromEntries(Object.entries(ACTIVATIONS).map(([n, a]) => [a.onnx.toLowerCase(), n as ActivationName])));
const KNOWN_ATTRS: Record<string, string[]> = {
  LSTM: ['hidden_size', 'direction', 'layout', 'clip', 'input_forget', 'activations', 'activation_alpha', 'activation_beta'],
  GRU: ['hidden_size', 'direction', 'layout', 'clip', 'linear_before_reset', 'activations', 'activation_alpha', 'activation_beta'],
  RNN: ['hidden_size', 'direction', 'layout', 'clip', 'activations', 'activation_alpha', 'activation_beta'],
};

/**
 * One ONNX LSTM/GRU/RNN node's tensors and attributes -> one of our layers (numLayers 1, PyTorch
 * layout), batch-first when the node's layout is 1. The single place ONNX recurrent semantics are
 * mapped; fromOnnx uses it for every recurrent node.
 */
export function recurrentFromOnnx(spec: OnnxRecurrentSpec, options?: { backend?: BackendName }, where = 'recurrentFromOnnx'): OnnxRecurrentLayer {
  const op = spec.opType;
  if (op !== 'LSTM' && op !== 'GRU' && op !== 'RNN') throw argTypeError(where, 'opType', "'LSTM', 'GRU' or 'RNN'", op);
  // Names checked before anything is stored; kept in a null-prototype object, so no name
  // ("__proto__", "constructor") reaches or reads Object.prototype.
  const attrs: OnnxRecurrentSpec['attributes'] = Object.create(null);
  for (const k of Object.keys(spec.attributes ?? {})) {
    if (!KNOWN_ATTRS[op].includes(k)) throw new UnsupportedModelError(`${where}: ${op} attribute ${JSON.stringify(k)} is not supported (known: ${KNOWN_ATTRS[op].join(', ')})`);
    attrs[k] = spec.attributes[k];
  }
  const direction = attrs.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') {
    throw new UnsupportedModelError(`${where}: ${op} direction: expected 'forward', 'reverse' or 'bidirectional', got ${describe(direction)}`);
  }
  const D = direction === 'bidirectional' ? 2 : 1;
  const layout = attrs.layout ?? 0;
  if (layout !== 0 && layout !== 1) throw new UnsupportedModelError(`${where}: ${op} layout: expected 0 or 1, got ${describe(layout)}`);
  const intAttr = (name: string, allowed: number[]): number => {
    const v = attrs[name] ?? 0;
    if (typeof v !== 'number' || !allowed.includes(v)) throw new UnsupportedModelError(`${where}: ${op} ${name}: expected ${allowed.join(' or ')}, got ${describe(v)}`);
    return v;
  };
  const inputForget = op === 'LSTM' && intAttr('input_forget', [0, 1]) === 1;
  const lbr = op === 'GRU' ? intAttr('linear_before_reset', [0, 1]) === 1 : true;
  let clip: number | null = null;
  if (attrs.clip !== undefined) {
    if (typeof attrs.clip !== 'number' || !(attrs.clip > 0) || attrs.clip === Infinity) throw new RangeError(`${where}: ${op} clip: expected a positive finite number, got ${describe(attrs.clip)}`);
    clip = attrs.clip;
  }

  // activations, activation_alpha, activation_beta: D * per functions, each reading the next
  // alpha / beta of the lists if it takes one (onnxruntime's rnn_helpers.cc does the same).
  const kind: CellKind = op === 'LSTM' ? 'lstm' : op === 'GRU' ? 'gru' : 'rnn_tanh'; // the weights' layout
  const per = DEFAULT_ACTIVATIONS[op].length;
  const names = attrs.activations === undefined ? Array.from({ length: per * D }, (_, i) => DEFAULT_ACTIVATIONS[op][i % per]) : attrs.activations;
  if (!Array.isArray(names) || names.length !== per * D || names.some((a) => typeof a !== 'string')) {
    throw new RangeError(`${where}: ${op} activations: expected ${per * D} names (${per} per direction), got ${describe(names)}`);
  }
  const floats = (k: 'activation_alpha' | 'activation_beta'): number[] => {
    const v = attrs[k];
    if (v === undefined) return [];
    const list = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'number')) throw new TypeError(`${where}: ${op} ${k}: expected a list of floats, got ${describe(v)}`);
    return list as number[];
  };
  const alphas = floats('activation_alpha'), betas = floats('activation_beta');
  let ai = 0, bi = 0;
  const acts: GateActivation[] = (names as string[]).map((n, i) => {
    const name = ONNX_ACTIVATION[n.toLowerCase()];
    if (!name) throw new UnsupportedModelError(`${where}: ${op} activations: ${JSON.stringify(n)} at position ${i} is not an ONNX activation (${Object.values(ACTIVATIONS).map((a) => a.onnx).join(', ')})`);
    const a = ACTIVATIONS[name], d = ACTIVATION_DEFAULTS[name];
    // ONNX stores floats: a value that is the default's float32 is the default itself (0.2, not 0.2000000029...).
    const exact = (v: number | undefined, dv: number) => (v !== undefined && Math.fround(v) === Math.fround(dv) ? dv : v);
    return gateActivation(name, exact(a.alpha && ai < alphas.length ? alphas[ai++] : undefined, d.alpha), exact(a.beta && bi < betas.length ? betas[bi++] : undefined, d.beta));
  });
  if (ai < alphas.length) throw new UnsupportedModelError(`${where}: ${op} activation_alpha: ${alphas.length} values, but the activations read ${ai}`);
  if (bi < betas.length) throw new UnsupportedModelError(`${where}: ${op} activation_beta: ${betas.length} values, but the activations read ${bi}`);
  const activations = acts.slice(0, per);
  for (let i = per; i < acts.length; i++) {
    const a = acts[i], f = acts[i % per];
    if (!sameActivation(a, f)) {
      throw new UnsupportedModelError(`${where}: ${op} ${a.name !== f.name ? 'activations' : a.alpha !== f.alpha ? 'activation_alpha' : 'activation_beta'}: `
        + `the reverse direction's ${JSON.stringify(a)} differs from the forward's ${JSON.stringify(f)} (position ${i % per}); a bidirectional layer here has one set of gate activations`);
    }
  }

  const G = gateCount(kind);
  const dims3 = (name: string, t: OnnxRecurrentSpec['W'] | null | undefined): number[] => {
    if (!t || !Array.isArray(t.dims)) throw new TypeError(`${where}: ${op} ${name}: required tensor is missing`);
    if (t.dims.length !== 3) throw new RangeError(`${where}: ${op} ${name}: expected shape [D, ${G}*H, *], got ${formatShape(t.dims)}`);
    return t.dims;
  };
  const I = dims3('W', spec.W)[2];
  const [, , Hr] = dims3('R', spec.R);
  let H = Hr;
  if (attrs.hidden_size !== undefined) {
    if (typeof attrs.hidden_size !== 'number' || !Number.isInteger(attrs.hidden_size) || attrs.hidden_size < 1) throw new RangeError(`${where}: ${op} hidden_size: expected a positive integer, got ${describe(attrs.hidden_size)}`);
    H = attrs.hidden_size;
  }
  const GH = G * H;
  const check = (name: string, t: { dims: number[]; data: ArrayLike<number> }, want: number[]) => {
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) throw new RangeError(`${where}: ${op} ${name}: expected shape ${formatShape(want)} (D=${D}, H=${H}), got ${formatShape(t.dims)}`);
    if (t.data.length !== want.reduce((a, b) => a * b, 1)) throw new RangeError(`${where}: ${op} ${name}: expected ${want.reduce((a, b) => a * b, 1)} values, got ${t.data.length}`);
  };
  check('W', spec.W, [D, GH, I]);
  check('R', spec.R, [D, GH, H]);
  if (spec.B) check('B', spec.B, [D, 2 * GH]);
  if (spec.P) {
    if (op !== 'LSTM') throw new TypeError(`${where}: ${op} P: peepholes exist only for LSTM`);
    check('P', spec.P, [D, 3 * H]);
  }
  const f32 = (t: { data: ArrayLike<number> }) => Float32Array.from(t.data);
  const dirs = fromOnnxTensors(kind, { W: f32(spec.W), R: f32(spec.R), B: spec.B ? f32(spec.B) : null, P: spec.P ? f32(spec.P) : null }, D, H, I);
  const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
  dirs.forEach((w, d) => directionStateDict(w, `_l0${d === 1 ? '_reverse' : ''}`, sd, GH, I, H));
  const common = { inputSize: I, hiddenSize: H, bidirectional: D === 2, reverse: direction === 'reverse', batchFirst: layout === 1, bias: !!spec.B, clip, seed: 0, backend: options?.backend, activations };
  let module: Recurrent;
  try {
    module = op === 'LSTM' ? new LSTM({ ...common, peephole: !!spec.P, inputForget })
      : op === 'GRU' ? new GRU({ ...common, linearBeforeReset: lbr })
        : new RNN(common);
  } catch (e) {
    // An activation parameter the layer cannot take (a leakyRelu / elu alpha < 0, a non-finite one).
    if (e instanceof RangeError && /activations\[/.test(e.message)) throw new UnsupportedModelError(`${where}: ${op} activation_alpha / activation_beta: ${e.message}`);
    throw e;
  }
  module.loadStateDict(sd);
  return { module, layout: layout as 0 | 1 };
}

/** How fromOnnx builds the model. */
export interface FromOnnxOptions {
  /**
   * Backend of the recurrent layers.
   * @default the process default: 'native' when the addon loads, else 'ts'; see backend()
   */
  backend?: BackendName;
  /**
   * 'auto': a Sequential when the graph is a chain of supported layers, else an OnnxModel;
   * 'sequential': a Sequential or an error; 'graph': always an OnnxModel.
   * @default 'auto'
   */
  as?: 'auto' | 'sequential' | 'graph';
}

/** A feed value: a float Tensor, or integers (sequence lengths) as an Int32Array / number[] / Tensor. */
export type OnnxFeed = Tensor | Int32Array | readonly number[];

/** One node, ready to run (kept small: a file's graph may hold a million of them). */
interface PlannedNode {
  node: OnnxNode;
  index: number;
  attrs: Attrs; // NO_ATTRS when it has none
  recurrent: OnnxRecurrentLayer | null;
  release: string[] | null; // values last read by this node (not graph outputs): dropped after it runs
}

const NO_ATTRS: Attrs = new Map();

/** How errors name a node: "fromOnnx: node 3 (Gemm "fc1")". */
function nodeWhere(index: number, node: OnnxNode): string {
  return `fromOnnx: node ${index} (${node.opType}${node.name ? ` ${JSON.stringify(node.name)}` : ''})`;
}

/** One recurrent node -> a layer: W, R, B, P from `consts` (initializers), attributes checked by recurrentFromOnnx. */
function recurrentOfNode(where: string, node: OnnxNode, consts: ReadonlyMap<string, Value>, backend?: BackendName): OnnxRecurrentLayer {
  const constant = (i: number, name: string, required: boolean) => {
    const n = node.input[i];
    if (n === undefined || n === '') {
      if (required) throw new TypeError(`${where}: input ${i} (${name}) is required`);
      return null;
    }
    const v = consts.get(n);
    if (!v) throw new UnsupportedModelError(`${where}: input ${name} (${JSON.stringify(n)}) must be an initializer (constant weights), not a computed value`);
    if (v.dtype !== 'float32') throw new TypeError(`${where}: input ${name}: expected a float tensor, got an integer tensor`);
    return { dims: v.shape, data: v.data as Float32Array };
  };
  const attributes: OnnxRecurrentSpec['attributes'] = Object.create(null); // names from the file
  for (const a of node.attribute) {
    const v = a.ints ?? a.floats ?? a.strings ?? a.s ?? a.i ?? a.f;
    if (v === undefined) throw new TypeError(`${where}: attribute ${a.name}: no value`);
    attributes[a.name] = v;
  }
  return recurrentFromOnnx({
    opType: node.opType as 'LSTM', attributes,
    W: constant(1, 'W', true)!, R: constant(2, 'R', true)!, B: constant(3, 'B', false),
    P: node.opType === 'LSTM' ? constant(7, 'P', false) : null,
  }, { backend }, where);
}

/** An imported ONNX model: runs its graph with our recurrent layers. See fromOnnx. */
export class OnnxModel {
  /** Graph inputs a caller feeds (initializers excluded), with ONNX element types and dims. */
  readonly inputs: readonly {
    /** The input's name, the key to feed it under. */
    name: string;
    /** Its ONNX element type, e.g. 'float32'. */
    dtype: string;
    /** Its dims: numbers, symbolic names, or null for unknown; null when the rank is unknown. */
    shape: (number | string | null)[] | null;
  }[];
  /** Graph outputs, as run() returns them. */
  readonly outputs: readonly {
    /** The output's name. */
    name: string;
    /** Its ONNX element type. */
    dtype: string;
    /** Its dims, as for inputs. */
    shape: (number | string | null)[] | null;
  }[];
  /** The model's default-domain opset. */
  readonly opset: number;
  /** The file's producerName (the tool that wrote it). */
  readonly producer: string;
  /** The recurrent layers, one per ONNX recurrent node in graph order (PyTorch names via stateDict()). */
  readonly layers: readonly Recurrent[];
  private readonly consts: Map<string, Value>;
  private readonly plan: PlannedNode[];
  private readonly inputInfo: OnnxValueInfo[];

  /**
   * Why fromOnnx did not return a Sequential: the graph is not a chain of layers (this names the
   * node), or it was asked for as a graph (`as: 'graph'`).
   */
  readonly notChain: string;

  /** @internal use fromOnnx */
  constructor(graph: OnnxGraph, opset: number, producer: string, private readonly backend?: BackendName, notChain = "it was loaded with fromOnnx(bytes, { as: 'graph' })") {
    const where = 'fromOnnx';
    this.notChain = notChain;
    this.opset = opset;
    this.producer = producer;
    this.consts = new Map();
    for (const t of graph.initializer) this.consts.set(t.name, tensorValue(where, t));
    this.inputInfo = graph.input.filter((v) => !this.consts.has(v.name));
    for (const v of this.inputInfo) {
      if (v.elemType !== FLOAT && v.elemType !== INT32 && v.elemType !== INT64) {
        throw new UnsupportedModelError(`${where}: graph input ${JSON.stringify(v.name)}: element type ${dtypeName(v.elemType)} is not supported (float32, int32, int64)`);
      }
    }
    const info = (v: OnnxValueInfo) => ({ name: v.name, dtype: v.elemType === FLOAT ? 'float32' : dtypeName(v.elemType).toLowerCase(), shape: v.shape });
    this.inputs = this.inputInfo.map(info);
    this.outputs = graph.output.map(info);
    if (!graph.output.length) throw new TypeError(`${where}: graph: it declares no outputs`);

    // Plan: check the node order (ONNX requires topological order) and build recurrent layers once.
    const known = new Set<string>([...this.consts.keys(), ...this.inputInfo.map((v) => v.name)]);
    const layers: Recurrent[] = [];
    this.plan = graph.node.map((node, idx) => {
      const where = nodeWhere(idx, node);
      if (node.domain !== '' && node.domain !== 'ai.onnx') throw new UnsupportedModelError(`${where}: domain ${JSON.stringify(node.domain)} is not supported (only the default ONNX domain)`);
      for (const i of node.input) if (i !== '' && !known.has(i)) throw new TypeError(`${where}: input ${JSON.stringify(i)} is not produced by any earlier node, initializer or graph input`);
      const isRecurrent = node.opType === 'LSTM' || node.opType === 'GRU' || node.opType === 'RNN';
      const attrNames = isRecurrent ? null : OP_ATTRIBUTES.get(node.opType); // (recurrent ones: checked by recurrentFromOnnx)
      if (!isRecurrent && !attrNames) throw new UnsupportedModelError(`${where}: op_type ${JSON.stringify(node.opType)} is not supported (supported: LSTM, GRU, RNN, ${SUPPORTED_OPS.join(', ')})`);
      // Attribute names are checked before anything is stored; a Map holds them.
      const attrs: Attrs = node.attribute.length && !isRecurrent ? new Map() : NO_ATTRS;
      for (const a of node.attribute) {
        if (a.hasGraph) throw new UnsupportedModelError(`${where}: attribute ${JSON.stringify(a.name)}: subgraphs are not supported`);
        if (attrNames && !attrNames.includes(a.name)) throw new UnsupportedModelError(`${where}: attribute ${JSON.stringify(a.name)} is not supported (known: ${attrNames.join(', ') || 'none'})`);
        if (attrNames) attrs.set(a.name, a);
      }
      let recurrent: OnnxRecurrentLayer | null = null;
      if (isRecurrent) {
        recurrent = recurrentOfNode(where, node, this.consts, this.backend);
        layers.push(recurrent.module);
      } else if (node.opType === 'Constant') {
        const t = node.attribute.find((a) => a.name === 'value')?.t;
        if (!t || node.attribute.length !== 1) throw new UnsupportedModelError(`${where}: only Constant with a 'value' tensor is supported`);
        this.consts.set(node.output[0], tensorValue(where, t));
      }
      for (const o of node.output) if (o !== '') known.add(o);
      return { node, index: idx, attrs, recurrent, release: null };
    });
    for (const o of graph.output) if (!known.has(o.name)) throw new TypeError(`${where}: graph output ${JSON.stringify(o.name)} is not produced by any node`);
    // Each value is dropped after its last reader runs, so a chain of operators holds two of
    // its values at a time, not all of them.
    const lastRead = new Map<string, number>();
    this.plan.forEach((p, i) => { for (const n of p.node.input) if (n !== '') lastRead.set(n, i); });
    for (const o of graph.output) lastRead.delete(o.name);
    for (const [name, i] of lastRead) (this.plan[i].release ??= []).push(name);
    this.layers = layers;
  }

  /**
   * Run the graph. `feeds`: one Tensor when the graph has a single input, or an object keyed by
   * input name (own properties only). Returns every graph output by name (float32 Tensors) in a
   * null-prototype object, so an output may be called anything, "__proto__" too.
   */
  forward(feeds: OnnxFeed | Record<string, OnnxFeed>): Record<string, Tensor> {
    const where = 'OnnxModel.forward';
    const values = new Map<string, Value>(this.consts);
    const byName = this.readFeeds(where, feeds);
    for (const v of this.inputInfo) values.set(v.name, byName.get(v.name)!);
    for (const p of this.plan) {
      const inputs = p.node.input.map((n) => (n === '' ? undefined : values.get(n)));
      let outs: (Value | undefined)[];
      if (p.node.opType === 'Constant') continue;
      const where = nodeWhere(p.index, p.node);
      if (p.recurrent) outs = runRecurrent(where, p.recurrent, inputs);
      else outs = runOp(where, p.node.opType, this.opset, inputs, p.attrs);
      p.node.output.forEach((n, i) => { if (n !== '' && outs[i]) values.set(n, outs[i]!); });
      if (p.release) for (const n of p.release) values.delete(n);
    }
    const result: Record<string, Tensor> = Object.create(null); // names from the file
    for (const o of this.outputs) {
      const v = values.get(o.name);
      if (!v) throw new TypeError(`${where}: output ${JSON.stringify(o.name)} was not computed`);
      result[o.name] = new Tensor(v.dtype === 'float32' ? v.data as Float32Array : Float32Array.from(v.data), v.shape);
    }
    return result;
  }

  /** How errors name it, e.g. when it is handed to a Trainer, an optimizer, toOnnx or createBatcher. */
  get [DESCRIBE](): string {
    return `an OnnxModel, which runs inference only: not a chain of layers (${this.notChain}); fromOnnx returns a Sequential, which trains, saves, exports and serves, for a graph that is a chain (see docs/interop.md#onnx)`;
  }

  private readFeeds(where: string, feeds: unknown): Map<string, Value> {
    const out = new Map<string, Value>();
    let rec: Record<string, unknown>;
    if (feeds instanceof Tensor || ArrayBuffer.isView(feeds) || Array.isArray(feeds)) {
      if (this.inputInfo.length !== 1) throw argTypeError(where, 'feeds', `an object keyed by input name (${this.inputInfo.map((v) => v.name).join(', ')})`, feeds);
      rec = { [this.inputInfo[0].name]: feeds };
    } else if (feeds !== null && typeof feeds === 'object') {
      rec = feeds as Record<string, unknown>;
    } else throw argTypeError(where, 'feeds', 'a Tensor or an object keyed by input name', feeds);
    let keys: string[];
    try {
      keys = Object.keys(rec);
    } catch (e) {
      throw argTypeError(where, 'feeds', `an object whose keys can be read (listing them threw: ${(e as Error)?.message ?? e})`, undefined);
    }
    for (const k of keys) if (!this.inputInfo.some((v) => v.name === k)) throw argTypeError(where, `feeds.${k}`, `one of the graph inputs (${this.inputInfo.map((v) => v.name).join(', ')})`, k);
    for (const info of this.inputInfo) {
      const arg = `feeds.${info.name}`;
      let f: unknown;
      try {
        f = Object.hasOwn(rec, info.name) ? rec[info.name] : undefined; // an input named "toString" is not inherited
      } catch (e) {
        throw argTypeError(where, arg, `a readable value (its getter threw: ${(e as Error)?.message ?? e})`, undefined);
      }
      if (f === undefined || f === null) throw argTypeError(where, arg, `a value for graph input ${JSON.stringify(info.name)}`, f);
      let v: Value;
      if (info.elemType === FLOAT) {
        if (!(f instanceof Tensor) || !(f.data instanceof Float32Array)) throw argTypeError(where, arg, 'a float32 Tensor', f);
        // Re-checked: the glue operators index data by shape (a detached buffer would read as NaN).
        const { shape, data } = checkTensorArg(where, arg, f, 'float32');
        v = { dtype: 'float32', shape: [...shape], data: data as Float32Array };
      } else {
        const arr = f instanceof Tensor ? f.data : f;
        if (!Array.isArray(arr) && !(ArrayBuffer.isView(arr) && !(arr instanceof DataView))) throw argTypeError(where, arg, 'integers (an Int32Array, an array or a Tensor)', f);
        const data = Float64Array.from(arr as ArrayLike<number>, Number);
        if (data.some((x) => !Number.isInteger(x))) throw new RangeError(`${where}: ${arg}: expected integers, got ${describe(data.find((x) => !Number.isInteger(x)))}`);
        v = { dtype: 'int', shape: f instanceof Tensor ? f.shape.slice() : [data.length], data };
      }
      if (info.shape) {
        const ok = v.shape.length === info.shape.length && info.shape.every((d, i) => typeof d !== 'number' || d === v.shape[i]);
        if (!ok) throw new RangeError(`${where}: ${arg}: expected shape [${info.shape.map((d) => d ?? '?').join(', ')}], got ${formatShape(v.shape)}`);
      }
      out.set(info.name, v);
    }
    return out;
  }
}

/** Run one imported recurrent node: ONNX-shaped inputs in, ONNX-shaped Y, Y_h, Y_c out. */
function runRecurrent(where: string, layer: OnnxRecurrentLayer, inputs: (Value | undefined)[]): (Value | undefined)[] {
  const m = layer.module;
  const D = m.numDirections, H = m.hiddenSize;
  const x = inputs[0];
  if (!x) throw new TypeError(`${where}: input 0 (X) is required`);
  if (x.dtype !== 'float32') throw new TypeError(`${where}: X: expected a float tensor, got an integer tensor`);
  const lens = inputs[4];
  let lengths: Float64Array | null = null;
  if (lens) {
    if (lens.dtype !== 'int') throw new TypeError(`${where}: sequence_lens: expected an int32 tensor, got a float tensor`);
    lengths = lens.data as Float64Array;
  }
  // ONNX states are [D, B, H] (layout 0) or [B, D, H] (layout 1); ours are [D, B, H].
  const state = (v: Value | undefined, name: string): Tensor | null => {
    if (!v) return null;
    if (v.dtype !== 'float32') throw new TypeError(`${where}: ${name}: expected a float tensor`);
    if (v.shape.length !== 3) throw new RangeError(`${where}: ${name}: expected a rank-3 tensor, got ${formatShape(v.shape)}`);
    const t = layer.layout === 1 ? transpose(where, v, [1, 0, 2]) : v;
    return new Tensor(t.data as Float32Array, t.shape);
  };
  const h0 = state(inputs[5], 'initial_h');
  const c0 = m instanceof LSTM ? state(inputs[6], 'initial_c') : null;
  const r = m.forward(new Tensor(x.data as Float32Array, x.shape), { h0, c0, lengths });
  const [a, b] = r.output.shape; // [T, B, D*H] or [B, T, D*H]
  const y: Value = layer.layout === 1
    ? { dtype: 'float32', shape: [a, b, D, H], data: r.output.data as Float32Array }
    : transpose(where, { dtype: 'float32', shape: [a, b, D, H], data: r.output.data as Float32Array }, [0, 2, 1, 3]);
  const st = (t: Tensor): Value => {
    const v: Value = { dtype: 'float32', shape: t.shape.slice(), data: t.data as Float32Array };
    return layer.layout === 1 ? transpose(where, v, [1, 0, 2]) : v;
  };
  return [y, st(r.hN), r.cN ? st(r.cN) : undefined];
}

export function tensorValue(where: string, t: OnnxTensor): Value {
  if (t.dataType === FLOAT) return { dtype: 'float32', shape: t.dims, data: t.data as Float32Array };
  if (t.dataType === DOUBLE) return { dtype: 'float32', shape: t.dims, data: Float32Array.from(t.data as Float64Array) };
  if (t.dataType === INT32 || t.dataType === INT64) return { dtype: 'int', shape: t.dims, data: t.data instanceof Float64Array ? t.data : Float64Array.from(t.data) };
  throw new UnsupportedModelError(`${where}: tensor ${JSON.stringify(t.name)}: ${dtypeName(t.dataType)} is not supported`);
}

/**
 * Load an ONNX model (the bytes of a .onnx file). A graph that is a chain of layers (see
 * lib/interop/onnx-chain.ts: everything toOnnx writes, and torch.onnx.export of nn.LSTM / GRU / RNN
 * with Linear heads) comes back as a Sequential; any other graph as an OnnxModel, which runs it for
 * inference. `as: 'sequential'` insists on a Sequential (an UnsupportedModelError says why the
 * graph is not a chain); `as: 'graph'` always returns an OnnxModel (outputs by their ONNX names).
 * Throws RangeError for a malformed or truncated file, UnsupportedModelError (a TypeError) for an
 * operator, attribute or type we cannot run exactly, naming it.
 */
export function fromOnnx(bytes: Uint8Array | ArrayBuffer, options: FromOnnxOptions & { as: 'sequential' }): Sequential;
export function fromOnnx(bytes: Uint8Array | ArrayBuffer, options: FromOnnxOptions & { as: 'graph' }): OnnxModel;
export function fromOnnx(bytes: Uint8Array | ArrayBuffer, options?: FromOnnxOptions): Sequential | OnnxModel;
export function fromOnnx(bytes: Uint8Array | ArrayBuffer, options?: FromOnnxOptions): Sequential | OnnxModel {
  const where = 'fromOnnx';
  const o = readOptions(where, 'options', options, ['backend', 'as']);
  if (o.backend !== undefined && !isBackendName(o.backend)) throw argTypeError(where, 'options.backend', BACKEND_NAMES_TEXT, o.backend);
  const as = o.as ?? 'auto';
  if (as !== 'auto' && as !== 'sequential' && as !== 'graph') throw argTypeError(where, 'options.as', "'auto', 'sequential' or 'graph'", o.as);
  const backend = o.backend as BackendName | undefined;
  let u8: Uint8Array;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else throw argTypeError(where, 'bytes', 'a Uint8Array, Buffer or ArrayBuffer with the contents of a .onnx file', bytes);
  if (u8.length === 0) throw new RangeError(`${where}: bytes: expected the contents of a .onnx file, got 0 bytes`);
  const m = decodeOnnxModel(u8, where);
  const def = m.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!def) throw new UnsupportedModelError(`${where}: opset_import: the model imports no default-domain opset (got ${m.opsetImport.map((o) => `${o.domain || '""'}:${o.version}`).join(', ') || 'none'})`);
  if (def.version < 7) throw new UnsupportedModelError(`${where}: opset_import: opset ${def.version} is older than 7, the first with today's LSTM/GRU/RNN`);
  let notChain: string | undefined;
  if (as !== 'graph') {
    const chain = chainFromOnnx(m.graph, def.version, { recurrent: (w, node, consts) => recurrentOfNode(w, node, consts, backend), tensorValue }, backend);
    if ('model' in chain) return chain.model;
    if (as === 'sequential') throw new UnsupportedModelError(`${where}: options.as: expected a graph that is a chain of layers (a Sequential), got one that is not: ${chain.reason}`);
    notChain = chain.reason;
  }
  try {
    return new OnnxModel(m.graph, def.version, m.producerName, backend, notChain);
  } catch (e) {
    if (e instanceof UnsupportedModelError && notChain !== undefined) e.message += ` (nor is the graph a chain of layers that loads as a Sequential: ${notChain})`;
    throw e;
  }
}
