// fromOnnx's chain reader: an ONNX graph that is a chain of layers we have -> a Sequential (the one
// model type: it trains, saves, exports and serves like any other). A graph that is not a chain
// stays an OnnxModel (lib/interop/onnx-import.ts); this file says why, in one sentence.
//
// A chain, as toOnnx writes it and as torch.onnx.export writes an nn.Module of nn.LSTM / GRU / RNN
// (batch_first or not), Linear and activations:
//
//   inputs   x: float [T, B, I] or [B, T, I] (or [B, F] for a dense-only chain), or int token ids
//            [T, B] / [B, T] read by a first Gather (Embedding); optionally int `lengths` [B] that
//            feeds every recurrent node's sequence_lens and every last-step gather
//   layers   LSTM / GRU / RNN node (initializer W, R, B, P; initial_h / initial_c absent or zero
//            constants)                                      -> LSTM / GRU / RNN
//            consecutive recurrent nodes of one kind and configuration, joined only by glue
//                                                            -> one layer with numLayers = their count
//            Gather(weight, ids, axis 0)                     -> Embedding
//            MatMul(x, W) [+ Add(b)], Gemm(x, W, b)          -> Linear
//            Tanh, Sigmoid, Relu, Softmax (last axis)        -> Tanh, Sigmoid, ReLU, Softmax
//            Dropout (inference)                             -> Dropout; Identity -> nothing
//            Gather(x, -1) on the time axis, or with lengths Cast/Sub/Unsqueeze + GatherND
//            (batch_dims 1); + Gather(x, 0)/Slice/Slice/Concat for finalStates -> LastStep
//   glue     Transpose, Reshape (0, 0, -1), Squeeze of the direction axis, Identity, and anything
//            computed from constants only (folded here with the graph runner's operators)
//   outputs  the chain's output, in the input's layout; other outputs may only be recurrent
//            final states (Y_h, Y_c, possibly transposed / concatenated): Sequential.forward
//            returns those as `state`
//
// Each value of the graph gets an abstract description (a sequence with named axes, a [B, F]
// vector, a constant, a final state, ...); each node either maps onto the chain's current value
// or the graph is not a chain, and the reason names the node. Deliberately no general graph
// rewriting: anything else runs as an OnnxModel.

import type { BackendName } from '../backend/types';
import type { OnnxGraph, OnnxNode, OnnxTensor } from '../io/onnx';
import { FLOAT, INT32, INT64 } from '../io/onnx';
import { ReLU, Sigmoid, Softmax, Tanh } from '../nn/activations';
import { Dropout } from '../nn/dropout';
import { Embedding } from '../nn/embedding';
import { modelFromConfig } from '../nn/from-config';
import { LastStep } from '../nn/last-step';
import { layerConfig, type Layer } from '../nn/layer';
import { Linear } from '../nn/linear';
import { Sequential } from '../nn/sequential';
import { Tensor } from '../tensor';
import { OP_ATTRIBUTES, runOp, type Attrs, type Value } from './onnx-ops';
import type { OnnxRecurrentLayer } from './onnx-import';

/** What the chain reader needs from the importer: a recurrent node -> a layer (validated), a tensor -> a value. */
export interface ChainDeps {
  recurrent(where: string, node: OnnxNode, consts: ReadonlyMap<string, Value>): OnnxRecurrentLayer;
  tensorValue(where: string, t: OnnxTensor): Value;
}

/** The most elements a constant computation may read: glue constants (shapes, axes) are tiny. */
const MAX_FOLD = 4096;

type Axis = 'T' | 'B' | 'F' | 'D' | 'H' | 'u' | 'v'; // u, v: the input's first two axes until a layer says which is time

type Abs =
  | { k: 'const'; v: Value }
  | { k: 'ids'; axes: Axis[] }
  | { k: 'lengths' } | { k: 'len64' } | { k: 'lenm1' } | { k: 'lastidx' }
  | { k: 'seq'; axes: Axis[]; F: number | null; step: number; rec: number | null } // rec: the recurrent spec whose Y this is, through glue only
  | { k: 'Y'; axes: Axis[]; D: number; H: number; step: number; rec: number }
  | { k: 'vec'; F: number | null; step: number }
  | { k: 'first'; last: number } // x at t = 0 beside a LastStep (finalStates)
  | { k: 'half'; last: number; side: 'fwd' | 'rev' }
  | { k: 'state' }
  | { k: 'dead' }; // an output the chain does not produce (a Dropout mask)

