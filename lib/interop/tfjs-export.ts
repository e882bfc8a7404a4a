// toTfjs / encodeTfjs: an LSTM / GRU / RNN, or a Sequential chain of them with Embedding, Linear,
// activations, Dropout, LayerNorm and LastStep, -> a TF.js Layers model (model.json + weight shards) that
// `tf.loadLayersModel` loads and whose `predict` computes what our forward does. The inverse of
// loadTfjsModel (lib/interop/tfjs.ts), which reads every model written here back.
//
// Our layer            TF.js (Keras) layers
//   Embedding (first)    Embedding(input_dim, output_dim)              input ids [B, T]
//   LSTM/GRU/RNN         one LSTM / GRU / SimpleRNN per stacked layer (numLayers), each wrapped in
//                        Bidirectional(merge_mode 'concat') when bidirectional, return_sequences true;
//                        Dropout(rate) between stacked layers when dropout > 0 (PyTorch's placement)
//     + LastStep         return_sequences false on the last of them (a bidirectional layer's
//                        LastStep must take final states: finalStates true, Keras' semantics)
//   Linear               TimeDistributed(Dense) on a sequence, Dense after a LastStep
//   Tanh/Sigmoid/ReLU/Softmax   Activation;  Dropout   Dropout(rate)
//   LayerNorm            LayerNormalization(axis -1, epsilon = eps, scale/center = weight/bias)
//
// Weights: gate order and layouts convert in lib/interop/gates.ts. Keras has one bias per gate
// block on the input side: we write bias_ih + bias_hh (float32 sums), exact for LSTM, RNN and a
// GRU with linearBeforeReset false -- TF.js's GRU is reset_after=false only (tfjs-layers 4.22
// refuses reset_after=true), i.e. n = tanh(W_in x + U_n (r * h) + b), where b_hn can join b_in.
// The gate activations are written as activation / recurrent_activation (LSTM [f, g, h] needs g =
// h, Keras' one `activation`): sigmoid, tanh, relu, hard_sigmoid (alpha 0.2, beta 0.5 only), elu
// (alpha 1), softsign, softplus, linear (affine 1, 0); any other is refused, naming activations[k].
//
// Keras layers are batch-first: the TF.js model takes [B, T, I] (ids [B, T]) whatever our model's
// batchFirst, and has no `lengths` input (every sequence runs its full T). Written as float32: a
// float64 model is rounded. Refused with an UnsupportedModelError naming the layer and why:
// quantized models, projSize, peepholes, inputForget, clip, reverse, GRU linearBeforeReset true
// (PyTorch's default), a LastStep not directly after a recurrent layer, any option
// this exporter does not know.

import { fs, path } from '../io/node-fs';
import type { CellKind } from '../backend/types';
import { gateCount } from '../backend/types';
import { argRangeError, argTypeError, describe, UnsupportedModelError } from '../errors';
import { writeFileAtomic } from '../io/atomic-write';
import { fileCall } from '../io/file-call';
import { ReLU, Sigmoid, Softmax, Tanh } from '../nn/activations';
import type { GateActivation } from '../nn/gate-activations';
import { Dropout } from '../nn/dropout';
import { Embedding } from '../nn/embedding';
import { LayerNorm } from '../nn/layer-norm';
import { GRU } from '../nn/gru';
import { LastStep } from '../nn/last-step';
import type { Layer } from '../nn/layer';
import { Linear } from '../nn/linear';
import { LSTM } from '../nn/lstm';
import { readOptions } from '../nn/options';
import { Recurrent } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { Sequential } from '../nn/sequential';
import { describeLayer } from '../nn/summary';
import { toKerasWeights, transpose2d } from './gates';

/** One weight's entry in model.json's weightsManifest. */
export interface TfjsWeightSpec {
  /** The weight's TF.js name, e.g. 'lstm/lstm_cell/kernel'. */
  name: string;
  /** Its shape (Keras layout). */
  shape: number[];
  /** Always float32. */
  dtype: 'float32';
}

/** model.json as `model.save('file://...')` writes it. */
export interface TfjsModelJson {
  /** The TF.js format name. */
  format: 'layers-model';
  /** The writer: this library. */
  generatedBy: string;
  /** Not converted from Python Keras. */
  convertedBy: null;
  /** The Keras model config. */
  modelTopology: {
    /** Always a Sequential model. */
    class_name: 'Sequential';
    /** The model's name and its Keras layer configs. */
    config: {
      /** The model's name. */
      name: string;
      /** One Keras layer config per layer. */
      layers: unknown[];
    };
    /** The tfjs-layers dialect written. */
    keras_version: string;
    /** 'tensor_flow.js'. */
    backend: string;
  };
  /** The weight shards and the weights each holds, in order. */
  weightsManifest: {
    /** Shard file names. */
    paths: string[];
    /** The weights in these shards, in byte order. */
    weights: TfjsWeightSpec[];
  }[];
}

