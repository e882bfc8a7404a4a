// loadTfjsModel: a TF.js Layers model (model.json + weight shards, as written by
// `model.save('file://...')`, `tf.io.withSaveHandler`, or the Keras -> TF.js converter) -> a
// Sequential of our layers (batch-first), which runs, trains, exports and serves like any other.
//
// Supported layers: InputLayer, Embedding (mask_zero false), LSTM, GRU, SimpleRNN,
// Bidirectional(LSTM|GRU|SimpleRNN) with merge_mode 'concat', Dense, TimeDistributed(Dense),
// Activation, Dropout (a Dropout layer: identity at inference, active in training),
// LayerNormalization over the last axis. Sequential models, and functional models that are
// a single chain. Keras layers are batch-first ([B, T, I]) and so are the recurrent layers built.
//
// Keras semantics that differ from ours, and what we do (never silently change the math):
//   - gate order i, f, c, o (LSTM) / z, r, h (GRU), kernel [I, G*H]: converted in
//     lib/interop/gates.ts, the one place gate orders live.
//   - activation / recurrent_activation become the layer's gate activations (LSTM [recurrent,
//     activation, activation], GRU [recurrent, activation], SimpleRNN [activation]; docs/equations.md,
//     "Gate activations"): sigmoid, tanh, relu, elu, softsign, softplus, linear (affine 1, 0) and
//     hard_sigmoid -- TF.js' and Keras 2's default, clip(0.2x + 0.5, 0, 1), computed as TF.js does
//     (multiply, then add); a Keras 3 model (modelTopology.keras_version 3.x) has Keras 3's
//     relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1). Any other activation is refused by name.
//   - GRU reset_after=true (Keras 2/3 default, bias [2, 3H]) is PyTorch's formula with separate
//     input/recurrent biases; reset_after=false (TF.js' only option, bias [3H]) is ONNX's
//     linear_before_reset=0. Without the key it is inferred from the bias shape.
//   - return_sequences false: the final state (both directions concatenated for Bidirectional).
//   - refused by name: return_state, go_backwards (outside Bidirectional), stateful, time_major,
//     mask_zero, merge modes other than concat, quantized weights, dtypes other than float32.
//   - dropout / recurrent_dropout only act in training, so they are ignored.
//
// All model building is in buildLayer() below (one place to reconcile with a future Sequential).

import { LITTLE_ENDIAN as LITTLE } from '../host';
import { fs, path } from '../io/node-fs';
import { BACKEND_NAMES_TEXT, isBackendName } from '../backend';
import type { BackendName, CellKind } from '../backend/types';
import { gateCount } from '../backend/types';
import { argRangeError, argTypeError, describe, formatShape, UnsupportedModelError } from '../errors';
import { Embedding } from '../nn/embedding';
import { GRU } from '../nn/gru';
import { Linear } from '../nn/linear';
import { LSTM } from '../nn/lstm';
import { readOptions } from '../nn/options';
import { Recurrent } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { ReLU, Sigmoid, Softmax, Tanh } from '../nn/activations';
import type { ActivationOption } from '../nn/gate-activations';
import { Dropout } from '../nn/dropout';
import { LayerNorm } from '../nn/layer-norm';
import { LastStep } from '../nn/last-step';
import type { Layer } from '../nn/layer';
import { Sequential } from '../nn/sequential';
import { directionStateDict, fromKerasWeights, transpose2d } from './gates';

/** Raw bytes: an ArrayBuffer, or a view of one (Uint8Array, Buffer). */
export type Bytes = ArrayBuffer | ArrayBufferView;

/** A TF.js layers model in memory: model.json and its weights. */
export interface TfjsModelSource {
  /** The parsed (or raw string) contents of model.json. */
  modelJson: unknown;
  /**
   * The weight data: one buffer holding every shard concatenated in manifest order, an array with
   * one buffer per shard path in manifest order, or an object keyed by shard path. Each shard path
   * may be listed once in the manifest, and each group's buffers must hold exactly its weights.
   */
  weights: Bytes | Bytes[] | Record<string, Bytes>;
}

/** How loadTfjsModel builds the model. */
export interface LoadTfjsOptions {
  /**
   * Backend of the recurrent layers.
   * @default the process default: 'native' when the addon loads, else 'ts'; see backend()
   */
  backend?: BackendName;
}

const WHERE = 'loadTfjsModel';