type Spec =
  | { t: 'rec'; nodes: OnnxRecurrentLayer[] }
  | { t: 'linear'; I: number; O: number; weight: Float32Array; bias: Float32Array | null }
  | { t: 'emb'; N: number; E: number; weight: Float32Array }
  | { t: 'act'; name: 'Tanh' | 'Sigmoid' | 'ReLU' | 'Softmax' }
  | { t: 'dropout'; p: number }
  | { t: 'last'; finalStates: boolean; inStep: number; F: number | null };

/** Attributes each non-recurrent op of a chain may carry (beyond OP_ATTRIBUTES for the graph runner's ops). */
const CHAIN_ONLY_ATTRS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Gather', ['axis']], ['GatherND', ['batch_dims']], ['Cast', ['to']], ['Dropout', ['ratio', 'seed']],
]);

class NotChain extends Error {}

function nodeName(index: number, node: OnnxNode): string {
  return `node ${index} (${node.opType}${node.name ? ` ${JSON.stringify(node.name)}` : ''})`;
}

/**
 * The graph as a Sequential, or the reason it is not a chain. Throws only what the OnnxModel
 * would throw for the same file (a recurrent node's invalid tensors or attributes).
 */
export function chainFromOnnx(graph: OnnxGraph, opset: number, deps: ChainDeps, backend?: BackendName): { model: Sequential } | { reason: string } {
  try {
    return { model: new ChainReader(graph, opset, deps).read(backend) };
  } catch (e) {
    if (e instanceof NotChain) return { reason: e.message };
    throw e;
  }
}

class ChainReader {
  private readonly abs = new Map<string, Abs>();
  private readonly specs: Spec[] = [];
  private step = 0; // advances with every layer (or merged recurrent node); values carry the step they were made at
  private u: 'T' | 'B' | null = null; // what the input's first axis is, once a layer says
  private x: { name: string; abs: Abs } | null = null;
  private lengthsInput: string | null = null;
  private recUsesLengths: boolean | null = null;
  private lastUsesLengths: boolean | null = null;

  private readonly consts = new Map<string, Value>(); // initializers, Constant nodes and folded constants

  constructor(private readonly graph: OnnxGraph, private readonly opset: number, private readonly deps: ChainDeps) {}

