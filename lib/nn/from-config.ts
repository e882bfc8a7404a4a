// Rebuilding a model from its config (what `config()` returns and a model file or checkpoint
// records): one registry from a layer's `type` to its constructor. A config may come from an
// untrusted file: its type must be one of the registry's (a Map, so `__proto__` or `constructor`
// is just an unknown name), its options are checked by the constructors (unknown keys refused),
// and `parameterCount` says how many parameter values it implies before anything is allocated, so
// a small file cannot declare a model of gigabytes (the caller compares it with the file).

import type { BackendName } from '../backend/types';
import { argTypeError, UnsupportedModelError } from '../errors';
import { ReLU, Sigmoid, Softmax, Tanh } from './activations';
import { Dropout } from './dropout';
import { Embedding } from './embedding';
import { GRU } from './gru';
import { LastStep } from './last-step';
import { LayerNorm } from './layer-norm';
import type { Layer } from './layer';
import { Linear } from './linear';
import { LSTM } from './lstm';
import { LayerNormLSTM } from './lnlstm';
import { MAX_LAYERS } from './recurrent';
import { RNN } from './rnn';
import { gateCount } from '../backend/types';
import { gruCell } from './cell-kinds/gru';
import type { CellDescriptor } from './cell-kinds/kind';
import { lstmCell } from './cell-kinds/lstm';
import { lnLstmCell } from './cell-kinds/lnlstm';
import { rnnCell } from './cell-kinds/rnn';

const KINDS = new Map<string, CellDescriptor<unknown>>([['LSTM', lstmCell], ['GRU', gruCell], ['RNN', rnnCell], ['LayerNormLSTM', lnLstmCell]] as [string, CellDescriptor<unknown>][]);
import { Sequential } from './sequential';
import { readPrecision } from './quantize';
import type { Recurrent } from './recurrent';

type Options = Record<string, unknown>;
const RECURRENT = new Map<string, (o: Options) => Layer>([
  ['LSTM', (o) => new LSTM(o as never)], ['GRU', (o) => new GRU(o as never)], ['RNN', (o) => new RNN(o as never)],
  ['LayerNormLSTM', (o) => new LayerNormLSTM(o as never)],
]);
const PLAIN = new Map<string, (o: Options) => Layer>([
  ['Linear', (o) => new Linear(o as never)], ['Embedding', (o) => new Embedding(o as never)],
  ['Tanh', () => new Tanh()], ['Sigmoid', () => new Sigmoid()], ['ReLU', () => new ReLU()], ['Softmax', () => new Softmax()],
  ['Dropout', (o) => new Dropout(o as never)], ['LastStep', (o) => new LastStep(o as never)],
  ['LayerNorm', (o) => new LayerNorm(o as never)],
]);
const NO_OPTIONS = new Set(['Tanh', 'Sigmoid', 'ReLU', 'Softmax']);

function splitConfig(where: string, arg: string, config: unknown): { type: string; options: Options } {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw argTypeError(where, arg, 'a layer config { type, ...options }', config);
  const { type, ...options } = config as Options;
  if (typeof type !== 'string' || (!RECURRENT.has(type) && !PLAIN.has(type) && type !== 'Sequential')) {
    throw new UnsupportedModelError(`${where}: ${arg}.type: expected one of Sequential, ${[...RECURRENT.keys(), ...PLAIN.keys()].join(', ')}, got ${JSON.stringify(type)}`);
  }
  if (NO_OPTIONS.has(type) && Object.keys(options).length) throw argTypeError(where, arg, `no options for ${type}`, Object.keys(options).join(', '));
  return { type, options };
}