/**
 * The in-memory form: model.json's object and every weight shard concatenated in manifest order.
 * `loadTfjsModel({ modelJson, weights: weightData })` reads it; TF.js reads it with
 * `tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology,
 * weightSpecs: modelJson.weightsManifest[0].weights, weightData }))`.
 */
export interface TfjsArtifacts {
  /** model.json's object. */
  modelJson: TfjsModelJson;
  /** Every weight, float32 little-endian, in manifest order. */
  weightData: ArrayBuffer;
}

/** How toTfjs writes the weights. */
export interface ToTfjsOptions {
  /**
   * Bytes per weight shard file (as TF.js writes them).
   * @default 4194304 (4 MiB)
   */
  shardBytes?: number;
}

const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
// The model.json dialect written (and tested with @tensorflow/tfjs 4.22's loadLayersModel).
const KERAS_VERSION = 'tfjs-layers 4.22.0';

type Config = Record<string, unknown>;

/** The Keras layer list and weights under construction. */
class KerasBuilder {
  readonly layers: Config[] = [];
  readonly specs: TfjsWeightSpec[] = [];
  readonly data: Float32Array[] = [];
  private readonly names = new Set<string>();
  inputShape: (number | null)[] | null = null; // set on the first layer added

  /** A unique Keras layer name from our layer's name. */
  name(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_]/g, '_');
    let n = clean, k = 1;
    while (this.names.has(n)) n = `${clean}_${k++}`;
    this.names.add(n);
    return n;
  }
  layer(className: string, config: Config): void {
    if (this.inputShape) {
      config = { ...config, batch_input_shape: this.inputShape, dtype: 'float32' };
      this.inputShape = null;
    }
    this.layers.push({ class_name: className, config });
  }
  weight(name: string, shape: number[], data: Float32Array): void {
    this.specs.push({ name, shape, dtype: 'float32' });
    this.data.push(data);
  }
}

const WHERE = 'toTfjs';

