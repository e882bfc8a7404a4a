// LayerStack: layers run one after another, forward only -- the container an imported TF.js /
// Keras model becomes (lib/interop/tfjs.ts). Also the two small adapters such a model needs:
//
//   RecurrentLayer  a recurrent layer (LSTM / GRU / RNN, batch-first) that returns either the
//                   whole output sequence [B, T, D*H] or, like Keras' return_sequences=false, the
//                   final state of its last layer with both directions concatenated [B, D*H]
//                   (for the reverse direction that is its state after t = 0, as in Keras)
//   Activation      an elementwise activation (relu, sigmoid, tanh) or softmax over the last axis
//
// Deliberately minimal: no training, no shape inference, no branching. The training toolkit's
// Sequential is expected to absorb this when branches merge; each layer keeps its PyTorch-named
// state dict so nothing about the weights changes.

import { argTypeError, describe } from '../errors';
import { allocate, Tensor } from '../tensor';
/** Token indices as the imported models take them: a Tensor of integral values. */
export type Indices = Tensor;
import type { Recurrent } from './recurrent';

/**
 * Anything with a forward from one tensor to one tensor (a Tensor, or `{ output }` as the
 * training toolkit's Linear and Embedding return).
 */
export interface Layer {
  forward(x: Tensor): Tensor | { output: Tensor };
}

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'softmax';
export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'sigmoid', 'tanh', 'softmax'];

export class Activation implements Layer {
  constructor(readonly fn: ActivationName) {
    if (!ACTIVATIONS.includes(fn)) throw argTypeError('Activation', 'fn', ACTIVATIONS.map((a) => `'${a}'`).join(', '), fn);
  }

  forward(x: Tensor): Tensor {
    const where = `Activation(${this.fn}).forward`;
    if (!(x instanceof Tensor)) throw argTypeError(where, 'x', 'a Tensor', x);
    const d = x.data, out = allocate(x.dtype, d.length);
    if (this.fn === 'softmax') {
      const n = x.shape[x.shape.length - 1] ?? 1;
      for (let r = 0; r < d.length; r += n) {
        let m = -Infinity, s = 0;
        for (let j = 0; j < n; j++) m = Math.max(m, d[r + j]);
        for (let j = 0; j < n; j++) s += (out[r + j] = Math.exp(d[r + j] - m));
        for (let j = 0; j < n; j++) out[r + j] /= s;
      }
    } else {
      const f = this.fn === 'relu' ? (v: number) => (v > 0 ? v : 0) : this.fn === 'tanh' ? Math.tanh : (v: number) => 1 / (1 + Math.exp(-v));
      for (let i = 0; i < d.length; i++) out[i] = f(d[i]);
    }
    return new Tensor(out, x.shape);
  }
}

export class RecurrentLayer implements Layer {
  constructor(readonly module: Recurrent, readonly returnSequences: boolean) {
    if (!module.batchFirst) throw argTypeError('RecurrentLayer', 'module', 'a batch-first recurrent layer', module);
  }

  /** x [B, T, I] -> [B, T, D*H] (returnSequences) or [B, D*H]. */
  forward(x: Tensor): Tensor {
    const r = this.module.forward(x);
    if (this.returnSequences) return r.output;
    const D = this.module.numDirections, B = r.hN.shape[1], P = r.hN.shape[2];
    const last = (this.module.numLayers - 1) * D; // hN index of the last layer's forward direction
    const out = allocate(r.hN.dtype, B * D * P);
    for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) {
      out.set(r.hN.data.subarray(((last + d) * B + b) * P, ((last + d) * B + b) * P + P), (b * D + d) * P);
    }
    return new Tensor(out, [B, D * P]);
  }
}

/** Layers run in order. `layers` is public so callers can reach each module's state dict. */
export class LayerStack implements Layer {
  readonly layers: readonly Layer[];

  constructor(layers: readonly Layer[]) {
    if (!Array.isArray(layers) || layers.some((l) => !l || typeof (l as Layer).forward !== 'function')) {
      throw argTypeError('LayerStack', 'layers', 'an array of layers (objects with forward)', layers);
    }
    this.layers = layers.slice();
  }

  forward(x: Tensor): Tensor {
    let y: Tensor = x;
    for (const l of this.layers) {
      const r = l.forward(y);
      y = r instanceof Tensor ? r : r.output;
    }
    if (!(y instanceof Tensor)) throw argTypeError('LayerStack.forward', 'x', `a Tensor (the stack has no layers), got ${describe(y)}`, y);
    return y;
  }
}
