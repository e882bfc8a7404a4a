// Single-step cells with torch.nn.LSTMCell / GRUCell / RNNCell semantics and parameter names
// (weight_ih, weight_hh, bias_ih, bias_hh: no _l0 suffix). Each wraps a one-layer recurrent layer
// run over a one-step sequence, so a cell uses the same prepared (packed) weights and kernels as
// the layers: a step never repacks and allocates only state-sized buffers.
//
//   LSTMCell: forward(x [B, I], { h [B, H], c [B, H] }?) -> { h, c }
//   GRUCell, RNNCell: forward(x [B, I], { h }?) -> { h }

import type { BackendName } from '../backend/types';
import { argTypeError } from '../errors';
import { Tensor, type DType } from '../tensor';
import { GRU } from './gru';
import { LSTM } from './lstm';
import { readOptions } from './options';
import type { StateDictInput } from './params';
import { RecurrentCache, type Recurrent } from './recurrent';
import { RNN } from './rnn';

/** Construction options of LSTMCell, GRUCell and RNNCell (as the layers', one layer, one direction). */
export interface CellOptions {
  /** Features of x (I). */
  inputSize: number;
  /** Units of h (H). */
  hiddenSize: number;
  /**
   * Whether the cell has bias_ih and bias_hh.
   * @default true
   */
  bias?: boolean;
  /**
   * Seed of the initial weights, U(-1/sqrt(H), 1/sqrt(H)).
   * @default undefined (a fresh seed)
   */
  seed?: number;
  /**
   * Element type of the weights and results.
   * @default 'float32'
   */
  dtype?: DType;
  /**
   * Which backend computes.
   * @default the process default: 'native' when the addon loads, else 'ts'; see backend()
   */
  backend?: BackendName;
}

/** A cell's state: what forward takes and returns. */
export interface CellState {
  /** [B, H] */
  h: Tensor;
  /** [B, H] (LSTMCell) */
  c?: Tensor;
}

/** What a cell's backward returns. */
export interface CellGradients {
  /** [B, I] */
  dX: Tensor;
  /** [B, H] gradient of the input state h */
  dH: Tensor;
  /** [B, H] (LSTMCell) */
  dC?: Tensor;
  /** by PyTorch cell names */
  grads: Record<string, Tensor>;
}

const CELL_KEYS = ['inputSize', 'hiddenSize', 'bias', 'seed', 'dtype', 'backend'] as const;

abstract class CellBase {
  protected abstract readonly layer: Recurrent;
  protected abstract readonly name: string;

  /** Features of x (I). */
  get inputSize(): number { return this.layer.inputSize; }
  /** Units of h (H). */
  get hiddenSize(): number { return this.layer.hiddenSize; }
  /** The backend computing. */
  get backend(): BackendName { return this.layer.backend; }

  /** One step. */
  forward(x: Tensor, state?: CellState | null): CellState {
    const { x3, h0, c0 } = this.inputs(`${this.name}.forward`, x, state);
    return this.result(this.layer.forward(x3, { h0, c0 }));
  }

  /** One step, keeping what backward needs. */
  forwardTrain(x: Tensor, state?: CellState | null): CellState & {
    /** What backward needs. */
    cache: RecurrentCache;
  } {
    const { x3, h0, c0 } = this.inputs(`${this.name}.forwardTrain`, x, state);
    const r = this.layer.forwardTrain(x3, { h0, c0 });
    return { ...this.result(r), cache: r.cache };
  }

  /** Gradients of one step given the upstream gradients of the new h (and c). */
  backward(cache: RecurrentCache, grads?: { dH?: Tensor | null; dC?: Tensor | null }): CellGradients {
    const where = `${this.name}.backward`;
    const o = readOptions(where, 'grads', grads, ['dH', 'dC']);
    const as3 = (t: unknown, arg: string) => {
      if (t === undefined || t === null) return null;
      if (!(t instanceof Tensor) || t.rank !== 2) throw argTypeError(where, arg, 'a [B, hiddenSize] Tensor', t);
      return new Tensor(t.data, [1, t.shape[0], t.shape[1]]);
    };
    if (!this.hasC && o.dC !== undefined && o.dC !== null) throw argTypeError(where, 'grads.dC', `nothing (a ${this.name} has no cell state)`, o.dC);
    const g = this.layer.backward(cache, { dHN: as3(o.dH, 'grads.dH'), dCN: as3(o.dC, 'grads.dC') });
    const B = g.dH0.shape[1], H = this.hiddenSize;
    const out: CellGradients = {
      dX: new Tensor(g.dX.data, [B, this.inputSize]),
      dH: new Tensor(g.dH0.data, [B, H]),
      grads: renameOut(g.grads),
    };
    if (g.dC0) out.dC = new Tensor(g.dC0.data, [B, H]);
    return out;
  }