/** Options of a recurrent layer's config() that TF.js can express (others are refused). */
const RECURRENT_KEYS = new Set(['type', 'inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'bidirectional', 'dtype', 'dropout', 'linearBeforeReset', 'nonlinearity', 'activations']);
const WHY: Record<string, string> = {
  projSize: 'TF.js LSTM has no projection (projSize)',
  peephole: 'TF.js LSTM has no peephole connections',
  inputForget: 'TF.js LSTM has no coupled input-forget gate (inputForget)',
  clip: 'TF.js recurrent layers do not clip gate pre-activations (clip)',
  reverse: 'a lone reversed layer (reverse: true) has no TF.js form (go_backwards also reverses the output); use bidirectional',
  precision: 'a quantized model (quantize()) cannot be exported: TF.js takes the fp32 model (see docs/low-precision.md#what-a-quantized-model-refuses)',
};

/** Refuse every option of a recurrent layer that TF.js cannot compute exactly. */
function checkRecurrent(where: string, l: Recurrent): CellKind {
  const kind = recurrentKind(where, l);
  kerasActivations(where, l, kind);
  return kind;
}

function recurrentKind(where: string, l: Recurrent): CellKind {
  if (l.precision !== 'fp32') throw new UnsupportedModelError(`${where}: ${WHY.precision}`);
  const cfg = l.config();
  for (const key of Object.keys(cfg)) {
    if (!RECURRENT_KEYS.has(key)) throw new UnsupportedModelError(`${where}: ${key}: ${WHY[key] ?? `the option ${key} = ${describe(cfg[key])} has no TF.js equivalent`}`);
  }
  if (l instanceof LSTM) return 'lstm';
  if (l instanceof GRU) {
    if (l.linearBeforeReset) {
      throw new UnsupportedModelError(`${where}: linearBeforeReset: TF.js's GRU applies the reset gate before the recurrent matmul (reset_after=false, `
        + "its only mode), PyTorch's default (linearBeforeReset true) after it; build the GRU with linearBeforeReset: false to export it (see docs/interop.md#tfjs-and-keras)");
    }
    return 'gru';
  }
  if (l instanceof RNN) return l.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh';
  throw new UnsupportedModelError(`${where}: ${describeLayer(l)}: only LSTM, GRU and RNN layers have a TF.js form`);
}

/** A gate activation's Keras / TF.js name, or null where TF.js has no exact form of it. */
function kerasActivationName(a: GateActivation): string | null {
  switch (a.name) {
    case 'sigmoid': case 'tanh': case 'relu': case 'softsign': case 'softplus': return a.name;
    case 'hardSigmoid': return a.alpha === 0.2 && a.beta === 0.5 ? 'hard_sigmoid' : null;
    case 'elu': return a.alpha === 1 ? 'elu' : null;
    case 'affine': return a.alpha === 1 && a.beta === 0 ? 'linear' : null;
    default: return null;
  }
}

/** activation / recurrent_activation of a layer's Keras config (refused where TF.js has no form). */
function kerasActivations(where: string, l: Recurrent, kind: CellKind): { activation: string; recurrent_activation?: string } {
  const acts = l.activations;
  const names = acts.map((a, k) => {
    const n = kerasActivationName(a);
    if (n === null) {
      throw new UnsupportedModelError(`${where}: activations[${k}]: ${JSON.stringify(a)} has no TF.js form (TF.js has sigmoid, tanh, relu, hard_sigmoid `
        + '(alpha 0.2, beta 0.5), elu (alpha 1), softsign, softplus, linear (affine 1, 0))');
    }
    return n;
  });
  if (kind === 'lstm') {
    if (names[1] !== names[2]) throw new UnsupportedModelError(`${where}: activations: Keras' LSTM has one activation for the candidate and the cell output; activations[1] (${names[1]}) and activations[2] (${names[2]}) differ`);
    return { activation: names[1], recurrent_activation: names[0] };
  }
  if (kind === 'gru') return { activation: names[1], recurrent_activation: names[0] };
  return { activation: names[0] };
}

/** The Keras layers of one recurrent layer: one per stacked layer, Bidirectional-wrapped if D = 2. */
function emitRecurrent(b: KerasBuilder, l: Recurrent, kind: CellKind, base: string, lastSequences: boolean): void {
  const H = l.hiddenSize, D = l.numDirections, L = l.numLayers, GH = gateCount(kind) * H;
  const cls = kind === 'lstm' ? 'LSTM' : kind === 'gru' ? 'GRU' : 'SimpleRNN';
  const sd = l.stateDict();
  const f32 = (n: string) => (sd[n].data instanceof Float32Array ? sd[n].data as Float32Array : Float32Array.from(sd[n].data));
  for (let k = 0; k < L; k++) {
    const I = k === 0 ? l.inputSize : D * H;
    const inner = b.name(L > 1 ? `${base}_l${k}` : base);
    const config: Config = {
      name: inner, trainable: true, units: H,
      ...kerasActivations(base, l, kind),
      use_bias: l.bias,
      return_sequences: k < L - 1 || lastSequences, return_state: false, go_backwards: false, stateful: false, unroll: false,
      dropout: 0, recurrent_dropout: 0,
    };
    if (kind === 'lstm') config.unit_forget_bias = false; // the bias is written, not initialised
    if (kind === 'gru') config.reset_after = false;
    const wrapper = D === 2 ? b.name(`bidirectional_${inner}`) : null;
    for (let d = 0; d < D; d++) {
      const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
      const w = toKerasWeights(kind, {
        weight_ih: f32(`weight_ih${s}`), weight_hh: f32(`weight_hh${s}`),
        bias_ih: l.bias ? f32(`bias_ih${s}`) : null, bias_hh: l.bias ? f32(`bias_hh${s}`) : null, peephole: null,
      }, I, H);
      const prefix = wrapper ? `${wrapper}/${d === 0 ? 'forward' : 'backward'}_${inner}` : inner;
      b.weight(`${prefix}/kernel`, [I, GH], w.kernel);
      b.weight(`${prefix}/recurrent_kernel`, [H, GH], w.recurrentKernel);
      if (w.bias) b.weight(`${prefix}/bias`, [GH], w.bias);
    }
    if (wrapper) b.layer('Bidirectional', { name: wrapper, trainable: true, merge_mode: 'concat', layer: { class_name: cls, config } });
    else b.layer(cls, config);
    if (k < L - 1 && l.dropout > 0) b.layer('Dropout', { name: b.name(`${base}_dropout_l${k}`), trainable: true, rate: l.dropout });
  }
}

/**
 * The chain's Keras layers and weights. Tracks the value between layers: whether it has a time
 * axis and its features F, so a layer that would not fit is reported here, not by TF.js.
 */
function buildChain(layers: readonly Layer[], names: readonly string[]): KerasBuilder {
  const b = new KerasBuilder();
  const first = layers[0];
  const hasRecurrent = layers.some((l) => l instanceof Recurrent);
  const at = (i: number) => `${WHERE}: model.layers[${i}] (${describeLayer(layers[i])})`;
  let time: boolean, F: number;
  if (first instanceof Embedding) {
    b.inputShape = [null, null];
    time = true; F = first.embeddingDim;
  } else if (first instanceof Recurrent) {
    b.inputShape = [null, null, first.inputSize];
    time = true; F = first.inputSize;
  } else if (first instanceof Linear) {
    time = hasRecurrent;
    b.inputShape = time ? [null, null, first.inFeatures] : [null, first.inFeatures];
    F = first.inFeatures;
  } else {
    throw new UnsupportedModelError(`${at(0)}: expected an Embedding, LSTM, GRU, RNN or Linear first (it fixes the input's shape)`);
  }
  const fits = (i: number, want: number) => {
    if (want !== F) throw argRangeError(WHERE, `model.layers[${i}]`, `a layer reading ${F} features (the layer before it writes ${F})`, `${describeLayer(layers[i])} reading ${want}`);
  };
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i], base = names[i];
    if (l instanceof Recurrent) {
      const kind = checkRecurrent(at(i), l);
      if (!time) throw new UnsupportedModelError(`${at(i)}: a recurrent layer after a LastStep has no sequence to read`);
      fits(i, l.inputSize);
      const next = layers[i + 1];
      const last = next instanceof LastStep;
      if (last) {
        if (l.numDirections === 2 && !next.finalStates) {
          throw new UnsupportedModelError(`${at(i + 1)}: after a bidirectional layer TF.js returns both directions' final states (return_sequences false); `
            + 'this LastStep takes the reverse direction at the last step instead: use LastStep({ finalStates: true })');
        }
        if (l.numDirections === 1 && next.finalStates) throw new UnsupportedModelError(`${at(i + 1)}: finalStates: true after a one-direction layer takes half its features at t = 0, which TF.js cannot express`);
      }
      emitRecurrent(b, l, kind, b.name(`${l instanceof LSTM ? 'lstm' : l instanceof GRU ? 'gru' : 'simple_rnn'}_${base}`), !last);
      F = l.numDirections * l.hiddenSize;
      if (last) { i++; time = false; }
    } else if (l instanceof Embedding) {
      if (i !== 0) throw new UnsupportedModelError(`${at(i)}: an Embedding must come first (it reads token ids)`);
      const name = b.name(`embedding_${base}`);
      b.layer('Embedding', { name, trainable: true, input_dim: l.numEmbeddings, output_dim: l.embeddingDim, mask_zero: false });
      b.weight(`${name}/embeddings`, [l.numEmbeddings, l.embeddingDim], Float32Array.from(l.stateDict().weight.data));
    } else if (l instanceof Linear) {
      fits(i, l.inFeatures);
      const sd = l.stateDict();
      const name = b.name(`${time ? 'time_distributed' : 'dense'}_${base}`);
      const dense: Config = { name: time ? `dense_${name}` : name, trainable: true, units: l.outFeatures, activation: 'linear', use_bias: l.bias };
      if (time) b.layer('TimeDistributed', { name, trainable: true, layer: { class_name: 'Dense', config: dense } });
      else b.layer('Dense', dense);
      b.weight(`${name}/kernel`, [l.inFeatures, l.outFeatures], transpose2d(sd.weight.data, l.outFeatures, l.inFeatures));
      if (l.bias) b.weight(`${name}/bias`, [l.outFeatures], Float32Array.from(sd.bias.data));
      F = l.outFeatures;
    } else if (l instanceof Tanh || l instanceof Sigmoid || l instanceof ReLU || l instanceof Softmax) {
      const act = l instanceof Tanh ? 'tanh' : l instanceof Sigmoid ? 'sigmoid' : l instanceof ReLU ? 'relu' : 'softmax';
      b.layer('Activation', { name: b.name(`activation_${base}`), trainable: true, activation: act });
    } else if (l instanceof LayerNorm) {
      // TF.js LayerNormalization: (x - mean) / sqrt(var + epsilon) * gamma + beta, biased variance, as ours.
      fits(i, l.normalizedShape);
      const name = b.name(`layer_normalization_${base}`), sd = l.stateDict();
      b.layer('LayerNormalization', { name, trainable: true, axis: -1, epsilon: l.eps, center: l.bias, scale: l.elementwiseAffine });
      if (l.elementwiseAffine) b.weight(`${name}/gamma`, [F], Float32Array.from(sd.weight.data));
      if (l.bias) b.weight(`${name}/beta`, [F], Float32Array.from(sd.bias.data));
    } else if (l instanceof Dropout) {
      b.layer('Dropout', { name: b.name(`dropout_${base}`), trainable: true, rate: l.p });
    } else if (l instanceof LastStep) {
      throw new UnsupportedModelError(`${at(i)}: TF.js expresses LastStep as return_sequences false on a recurrent layer, so it must directly follow one`);
    } else {
      throw new UnsupportedModelError(`${at(i)}: has no TF.js export (expected Embedding, LSTM, GRU, RNN, Linear, Tanh, Sigmoid, ReLU, Softmax, Dropout, LayerNorm or LastStep)`);
    }
  }
  return b;
}