interface WeightEntry { name: string; shape: number[]; data: Float32Array }

type Config = Record<string, unknown>;

/** Load a TF.js Layers model from a directory / model.json path, or from its parts in memory. */
export function loadTfjsModel(source: string | TfjsModelSource, options?: LoadTfjsOptions): Sequential {
  const o = readOptions(WHERE, 'options', options, ['backend']);
  if (o.backend !== undefined && !isBackendName(o.backend)) throw argTypeError(WHERE, 'options.backend', BACKEND_NAMES_TEXT, o.backend);
  const backend = o.backend as BackendName | undefined;
  let modelJson: unknown, weights: unknown, dir: string | null = null;
  if (typeof source === 'string') ({ modelJson, dir } = readModelJson(source));
  else if (source !== null && typeof source === 'object' && 'modelJson' in source && 'weights' in source) ({ modelJson, weights } = source);
  else throw argTypeError(WHERE, 'source', 'a path to model.json (or its directory), or { modelJson, weights }', source);

  if (typeof modelJson === 'string') {
    try { modelJson = JSON.parse(modelJson); } catch (e) { throw new RangeError(`${WHERE}: modelJson: expected JSON, got a parse error: ${(e as Error).message}`); }
  }
  if (modelJson === null || typeof modelJson !== 'object') throw argTypeError(WHERE, 'modelJson', 'the object in model.json', modelJson);
  const mj = modelJson as Config;
  const groups = manifestGroups(mj.weightsManifest);
  const entries = decodeWeights(groups, dir === null ? weights : readShards(dir, groups));
  const layers = layerConfigs(mj.modelTopology);
  // Keras 3 redefined hard_sigmoid (see the top of this file); TF.js writes 'tfjs-layers x.y.z'.
  const kv = (mj.modelTopology as Config).keras_version;
  const keras3 = typeof kv === 'string' && /^(\d+)\./.test(kv) && Number(/^(\d+)\./.exec(kv)![1]) >= 3;
  const built: Layer[] = [];
  // The rank and features of the value between layers, once known: a LayerNormalization's axis
  // and (without gamma and beta) its size are read against them.
  const value: ValueShape = { rank: null, features: null };
  for (const l of layers) {
    const bis = l.config.batch_input_shape ?? l.config.batchInputShape;
    if (value.rank === null && Array.isArray(bis)) {
      value.rank = bis.length;
      const f = bis[bis.length - 1];
      value.features = typeof f === 'number' ? f : null;
    }
    const layer = buildLayer(l, entries, backend, value, keras3);
    for (const b of layer ?? []) {
      if (b instanceof Embedding) { value.rank = (value.rank ?? 2) + 1; value.features = b.embeddingDim; }
      else if (b instanceof LastStep) value.rank = 2;
      else if (b instanceof Recurrent) { value.rank = 3; value.features = b.numDirections * b.outSize; }
      else if (b instanceof Linear) value.features = b.outFeatures;
    }
    if (layer) built.push(...layer);
  }
  if (!built.length) throw new UnsupportedModelError(`${WHERE}: modelTopology: the model has no layers we can run`);
  return new Sequential(built);
}

/** The real path of `file`, which must lie inside the real directory `realDir` (symlinks resolved). */
function realInside(realDir: string, file: string, what: string): string {
  let real: string;
  try { real = fs.realpathSync(file); } catch (e) { throw new TypeError(`${WHERE}: ${what}: cannot read it (${(e as Error).message})`); }
  const rel = path.relative(realDir, real);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new TypeError(`${WHERE}: ${what}: expected a file inside the model directory ${realDir}, got a link to ${real}`);
  return real;
}

/**
 * model.json and the real model directory. A path to model.json is read as given (the caller named
 * it); model.json in a directory given must really be inside it, like the shards.
 */
function readModelJson(p: string): { modelJson: unknown; dir: string } {
  let jsonPath = p, isDir = false;
  try {
    isDir = fs.statSync(p).isDirectory();
    if (isDir) jsonPath = path.join(p, 'model.json');
  } catch (e) {
    throw argTypeError(WHERE, 'source', `an existing path (${(e as Error).message})`, p);
  }
  let dir: string;
  try { dir = fs.realpathSync(path.dirname(jsonPath)); } catch (e) { throw argTypeError(WHERE, 'source', `an existing path (${(e as Error).message})`, p); }
  const real = isDir ? realInside(dir, path.join(dir, 'model.json'), jsonPath) : jsonPath;
  let text: string;
  try { text = fs.readFileSync(real, 'utf8'); } catch (e) { throw argTypeError(WHERE, 'source', `a readable model.json (${(e as Error).message})`, jsonPath); }
  let modelJson: unknown;
  try { modelJson = JSON.parse(text); } catch (e) { throw new RangeError(`${WHERE}: ${jsonPath}: expected JSON, got a parse error: ${(e as Error).message}`); }
  return { modelJson, dir };
}

