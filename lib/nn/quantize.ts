// Low-precision inference models (docs/equations.md, "Low precision"): the model-side rules that
// quantize() and the model files share. Which parameters are quantized (the weight matrices
// W_ih, W_hh and W_hr of every layer-direction; biases and peepholes stay fp32), the quantization
// of one matrix with its checks, the refusal of training, and the checks of a quantized model's
// file tensors (untrusted input: every name, dtype, shape and value before anything is used).
//
// The numerics themselves (rne, bf16 rounding, int8 rows, the products) live in one place,
// lib/backend/ts/quant.ts, the reference every backend is checked against.

import type { Precision, QuantMatrix } from '../backend/types';
import { bf16IsFinite, quantizeBf16, quantizeInt8 } from '../backend/ts/quant';
import { argRangeError, argTypeError, describe, formatShape, QuantizedModelError } from '../errors';
import type { ParamSpec } from './params';

/** A tensor as a model file holds it (lib/io/safetensors.ts SafetensorsTensor, RawTensor). */
export interface FileEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array;
}

/** The largest K an int8 product may have: |acc| <= 127*127*K must fit an int32. */
export const MAX_INT8_K = 1 << 17;

/** The quantized parameters: weight_ih_l{k}, weight_hh_l{k}, weight_hr_l{k} (and their _reverse). */
export function isQuantizedName(name: string): boolean {
  return /^weight_(ih|hh|hr)_l\d+(_reverse)?$/.test(name);
}

/** 'bf16' or 'int8' (TypeError for a non-string, RangeError for another string). */
export function readPrecision(where: string, v: unknown): 'bf16' | 'int8' {
  if (typeof v !== 'string') throw argTypeError(where, 'precision', "'bf16' or 'int8'", v);
  if (v !== 'bf16' && v !== 'int8') throw argRangeError(where, 'precision', "'bf16' or 'int8'", describe(v));
  return v;
}

/** One fp32 matrix [rows, cols] in `precision`; refuses what the format cannot hold. */
export function quantizeMatrix(where: string, name: string, precision: 'bf16' | 'int8', w: ArrayLike<number>, rows: number, cols: number): QuantMatrix {
  if (precision === 'int8') {
    if (cols > MAX_INT8_K) throw argRangeError(where, name, `at most ${MAX_INT8_K} columns for int8 (the int32 accumulator's bound 127*127*K)`, formatShape([rows, cols]));
    return quantizeInt8(w, rows, cols);
  }
  const q = quantizeBf16(w, rows, cols);
  for (let i = 0; i < q.data.length; i++) {
    if (!bf16IsFinite(q.data[i])) throw argRangeError(where, name, 'weights whose bf16 rounding is finite (|w| below about 3.39e38)', `${describe(w[i])} at flat index ${i}`);
  }
  return q;
}

/** What training a quantized model throws: training stays fp32. */
export function quantizedTrainingError(where: string, precision: Precision, why: string): QuantizedModelError {
  return new QuantizedModelError(`${where}: this model is quantized (${precision}) by quantize() for inference only (${why}); training stays fp32: train the fp32 model, then call quantize() again (see docs/low-precision.md#what-a-quantized-model-refuses)`);
}

const isF32 = (e: FileEntry): e is FileEntry & { data: Float32Array } => e.dtype === 'F32' && e.data instanceof Float32Array;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Check a quantized layer's file tensors against its parameter specs: each matrix as BF16 (no
 * NaN/Inf pattern) or I8 (values in [-127, 127]) with, for int8, `<name>.scale` F32 [rows] of
 * finite positive scales; every other parameter F32 with finite values; no name missing or
 * unexpected. One error lists every problem (TypeError for names, RangeError otherwise).
 */
export function checkQuantizedEntries(
  where: string, precision: Exclude<Precision, 'fp32'>, specs: readonly ParamSpec[], entries: ReadonlyMap<string, FileEntry>,
): { quant: Map<string, QuantMatrix>; fp32: Map<string, Float32Array> } {
  const problems: string[] = [];
  const expected = new Set<string>();
  const quant = new Map<string, QuantMatrix>();
  const fp32 = new Map<string, Float32Array>();
  const missing: string[] = [];
  const want = precision === 'bf16' ? 'BF16' : 'I8';
  for (const s of specs) {
    expected.add(s.name);
    if (precision === 'int8' && isQuantizedName(s.name)) expected.add(`${s.name}.scale`);
    const e = entries.get(s.name);
    if (!e) { missing.push(s.name); continue; }
    if (!sameShape(e.shape, s.shape)) { problems.push(`${s.name}: expected shape ${formatShape(s.shape)}, got ${formatShape(e.shape)}`); continue; }
    if (!isQuantizedName(s.name)) {
      if (!isF32(e)) { problems.push(`${s.name}: expected dtype F32, got ${e.dtype}`); continue; }
      const bad = e.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) { problems.push(`${s.name}: expected finite numbers, got ${describe(e.data[bad])} at flat index ${bad}`); continue; }
      fp32.set(s.name, e.data);
      continue;
    }
    const [rows, cols] = s.shape;
    if (e.dtype !== want) { problems.push(`${s.name}: expected dtype ${want} (a ${precision} model), got ${e.dtype}`); continue; }
    if (precision === 'bf16') {
      const d = e.data as Uint16Array;
      const bad = d.findIndex((b) => !bf16IsFinite(b));
      if (bad >= 0) { problems.push(`${s.name}: expected finite bf16 values, got the ${(d[bad] & 0x7f) === 0 ? 'Infinity' : 'NaN'} pattern 0x${d[bad].toString(16)} at flat index ${bad}`); continue; }
      quant.set(s.name, { rows, cols, data: d, scale: null });
      continue;
    }
    const d = e.data as Int8Array;
    const bad = d.indexOf(-128);
    if (bad >= 0) { problems.push(`${s.name}: expected int8 values in [-127, 127], got -128 at flat index ${bad}`); continue; }
    const sn = `${s.name}.scale`;
    const sc = entries.get(sn);
    if (!sc) { missing.push(sn); continue; }
    if (!isF32(sc)) { problems.push(`${sn}: expected dtype F32, got ${sc.dtype}`); continue; }
    if (!sameShape(sc.shape, [rows])) { problems.push(`${sn}: expected shape ${formatShape([rows])} (one scale per row of ${s.name}), got ${formatShape(sc.shape)}`); continue; }
    const badS = sc.data.findIndex((v) => !(Number.isFinite(v) && v > 0));
    if (badS >= 0) { problems.push(`${sn}: expected finite positive scales, got ${describe(sc.data[badS])} at flat index ${badS}`); continue; }
    quant.set(s.name, { rows, cols, data: d, scale: sc.data });
  }
  const unexpected = [...entries.keys()].filter((n) => !expected.has(n));
  const names = [missing.length ? `missing: ${missing.join(', ')}` : '', unexpected.length ? `unexpected: ${unexpected.join(', ')}` : ''].filter(Boolean);
  if (names.length || problems.length) {
    const msg = `${where}: weights: ${[...names, ...problems].join('; ')}`;
    throw names.length ? new TypeError(msg) : new RangeError(msg);
  }
  return { quant, fp32 };
}