  read(backend?: BackendName): Sequential {
    const g = this.graph;
    for (const t of g.initializer) this.consts.set(t.name, this.deps.tensorValue('fromOnnx', t));
    for (const [name, v] of this.consts) this.abs.set(name, { k: 'const', v });
    for (const v of g.input) {
      if (this.consts.has(v.name)) continue;
      const rank = v.shape?.length ?? -1;
      const int = v.elemType === INT32 || v.elemType === INT64;
      if (int && rank === 1 && this.lengthsInput === null) {
        this.lengthsInput = v.name;
        this.abs.set(v.name, { k: 'lengths' });
        continue;
      }
      if (this.x) throw new NotChain(`graph input ${JSON.stringify(v.name)}: a chain has one input x (and optionally int lengths [B]); this graph also has ${JSON.stringify(this.x.name)}`);
      let a: Abs;
      if (int && rank === 2) a = { k: 'ids', axes: ['u', 'v'] };
      else if (v.elemType === FLOAT && rank === 3) a = { k: 'seq', axes: ['u', 'v', 'F'], F: typeof v.shape![2] === 'number' ? v.shape![2] as number : null, step: 0, rec: null };
      else if (v.elemType === FLOAT && rank === 2) a = { k: 'vec', F: typeof v.shape![1] === 'number' ? v.shape![1] as number : null, step: 0 };
      else throw new NotChain(`graph input ${JSON.stringify(v.name)}: expected float [T, B, I] / [B, T, I] / [B, F] or int token ids [T, B] / [B, T] with a declared rank`);
      this.x = { name: v.name, abs: a };
      this.abs.set(v.name, a);
    }
    if (!this.x) throw new NotChain('the graph has no input x');

    g.node.forEach((node, i) => this.visit(i, node));

    // Outputs: the chain's output, and maybe final states.
    let out: Abs | null = null;
    for (const o of g.output) {
      const a = this.abs.get(o.name);
      if (a && a.k === 'state') continue;
      if (out || !a || (a.k !== 'seq' && a.k !== 'vec')) throw new NotChain(`graph output ${JSON.stringify(o.name)}: expected the chain's output or a recurrent layer's final state`);
      if (a.step !== this.step) throw new NotChain(`graph output ${JSON.stringify(o.name)}: it is not the end of the chain (a later layer reads it)`);
      out = a;
    }
    if (!out) throw new NotChain('no graph output is the chain\'s output');
    const xa = this.x.abs;
    if (out.k === 'seq') {
      const inAxes = xa.k === 'ids' ? [...xa.axes, 'F'] : xa.k === 'seq' ? xa.axes : null;
      if (!inAxes || inAxes.map((a) => this.res(a)).join() !== out.axes.map((a) => this.res(a)).join()) {
        throw new NotChain(`the output's axes [${out.axes.map((a) => this.res(a))}] are not in the input's order ([${inAxes?.map((a) => this.res(a)) ?? 'B, F'}])`);
      }
    }
    if (this.lengthsInput !== null && (this.recUsesLengths === false || this.lastUsesLengths === false || (this.recUsesLengths === null && this.lastUsesLengths === null))) {
      throw new NotChain(`graph input ${JSON.stringify(this.lengthsInput)} (lengths) does not reach every recurrent node and last-step gather`);
    }
    if (!this.specs.length) throw new NotChain('the graph has no layers');
    const batchFirst = this.u === 'B';
    // A layer our constructors refuse (a Linear of 0 inputs, say) leaves the graph to the OnnxModel.
    const layers = this.specs.map((s, i) => {
      try {
        return this.build(s, batchFirst, backend);
      } catch (e) {
        throw new NotChain(`layer ${i} (${s.t}): ${(e as Error).message}`);
      }
    });
    return new Sequential(layers);
  }

  private build(s: Spec, batchFirst: boolean, backend?: BackendName): Layer {
    switch (s.t) {
      case 'rec': {
        const first = s.nodes[0].module;
        const config = { ...layerConfig(first), numLayers: s.nodes.length, batchFirst };
        const layer = modelFromConfig('fromOnnx', config, backend) as Layer;
        const sd: Record<string, Tensor> = Object.create(null);
        s.nodes.forEach((n, k) => {
          for (const [name, t] of Object.entries(n.module.stateDict())) sd[name.replace('_l0', `_l${k}`)] = t;
        });
        layer.loadStateDict(sd);
        return layer;
      }
      case 'linear': {
        const l = new Linear({ inFeatures: s.I, outFeatures: s.O, bias: s.bias !== null, seed: 0 });
        const sd: Record<string, Tensor> = { weight: new Tensor(s.weight, [s.O, s.I]) };
        if (s.bias) sd.bias = new Tensor(s.bias, [s.O]);
        l.loadStateDict(sd);
        return l;
      }
      case 'emb': {
        const l = new Embedding({ numEmbeddings: s.N, embeddingDim: s.E, seed: 0 });
        l.loadStateDict({ weight: new Tensor(s.weight, [s.N, s.E]) });
        return l;
      }
      case 'act': return s.name === 'Tanh' ? new Tanh() : s.name === 'Sigmoid' ? new Sigmoid() : s.name === 'ReLU' ? new ReLU() : new Softmax();
      case 'dropout': return new Dropout({ p: s.p, seed: 0 });
      case 'last': return new LastStep({ batchFirst, finalStates: s.finalStates });
    }
  }

  private constant(name: string | undefined, v: Value): void {
    if (name === undefined || name === '') return;
    this.consts.set(name, v);
    this.abs.set(name, { k: 'const', v });
  }

