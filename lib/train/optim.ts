// Optimizers: SGD (momentum, dampening, Nesterov, weight decay), Adam, AdamW, RMSprop, with
// PyTorch's update rules (written out in optim-math.ts) and defaults.
//
// An optimizer is bound to a model (anything with namedParameters() and commitParameters()):
// `step(grads)` updates every parameter in place from gradients keyed by the same names, then
// calls `model.commitParameters()` once, so the native backend re-packs its weights once per step.
// On the `native` backend (float32 models, addon loaded) the whole update is one fused C++ call
// over all parameters; on `wasm` (float32, module loaded) the same C++ loops compiled to
// WebAssembly; on `ts` the same math runs in TypeScript. The step counter and every state
// buffer are in `stateDict()` for checkpoints; `lr` may be changed between steps (schedules).

import { nativeOptim } from '../backend/native-optim';
import { loadWasm } from '../backend/wasm-load';
import { defaultBackendName, BACKEND_NAMES_TEXT, isBackendName } from '../backend';
import type { BackendName, OptimCalls } from '../backend/types';
import { argRangeError, argTypeError, BackendUnavailableError, describe, formatShape } from '../errors';
import { allocate, checkTensorArg, Tensor, type DType, type FloatArray } from '../tensor';
import { optionalBool, readOptions } from '../nn/options';
import { copyFinite } from '../nn/params';
import { adamUpdate, rmspropUpdate, sgdUpdate } from './optim-math';

/** What an optimizer updates: any layer, a Sequential, or your own model with these two methods. */
export interface Parameterized {
  /** Every trainable parameter with its PyTorch-style name; the optimizer writes these tensors in place. */
  namedParameters(): [string, Tensor][];
  /** Called once after each update (the native backend re-packs its weights here). */
  commitParameters(): unknown;
}

/** The optimizer classes, as `kind` and checkpoints name them. */
export type OptimizerKind = 'SGD' | 'Adam' | 'AdamW' | 'RMSprop';

/** An optimizer's saved state (stateDict / loadStateDict, and inside checkpoints). */
export interface OptimizerState {
  /** Which optimizer wrote it; loadStateDict refuses another. */
  kind: OptimizerKind;
  /** Its hyperparameters but lr; loadStateDict refuses different ones. */
  options: Record<string, number | boolean>;
  /** Optimizer steps taken. */
  step: number;
  /** The learning rate of the next step. */
  lr: number;
  /** slot name -> parameter name -> buffer (e.g. exp_avg.0.weight_ih_l0) */
  slots: Record<string, Record<string, Tensor>>;
}

function num(where: string, name: string, v: unknown, dflt: number, lo: number, hi: number, loOpen = false, hiOpen = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw argTypeError(where, name, 'a number', v);
  const ok = Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw argRangeError(where, name, `a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`, describe(v));
  return v;
}

/**
 * The base of SGD, Adam, AdamW and RMSprop: bound to a model, `step(grads)` updates its parameters
 * in place with PyTorch's rules, then calls `model.commitParameters()` once.
 */
export abstract class Optimizer {
  /** Which optimizer this is. */
  abstract readonly kind: OptimizerKind;
  /** Learning rate of the next step (schedules set it). */
  lr: number;
  /** The learning rate given at construction. */
  readonly baseLr: number;
  /** Optimizer steps taken (skipped steps do not count). */
  stepCount = 0;
  /** Where the update runs. */
  readonly backend: BackendName;
  /** The parameters' element type (all alike). */
  readonly dtype: DType;
  protected readonly model: Parameterized;
  protected readonly params: [string, Tensor][];
  protected readonly slots = new Map<string, FloatArray[]>();

