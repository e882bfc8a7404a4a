// load: a model file (lib/io/model-file.ts) or a Trainer checkpoint (lib/train/checkpoint.ts) ->
// the model, rebuilt from the config in its metadata with its weights loaded. The file may be
// untrusted: the config's layer types come from a fixed registry and its options are checked by
// the constructors, and the parameter values it implies must equal the values the file holds
// before any layer is built, so memory stays proportional to the file (docs/security.md#safe-from-untrusted-sources).

import type { BackendName } from '../backend/types';
import { BACKEND_NAMES_TEXT, isBackendName } from '../backend';
import { argTypeError, UnsupportedModelError } from '../errors';
import { modelFromConfig, parameterCount } from '../nn/from-config';
import { readOptions } from '../nn/options';
import { Recurrent } from '../nn/recurrent';
import { Sequential } from '../nn/sequential';
import type { Tensor } from '../tensor';
import { fileCall } from './file-call';
import { MODEL_FORMAT, MODEL_VERSION } from './model-file';
import { decodeSafetensors, readSafetensors, SafetensorsError, toTensors, type SafetensorsFile } from './safetensors';

import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from '../train/checkpoint'; // its weights are `model.*`

/** What a model file holds: a Sequential, or a lone recurrent layer (LSTM, GRU, RNN). */
export type Model = Sequential | Recurrent;

/**
 * A model from a file path or the file's bytes; recurrent layers on `backend` (default: the
 * default backend). Narrow with `instanceof Sequential` where a Sequential's own methods are needed;
 * forward, forwardAsync, predict, save, createBatcher, createSession and toOnnx take either.
 */
export function load(source: string | Uint8Array, options?: { backend?: BackendName }): Model {
  const where = 'load';
  const o = readOptions(where, 'options', options, ['backend']);
  if (o.backend !== undefined && !isBackendName(o.backend)) throw argTypeError(where, 'options.backend', BACKEND_NAMES_TEXT, o.backend);
  let f: SafetensorsFile, src: string;
  if (typeof source === 'string') {
    src = source;
    f = fileCall(where, source, () => readSafetensors(source));
  } else if (source instanceof Uint8Array) {
    src = 'model bytes';
    f = decodeSafetensors(source, { source: `${where}: ${src}` });
  } else {
    throw argTypeError(where, 'source', 'a file path or the bytes of a model file (Uint8Array)', source);
  }
  const fail = (msg: string): never => { throw new SafetensorsError(`${where}: ${src}: ${msg}`); };
  const md = f.metadata;
  const checkpoint = md.format === CHECKPOINT_FORMAT;
  if (md.format !== MODEL_FORMAT && !checkpoint) fail(`not a cellstate model or checkpoint (metadata format is ${JSON.stringify(md.format)}, expected "${MODEL_FORMAT}")`);
  const kindName = checkpoint ? 'checkpoint' : 'model', readsVersion = String(checkpoint ? CHECKPOINT_VERSION : MODEL_VERSION);
  if (md.format_version === undefined) fail(`${kindName} metadata has no 'format_version' (this library reads ${readsVersion})`);
  if (md.format_version !== readsVersion) fail(`${kindName} format version ${JSON.stringify(md.format_version)} is not supported (this library reads ${readsVersion})`);
  let config: unknown;
  try { config = JSON.parse(md.config); } catch { fail("metadata 'config' is not valid JSON"); }
  if (config === null) fail('the checkpoint records no model config (it was saved from a model without config())');

  // A quantized model file (metadata precision 'bf16' | 'int8'): BF16 / I8 matrices and F32
  // `<name>.scale` tensors beside the F32 ones, checked by the model (lib/nn/quantize.ts).
  const precision = checkpoint ? undefined : md.precision;
  if (precision !== undefined && precision !== 'bf16' && precision !== 'int8') fail(`metadata 'precision' ${JSON.stringify(precision)} is not one this library reads ('bf16' or 'int8')`);
  if (precision !== undefined) {
    let values = 0;
    for (const [name, t] of f.tensors) if (!(name.endsWith('.scale') && t.dtype === 'F32')) values += t.shape.reduce((a, b) => a * b, 1);
    const implied = parameterCount(config);
    if (implied !== null && implied !== values) fail(`the config implies ${implied} parameter values, the file holds ${values}`);
    const model = modelFromConfig(where, config, o.backend as BackendName | undefined);
    if (!(model instanceof Sequential) && !(model instanceof Recurrent)) {
      throw new UnsupportedModelError(`${where}: ${src}: the config describes a ${model.constructor.name}, expected a Sequential or a recurrent layer (LSTM, GRU, RNN)`);
    }
    if (model.precision !== precision) fail(`metadata precision '${precision}' but the config's recurrent layers are '${model.precision}'`);
    model.loadFileTensors(`${where}: ${src}`, f.tensors);
    return model;
  }

  // The weights: every tensor of a model file; a checkpoint's `model.*` tensors without the prefix.
  const tensors = toTensors(f, `${where}: ${src}`);
  const weights = new Map<string, Tensor>();
  let values = 0;
  for (const [name, t] of tensors) {
    if (checkpoint && !name.startsWith('model.')) continue;
    weights.set(checkpoint ? name.slice(6) : name, t);
    values += t.size;
  }
  const implied = parameterCount(config);
  if (implied !== null && implied !== values) fail(`the config implies ${implied} parameter values, the file holds ${values}`);
  const model = modelFromConfig(where, config, o.backend as BackendName | undefined);
  // A lone layer of another kind (say a Linear) is no model a file holds: the registry built it, but refuse it.
  if (!(model instanceof Sequential) && !(model instanceof Recurrent)) {
    throw new UnsupportedModelError(`${where}: ${src}: the config describes a ${model.constructor.name}, expected a Sequential or a recurrent layer (LSTM, GRU, RNN)`);
  }
  try {
    model.loadStateDict(weights);
  } catch (e) {
    if (e instanceof Error) e.message = `${where}: ${src}: ${e.message}`;
    throw e;
  }
  return model;
}