function readShardBytes(options: unknown): number {
  const o = readOptions(WHERE, 'options', options, ['shardBytes']);
  if (o.shardBytes === undefined) return DEFAULT_SHARD_BYTES;
  const s = o.shardBytes;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1) throw argTypeError(WHERE, 'options.shardBytes', 'a positive integer number of bytes', s);
  return s;
}

/** The model as TF.js artifacts, with the shard file names of `shardBytes`-sized shards. */
function artifacts(model: unknown, shardBytes: number): TfjsArtifacts {
  if (!(model instanceof Recurrent) && !(model instanceof Sequential)) throw argTypeError(WHERE, 'model', 'an LSTM, GRU or RNN, or a Sequential of exportable layers', model);
  if (model.precision !== 'fp32') throw new UnsupportedModelError(`${WHERE}: model: ${WHY.precision}`);
  const b = model instanceof Sequential ? buildChain(model.layers, model.layerNames) : buildChain([model], ['0']);
  const total = b.data.reduce((a, d) => a + d.byteLength, 0);
  const weightData = new ArrayBuffer(total);
  const view = new DataView(weightData);
  let off = 0;
  for (const d of b.data) for (let j = 0; j < d.length; j++, off += 4) view.setFloat32(off, d[j], true); // little-endian on any host
  const n = Math.max(1, Math.ceil(total / shardBytes));
  const paths = Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
  return {
    modelJson: {
      format: 'layers-model', generatedBy: 'cellstate', convertedBy: null,
      modelTopology: { class_name: 'Sequential', config: { name: 'sequential', layers: b.layers }, keras_version: KERAS_VERSION, backend: 'tensor_flow.js' },
      weightsManifest: [{ paths, weights: b.specs }],
    },
    weightData,
  };
}