/**
 * The shards next to model.json, one buffer per manifest path: relative names only (no absolute
 * paths, '..' or URLs), each really inside the model directory once symlinks are resolved, and
 * each group's file sizes checked against its weights before anything is read.
 */
function readShards(dir: string, groups: Group[]): Uint8Array[] {
  const files = groups.map((g, gi) => {
    const real = g.paths.map((rel) => {
      if (!rel || path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..') || /^[a-z]+:/i.test(rel)) {
        throw argTypeError(WHERE, 'weightsManifest[].paths', 'file names relative to model.json (no absolute paths or ..)', rel);
      }
      return realInside(dir, path.join(dir, rel), `weight shard ${JSON.stringify(rel)}`);
    });
    const size = real.reduce((a, f, i) => {
      const st = fs.statSync(f);
      if (!st.isFile()) throw new TypeError(`${WHERE}: weight shard ${JSON.stringify(g.paths[i])}: expected a regular file`);
      return a + st.size;
    }, 0);
    if (size !== g.bytes) throw new RangeError(`${WHERE}: weightsManifest[${gi}]: its shards hold ${size} bytes but its weights need ${g.bytes}`);
    return real;
  });
  return files.flat().map((f, i) => {
    try { return fs.readFileSync(f); } catch (e) { throw new TypeError(`${WHERE}: weight shard ${JSON.stringify(groups.flatMap((g) => g.paths)[i])}: cannot read it (${(e as Error).message})`); }
  });
}

function asU8(b: unknown, what: string): Uint8Array {
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw argTypeError(WHERE, what, 'an ArrayBuffer, Buffer or typed array', b);
}

interface Group { paths: string[]; specs: { name: string; shape: number[]; bytes: number }[]; bytes: number }

/**
 * The weight manifest, every spec validated and sized before any weight byte is looked at: shard
 * paths and weight names must each be listed once (a repeated path would otherwise cost its
 * bytes again for every listing).
 */
function manifestGroups(manifest: unknown): Group[] {
  if (!Array.isArray(manifest)) throw argTypeError(WHERE, 'modelJson.weightsManifest', 'an array of weight groups', manifest);
  const paths = new Set<string>(), names = new Set<string>();
  return manifest.map((g, gi) => {
    const ps = (g as Config)?.paths, ws = (g as Config)?.weights;
    if (!Array.isArray(ps) || !ps.every((p) => typeof p === 'string')) throw argTypeError(WHERE, `weightsManifest[${gi}].paths`, 'an array of shard paths', ps);
    if (!Array.isArray(ws)) throw argTypeError(WHERE, `weightsManifest[${gi}].weights`, 'an array of weight specs', ws);
    for (const p of ps as string[]) {
      if (paths.has(p)) throw argTypeError(WHERE, `weightsManifest[${gi}].paths`, 'each shard path listed once', p);
      paths.add(p);
    }
    let bytes = 0;
    const specs = ws.map((s, si) => {
      const what = `weightsManifest[${gi}].weights[${si}]`;
      const n = specBytes(s, what);
      const name = (s as Config).name as string;
      if (names.has(name)) throw argTypeError(WHERE, `${what}.name`, 'each weight name listed once', name);
      names.add(name);
      bytes += n;
      if (!Number.isSafeInteger(bytes)) throw argRangeError(WHERE, `weightsManifest[${gi}].weights`, 'less than 2^53 bytes in all', `more by weight ${si}`);
      return { name, shape: ((s as Config).shape as number[]).slice(), bytes: n };
    });
    return { paths: ps as string[], specs, bytes };
  });
}

/**
 * Every weight of the manifest as float32. The bytes of each group (its shards, in order) are
 * checked against its weights' sizes before anything is allocated, and read in place: shards are
 * never concatenated.
 */