/** A model (a Sequential or one layer) from its config; recurrent layers on `backend`. */
export function modelFromConfig(where: string, config: unknown, backend?: BackendName): Layer | Sequential {
  const { type, options } = splitConfig(where, 'config', config);
  if (type !== 'Sequential') return layerFromConfig(where, 'config', type, options, backend);
  const { layers, names, ...rest } = options;
  if (!Array.isArray(layers) || layers.length === 0 || layers.length > MAX_LAYERS || Object.keys(rest).length !== 0) {
    throw argTypeError(where, 'config', `a Sequential config { type, layers: [1..${MAX_LAYERS} layer configs], names? }`, config);
  }
  if (names !== undefined && (!Array.isArray(names) || names.length !== layers.length || names.some((n) => typeof n !== 'string'))) {
    throw argTypeError(where, 'config.names', `${layers.length} layer names (strings)`, names);
  }
  const built = layers.map((c, i) => {
    const s = splitConfig(where, `config.layers[${i}]`, c);
    if (s.type === 'Sequential') throw new UnsupportedModelError(`${where}: config.layers[${i}]: a Sequential inside a Sequential is not supported`);
    return layerFromConfig(where, `config.layers[${i}]`, s.type, s.options, backend);
  });
  // Named layers as a Map (insertion order; a name such as `__proto__` is an ordinary key there).
  return new Sequential(names === undefined ? built : new Map((names as string[]).map((n, i) => [n, built[i]])));
}

function layerFromConfig(where: string, arg: string, type: string, options: Options, backend?: BackendName): Layer {
  try {
    const rec = RECURRENT.get(type);
    if (rec) {
      // A quantized layer (config.precision 'bf16' | 'int8'): built in fp32, then quantized; its
      // weights are the file's (Recurrent.loadFileTensors).
      const { precision, ...rest } = options;
      const layer = rec(backend ? { ...rest, backend } : rest);
      return precision === undefined ? layer : (layer as Recurrent).quantize(readPrecision(type, precision));
    }
    return PLAIN.get(type)!(options);
  } catch (e) {
    if (e instanceof Error) e.message = `${where}: ${arg}: ${e.message}`;
    throw e;
  }
}

const posInt = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null);

/**
 * The number of parameter values a config implies (exact for the layers of the registry), or null
 * when its sizes are not positive integers (then the constructors refuse it, naming the option,
 * before allocating anything).
 */
export function parameterCount(config: unknown): number | null {
  if (config === null || typeof config !== 'object') return null;
  const c = config as Options;
  if (c.type === 'Sequential') {
    if (!Array.isArray(c.layers)) return null;
    let n = 0;
    for (const l of c.layers) {
      const k = parameterCount(l);
      if (k === null) return null;
      n += k;
    }
    return n;
  }
  const kind = KINDS.get(c.type as string);
  if (kind) {
    // The kind's own descriptor says its gates, output size and extra parameters (one source).
    const I = posInt(c.inputSize), H = posInt(c.hiddenSize), L = c.numLayers === undefined ? 1 : posInt(c.numLayers);
    if (I === null || H === null || L === null) return null;
    let settings;
    try {
      settings = kind.read(c as Options);
      kind.validate(settings, H);
    } catch {
      return null; // the constructor names the bad option
    }
    const G = gateCount(kind.kind(settings)) * H, P = kind.outSize(settings, H), D = c.bidirectional === true ? 2 : 1;
    const extra = kind.extraParams(settings, H, P).reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
    let n = 0;
    for (let k = 0; k < L; k++) {
      const Ik = k === 0 ? I : D * P;
      n += D * (G * Ik + G * P + (c.bias === false ? 0 : 2 * G) + extra);
    }
    return n;
  }
  if (c.type === 'Linear') {
    const I = posInt(c.inFeatures), O = posInt(c.outFeatures);
    return I === null || O === null ? null : I * O + (c.bias === false ? 0 : O);
  }
  if (c.type === 'Embedding') {
    const N = posInt(c.numEmbeddings), E = posInt(c.embeddingDim);
    return N === null || E === null ? null : N * E;
  }
  if (c.type === 'LayerNorm') {
    const D = posInt(Array.isArray(c.normalizedShape) && c.normalizedShape.length === 1 ? c.normalizedShape[0] : c.normalizedShape);
    if (D === null) return null;
    return c.elementwiseAffine === false ? 0 : c.bias === false ? D : 2 * D;
  }
  return 0;
}