  protected constructor(where: string, model: Parameterized, lr: number, backend: unknown, slotNames: string[]) {
    if (!model || typeof model.namedParameters !== 'function' || typeof model.commitParameters !== 'function') {
      throw argTypeError(where, 'model', 'a model with namedParameters() and commitParameters()', model);
    }
    this.model = model;
    this.params = model.namedParameters();
    if (this.params.length === 0) throw argRangeError(where, 'model', 'a model with at least one parameter', 'none');
    const dtypes = new Set(this.params.map(([, t]) => t.dtype));
    if (dtypes.size !== 1) throw argTypeError(where, 'model', 'parameters of one dtype', [...dtypes].join(' and '));
    this.dtype = this.params[0][1].dtype;
    this.lr = this.baseLr = lr;
    if (backend !== undefined && !isBackendName(backend)) throw argTypeError(where, 'backend', BACKEND_NAMES_TEXT, backend);
    if (backend === 'native') {
      if (this.dtype !== 'float32') throw argTypeError(where, 'backend', `'ts' for ${this.dtype} parameters (native computes in float32)`, backend);
      if (!nativeOptim()) throw new BackendUnavailableError(`${where}: the native optimizer was requested but cannot be used`, ['the native addon (with its optimizer exports) did not load']);
      this.backend = 'native';
    } else if (backend === 'wasm') {
      // Other dtypes update with the TS math, as wasm layers run them on ts (the module computes in float32).
      if (this.dtype === 'float32' && !loadWasm().optim) throw new BackendUnavailableError(`${where}: the wasm optimizer was requested but cannot be used`, loadWasm().causes);
      this.backend = this.dtype === 'float32' ? 'wasm' : 'ts';
    } else if (backend === 'ts') {
      this.backend = 'ts';
    } else {
      const d = this.dtype === 'float32' ? defaultBackendName() : 'ts';
      this.backend = d === 'native' && nativeOptim() ? 'native' : d === 'wasm' && loadWasm().optim ? 'wasm' : 'ts';
    }
    for (const s of slotNames) this.slots.set(s, this.params.map(([, t]) => allocate(this.dtype, t.size)));
  }

  /** The fused updates of a compiled backend, or null on ts. */
  protected compiled(): OptimCalls | null {
    return this.backend === 'native' ? nativeOptim() : this.backend === 'wasm' ? loadWasm().optim : null;
  }

  /** Hyperparameters (everything but lr), as saved in checkpoints. */
  abstract options(): Record<string, number | boolean>;

  protected abstract update(p: FloatArray[], g: FloatArray[]): void;

