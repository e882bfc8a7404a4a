// The parameter bookkeeping every non-recurrent layer shares: a ParamSet of PyTorch-named
// tensors and a version that each weight change bumps, so a cache from before the change is
// refused (checkCache). Recurrent layers keep their own (they also re-pack backend weights).
// ParameterFree is the same surface for layers without parameters (activations, Dropout, LastStep).

import type { Tensor } from '../tensor';
import type { Layer } from './layer';
import { loadNoParameters, type ParamSet, type StateDictInput } from './params';
import { describeLayer } from './summary';

export abstract class ParamModule {
  protected abstract readonly params: ParamSet;
  protected version = 0;
  protected abstract readonly moduleName: string;

  /** The live parameters (views of the layer's storage), in declaration order. */
  namedParameters(): [string, Tensor][] {
    return this.params.specs.map((s) => [s.name, this.params.tensor(s.name)]);
  }

  /** Apply in-place parameter changes (invalidates outstanding caches). */
  commitParameters(): this {
    this.version++;
    return this;
  }

  /**
   * @internal This layer with a copy of its weights as they are now, for a call that computes
   * later (a model's head runs after its recurrent layers, with the weights of the model's call).
   */
  frozen(): this {
    const c = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(c, this);
    (c as unknown as { params: ParamSet }).params = this.params.copy();
    return c;
  }

  /** Copies of every parameter keyed by its PyTorch name. */
  stateDict(): Record<string, Tensor> {
    return this.params.stateDict();
  }

  /** Its type and construction options. */
  toString(): string {
    return describeLayer(this as unknown as Layer);
  }

  /** Replace every parameter (all names required, none unknown, shapes checked). */
  loadStateDict(weights: StateDictInput): this {
    this.params.load(`${this.moduleName}.loadStateDict`, weights);
    this.version++;
    return this;
  }
}

export abstract class ParameterFree {
  protected abstract readonly moduleName: string;

  namedParameters(): [string, Tensor][] {
    return [];
  }

  commitParameters(): this {
    return this;
  }

  stateDict(): Record<string, Tensor> {
    return {};
  }

  /** An empty object or Map (or nothing): any name is unexpected. */
  loadStateDict(weights: StateDictInput): this {
    loadNoParameters(`${this.moduleName}.loadStateDict`, weights);
    return this;
  }

  /** Its type and construction options. */
  toString(): string {
    return describeLayer(this as unknown as Layer);
  }
}
