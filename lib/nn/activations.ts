// Activations as layers without parameters: Tanh, Sigmoid, ReLU (elementwise) and Softmax (over
// the last axis) -- PyTorch's torch.nn.Tanh / Sigmoid / ReLU / Softmax(dim=-1). They compute in the
// input's dtype, keep the values backward needs (the output for tanh, sigmoid and softmax, the
// input for ReLU), and have empty parameter lists.

import { ParameterFree } from './module';
import { Tensor, allocate, checkTensorArg, dtypeOf, type FloatArray } from '../tensor';
import { checkCache, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { checkFinite } from './sequence';

/** What Activation.backward needs from a training forward (opaque). */
export class ActivationCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes the cache stale).
   * @param kept The activation output (or input) its derivative needs, saved for backward.
   * @param shape The input's shape.
   */
  constructor(readonly owner: Activation, readonly version: number, readonly kept: FloatArray, readonly shape: readonly number[]) {}
}

/** The base of the elementwise activation layers (no parameters; they compute in their input's dtype). */
export abstract class Activation extends ParameterFree {
  /** The layer's type name, as configs and model files write it. */
  abstract readonly type: string;
  protected get moduleName(): string { return this.type; }
  /** y = f(x) elementwise. */
  protected abstract f(x: number): number;
  /** dx = dy * f'(x), from the kept value (the output, or the input for ReLU). */
  protected abstract df(kept: number): number;
  protected abstract keepsInput: boolean;

  /** y from x (shape: x's); elementwise f unless a subclass says otherwise. */
  protected apply(x: FloatArray, y: FloatArray, _shape: readonly number[]): void {
    for (let i = 0; i < x.length; i++) y[i] = this.f(x[i]);
  }

  /** dx from dy and the kept values; elementwise dy * f' unless a subclass says otherwise. */
  protected gradient(dy: FloatArray, kept: FloatArray, dx: FloatArray, _shape: readonly number[]): void {
    for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * this.df(kept[i]);
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return { type: this.type };
  }


  /** Inference: the output for x, keeping nothing for backward. */
  forward(x: Tensor): {
    /** The output. */
    output: Tensor;
  } {
    return { output: this.run(`${this.type}.forward`, x).y };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: ActivationCache;
  } {
    const { y, xs } = this.run(`${this.type}.forwardTrain`, x);
    return { output: y, cache: new ActivationCache(this, 0, this.keepsInput ? xs.slice() : y.data.slice(), y.shape) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: ActivationCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = `${this.type}.backward`;
    checkCache(where, cache, this, 0, ActivationCache);
    const dtype = dtypeOf(cache.kept);
    const dy = readDOutput(where, gradOutputs, cache.shape, dtype);
    const dx = allocate(dtype, dy.length);
    this.gradient(dy, cache.kept, dx, cache.shape);
    return { dX: new Tensor(dx, cache.shape), grads: {} };
  }

  private run(where: string, x: unknown): { y: Tensor; xs: FloatArray } {
    const dtype = x instanceof Tensor ? x.dtype : 'float32';
    const { shape, data } = checkTensorArg(where, 'x', x, dtype);
    checkFinite(where, 'x', data);
    const y = allocate(dtype, data.length);
    this.apply(data, y, shape);
    return { y: new Tensor(y, shape), xs: data };
  }
}

/** y = tanh(x) elementwise, any shape. */
export class Tanh extends Activation {
  readonly type = 'Tanh';
  protected keepsInput = false;
  protected f(x: number): number { return Math.tanh(x); }
  protected df(y: number): number { return 1 - y * y; }
}

/** y = 1 / (1 + exp(-x)) elementwise, any shape. */
export class Sigmoid extends Activation {
  readonly type = 'Sigmoid';
  protected keepsInput = false;
  // Split by sign so exp never overflows.
  protected f(x: number): number { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }
  protected df(y: number): number { return y * (1 - y); }
}

/** y = max(x, 0) elementwise, any shape (gradient 0 at x = 0, as PyTorch). */
export class ReLU extends Activation {
  readonly type = 'ReLU';
  protected keepsInput = true;
  protected f(x: number): number { return x > 0 ? x : 0; }
  protected df(x: number): number { return x > 0 ? 1 : 0; } // 0 at x = 0, as PyTorch
}

/** Softmax over the last axis: y_j = exp(x_j - max x) / sum_k exp(x_k - max x). */
export class Softmax extends Activation {
  readonly type = 'Softmax';
  protected keepsInput = false;
  protected f(x: number): number { return x; } // unused: apply and gradient work on rows
  protected df(): number { return 1; }

  protected override apply(x: FloatArray, y: FloatArray, shape: readonly number[]): void {
    const n = shape.length ? shape[shape.length - 1] : 1;
    for (let r = 0; r < x.length; r += n) {
      let m = -Infinity, sum = 0;
      for (let j = 0; j < n; j++) m = Math.max(m, x[r + j]);
      for (let j = 0; j < n; j++) sum += (y[r + j] = Math.exp(x[r + j] - m));
      for (let j = 0; j < n; j++) y[r + j] /= sum;
    }
  }

  /** dx_j = y_j (dy_j - sum_k dy_k y_k) for each row. */
  protected override gradient(dy: FloatArray, y: FloatArray, dx: FloatArray, shape: readonly number[]): void {
    const n = shape.length ? shape[shape.length - 1] : 1;
    for (let r = 0; r < dy.length; r += n) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += dy[r + j] * y[r + j];
      for (let j = 0; j < n; j++) dx[r + j] = y[r + j] * (dy[r + j] - dot);
    }
  }
}