function decodeWeights(groups: Group[], weights: unknown): Map<string, WeightEntry> {
  const groupParts: Uint8Array[][] = [];
  if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) {
    // One buffer: all groups back to back; split by the manifest's own sizes.
    const all = asU8(weights, 'weights');
    const need = groups.reduce((a, g) => a + g.bytes, 0);
    if (need !== all.length) throw new RangeError(`${WHERE}: weights: expected ${need} bytes (the manifest's weights), got ${all.length}`);
    let off = 0;
    for (const g of groups) { groupParts.push([all.subarray(off, off + g.bytes)]); off += g.bytes; }
  } else if (Array.isArray(weights)) {
    const count = groups.reduce((a, g) => a + g.paths.length, 0);
    if (weights.length !== count) throw new RangeError(`${WHERE}: weights: expected ${count} shard buffers (one per manifest path), got ${weights.length}`);
    let k = 0;
    for (const g of groups) groupParts.push(g.paths.map(() => asU8(weights[k], `weights[${k++}]`)));
  } else {
    if (weights === null || typeof weights !== 'object') throw argTypeError(WHERE, 'weights', 'a buffer, an array of shard buffers or an object keyed by shard path', weights);
    groups.forEach((g, gi) => groupParts.push(g.paths.map((p) => {
      const b = Object.prototype.hasOwnProperty.call(weights, p) ? (weights as Record<string, unknown>)[p] : undefined;
      if (b === undefined) throw new TypeError(`${WHERE}: weights: missing the shard ${JSON.stringify(p)} of weightsManifest[${gi}]`);
      return asU8(b, `weights[${JSON.stringify(p)}]`);
    })));
  }
  groups.forEach((g, gi) => {
    const size = groupParts[gi].reduce((a, b) => a + b.length, 0);
    if (size !== g.bytes) throw new RangeError(`${WHERE}: weightsManifest[${gi}]: its shards hold ${size} bytes but its weights need ${g.bytes}`);
  });
  const out = new Map<string, WeightEntry>();
  groups.forEach((g, gi) => {
    const parts = groupParts[gi];
    let part = 0, off = 0;
    for (const spec of g.specs) {
      const data = new Float32Array(spec.bytes / 4), bytes = new Uint8Array(data.buffer);
      for (let done = 0; done < spec.bytes;) {
        while (off === parts[part].length) { part++; off = 0; }
        const take = Math.min(spec.bytes - done, parts[part].length - off);
        bytes.set(parts[part].subarray(off, off + take), done);
        done += take;
        off += take;
      }
      if (!LITTLE) {
        const view = new DataView(data.buffer);
        for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
      }
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) throw new RangeError(`${WHERE}: weight ${JSON.stringify(spec.name)}: expected finite values, got ${data[i]} at flat index ${i}`);
      }
      out.set(spec.name, { name: spec.name, shape: spec.shape, data });
    }
  });
  return out;
}

/** Byte size of one weight spec (float32 only), validating the spec itself. */
function specBytes(s: unknown, what: string): number {
  if (s === null || typeof s !== 'object') throw argTypeError(WHERE, what, 'a weight spec { name, shape, dtype }', s);
  const spec = s as Config;
  if (typeof spec.name !== 'string') throw argTypeError(WHERE, `${what}.name`, 'a string', spec.name);
  if (spec.quantization !== undefined && spec.quantization !== null) throw new UnsupportedModelError(`${WHERE}: weight ${JSON.stringify(spec.name)}: quantized weights are not supported (convert without quantization)`);
  if (spec.dtype !== 'float32') throw new UnsupportedModelError(`${WHERE}: weight ${JSON.stringify(spec.name)}: dtype: expected 'float32', got ${describe(spec.dtype)}`);
  const shape = spec.shape;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    throw argTypeError(WHERE, `${what}.shape`, 'an array of non-negative integers', shape);
  }
  const n = (shape as number[]).reduce((a, b) => a * b, 1) * 4;
  if (!Number.isSafeInteger(n)) throw argRangeError(WHERE, `${what}.shape`, 'a size below 2^53 bytes', formatShape(shape as number[]));
  return n;
}

