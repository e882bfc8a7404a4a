// Checkpoints: one safetensors file (lib/io/safetensors.ts) holding the model's weights, the
// optimizer's buffers, and in its string metadata the model config, the optimizer's kind,
// hyperparameters, step and learning rate, and the trainer's epoch, step and RNG state. The
// format is documented in docs/file-formats.md#checkpoints-version-1. Writes are atomic (temp file, fsync,
// rename); loading validates the file, then every name and shape against the model and
// optimizer, and changes nothing unless everything fits.

import { fileCall } from '../io/file-call';
import { argTypeError } from '../errors';
import { readSafetensors, SafetensorsError, toTensors, writeSafetensors } from '../io/safetensors';
import { isLayer, layerConfig, type Layer } from '../nn/layer';
import { nameRecord } from '../nn/options';
import { quantizedTrainingError } from '../nn/quantize';
import type { StateDictInput } from '../nn/params';
import type { RngState } from '../rng';
import type { Tensor } from '../tensor';
import type { Optimizer, OptimizerKind, OptimizerState } from './optim';

/** The `format` metadata value of a checkpoint file (docs/file-formats.md#checkpoint-metadata). */
export const CHECKPOINT_FORMAT = 'cellstate.checkpoint';
/** The checkpoint format version this library writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** A Trainer's own part of a checkpoint. */
export interface TrainerState {
  /** epochs completed */
  epoch: number;
  /** optimizer steps taken */
  step: number;
  /** the trainer's shuffling generator */
  rng: RngState;
}

/** What a checkpoint saves and restores: any layer, a Sequential, or a model with these methods. */
export interface CheckpointModel {
  /** Copies of the parameters by name. */
  stateDict(): Record<string, Tensor>;
  /** Replace the parameters by name. */
  loadStateDict(weights: StateDictInput): unknown;
}

/** A checkpoint as read from its file. */
export interface Checkpoint {
  /** The model's config (a layer's or Sequential's), or null for a model without one. */
  config: unknown;
  /** The model's parameters by name. */
  weights: Record<string, Tensor>;
  /** The optimizer's state, or null when none was saved. */
  optimizer: OptimizerState | null;
  /** The trainer's state, or null when none was saved. */
  trainer: TrainerState | null;
}

const MODEL = 'model.';
const OPTIM = 'optimizer.';

function configOf(model: CheckpointModel): unknown {
  const m = model as unknown as Layer;
  return isLayer(m) ? layerConfig(m) : null;
}

/**
 * Write the model's weights and config, and optionally the optimizer's state and the trainer's,
 * to one safetensors file, atomically. fp32 models only (a checkpoint resumes training).
 */
export function saveCheckpoint(file: string, parts: { model: CheckpointModel; optimizer?: Optimizer | null; trainer?: TrainerState | null }): void {
  if (typeof file !== 'string' || file.length === 0) throw argTypeError('saveCheckpoint', 'file', 'a file path', file);
  const precision = (parts.model as { precision?: unknown }).precision;
  if (precision === 'bf16' || precision === 'int8') throw quantizedTrainingError('saveCheckpoint', precision, 'a checkpoint resumes training; save the model with model.save()');
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of Object.entries(parts.model.stateDict())) tensors.set(MODEL + name, t);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    config: JSON.stringify(configOf(parts.model)),
  };
  if (parts.optimizer) {
    const s = parts.optimizer.stateDict();
    for (const [slot, byName] of Object.entries(s.slots)) for (const [name, t] of Object.entries(byName)) tensors.set(`${OPTIM}${slot}.${name}`, t);
    metadata.optimizer = JSON.stringify({ kind: s.kind, options: s.options, step: s.step, lr: s.lr, slots: Object.keys(s.slots) });
  }
  if (parts.trainer) metadata.trainer = JSON.stringify(parts.trainer);
  fileCall('saveCheckpoint', file, () => writeSafetensors(file, tensors, metadata));
}

