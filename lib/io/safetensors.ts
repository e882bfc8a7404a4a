// safetensors: a general reader and writer of the format (https://huggingface.co/docs/safetensors),
// model-agnostic so checkpoints and PyTorch state_dict interop share it.
//
// Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON header, then the data buffer.
// The header maps each tensor name to { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }
// (offsets relative to the data buffer, end exclusive) plus an optional "__metadata__" object of
// string -> string. Data is row-major little-endian. We write F32 and F64 Tensors and BF16 / I8
// raw tensors (quantized models; the header padded by spaces so the data starts 8-byte aligned, as
// the reference writer does) and read F32, F64, F16, BF16 and I8 into Float32Array, Float64Array,
// Uint16Array (f16 / bf16 bit patterns) and Int8Array; other dtypes are validated and returned as
// raw bytes. toTensors widens F16 / BF16 on request (a PyTorch .half() or bfloat16 state dict):
// exactly, since every finite half value is a float32 (and float64); NaN and ±Inf are refused.
//
// Reading is for untrusted files. Nothing is allocated from a size the header claims before that
// size is checked against the real file length, and the file is rejected (SafetensorsError naming
// the problem) unless: N fits the file and a cap; the header is valid UTF-8 JSON, an object; every
// entry has exactly dtype/shape/data_offsets with a known dtype, non-negative integer dims and
// offsets; each entry's byte size equals its element count times its dtype's size; and the
// entries tile the data buffer exactly (sorted by offset, no gap, no overlap, none past the end;
// this also catches duplicate names, which JSON.parse would otherwise merge silently). Names
// (tensor names, metadata keys) are keys of a Map or a null-prototype record only, so `__proto__`,
// `constructor` or `toString` are plain names.

import { fileCall } from './file-call';
import { LITTLE_ENDIAN as LITTLE } from '../host';
import { fs } from './node-fs';
import { argTypeError } from '../errors';
import { readEntries, nameRecord, readOptions } from '../nn/options';
import { checkTensorArg, readShape, Tensor } from '../tensor';
import { writeFileAtomic } from './atomic-write';

/** A safetensors (or checkpoint, model) file is malformed, truncated or not what was expected; the message says where. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const DTYPE_SIZE: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** Largest header we accept (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a decoded safetensors file. */
export interface SafetensorsTensor {
  /** The stored dtype, as the format names it: 'F32', 'F64', 'F16', 'BF16', 'I8', ... */
  dtype: string;
  /** Its shape. */
  shape: number[];
  /**
   * A fresh typed array: F32 Float32Array, F64 Float64Array, F16 and BF16 Uint16Array (bit
   * patterns), I8 Int8Array; any other dtype: the raw little-endian bytes (Uint8Array).
   */
  data: Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array;
}

/** A tensor written as stored rather than as a float Tensor: bf16 bit patterns or int8 values. */
export interface RawTensor {
  /** The stored dtype. */
  readonly dtype: 'BF16' | 'I8';
  /** Its shape. */
  readonly shape: readonly number[];
  /** BF16 bit patterns (Uint16Array) or int8 values (Int8Array), row-major. */
  readonly data: Uint16Array | Int8Array;
}

/**
 * A raw BF16 / I8 tensor (a quantized model's matrix) as a private snapshot, each field read once (a
 * getter or Proxy that throws is a TypeError naming the tensor; one that changes its answer cannot
 * make the header differ from the bytes written), or null when t is not one.
 */