/**
 * The TF.js Layers model of `model` in memory: model.json's object and the weight bytes (see
 * TfjsArtifacts). Its manifest names the shards toTfjs would write with the same options.
 */
export function encodeTfjs(model: Recurrent | Sequential, options?: ToTfjsOptions): TfjsArtifacts {
  return artifacts(model, readShardBytes(options));
}

/**
 * Write `model` as a TF.js Layers model into the folder `dir` (created if missing): the weight
 * shards `group1-shard{i}of{n}.bin`, then model.json, each atomically. Load it in TF.js with
 * `tf.loadLayersModel('file://dir/model.json')` (tfjs-node) or over HTTP from a browser.
 */
export function toTfjs(model: Recurrent | Sequential, dir: string, options?: ToTfjsOptions): void {
  const shardBytes = readShardBytes(options);
  if (typeof dir !== 'string' || dir === '') throw argTypeError(WHERE, 'dir', 'a folder path', dir);
  const a = artifacts(model, shardBytes); // refusals before anything touches the disk
  fileCall(WHERE, dir, () => fs.mkdirSync(dir, { recursive: true }));
  const bytes = new Uint8Array(a.weightData);
  a.modelJson.weightsManifest[0].paths.forEach((p, i) => {
    const file = path.join(dir, p);
    fileCall(WHERE, file, () => writeFileAtomic(file, [bytes.subarray(i * shardBytes, Math.min(bytes.length, (i + 1) * shardBytes))]));
  });
  const json = path.join(dir, 'model.json');
  fileCall(WHERE, json, () => writeFileAtomic(json, [new TextEncoder().encode(JSON.stringify(a.modelJson))]));
}