/** The ordered layer configs of a Sequential model or a single-chain functional model. */
function layerConfigs(topology: unknown): { className: string; config: Config }[] {
  let t = topology as Config;
  if (t === null || typeof t !== 'object') throw argTypeError(WHERE, 'modelJson.modelTopology', 'a Keras model topology', topology);
  if (t.model_config) t = t.model_config as Config; // the Keras converter's wrapper
  const cls = t.class_name;
  const cfg = t.config as Config | Config[];
  const item = (l: unknown, i: number) => {
    const c = l as Config;
    if (c === null || typeof c !== 'object' || typeof c.class_name !== 'string' || c.config === null || typeof c.config !== 'object') {
      throw argTypeError(WHERE, `modelTopology layers[${i}]`, '{ class_name, config }', l);
    }
    return { className: c.class_name, config: c.config as Config, raw: c };
  };
  if (cls === 'Sequential') {
    const list = Array.isArray(cfg) ? cfg : (cfg as Config)?.layers;
    if (!Array.isArray(list)) throw argTypeError(WHERE, 'modelTopology.config.layers', 'an array of layers', list);
    return list.map(item);
  }
  if (cls === 'Model' || cls === 'Functional') {
    const list = (cfg as Config)?.layers;
    if (!Array.isArray(list)) throw argTypeError(WHERE, 'modelTopology.config.layers', 'an array of layers', list);
    const items = list.map(item);
    // A single chain: every layer after the first is fed by exactly the layer before it.
    items.forEach((l, i) => {
      if (i === 0) return;
      const inbound = (l.raw.inbound_nodes ?? []) as unknown[];
      const prev = items[i - 1].config.name;
      const src = JSON.stringify(inbound);
      if (inbound.length !== 1 || !src.includes(JSON.stringify(prev)) || (src.match(/"[^"]+",\s*\d+,\s*\d+/g) ?? []).length > 1) {
        throw new UnsupportedModelError(`${WHERE}: modelTopology: layer ${JSON.stringify(l.config.name)} is not fed by exactly the layer before it; only single-chain functional models are supported`);
      }
    });
    return items;
  }
  throw new UnsupportedModelError(`${WHERE}: modelTopology.class_name: expected 'Sequential' or a functional 'Model', got ${describe(cls)}`);
}

function normAct(v: unknown): string {
  return typeof v === 'string' ? v.replace(/_/g, '').toLowerCase() : String(v);
}

/** Turn one Keras layer config into our layers (null: a layer that does nothing at inference). */
function buildLayer(l: { className: string; config: Config }, weights: Map<string, WeightEntry>, backend: BackendName | undefined, value: ValueShape, keras3: boolean): Layer[] | null {
  const c = l.config;
  const name = String(c.name);
  const where = `${WHERE}: ${l.className} layer ${JSON.stringify(name)}`;
  const pick = (leaf: string, sub = ''): WeightEntry => {
    const hits = [...weights.values()].filter((w) => w.name.startsWith(`${name}/`) && w.name.endsWith(`/${leaf}`) && (!sub || w.name.slice(name.length).includes(`/${sub}`)));
    if (hits.length !== 1) {
      throw new TypeError(`${where}: weights: expected one weight named ${name}/${sub ? `${sub}…/` : ''}${leaf}, found ${hits.length ? hits.map((h) => h.name).join(', ') : 'none'}`);
    }
    return hits[0];
  };
  switch (l.className) {
    case 'InputLayer':
    case 'SpatialDropout1D': // drops whole channels: nothing at inference; not reproduced in training
      return null;
    case 'Dropout': {
      const rate = c.rate ?? 0;
      if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new RangeError(`${where}: rate: expected a probability in [0, 1), got ${describe(rate)}`);
      return rate > 0 ? [new Dropout({ p: rate })] : null;
    }
    case 'Embedding': {
      if (c.mask_zero === true) throw new UnsupportedModelError(`${where}: mask_zero: masking is not supported (Keras would skip masked steps)`);
      const w = pick('embeddings');
      if (w.shape.length !== 2) throw new RangeError(`${where}: embeddings: expected shape [inputDim, outputDim], got ${formatShape(w.shape)}`);
      const e = new Embedding({ numEmbeddings: w.shape[0], embeddingDim: w.shape[1] });
      e.loadStateDict({ weight: { shape: w.shape, data: w.data } });
      return [e];
    }
    case 'Dense':
      return denseLayers(where, c, pick);
    case 'TimeDistributed': {
      const inner = c.layer as Config;
      if (inner?.class_name !== 'Dense') throw new UnsupportedModelError(`${where}: only TimeDistributed(Dense) is supported, got TimeDistributed(${describe(inner?.class_name)})`);
      return denseLayers(where, inner.config as Config, pick);
    }
    case 'Activation':
      return activationLayers(where, c.activation);
    case 'LayerNormalization':
      return [layerNorm(where, c, value, pick)];
    case 'LSTM':
    case 'GRU':
    case 'SimpleRNN': {
      checkRecurrentConfig(where, l.className, c, false);
      const acts = kerasActivations(where, l.className, c, keras3);
      const dirs = [kerasDirection(where, l.className, c, (leaf) => pick(leaf))];
      return recurrentLayers(recurrentModule(l.className, c, dirs, backend, acts), c.return_sequences === true);
    }
    case 'Bidirectional': {
      const mode = c.merge_mode ?? 'concat';
      if (mode !== 'concat') throw new UnsupportedModelError(`${where}: merge_mode: only 'concat' is supported, got ${describe(mode)}`);
      const inner = c.layer as Config;
      const cls = inner?.class_name;
      if (cls !== 'LSTM' && cls !== 'GRU' && cls !== 'SimpleRNN') throw new UnsupportedModelError(`${where}: layer: expected LSTM, GRU or SimpleRNN inside Bidirectional, got ${describe(cls)}`);
      const ic = inner.config as Config;
      checkRecurrentConfig(where, cls, ic, true);
      const acts = kerasActivations(where, cls, ic, keras3);
      const back = c.backward_layer as Config | undefined;
      if (back && typeof back === 'object' && back.config) {
        checkRecurrentConfig(where, cls, { ...(back.config as Config), go_backwards: false }, true);
        // One layer has one set of gate activations: both directions must agree.
        if (JSON.stringify(kerasActivations(where, cls, back.config as Config, keras3)) !== JSON.stringify(acts)) {
          throw new UnsupportedModelError(`${where}: backward_layer: its activation / recurrent_activation differ from the forward layer's; a bidirectional layer here has one set of gate activations`);
        }
      }
      const dirs = ['forward', 'backward'].map((sub) => kerasDirection(where, cls, ic, (leaf) => pick(leaf, sub)));
      return recurrentLayers(recurrentModule(cls, ic, dirs, backend, acts, true), ic.return_sequences === true);
    }
    default:
      throw new UnsupportedModelError(`${where}: layer class ${JSON.stringify(l.className)} is not supported (supported: InputLayer, Embedding, LSTM, GRU, SimpleRNN, Bidirectional, Dense, TimeDistributed(Dense), Activation, Dropout, LayerNormalization)`);
  }
}

/**
 * A batch-first recurrent layer as Keras runs it: the whole output sequence [B, T, D*H], or with
 * return_sequences=False the final state of each direction [B, D*H] (the forward one at the last
 * step, the reverse one at t = 0, where it ends).
 */
function recurrentLayers(module: Recurrent, returnSequences: boolean): Layer[] {
  return returnSequences ? [module] : [module, new LastStep({ batchFirst: true, finalStates: module.numDirections === 2 })];
}

/**
 * Keras LayerNormalization over the last axis -> our LayerNorm (gamma = weight, beta = bias). A
 * saved TF.js layer names its axis as a positive index ([2] for [B, T, F]), so the input's rank
 * must be known. center without scale is a weight of ones beside the bias (exact: x̂ · 1 = x̂);
 * neither takes its size from the layer before it.
 */
function layerNorm(where: string, c: Config, { rank, features }: ValueShape, pick: (leaf: string) => WeightEntry): Layer {
  const axes = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
  if (axes.length !== 1 || !(axes[0] === -1 || (rank !== null && axes[0] === rank - 1))) {
    throw new UnsupportedModelError(`${where}: axis: only the last axis is supported, got ${JSON.stringify(c.axis)}${rank === null ? ' (the input rank is unknown: no batch_input_shape)' : ` for a rank-${rank} input`}`);
  }
  const scale = c.scale !== false, center = c.center !== false;
  const gamma = scale ? pick('gamma') : null, beta = center ? pick('beta') : null;
  const eps0 = c.epsilon ?? 1e-3;
  if (!gamma && !beta) {
    if (features === null) throw new UnsupportedModelError(`${where}: center and scale both false, and the size of its input is unknown (no batch_input_shape)`);
    if (typeof eps0 !== 'number' || !(eps0 > 0) || !Number.isFinite(eps0)) throw new RangeError(`${where}: epsilon: expected a positive finite number, got ${describe(eps0)}`);
    return new LayerNorm({ normalizedShape: features, eps: eps0, elementwiseAffine: false });
  }
  const D = (gamma ?? beta)!.shape[0];
  for (const w of [gamma, beta]) if (w && (w.shape.length !== 1 || w.shape[0] !== D)) throw new RangeError(`${where}: ${w.name}: expected shape [${D}], got ${formatShape(w.shape)}`);
  const eps = c.epsilon ?? 1e-3;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new RangeError(`${where}: epsilon: expected a positive finite number, got ${describe(eps)}`);
  const ln = new LayerNorm({ normalizedShape: D, eps, bias: center });
  const sd: Record<string, { shape: number[]; data: Float32Array }> = { weight: { shape: [D], data: gamma ? gamma.data : new Float32Array(D).fill(1) } };
  if (beta) sd.bias = { shape: [D], data: beta.data };
  ln.loadStateDict(sd);
  return ln;
}

interface ValueShape { rank: number | null; features: number | null }

function activationLayers(where: string, act: unknown): Layer[] {
  const a = normAct(act ?? 'linear');
  if (a === 'linear') return [];
  if (a === 'relu') return [new ReLU()];
  if (a === 'sigmoid') return [new Sigmoid()];
  if (a === 'tanh') return [new Tanh()];
  if (a === 'softmax') return [new Softmax()];
  throw new UnsupportedModelError(`${where}: activation: ${describe(act)} is not supported (linear, relu, sigmoid, tanh, softmax)`);
}

function denseLayers(where: string, c: Config, pick: (leaf: string) => WeightEntry): Layer[] {
  const k = pick('kernel');
  if (k.shape.length !== 2) throw new RangeError(`${where}: kernel: expected shape [in, units], got ${formatShape(k.shape)}`);
  const [I, O] = k.shape;
  if (c.units !== undefined && c.units !== O) throw new RangeError(`${where}: kernel: expected ${describe(c.units)} units (config), got shape ${formatShape(k.shape)}`);
  const useBias = c.use_bias !== false;
  const lin = new Linear({ inFeatures: I, outFeatures: O, bias: useBias });
  const sd: Record<string, { shape: number[]; data: Float32Array }> = { weight: { shape: [O, I], data: transpose2d(k.data, I, O) } };
  if (useBias) {
    const b = pick('bias');
    if (b.shape.length !== 1 || b.shape[0] !== O) throw new RangeError(`${where}: bias: expected shape [${O}], got ${formatShape(b.shape)}`);
    sd.bias = { shape: [O], data: b.data };
  }
  lin.loadStateDict(sd);
  return [lin, ...activationLayers(where, c.activation)];
}

/** Refuse every Keras recurrent option whose semantics we would otherwise change. */
function checkRecurrentConfig(where: string, cls: string, c: Config, insideBidirectional: boolean): void {
  const refuse = (key: string, why: string) => { throw new UnsupportedModelError(`${where}: ${key}: ${why}`); };
  if (cls !== 'SimpleRNN' && (c.recurrent_activation === undefined || c.recurrent_activation === null)) {
    refuse('recurrent_activation', "missing from the config; its default differs between TF.js/Keras versions ('hard_sigmoid' or 'sigmoid'), so it must be stated");
  }
  if (c.return_state === true) refuse('return_state', 'returning states as extra outputs is not supported');
  if (c.go_backwards === true && !insideBidirectional) refuse('go_backwards', 'a lone backwards layer (Keras also reverses its outputs) is not supported; use Bidirectional');
  if (c.stateful === true) refuse('stateful', 'stateful layers are not supported; use step() on the recurrent layer to carry state');
  if (c.time_major === true) refuse('time_major', 'time-major Keras layers are not supported');
}

/** A Keras activation name -> a gate activation (TF.js' definitions; null: none we have). */
function kerasActivation(v: unknown, keras3: boolean): ActivationOption | null {
  switch (normAct(v)) {
    case 'sigmoid': return 'sigmoid';
    case 'tanh': return 'tanh';
    case 'relu': return 'relu';
    case 'elu': return 'elu'; // alpha 1, as Keras' activation 'elu'
    case 'softsign': return 'softsign';
    case 'softplus': return 'softplus';
    case 'linear': return { name: 'affine', alpha: 1, beta: 0 };
    case 'hardsigmoid': return keras3 ? { name: 'hardSigmoid', alpha: 1 / 6, beta: 0.5 } : 'hardSigmoid'; // TF.js / Keras 2: 0.2, 0.5
    default: return null;
  }
}

/** The layer's gate activations in ONNX's slots, from Keras' activation and recurrent_activation. */
function kerasActivations(where: string, cls: string, c: Config, keras3: boolean): ActivationOption[] {
  const supported = "(supported: 'sigmoid', 'tanh', 'relu', 'elu', 'softsign', 'softplus', 'linear', 'hard_sigmoid')";
  const a = kerasActivation(c.activation ?? 'tanh', keras3);
  if (a === null) throw new UnsupportedModelError(`${where}: activation: ${describe(c.activation)} is not supported ${supported}`);
  if (cls === 'SimpleRNN') return [a];
  const r = kerasActivation(c.recurrent_activation, keras3);
  if (r === null) throw new UnsupportedModelError(`${where}: recurrent_activation: ${describe(c.recurrent_activation)} is not supported ${supported}`);
  return cls === 'LSTM' ? [r, a, a] : [r, a];
}

/** One Keras direction's weights -> ours, checking shapes against units. */
function kerasDirection(where: string, cls: string, c: Config, pick: (leaf: string) => WeightEntry) {
  const kind: CellKind = cls === 'LSTM' ? 'lstm' : cls === 'GRU' ? 'gru' : 'rnn_tanh';
  const G = gateCount(kind);
  const k = pick('kernel'), rk = pick('recurrent_kernel');
  if (k.shape.length !== 2) throw new RangeError(`${where}: kernel: expected shape [I, ${G}*units], got ${formatShape(k.shape)}`);
  const I = k.shape[0], H = k.shape[1] / G;
  if (!Number.isInteger(H) || H < 1 || (c.units !== undefined && c.units !== H)) {
    throw new RangeError(`${where}: kernel: expected shape [I, ${G}*${describe(c.units)}], got ${formatShape(k.shape)}`);
  }
  if (rk.shape.length !== 2 || rk.shape[0] !== H || rk.shape[1] !== G * H) throw new RangeError(`${where}: recurrent_kernel: expected shape [${H}, ${G * H}], got ${formatShape(rk.shape)}`);
  let bias: Float32Array | null = null, resetAfter = false;
  if (c.use_bias !== false) {
    const b = pick('bias');
    const twoRows = b.shape.length === 2 && b.shape[0] === 2 && b.shape[1] === G * H;
    if (cls === 'GRU') {
      resetAfter = c.reset_after === undefined || c.reset_after === null ? twoRows : c.reset_after === true;
      const want = resetAfter ? [2, G * H] : [G * H];
      if (b.shape.length !== want.length || b.shape.some((d, i) => d !== want[i])) throw new RangeError(`${where}: bias: expected shape ${formatShape(want)} (reset_after=${resetAfter}), got ${formatShape(b.shape)}`);
    } else if (b.shape.length !== 1 || b.shape[0] !== G * H) {
      throw new RangeError(`${where}: bias: expected shape [${G * H}], got ${formatShape(b.shape)}`);
    }
    bias = b.data;
  } else if (cls === 'GRU') {
    resetAfter = c.reset_after === true;
  }
  return { w: fromKerasWeights(kind, k.data, rk.data, bias, I, H), I, H, kind, resetAfter };
}

function recurrentModule(cls: string, c: Config, dirs: ReturnType<typeof kerasDirection>[], backend: BackendName | undefined, activations: ActivationOption[], bidirectional = false): Recurrent {
  const { I, H, kind, resetAfter } = dirs[0];
  if (dirs.some((d) => d.I !== I || d.H !== H)) throw new RangeError(`${WHERE}: Bidirectional: forward and backward layers differ in shape`);
  const common = { inputSize: I, hiddenSize: H, batchFirst: true, bidirectional, bias: c.use_bias !== false, seed: 0, backend, activations };
  const m: Recurrent = cls === 'LSTM' ? new LSTM(common)
    : cls === 'GRU' ? new GRU({ ...common, linearBeforeReset: resetAfter })
      : new RNN(common);
  const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
  dirs.forEach((d, i) => directionStateDict(d.w, `_l0${i === 1 ? '_reverse' : ''}`, sd, gateCount(kind) * H, I, H));
  m.loadStateDict(sd);
  return m;
}