function readRawTensor(where: string, name: string, t: unknown): RawTensor | null {
  if (!t || typeof t !== 'object' || t instanceof Tensor) return null;
  let dtype: unknown, data: unknown, shape: unknown;
  try {
    ({ dtype, data, shape } = t as Partial<RawTensor>);
  } catch (e) {
    throw argTypeError(where, `tensors['${name}']`, `a readable tensor (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  if (!((dtype === 'BF16' && data instanceof Uint16Array) || (dtype === 'I8' && data instanceof Int8Array))) return null;
  if (!Array.isArray(shape)) return null;
  const dims = readShape(shape, where, `tensors['${name}'].shape`);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || dims.reduce((a, b) => a * b, 1) !== data.length) return null;
  return { dtype, data, shape: dims } as RawTensor;
}

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** Its tensors by name, in file order. */
  tensors: Map<string, SafetensorsTensor>;
  /** A null-prototype record: a key such as `__proto__` or `constructor` is just a name. */
  metadata: Record<string, string>;
}


/**
 * Serialise tensors (float32 -> F32, float64 -> F64, a RawTensor as its dtype) and string
 * metadata; entries keep their order.
 */
export function encodeSafetensors(tensors: Record<string, Tensor | RawTensor> | Map<string, Tensor | RawTensor>, metadata?: Record<string, string>): Uint8Array[] {
  const where = 'encodeSafetensors';
  if (tensors === null || typeof tensors !== 'object') throw argTypeError(where, 'tensors', 'an object or Map of Tensors', tensors);
  const entries = readEntries<Tensor | RawTensor>(where, 'tensors', tensors);
  const header: Record<string, unknown> = Object.create(null); // tensor names are plain keys here
  if (metadata !== undefined && metadata !== null && typeof metadata !== 'object') throw argTypeError(where, 'metadata', 'an object of strings', metadata);
  if (metadata) {
    const md = readEntries(where, 'metadata', metadata);
    for (const [k, v] of md) if (typeof v !== 'string') throw argTypeError(where, `metadata['${k}']`, 'a string', v);
    header.__metadata__ = nameRecord(md); // a key such as "__proto__" is kept as a name
  }
  let offset = 0;
  for (const entry of entries) {
    const [name, t] = entry;
    if (name === '__metadata__' || name.length === 0) throw argTypeError(where, 'tensors', 'tensor names other than "" and "__metadata__"', name);
    const raw = readRawTensor(where, name, t);
    if (raw) {
      entry[1] = raw; // the snapshot is what gets written
      header[name] = { dtype: raw.dtype, shape: [...raw.shape], data_offsets: [offset, offset + raw.data.byteLength] };
      offset += raw.data.byteLength;
      continue;
    }
    if (!(t instanceof Tensor)) throw argTypeError(where, `tensors['${name}']`, 'a Tensor', t);
    // Re-checked: a buffer detached since the Tensor was made would write a header that lies.
    checkTensorArg(where, `tensors['${name}']`, t, t.dtype);
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil((8 + raw.length) / 8) * 8 - 8).fill(0x20); // spaces pad it to 8 bytes
  padded.set(raw);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded.length), true);
  const out: Uint8Array[] = [prefix, padded];
  for (const [, t] of entries) out.push(littleEndianBytes(t.data));
  return out;
}

function littleEndianBytes(a: Float32Array | Float64Array | Uint16Array | Int8Array): Uint8Array {
  if (a.length === 0) return new Uint8Array(0); // also for a detached (zero-size) buffer
  if (LITTLE || a instanceof Int8Array) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength), dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float64Array) dv.setFloat64(i * 8, a[i], true);
    else if (a instanceof Uint16Array) dv.setUint16(i * 2, a[i], true);
    else dv.setFloat32(i * 4, a[i], true);
  }
  return out;
}

/** Parse and fully validate a safetensors image (see the file comment for what is rejected). */
export function decodeSafetensors(bytes: Uint8Array, options?: { maxHeaderBytes?: number; source?: string }): SafetensorsFile {
  const src = options?.source ?? 'safetensors';
  const fail = (msg: string): never => { throw new SafetensorsError(`${src}: ${msg}`); };
  const maxHeader = options?.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (!(bytes instanceof Uint8Array)) throw argTypeError('decodeSafetensors', 'bytes', 'a Uint8Array or Buffer', bytes);
  const total = bytes.length;
  if (total < 8) fail(`file too short: ${total} bytes, the 8-byte header length is missing`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(maxHeader)) fail(`header length ${n64} exceeds the limit of ${maxHeader} bytes`);
  const n = Number(n64);
  if (8 + n > total) fail(`header length ${n} runs past the end of the file (${total} bytes)`);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n, dataLen = total - dataStart;
  let metadata: Record<string, string> = Object.create(null);
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const name of Object.keys(header as object)) {
    const raw = (header as Record<string, unknown>)[name];
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object of strings');
      for (const k of Object.keys(raw as object)) if (typeof (raw as Record<string, unknown>)[k] !== 'string') fail(`__metadata__['${k}'] is not a string`);
      // JSON.parse made this object and nothing else holds it: it becomes the null-prototype record, uncopied.
      metadata = Object.setPrototypeOf(raw as object, null) as Record<string, string>;
      continue;
    }
    const where = `tensor '${name}'`;
    if (name.length === 0) fail('a tensor has an empty name');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`${where} is not an object`);
    const e = raw as Record<string, unknown>;
    const keys = Object.keys(e).sort().join(',');
    if (keys !== 'data_offsets,dtype,shape') fail(`${where} must have exactly dtype, shape and data_offsets, got ${Object.keys(e).join(', ') || 'none'}`);
    if (typeof e.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, e.dtype)) fail(`${where} has an unknown dtype ${JSON.stringify(e.dtype)}`);
    const size = DTYPE_SIZE[e.dtype as string];
    if (!Array.isArray(e.shape) || e.shape.length > 64) fail(`${where} has a shape that is not an array of at most 64 dims`);
    let elems = 1;
    for (const d of e.shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`${where} has a dimension ${JSON.stringify(d)} that is not a non-negative integer`);
      elems *= d as number;
      if (elems * size > dataLen) fail(`${where} has shape [${(e.shape as number[]).join(', ')}], more data than the file holds (${dataLen} bytes)`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((v) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
      fail(`${where} has data_offsets that are not two non-negative integers`);
    }
    const [begin, end] = off as number[];
    if (begin > end || end > dataLen) fail(`${where} has data_offsets [${begin}, ${end}] outside the data buffer of ${dataLen} bytes`);
    if (end - begin !== elems * size) fail(`${where} has ${end - begin} bytes of data, its dtype ${e.dtype} and shape [${(e.shape as number[]).join(', ')}] need ${elems * size}`);
    entries.push({ name, dtype: e.dtype as string, shape: e.shape as number[], begin, end });
  }
  // The entries must tile the data buffer: no holes, no overlaps, nothing left over.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) fail(e.begin < pos ? `tensor '${e.name}' overlaps the tensor before it (offset ${e.begin} < ${pos})` : `gap in the data buffer before tensor '${e.name}' (bytes ${pos}..${e.begin})`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(`the data buffer has ${dataLen - pos} trailing bytes that no tensor covers`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const at = dataStart + e.begin, len = e.end - e.begin;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: readData(bytes, at, len, e.dtype) });
  }
  return { tensors, metadata };
}

function readData(bytes: Uint8Array, at: number, len: number, dtype: string): SafetensorsTensor['data'] {
  const copy = new Uint8Array(len); // a fresh, aligned buffer
  copy.set(bytes.subarray(at, at + len));
  if (dtype === 'I8') return new Int8Array(copy.buffer, 0, len);
  if (dtype === 'BF16' || dtype === 'F16') {
    if (LITTLE) return new Uint16Array(copy.buffer, 0, len / 2);
    const dv = new DataView(copy.buffer), out = new Uint16Array(len / 2);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
    return out;
  }
  if (dtype !== 'F32' && dtype !== 'F64') return copy;
  const size = dtype === 'F64' ? 8 : 4;
  if (LITTLE) return size === 8 ? new Float64Array(copy.buffer, 0, len / 8) : new Float32Array(copy.buffer, 0, len / 4);
  const dv = new DataView(copy.buffer);
  const out = size === 8 ? new Float64Array(len / 8) : new Float32Array(len / 4);
  for (let i = 0; i < out.length; i++) out[i] = size === 8 ? dv.getFloat64(i * 8, true) : dv.getFloat32(i * 4, true);
  return out;
}

/** Write a .safetensors file atomically (temp file + fsync + rename). */
export function writeSafetensors(file: string, tensors: Record<string, Tensor | RawTensor> | Map<string, Tensor | RawTensor>, metadata?: Record<string, string>): void {
  fileCall('writeSafetensors', file, () => writeFileAtomic(file, encodeSafetensors(tensors, metadata)));
}

/** Read and validate a .safetensors file. */
export function readSafetensors(file: string, options?: { maxHeaderBytes?: number }): SafetensorsFile {
  return fileCall('readSafetensors', file, () => decodeSafetensors(fs.readFileSync(file), { ...options, source: file }));
}

/** How toTensors converts a file's tensors. */
export interface ToTensorsOptions {
  /**
   * The dtype every tensor loads as. Omitted: F32 and F64 as they are, any other dtype refused.
   * 'float32': F32 as it is, F16 and BF16 widened (exactly); F64 refused (it would round).
   * 'float64': F64 as it is, F32, F16 and BF16 widened (exactly).
   * @default undefined (each tensor's own dtype, F32 or F64)
   */
  dtype?: 'float32' | 'float64';
  /**
   * Names the file in error messages.
   * @default 'safetensors'
   */
  source?: string;
}

/**
 * The value of every f16 bit pattern (IEEE 754 binary16: 1 sign, 5 exponent, 10 fraction bits),
 * made on first use: s * m * 2^-24 for subnormals and ±0 (exponent 0), s * (1024 + m) * 2^(e-25)
 * otherwise; exponent 31 (±Inf, NaN) is NaN here and refused by the caller. Every value is exact
 * in float32 (8 exponent bits cover 2^-24 .. 65504, 24 significand bits hold 11).
 */
let F16: Float32Array | null = null;
function f16Table(): Float32Array {
  if (F16) return F16;
  const t = new Float32Array(65536);
  for (let b = 0; b < 65536; b++) {
    const sign = b & 0x8000 ? -1 : 1, e = (b >> 10) & 0x1f, m = b & 0x3ff;
    t[b] = e === 31 ? NaN : e === 0 ? sign * m * 2 ** -24 : sign * (1024 + m) * 2 ** (e - 25);
  }
  return (F16 = t);
}

/** bf16 is the top half of a float32: its bits shifted up are the float32's, exactly. */
function bf16Widen(bits: Uint16Array, out: Float32Array | Float64Array): number {
  const u = new Uint32Array(1), f = new Float32Array(u.buffer);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7f80) === 0x7f80) return i; // exponent all ones: ±Inf or NaN
    u[0] = bits[i] << 16;
    out[i] = f[0];
  }
  return -1;
}

function f16Widen(bits: Uint16Array, out: Float32Array | Float64Array): number {
  const t = f16Table();
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7c00) === 0x7c00) return i; // exponent all ones: ±Inf or NaN
    out[i] = t[bits[i]];
  }
  return -1;
}

/**
 * The entries as Tensors (a state dict). F32 and F64 load as they are; F16 and BF16 (a PyTorch
 * model saved after .half() or .to(torch.bfloat16)) load with `{ dtype: 'float32' }` (or
 * 'float64'), widened exactly; any other dtype is an error naming it (a quantized model file
 * loads with load()). `source` (a string, or options.source) names the file in errors.
 */
export function toTensors(f: SafetensorsFile, source?: string | ToTensorsOptions, options?: ToTensorsOptions): Map<string, Tensor> {
  const where = 'toTensors';
  if (source !== undefined && typeof source !== 'string') {
    if (options !== undefined) throw argTypeError(where, 'source', 'a string when options are given as the third argument', source);
    options = source;
    source = undefined;
  }
  const o = readOptions(where, 'options', options, ['dtype', 'source']);
  if (o.dtype !== undefined && o.dtype !== 'float32' && o.dtype !== 'float64') throw argTypeError(where, 'options.dtype', "'float32' or 'float64'", o.dtype);
  if (o.source !== undefined && typeof o.source !== 'string') throw argTypeError(where, 'options.source', 'a string', o.source);
  const src = (source as string | undefined) ?? (o.source as string | undefined) ?? 'safetensors';
  const dtype = o.dtype as 'float32' | 'float64' | undefined;
  const out = new Map<string, Tensor>();
  for (const [name, t] of f.tensors) {
    const half = t.dtype === 'F16' || t.dtype === 'BF16';
    if (dtype === undefined) {
      if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) {
        throw new SafetensorsError(`${src}: tensor '${name}' has dtype ${t.dtype}; only F32 and F64 load as Tensors${half ? " (pass { dtype: 'float32' } to widen F16 / BF16 exactly; see docs/interop.md#pytorch-and-safetensors)" : ''}`);
      }
      out.set(name, new Tensor(t.data, t.shape));
    } else if (t.dtype === (dtype === 'float32' ? 'F32' : 'F64')) {
      out.set(name, new Tensor(t.data as Float32Array | Float64Array, t.shape));
    } else if (dtype === 'float64' && t.dtype === 'F32') {
      out.set(name, new Tensor(Float64Array.from(t.data as Float32Array), t.shape));
    } else if (half && t.data instanceof Uint16Array) {
      const wide = dtype === 'float32' ? new Float32Array(t.data.length) : new Float64Array(t.data.length);
      const bad = t.dtype === 'F16' ? f16Widen(t.data, wide) : bf16Widen(t.data, wide);
      if (bad >= 0) {
        const b = t.data[bad], inf = t.dtype === 'F16' ? (b & 0x3ff) === 0 : (b & 0x7f) === 0;
        throw new SafetensorsError(`${src}: tensor '${name}' (${t.dtype}) holds ${inf ? (b & 0x8000 ? '-Infinity' : 'Infinity') : 'NaN'} `
          + `(bits 0x${b.toString(16).padStart(4, '0')}) at flat index ${bad}; weights must be finite`);
      }
      out.set(name, new Tensor(wide, t.shape));
    } else {
      throw new SafetensorsError(`${src}: tensor '${name}' has dtype ${t.dtype}; with dtype '${dtype}' only ${dtype === 'float32' ? 'F32, F16 and BF16 load (F64 would round: load it without dtype, or with \'float64\')' : 'F64, F32, F16 and BF16 load'}`);
    }
  }
  return out;
}