/** Read and validate a checkpoint file without applying it. */
export function readCheckpoint(file: string): Checkpoint {
  const f = fileCall('readCheckpoint', file, () => readSafetensors(file));
  const fail = (msg: string): never => { throw new SafetensorsError(`${file}: ${msg}`); };
  const md = f.metadata;
  if (md.format !== CHECKPOINT_FORMAT) fail(`not a cellstate checkpoint (metadata format is ${JSON.stringify(md.format)}, expected "${CHECKPOINT_FORMAT}")`);
  if (md.format_version !== String(CHECKPOINT_VERSION)) fail(`checkpoint format version ${JSON.stringify(md.format_version)} is not supported (this library reads ${CHECKPOINT_VERSION})`);
  const parse = (key: string): unknown => {
    try { return JSON.parse(md[key]); } catch { return fail(`metadata '${key}' is not valid JSON`); }
  };
  const all = toTensors(f, file);
  const model: [string, Tensor][] = [], slotTensors: [string, string, Tensor][] = [];
  for (const [name, t] of all) {
    if (name.startsWith(MODEL)) model.push([name.slice(MODEL.length), t]);
    else if (name.startsWith(OPTIM) && name.indexOf('.', OPTIM.length) > OPTIM.length) {
      const dot = name.indexOf('.', OPTIM.length);
      slotTensors.push([name.slice(OPTIM.length, dot), name.slice(dot + 1), t]);
    } else fail(`tensor '${name}' is neither model.* nor optimizer.<slot>.*`);
  }
  // Every name the file gives becomes a key of a null-prototype record (never of a plain object),
  // and only after each one was checked against what the metadata declares.
  const weights = nameRecord(model);
  let optimizer: OptimizerState | null = null;
  if (md.optimizer !== undefined) {
    const o = parse('optimizer') as { kind?: unknown; options?: unknown; step?: unknown; lr?: unknown; slots?: unknown };
    if (!o || typeof o !== 'object' || typeof o.kind !== 'string' || !o.options || typeof o.options !== 'object' || Array.isArray(o.options) || !Array.isArray(o.slots) ||
      !o.slots.every((s) => typeof s === 'string' && /^[a-z_]+$/.test(s))) fail('metadata optimizer is malformed');
    const listed = new Set(o.slots as string[]);
    const unlisted = slotTensors.find(([slot]) => !listed.has(slot));
    if (unlisted) fail(`tensor 'optimizer.${unlisted[0]}.${unlisted[1]}' belongs to no optimizer slot listed in the metadata`);
    const slots = nameRecord([...listed].map((s) => [s, nameRecord(slotTensors.filter(([slot]) => slot === s).map(([, name, t]) => [name, t]))]));
    const options = nameRecord(Object.entries(o.options as Record<string, number | boolean>));
    optimizer = { kind: o.kind as OptimizerKind, options, step: o.step as number, lr: o.lr as number, slots };
  } else if (slotTensors.length) fail('optimizer tensors without optimizer metadata');
  let trainer: TrainerState | null = null;
  if (md.trainer !== undefined) {
    const t = parse('trainer') as Partial<TrainerState>;
    const okInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!t || typeof t !== 'object' || !okInt(t.epoch) || !okInt(t.step) || !Array.isArray(t.rng) || t.rng.length !== 4 ||
      !t.rng.every((w) => okInt(w) && (w as number) <= 0xffffffff)) fail('metadata trainer is malformed (epoch, step, rng)');
    trainer = { epoch: t.epoch!, step: t.step!, rng: t.rng as RngState };
  }
  return { config: parse('config'), weights, optimizer, trainer };
}

/**
 * Apply a checkpoint to a model (and optimizer): the saved config must equal the model's, every
 * weight name and shape must match. All-or-nothing. Returns what was read (e.g. trainer state).
 */
export function loadCheckpoint(file: string, parts: { model: CheckpointModel; optimizer?: Optimizer | null }): Checkpoint {
  const ck = fileCall('loadCheckpoint', file, () => readCheckpoint(file));
  const mine = configOf(parts.model);
  if (mine !== null && JSON.stringify(mine) !== JSON.stringify(ck.config)) {
    throw new TypeError(`loadCheckpoint: ${file}: model config: expected ${JSON.stringify(mine)}, got ${JSON.stringify(ck.config)}`);
  }
  if (parts.optimizer && !ck.optimizer) throw new TypeError(`loadCheckpoint: ${file}: optimizer: expected saved optimizer state, got none`);
  const before = parts.model.stateDict();
  parts.model.loadStateDict(ck.weights);
  if (parts.optimizer) {
    try {
      parts.optimizer.loadStateDict(ck.optimizer!);
    } catch (e) {
      parts.model.loadStateDict(before);
      throw e;
    }
  }
  return ck;
}