  stateDict(): Record<string, Tensor> { return renameOut(this.layer.stateDict()); }
  loadStateDict(weights: StateDictInput): this {
    if (weights === null || typeof weights !== 'object') throw argTypeError(`${this.name}.loadStateDict`, 'weights', 'an object mapping parameter names to tensors', weights);
    this.layer.loadStateDict(Object.fromEntries(Object.entries(weights).map(([k, v]) => [`${k}_l0`, v])));
    return this;
  }
  namedParameters(): [string, Tensor][] { return this.layer.namedParameters().map(([n, t]) => [n.replace(/_l0$/, ''), t]); }
  commitParameters(): this { this.layer.commitParameters(); return this; }

  protected get hasC(): boolean { return false; }

  private inputs(where: string, x: Tensor, state: CellState | null | undefined) {
    if (!(x instanceof Tensor) || x.rank !== 2) throw argTypeError(where, 'x', `a [B, ${this.inputSize}] Tensor`, x);
    const s = readOptions(where, 'state', state, ['h', 'c']);
    if (!this.hasC && s.c !== undefined && s.c !== null) throw argTypeError(where, 'state.c', `nothing (a ${this.name} has no cell state)`, s.c);
    const st = (t: unknown, arg: string) => {
      if (t === undefined || t === null) return null;
      if (!(t instanceof Tensor) || t.rank !== 2) throw argTypeError(where, arg, `a [B, ${this.hiddenSize}] Tensor`, t);
      return new Tensor(t.data, [1, t.shape[0], t.shape[1]]);
    };
    const x3 = new Tensor(x.data, [1, x.shape[0], x.shape[1]]);
    return { x3, h0: st(s.h, 'state.h'), c0: st(s.c, 'state.c') };
  }

  private result(r: { hN: Tensor; cN?: Tensor }): CellState {
    const B = r.hN.shape[1], H = this.hiddenSize;
    const out: CellState = { h: new Tensor(r.hN.data, [B, H]) };
    if (r.cN) out.c = new Tensor(r.cN.data, [B, H]);
    return out;
  }
}

function renameOut(d: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k.replace(/_l0$/, ''), v]));
}

function layerOptions(name: string, options: unknown) {
  if (options === undefined || options === null) throw argTypeError(name, 'options', 'an options object with inputSize and hiddenSize', options);
  return readOptions(name, 'options', options, CELL_KEYS) as unknown as CellOptions;
}

/**
 * One LSTM step, torch.nn.LSTMCell: forward(x [B, I], { h [B, H], c [B, H] }?) -> { h, c }, with
 * weight_ih [4H, I], weight_hh [4H, H], bias_ih, bias_hh [4H] (gates i, f, g, o).
 */
export class LSTMCell extends CellBase {
  protected readonly layer: LSTM;
  protected readonly name = 'LSTMCell';
  constructor(options: CellOptions) {
    super();
    this.layer = new LSTM(layerOptions('LSTMCell', options));
  }
  protected override get hasC(): boolean { return true; }
}

/**
 * One GRU step, torch.nn.GRUCell: forward(x [B, I], { h [B, H] }?) -> { h }, with
 * weight_ih [3H, I], weight_hh [3H, H], bias_ih, bias_hh [3H] (gates r, z, n).
 */
export class GRUCell extends CellBase {
  protected readonly layer: GRU;
  protected readonly name = 'GRUCell';
  constructor(options: CellOptions) {
    super();
    this.layer = new GRU(layerOptions('GRUCell', options));
  }
}

/**
 * One Elman RNN step, torch.nn.RNNCell: forward(x [B, I], { h [B, H] }?) -> { h }, with
 * weight_ih [H, I], weight_hh [H, H], bias_ih, bias_hh [H]. Options: CellOptions and
 * `nonlinearity` ('tanh', the default, or 'relu').
 */
export class RNNCell extends CellBase {
  protected readonly layer: RNN;
  protected readonly name = 'RNNCell';
  constructor(options: CellOptions & { nonlinearity?: 'tanh' | 'relu' }) {
    super();
    if (options === undefined || options === null) throw argTypeError('RNNCell', 'options', 'an options object with inputSize and hiddenSize', options);
    const o = readOptions('RNNCell', 'options', options, [...CELL_KEYS, 'nonlinearity']);
    this.layer = new RNN(o as unknown as CellOptions & { nonlinearity?: 'tanh' | 'relu' });
  }
  /** The activation: 'tanh' or 'relu'. */
  get nonlinearity(): 'tanh' | 'relu' { return this.layer.nonlinearity ?? 'tanh'; } // a cell takes no `activations`: never null
}