  /**
   * One update of every parameter from `grads` (parameter name -> Tensor of its shape and dtype;
   * every parameter needs one). Then the model's parameters are committed once.
   */
  step(grads: Record<string, Tensor>): void {
    const where = `${this.kind}.step`;
    if (grads === null || typeof grads !== 'object') throw argTypeError(where, 'grads', 'an object mapping parameter names to gradients', grads);
    const g: FloatArray[] = [];
    for (const [name, p] of this.params) {
      let t: unknown;
      try {
        t = Object.prototype.hasOwnProperty.call(grads, name) ? grads[name] : undefined;
      } catch (e) {
        throw argTypeError(where, `grads['${name}']`, `a readable gradient (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
      }
      if (t === undefined) throw argTypeError(where, `grads['${name}']`, `a gradient of shape ${formatShape(p.shape)}`, t);
      const { shape, data } = checkTensorArg(where, `grads['${name}']`, t, this.dtype);
      if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
        throw argRangeError(where, `grads['${name}']`, `shape ${formatShape(p.shape)}`, formatShape(shape));
      }
      g.push(data);
    }
    if (!(this.lr >= 0) || !Number.isFinite(this.lr)) throw argRangeError(where, 'lr', 'a finite learning rate >= 0', describe(this.lr));
    this.stepCount++;
    this.update(this.params.map(([, t]) => t.data), g);
    this.model.commitParameters();
  }

  /** Copies of step, lr and every buffer; slots are null-prototype records keyed by slot and parameter name. */
  stateDict(): OptimizerState {
    const slots: Record<string, Record<string, Tensor>> = Object.create(null);
    for (const [s, bufs] of this.slots) {
      slots[s] = Object.create(null);
      this.params.forEach(([name, t], k) => { slots[s][name] = new Tensor(bufs[k].slice(), t.shape); });
    }
    return { kind: this.kind, options: this.options(), step: this.stepCount, lr: this.lr, slots };
  }

  /**
   * Restore step, lr and every buffer. The kind, hyperparameters, slot and parameter names, shapes
   * and dtype (the optimizer's) must match and every value be finite: each buffer is read once into
   * a staging copy, the copy is checked, and nothing changes unless everything does.
   */
  loadStateDict(state: OptimizerState): this {
    const where = `${this.kind}.loadStateDict`;
    if (!state || typeof state !== 'object') throw argTypeError(where, 'state', 'an optimizer state from stateDict()', state);
    const st = readOptions(where, 'state', state, ['kind', 'options', 'step', 'lr', 'slots'], 'fields');
    if (st.kind !== this.kind) throw argTypeError(where, 'state.kind', `'${this.kind}'`, st.kind);
    const mine = this.options();
    const opts = readOptions(where, 'state.options', st.options, Object.keys(mine));
    for (const [k, v] of Object.entries(mine)) {
      if (opts[k] !== v) throw argRangeError(where, `state.options.${k}`, describe(v), describe(opts[k]));
    }
    if (!Number.isSafeInteger(st.step) || (st.step as number) < 0) throw argRangeError(where, 'state.step', 'a non-negative integer', describe(st.step));
    if (typeof st.lr !== 'number' || !Number.isFinite(st.lr) || st.lr < 0) throw argRangeError(where, 'state.lr', 'a finite number >= 0', describe(st.lr));
    const slots = readOptions(where, 'state.slots', st.slots, [...this.slots.keys()], 'slots');
    const names = this.params.map(([name]) => name);
    const staged = new Map<string, FloatArray[]>();
    for (const [s] of this.slots) {
      const got = slots[s];
      if (!got || typeof got !== 'object') throw argTypeError(where, `state.slots.${s}`, 'buffers for every parameter', got);
      const bufs = readOptions(where, `state.slots.${s}`, got, names, 'parameter names');
      staged.set(s, this.params.map(([name, p]) => {
        const arg = `state.slots.${s}['${name}']`, t = bufs[name];
        if (!t) throw argTypeError(where, arg, `a buffer of shape ${formatShape(p.shape)}`, t);
        const { shape, data } = checkTensorArg(where, arg, t, this.dtype);
        if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) throw argRangeError(where, arg, `shape ${formatShape(p.shape)}`, formatShape(shape));
        const copy = allocate(this.dtype, p.size, where, arg);
        const bad = copyFinite(data, copy);
        if (bad) throw new RangeError(`${where}: ${arg}: ${bad}`);
        return copy;
      }));
    }
    for (const [s, bufs] of this.slots) staged.get(s)!.forEach((d, k) => bufs[k].set(d));
    this.stepCount = st.step as number;
    this.lr = st.lr;
    return this;
  }

  protected slot(name: string): FloatArray[] {
    return this.slots.get(name)!;
  }
}

const f32 = (a: FloatArray[]): Float32Array[] => a as Float32Array[];

/** SGD's hyperparameters (PyTorch's torch.optim.SGD, camelCased). */
export interface SGDOptions {
  /**
   * Learning rate, >= 0.
   * @default 1e-3
   */
  lr?: number;
  /**
   * Momentum factor in [0, 1]; 0 for plain SGD.
   * @default 0
   */
  momentum?: number;
  /**
   * Dampening of the momentum in [0, 1].
   * @default 0
   */
  dampening?: number;
  /**
   * L2 penalty added to the gradient, >= 0.
   * @default 0
   */
  weightDecay?: number;
  /**
   * Nesterov momentum (needs momentum > 0 and dampening 0).
   * @default false
   */
  nesterov?: boolean;
  /**
   * Where the update runs: 'native' (one fused C++ call over all parameters; float32 only), 'wasm'
   * (the same C++ loops compiled to WebAssembly; float32, other dtypes run on 'ts') or 'ts'.
   * @default the process default backend (native or wasm) for float32 parameters, else 'ts'
   */
  backend?: BackendName;
}

/** Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay. */
export class SGD extends Optimizer {
  readonly kind = 'SGD';
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening of the momentum. */
  readonly dampening: number;
  /** L2 penalty. */
  readonly weightDecay: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;

  constructor(model: Parameterized, options?: SGDOptions) {
    const where = 'SGD';
    const o = readOptions(where, 'options', options, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'backend']);
    const lr = num(where, 'lr', o.lr, 1e-3, 0, Infinity);
    const momentum = num(where, 'momentum', o.momentum, 0, 0, 1);
    super(where, model, lr, o.backend, momentum ? ['momentum_buffer'] : []);
    this.momentum = momentum;
    this.dampening = num(where, 'dampening', o.dampening, 0, 0, 1);
    this.weightDecay = num(where, 'weightDecay', o.weightDecay, 0, 0, Infinity);
    this.nesterov = optionalBool(where, 'nesterov', o.nesterov, false);
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) {
      throw argRangeError(where, 'nesterov', 'momentum > 0 and dampening = 0 with Nesterov momentum', `momentum ${this.momentum}, dampening ${this.dampening}`);
    }
  }

  options(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected update(p: FloatArray[], g: FloatArray[]): void {
    const h = { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov, first: this.stepCount === 1 };
    const buf = this.momentum ? this.slot('momentum_buffer') : null;
    const c = this.compiled();
    if (c) {
      c.optimSgd(f32(p), f32(g), buf && f32(buf), h.lr, h.momentum, h.dampening, h.weightDecay, h.nesterov, h.first);
    } else {
      p.forEach((pk, k) => sgdUpdate(pk, g[k], buf ? buf[k] : null, h));
    }
  }
}

/** Adam's and AdamW's hyperparameters (PyTorch's betas as beta1, beta2). */
export interface AdamOptions {
  /**
   * Learning rate, >= 0.
   * @default 1e-3
   */
  lr?: number;
  /**
   * Decay of the running mean of gradients, in [0, 1).
   * @default 0.9
   */
  beta1?: number;
  /**
   * Decay of the running mean of squared gradients, in [0, 1).
   * @default 0.999
   */
  beta2?: number;
  /**
   * Added to the denominator for stability, >= 0.
   * @default 1e-8
   */
  eps?: number;
  /**
   * Weight decay, >= 0: Adam adds it to the gradient as an L2 term; AdamW decays the weights
   * directly (p *= 1 - lr·weightDecay) and defaults to 0.01, as PyTorch.
   * @default 0 (Adam), 0.01 (AdamW)
   */
  weightDecay?: number;
  /**
   * Where the update runs: 'native' (one fused C++ call over all parameters; float32 only), 'wasm'
   * (the same C++ loops compiled to WebAssembly; float32, other dtypes run on 'ts') or 'ts'.
   * @default the process default backend (native or wasm) for float32 parameters, else 'ts'
   */
  backend?: BackendName;
}

abstract class AdamBase extends Optimizer {
  /** Decay of the running mean of gradients. */
  readonly beta1: number;
  /** Decay of the running mean of squared gradients. */
  readonly beta2: number;
  /** Denominator term. */
  readonly eps: number;
  /** Weight decay (L2 for Adam, decoupled for AdamW). */
  readonly weightDecay: number;
  protected abstract readonly decoupled: boolean;

  constructor(where: string, model: Parameterized, options: AdamOptions | undefined, wdDefault: number) {
    const o = readOptions(where, 'options', options, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'backend']);
    super(where, model, num(where, 'lr', o.lr, 1e-3, 0, Infinity), o.backend, ['exp_avg', 'exp_avg_sq']);
    this.beta1 = num(where, 'beta1', o.beta1, 0.9, 0, 1, false, true);
    this.beta2 = num(where, 'beta2', o.beta2, 0.999, 0, 1, false, true);
    this.eps = num(where, 'eps', o.eps, 1e-8, 0, Infinity);
    this.weightDecay = num(where, 'weightDecay', o.weightDecay, wdDefault, 0, Infinity);
  }

  options(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected update(p: FloatArray[], g: FloatArray[]): void {
    const t = this.stepCount;
    const h = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled,
      bc1: 1 - Math.pow(this.beta1, t), bc2Sqrt: Math.sqrt(1 - Math.pow(this.beta2, t)) };
    const m = this.slot('exp_avg'), v = this.slot('exp_avg_sq');
    const c = this.compiled();
    if (c) {
      c.optimAdam(f32(p), f32(g), f32(m), f32(v), h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled, h.bc1, h.bc2Sqrt);
    } else {
      p.forEach((pk, k) => adamUpdate(pk, g[k], m[k], v[k], h));
    }
  }
}

/** Adam; weightDecay (default 0) is an L2 term added to the gradient. */
export class Adam extends AdamBase {
  readonly kind = 'Adam';
  protected readonly decoupled = false;
  constructor(model: Parameterized, options?: AdamOptions) {
    super('Adam', model, options, 0);
  }
}

/** AdamW: decoupled weight decay (default 0.01, as PyTorch), p *= 1 - lr·wd before the Adam step. */
export class AdamW extends AdamBase {
  readonly kind = 'AdamW';
  protected readonly decoupled = true;
  constructor(model: Parameterized, options?: AdamOptions) {
    super('AdamW', model, options, 0.01);
  }
}

/** RMSprop's hyperparameters (PyTorch's torch.optim.RMSprop, camelCased). */
export interface RMSpropOptions {
  /**
   * Learning rate, >= 0.
   * @default 1e-2
   */
  lr?: number;
  /**
   * Smoothing constant of the squared-gradient average, in [0, 1].
   * @default 0.99
   */
  alpha?: number;
  /**
   * Added to the denominator for stability, >= 0.
   * @default 1e-8
   */
  eps?: number;
  /**
   * L2 penalty added to the gradient, >= 0.
   * @default 0
   */
  weightDecay?: number;
  /**
   * Momentum factor in [0, 1].
   * @default 0
   */
  momentum?: number;
  /**
   * Normalise by the gradient's estimated variance instead of its second moment.
   * @default false
   */
  centered?: boolean;
  /**
   * Where the update runs: 'native' (one fused C++ call over all parameters; float32 only), 'wasm'
   * (the same C++ loops compiled to WebAssembly; float32, other dtypes run on 'ts') or 'ts'.
   * @default the process default backend (native or wasm) for float32 parameters, else 'ts'
   */
  backend?: BackendName;
}

/** RMSprop with optional momentum, centering and weight decay. */
export class RMSprop extends Optimizer {
  readonly kind = 'RMSprop';
  /** Smoothing constant. */
  readonly alpha: number;
  /** Denominator term. */
  readonly eps: number;
  /** L2 penalty. */
  readonly weightDecay: number;
  /** Momentum factor. */
  readonly momentum: number;
  /** Whether the update is centered. */
  readonly centered: boolean;

  constructor(model: Parameterized, options?: RMSpropOptions) {
    const where = 'RMSprop';
    const o = readOptions(where, 'options', options, ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'backend']);
    const momentum = num(where, 'momentum', o.momentum, 0, 0, 1);
    const centered = optionalBool(where, 'centered', o.centered, false);
    super(where, model, num(where, 'lr', o.lr, 1e-2, 0, Infinity), o.backend,
      ['square_avg', ...(momentum > 0 ? ['momentum_buffer'] : []), ...(centered ? ['grad_avg'] : [])]);
    this.alpha = num(where, 'alpha', o.alpha, 0.99, 0, 1);
    this.eps = num(where, 'eps', o.eps, 1e-8, 0, Infinity);
    this.weightDecay = num(where, 'weightDecay', o.weightDecay, 0, 0, Infinity);
    this.momentum = momentum;
    this.centered = centered;
  }

  options(): Record<string, number | boolean> {
    return { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
  }

  protected update(p: FloatArray[], g: FloatArray[]): void {
    const h = { lr: this.lr, alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
    const sq = this.slot('square_avg');
    const ga = this.centered ? this.slot('grad_avg') : null;
    const buf = this.momentum > 0 ? this.slot('momentum_buffer') : null;
    const c = this.compiled();
    if (c) {
      c.optimRmsprop(f32(p), f32(g), f32(sq), ga && f32(ga), buf && f32(buf), h.lr, h.alpha, h.eps, h.weightDecay, h.momentum, h.centered);
    } else {
      p.forEach((pk, k) => rmspropUpdate(pk, g[k], sq[k], ga ? ga[k] : null, buf ? buf[k] : null, h));
    }
  }
}