  /** A concrete axis name once the layout is known ('u' / 'v' until then). */
  private res(a: Axis | string): string {
    if (a === 'u') return this.u ?? 'u';
    if (a === 'v') return this.u === null ? 'v' : this.u === 'T' ? 'B' : 'T';
    return a;
  }

  /** Fix axis `a` to be `want` (binding the input's layout if still open); false if it cannot be. */
  private bind(a: Axis, want: 'T' | 'B'): boolean {
    if ((a === 'u' || a === 'v') && this.u === null) {
      this.u = a === 'u' ? want : want === 'T' ? 'B' : 'T';
      return true;
    }
    return this.res(a) === want;
  }

  private visit(index: number, node: OnnxNode): void {
    const at = nodeName(index, node);
    const fail = (why: string): never => { throw new NotChain(`${at}: ${why}`); };
    if (node.domain !== '' && node.domain !== 'ai.onnx') fail(`domain ${JSON.stringify(node.domain)}`);
    const ins: (Abs | undefined)[] = node.input.map((n) => (n === '' ? undefined : this.abs.get(n)));
    node.input.forEach((n, i) => { if (n !== '' && !ins[i]) fail(`input ${JSON.stringify(n)} is not produced by an earlier node`); });
    const set = (i: number, a: Abs) => { if (node.output[i] !== undefined && node.output[i] !== '') this.abs.set(node.output[i], a); };
    const rec = node.opType === 'LSTM' || node.opType === 'GRU' || node.opType === 'RNN';
    const allowed = rec ? null : OP_ATTRIBUTES.get(node.opType) ?? CHAIN_ONLY_ATTRS.get(node.opType);
    if (!rec && !allowed) fail(`op_type ${JSON.stringify(node.opType)} has no layer`);
    const attrs: Attrs = new Map();
    for (const a of node.attribute) {
      if (a.hasGraph) fail(`attribute ${JSON.stringify(a.name)} holds a subgraph`);
      if (allowed && !allowed.includes(a.name)) fail(`attribute ${JSON.stringify(a.name)} is not supported`);
      attrs.set(a.name, a);
    }
    const attrI = (name: string, dflt: number) => attrs.get(name)?.i ?? dflt;

    // Constants: a Constant node, or an operator the graph runner has whose inputs are all constant.
    if (node.opType === 'Constant') {
      const t = node.attribute.find((a) => a.name === 'value')?.t;
      if (!t || node.attribute.length !== 1) return fail('only Constant with a \'value\' tensor has a value here');
      this.constant(node.output[0], this.deps.tensorValue(`fromOnnx: ${at}`, t));
      return;
    }
    const present = ins.filter((a): a is Abs => !!a);
    if (!rec && present.length && present.every((a) => a.k === 'const') && OP_ATTRIBUTES.has(node.opType)) {
      const vals = ins.map((a) => (a ? (a as { v: Value }).v : undefined));
      if (vals.reduce((n, v) => n + (v ? v.data.length : 0), 0) > MAX_FOLD) fail(`a computation on constants of more than ${MAX_FOLD} elements`);
      let outs: Value[] = [];
      try {
        outs = runOp(`fromOnnx: ${at}`, node.opType, this.opset, vals, attrs);
      } catch (e) {
        fail(`computing it from constants failed (${(e as Error).message})`);
      }
      outs.forEach((v, i) => this.constant(node.output[i], v));
      return;
    }
    if (present.some((a) => a.k === 'dead')) fail('it reads a Dropout mask');
    const constOf = (i: number, what: string): Value => {
      const a = ins[i];
      if (!a || a.k !== 'const') return fail(`input ${i} (${what}) must be a constant`);
      return a.v;
    };
    const intsOf = (i: number, what: string): number[] => {
      const v = constOf(i, what);
      if (v.dtype !== 'int' || v.data.length > 64) fail(`input ${i} (${what}) must be a small integer constant`);
      return Array.from(v.data);
    };
    const current = (a: Abs | undefined, what: string): Abs & { step: number } => {
      if (!a || (a.k !== 'seq' && a.k !== 'vec' && a.k !== 'Y')) return fail(`${what} is not the chain's value (a sequence or [B, F])`);
      if (a.step !== this.step) fail(`${what} is an earlier value of the chain (the graph branches)`);
      return a;
    };
    const pushLayer = (s: Spec) => { this.specs.push(s); this.step++; };
    const featOut = (a: Abs, F: number | null): Abs => (a.k === 'seq' ? { ...a, F, step: this.step, rec: null } : { k: 'vec', F, step: this.step });

    switch (node.opType) {
      case 'LSTM': case 'GRU': case 'RNN': {
        const xa = current(ins[0], 'X');
        if (xa.k !== 'seq') fail('X is not a sequence');
        const xs = xa as Extract<Abs, { k: 'seq' }>;
        const layer = this.deps.recurrent(`fromOnnx: ${at}`, node, this.consts);
        const m = layer.module;
        const [t, b] = layer.layout === 1 ? [1, 0] : [0, 1];
        if (!this.bind(xs.axes[t], 'T') || !this.bind(xs.axes[b], 'B') || xs.axes[2] !== 'F') fail(`X's axes are [${xs.axes.map((a) => this.res(a))}], not the node's layout ${layer.layout}`);
        if (xs.F !== null && xs.F !== m.inputSize) fail(`X has ${xs.F} features, W expects ${m.inputSize}`);
        const lens = node.input[4] ?? '';
        const usesLengths = lens !== '';
        if (usesLengths && ins[4]!.k !== 'lengths') fail('sequence_lens is not the graph\'s lengths input');
        if (this.recUsesLengths !== null && this.recUsesLengths !== usesLengths) fail('sequence_lens is given to some recurrent nodes and not to others');
        this.recUsesLengths = usesLengths;
        for (const [i, what] of [[5, 'initial_h'], [6, 'initial_c']] as const) {
          if (!ins[i]) continue;
          const v = ins[i]!;
          if (v.k !== 'const' || v.v.data.some((e) => e !== 0)) fail(`${what} is not zero (a chain's recurrent layers start from zeros; pass state to Sequential.forward instead)`);
        }
        if (node.output.slice(1).some((o, j) => o !== '' && j >= (node.opType === 'LSTM' ? 2 : 1))) fail('unexpected outputs');
        // Merge with the recurrent layer right before it when nothing but glue is between them.
        const prev = xs.rec !== null ? this.specs[xs.rec] : null;
        if (prev && prev.t === 'rec' && xs.rec === this.specs.length - 1 && mergeable(prev.nodes[0], layer)) {
          prev.nodes.push(layer);
          this.step++;
        } else pushLayer({ t: 'rec', nodes: [layer] });
        const D = m.numDirections, H = m.hiddenSize;
        const ax: Axis[] = layer.layout === 1 ? ['B', 'T', 'D', 'H'] : ['T', 'D', 'B', 'H'];
        set(0, { k: 'Y', axes: ax, D, H, step: this.step, rec: this.specs.length - 1 });
        set(1, { k: 'state' });
        set(2, { k: 'state' });
        return;
      }
      case 'Identity':
        if (!ins[0]) fail('no input');
        set(0, ins[0]!);
        return;
      case 'Transpose': {
        const a = ins[0]!;
        if (a.k === 'state') { set(0, a); return; }
        if (a.k !== 'seq' && a.k !== 'Y' && a.k !== 'ids') fail('it transposes something that is not a sequence');
        const axes = (a as { axes: Axis[] }).axes;
        const perm = attrs.get('perm')?.ints ?? axes.map((_, i) => axes.length - 1 - i);
        if (perm.length !== axes.length || new Set(perm).size !== axes.length || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= axes.length)) fail('perm is not a permutation');
        const out = perm.map((p) => axes[p]);
        if (a.k === 'seq' && out[2] !== 'F') fail('it moves the feature axis');
        set(0, { ...a, axes: out } as Abs);
        return;
      }
      case 'Reshape': {
        const a = ins[0]!;
        if (a.k !== 'Y') fail('only the Reshape that joins a recurrent output\'s directions is a chain\'s glue');
        const y = a as Extract<Abs, { k: 'Y' }>;
        const spec = intsOf(1, 'shape');
        if (attrI('allowzero', 0) !== 0) fail('allowzero');
        if (y.axes[2] !== 'D' || y.axes[3] !== 'H' || spec.length !== 3 || spec[0] !== 0 || spec[1] !== 0 || (spec[2] !== -1 && spec[2] !== y.D * y.H)) {
          fail(`expected [${y.axes.slice(0, 2).map((x) => this.res(x))}, D, H] reshaped by (0, 0, -1), got [${y.axes.map((x) => this.res(x))}] by (${spec})`);
        }
        set(0, { k: 'seq', axes: [y.axes[0], y.axes[1], 'F'], F: y.D * y.H, step: y.step, rec: y.rec });
        return;
      }
      case 'Squeeze': {
        const a = ins[0]!;
        if (a.k !== 'Y') fail('only the Squeeze of a recurrent output\'s direction axis is a chain\'s glue');
        const y = a as Extract<Abs, { k: 'Y' }>;
        const axes = this.opset >= 13 ? (ins[1] ? intsOf(1, 'axes') : null) : attrs.get('axes')?.ints ?? null;
        const d = y.axes.indexOf('D');
        if (y.D !== 1 || !axes || axes.length !== 1 || (axes[0] < 0 ? axes[0] + 4 : axes[0]) !== d) fail('expected the direction axis (of size 1) squeezed');
        const rest = y.axes.filter((x) => x !== 'D');
        if (rest[2] !== 'H') fail(`expected [., ., H] after the squeeze, got [${rest}]`);
        set(0, { k: 'seq', axes: [rest[0], rest[1], 'F'], F: y.H, step: y.step, rec: y.rec });
        return;
      }
      case 'Cast':
        if (ins[0]?.k !== 'lengths') fail('only the lengths input may be cast');
        if (attrI('to', 0) !== INT64 && attrI('to', 0) !== INT32) fail('lengths cast to a non-integer type');
        set(0, { k: 'len64' });
        return;
      case 'Sub': {
        const [a, b] = ins;
        if ((a?.k !== 'len64' && a?.k !== 'lengths') || b?.k !== 'const' || b.v.data.length !== 1 || b.v.data[0] !== 1) fail('only lengths - 1 is a chain\'s glue');
        set(0, { k: 'lenm1' });
        return;
      }
      case 'Unsqueeze': {
        const axes = this.opset >= 13 ? (ins[1] ? intsOf(1, 'axes') : null) : attrs.get('axes')?.ints ?? null;
        if (ins[0]?.k !== 'lenm1' || !axes || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -1)) fail('only (lengths - 1) unsqueezed to [B, 1] is a chain\'s glue');
        set(0, { k: 'lastidx' });
        return;
      }
      case 'Gather': {
        const [a, b] = ins;
        const axis = attrI('axis', 0);
        if (a?.k === 'const' && b?.k === 'ids') {
          // Embedding: weight [N, E] gathered by the token ids.
          if (this.specs.length || axis !== 0 || a.v.dtype !== 'float32' || a.v.shape.length !== 2) fail('expected Gather(weight [N, E], ids, axis 0) first');
          const [N, E] = a.v.shape;
          pushLayer({ t: 'emb', N, E, weight: Float32Array.from(a.v.data) });
          set(0, { k: 'seq', axes: [...b.axes, 'F'], F: E, step: this.step, rec: null });
          return;
        }
        if (a?.k !== 'seq' || b?.k !== 'const' || b.v.dtype !== 'int' || b.v.shape.length !== 0) fail('expected a token-id Gather (Embedding) or a scalar Gather over the time axis (LastStep)');
        const s = a as Extract<Abs, { k: 'seq' }>;
        const ax = axis < 0 ? axis + 3 : axis;
        if (ax < 0 || ax > 1 || !this.bind(s.axes[ax], 'T')) fail('the gather is not over the time axis');
        const idx = (b as Extract<Abs, { k: 'const' }>).v.data[0];
        const last = this.specs[this.specs.length - 1];
        if (idx === 0 && last?.t === 'last' && s.step === last.inStep && this.step === s.step + 1) {
          set(0, { k: 'first', last: this.specs.length - 1 });
          return;
        }
        current(s, 'data');
        if (idx !== -1) fail(`index ${idx}: only the last step (-1) makes a LastStep`);
        if (this.lastUsesLengths === true) fail('some last-step gathers use lengths and some do not');
        this.lastUsesLengths = false;
        pushLayer({ t: 'last', finalStates: false, inStep: s.step, F: s.F });
        set(0, { k: 'vec', F: s.F, step: this.step });
        return;
      }
      case 'GatherND': {
        const [a, b] = ins;
        const s = current(a, 'data');
        if (s.k !== 'seq' || b?.k !== 'lastidx' || attrI('batch_dims', 0) !== 1 || !this.bind(s.axes[0], 'B') || !this.bind(s.axes[1], 'T')) fail('expected GatherND([B, T, F], lengths - 1 as [B, 1], batch_dims 1)');
        if (this.lastUsesLengths === false) fail('some last-step gathers use lengths and some do not');
        this.lastUsesLengths = true;
        const seq = s as Extract<Abs, { k: 'seq' }>;
        pushLayer({ t: 'last', finalStates: false, inStep: seq.step, F: seq.F });
        set(0, { k: 'vec', F: seq.F, step: this.step });
        return;
      }
      case 'Slice': {
        // Only the halves of finalStates: Slice(last, 0, F/2, axis 1) and Slice(first, F/2, F, axis 1).
        const a = ins[0];
        const lastIdx = this.specs.length - 1, spec = this.specs[lastIdx];
        if (spec?.t !== 'last' || spec.finalStates || spec.F === null || spec.F % 2) fail('only the two halves of a bidirectional LastStep are a chain\'s Slice');
        const F = (spec as Extract<Spec, { t: 'last' }>).F!;
        const starts = this.opset >= 10 ? intsOf(1, 'starts') : attrs.get('starts')?.ints ?? [];
        const ends = this.opset >= 10 ? intsOf(2, 'ends') : attrs.get('ends')?.ints ?? [];
        const axes = this.opset >= 10 ? (ins[3] ? intsOf(3, 'axes') : [0]) : attrs.get('axes')?.ints ?? [0];
        if (this.opset >= 10 && ins[4] && intsOf(4, 'steps').some((v) => v !== 1)) fail('steps other than 1');
        if (starts.length !== 1 || ends.length !== 1 || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -1)) fail('expected one range on the feature axis');
        if (a?.k === 'vec' && a.step === this.step && starts[0] === 0 && ends[0] === F / 2) set(0, { k: 'half', last: lastIdx, side: 'fwd' });
        else if (a?.k === 'first' && a.last === lastIdx && starts[0] === F / 2 && ends[0] >= F) set(0, { k: 'half', last: lastIdx, side: 'rev' });
        else fail('expected the forward half of the last step or the reverse half of the first');
        return;
      }
      case 'Concat': {
        if (present.every((v) => v.k === 'state')) { set(0, { k: 'state' }); return; }
        const [a, b] = present;
        const axis = attrI('axis', 0);
        if (present.length !== 2 || a.k !== 'half' || b.k !== 'half' || a.side !== 'fwd' || b.side !== 'rev' || a.last !== b.last || a.last !== this.specs.length - 1 || (axis !== 1 && axis !== -1)) {
          fail('only the two halves of a bidirectional LastStep are a chain\'s Concat');
        }
        const spec = this.specs[this.specs.length - 1] as Extract<Spec, { t: 'last' }>;
        spec.finalStates = true;
        this.step++;
        set(0, { k: 'vec', F: spec.F, step: this.step });
        return;
      }
      case 'MatMul': case 'Gemm': {
        const a = current(ins[0], 'A');
        if (a.k === 'Y') fail('A is a raw recurrent output');
        const w = constOf(1, 'B');
        if (w.dtype !== 'float32' || w.shape.length !== 2) fail('B is not a float matrix');
        let weight: Float32Array, I: number, O: number, bias: Float32Array | null = null;
        if (node.opType === 'Gemm') {
          if (a.k !== 'vec') fail('Gemm reads [B, F]');
          if (attrI('transA', 0) !== 0 || (attrs.get('alpha')?.f ?? 1) !== 1 || (attrs.get('beta')?.f ?? 1) !== 1) fail('transA, alpha or beta is not the default');
          const tB = attrI('transB', 0) === 1;
          [O, I] = tB ? w.shape : [w.shape[1], w.shape[0]];
          weight = tB ? Float32Array.from(w.data) : transpose2(w.data, I, O);
          if (ins[2]) {
            const c = constOf(2, 'C');
            if (c.dtype !== 'float32' || c.data.length !== O || !(c.shape.length === 1 || (c.shape.length === 2 && c.shape[0] === 1))) fail(`C is not a bias of ${O}`);
            bias = Float32Array.from(c.data);
          }
        } else {
          [I, O] = w.shape;
          weight = transpose2(w.data, I, O);
        }
        const F = (a as { F: number | null }).F;
        if (F !== null && F !== I) fail(`A has ${F} features, B expects ${I}`);
        pushLayer({ t: 'linear', I, O, weight, bias });
        set(0, featOut(a, O));
        return;
      }
      case 'Add': {
        // The bias of the Linear a MatMul just made.
        const spec = this.specs[this.specs.length - 1];
        const vi = ins[0]?.k === 'const' ? 1 : 0;
        const a = current(ins[vi], 'the summand');
        const c = ins[1 - vi];
        if (spec?.t !== 'linear' || spec.bias !== null || c?.k !== 'const' || c.v.dtype !== 'float32' || c.v.data.length !== spec.O || c.v.shape.length !== 1 || a.k === 'Y') {
          fail('only a bias [out] added to a MatMul\'s result is a chain\'s Add');
        }
        (spec as Extract<Spec, { t: 'linear' }>).bias = Float32Array.from((c as Extract<Abs, { k: 'const' }>).v.data);
        this.step++;
        set(0, featOut(a, (spec as Extract<Spec, { t: 'linear' }>).O));
        return;
      }
      case 'Tanh': case 'Sigmoid': case 'Relu': case 'Softmax': {
        const a = current(ins[0], 'X');
        if (a.k === 'Y') fail('X is a raw recurrent output');
        if (node.opType === 'Softmax') {
          const r = a.k === 'seq' ? 3 : 2;
          const axis = attrI('axis', this.opset >= 13 ? -1 : 1);
          if ((axis < 0 ? axis + r : axis) !== r - 1) fail('Softmax not over the last axis');
        }
        pushLayer({ t: 'act', name: node.opType === 'Relu' ? 'ReLU' : node.opType });
        set(0, featOut(a, (a as { F: number | null }).F));
        return;
      }
      case 'Dropout': {
        const a = current(ins[0], 'data');
        if (a.k === 'Y') fail('data is a raw recurrent output');
        let p = attrs.get('ratio')?.f ?? 0.5;
        if (this.opset >= 12 && ins[1]) {
          const r = constOf(1, 'ratio');
          if (r.data.length !== 1) fail('ratio is not a scalar');
          p = r.data[0];
        }
        if (ins[2] && (ins[2].k !== 'const' || ins[2].v.data[0] !== 0)) fail('training_mode is not false');
        if (!(p >= 0 && p < 1)) fail(`ratio ${p} is not in [0, 1)`);
        pushLayer({ t: 'dropout', p });
        set(0, featOut(a, (a as { F: number | null }).F));
        set(1, { k: 'dead' });
        return;
      }
      default:
        fail(`op_type ${JSON.stringify(node.opType)} has no layer`);
    }
  }
}

/** Whether two single-layer recurrent nodes are layers of one stacked module. */
function mergeable(a: OnnxRecurrentLayer, b: OnnxRecurrentLayer): boolean {
  const { inputSize: _ia, batchFirst: _ba, ...ra } = layerConfig(a.module);
  const { inputSize: ib, batchFirst: _bb, ...rb } = layerConfig(b.module);
  return a.module.constructor === b.module.constructor && JSON.stringify(ra) === JSON.stringify(rb) && ib === a.module.numDirections * a.module.hiddenSize;
}

/** [rows, cols] -> [cols, rows]. */
function transpose2(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}
