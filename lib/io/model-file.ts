// Whole-model files: one safetensors file with the weights under the model's PyTorch-style names
// and, in its string metadata, `format: "cellstate.model"`, `format_version: "1"` and `config`
// (the model's config() as JSON: its architecture). `load` (lib/io/load-model.ts) rebuilds the
// model from that with no user code; safetensors.torch.load_file reads the weights as they are.
// Written atomically (lib/io/atomic-write.ts), like checkpoints (docs/file-formats.md#checkpoints-version-1).

import { argTypeError } from '../errors';
import type { LayerConfig } from '../nn/layer';
import type { Tensor } from '../tensor';
import { concatBytes } from '../host';
import { fileCall } from './file-call';
import { encodeSafetensors, writeSafetensors, type RawTensor } from './safetensors';

/** The `format` metadata value of a model file (saveModel / load). */
export const MODEL_FORMAT = 'cellstate.model';
export const MODEL_VERSION = 1;
// The recurrent types of nn/from-config.ts (not imported from there: that would be an import cycle).
const MODEL_TYPES = new Set(['Sequential', 'LSTM', 'GRU', 'RNN', 'LayerNormLSTM']);

/**
 * What a model file needs of a model. A quantized one (precision 'bf16' | 'int8') writes its
 * fileTensors(): the matrices as BF16 or I8, int8 scales as F32 `<name>.scale` [rows], the rest F32,
 * and `precision` in the metadata beside the config (whose recurrent layers say theirs).
 */
export interface SavableModel {
  /** Its type and construction options (a Sequential, LSTM, GRU or RNN). */
  config(): LayerConfig;
  /** Its parameters by name (fp32 models). */
  stateDict(): Record<string, Tensor>;
  /** 'fp32', 'bf16' or 'int8'. */
  readonly precision?: string;
  /** A quantized model's tensors as stored (BF16 / I8 matrices, F32 scales and the rest). */
  fileTensors?(): Map<string, Tensor | RawTensor>;
}

function parts(where: string, model: SavableModel): { tensors: Record<string, Tensor> | Map<string, Tensor | RawTensor>; metadata: Record<string, string> } {
  const what = 'a model: a Sequential, or a lone LSTM, GRU, RNN or LayerNormLSTM';
  if (!model || typeof model.config !== 'function' || typeof model.stateDict !== 'function') throw argTypeError(where, 'model', what, model);
  const config = model.config();
  // What `load` gives back is a model (a layer of another kind alone would be a model of no use): put it in a Sequential.
  if (!MODEL_TYPES.has(config.type)) throw argTypeError(where, 'model', `${what} (wrap a lone ${config.type} in a Sequential)`, model);
  const metadata: Record<string, string> = { format: MODEL_FORMAT, format_version: String(MODEL_VERSION), config: JSON.stringify(config) };
  const quantized = model.precision !== undefined && model.precision !== 'fp32' && typeof model.fileTensors === 'function';
  if (!quantized) return { tensors: model.stateDict(), metadata };
  metadata.precision = String(model.precision);
  return { tensors: model.fileTensors!(), metadata };
}

/** Write `model` to `file` (safetensors, atomically). */
export function saveModel(file: string, model: SavableModel): void {
  const { tensors, metadata } = parts('saveModel', model);
  fileCall('saveModel', file, () => writeSafetensors(file, tensors, metadata));
}

/** The bytes of a model file, for storing elsewhere than a file. */
export function encodeModel(model: SavableModel): Uint8Array {
  const { tensors, metadata } = parts('encodeModel', model);
  return concatBytes(encodeSafetensors(tensors, metadata));
}
