// Protocol Buffers wire format: the little that ONNX files need, read and written by hand.
//
// Reading is written for hostile input. Every length prefix is checked against the bytes that
// remain before anything is sliced or allocated, varints longer than 10 bytes are refused,
// group wire types (3, 4) are refused, and nothing is copied: length-delimited fields come back
// as views into the caller's buffer. A bad file throws a RangeError that says which message and
// field were being read and at which byte offset -- never a crash, never a huge allocation.
//
// Memory: one decode has a budget proportional to the file, DECODE_BYTES_PER_BYTE (16) bytes per
// file byte plus DECODE_BASE_BYTES (16 MiB), and never more than half of the JS heap that was
// free when it started. Everything a caller keeps is charged against it before it is allocated,
// by an estimate of its cost: each nested message (the object decoded from it), string, entry
// appended to a repeated field (`append`, `ints`, `floats`; packed values are counted first)
// and typed array (`charge`, by the caller). A file that declares more structure than the
// budget allows (a million empty nodes, a packed field of a hundred million varints) is a
// RangeError before the memory is taken. A repeated field holds at most MAX_REPEATED entries.
//
// What it deliberately does not do: no schema, no reflection, no proto3 JSON. lib/io/onnx.ts
// holds the (small) ONNX schema as code.
//
// Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.

import { availableHeapBytes } from './heap';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Decoding memory budget: this many bytes per byte of the file ... */
export const DECODE_BYTES_PER_BYTE = 16;
/** ... plus this many (so small files of ordinary models never come near it). */
export const DECODE_BASE_BYTES = 16 * 2 ** 20;
/** The most entries one repeated field (or packed field) may hold. */
export const MAX_REPEATED = 2 ** 24;

// Estimated heap cost (64-bit V8, measured) of what a caller keeps: an object decoded from a
// message (an ONNX node with its three empty arrays takes 169 bytes), a string (header; 2 bytes
// a character at worst), an array's first append (room for 17 entries) and each entry (8 bytes,
// doubled for growth and the copy while growing).
const MESSAGE_COST = 192;
const STRING_COST = 32;
const ARRAY_COST = 136;
const ELEMENT_COST = 16;

/** A repeated numeric field's element encoding. */
export type NumberKind = 'varint' | 'fixed32' | 'fixed64';

/** A parsed field key plus, for length-delimited fields, the bytes it spans. */
export interface FieldHeader {
  field: number;
  wire: number;
}

/** What one decode may still allocate (shared by the readers of its nested messages). */
export class DecodeBudget {
  used = 0;
  heapUsed = 0;
  readonly limit: number;
  readonly heapLimit: number;

  constructor(fileBytes: number) {
    this.limit = DECODE_BYTES_PER_BYTE * fileBytes + DECODE_BASE_BYTES;
    this.heapLimit = Math.min(this.limit, Math.floor(availableHeapBytes() / 2));
  }
}

/**
 * Reads one message's bytes. `where` names the caller (e.g. "fromOnnx") and `path` the message
 * being read (e.g. "ModelProto.graph.node[3]") so errors point at the offending part.
 */
export class ProtoReader {
  private pos = 0;
  private dataView: DataView | null = null;
  private readonly budget: DecodeBudget;

  constructor(readonly bytes: Uint8Array, readonly where: string, readonly path: string, private readonly base = 0, budget?: DecodeBudget) {
    this.budget = budget ?? new DecodeBudget(bytes.length);
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Read the message again from its first field. */
  rewind(): void {
    this.pos = 0;
  }

  private get view(): DataView {
    return (this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  private fail(what: string): RangeError {
    return new RangeError(`${this.where}: ${this.path}: malformed or truncated protobuf at byte ${this.base + this.pos}: ${what}`);
  }

  /**
   * Charge `bytes` (what a caller is about to allocate, an estimate of its cost: see the top of
   * this file) against the decode's budget; `offHeap` for a typed array's data. Throws a
   * RangeError naming the message, before anything is allocated, when the budget is exceeded.
   */
  charge(bytes: number, what: string, offHeap = false): void {
    const b = this.budget;
    const used = b.used + bytes, heapUsed = offHeap ? b.heapUsed : b.heapUsed + bytes;
    if (used > b.limit || heapUsed > b.heapLimit) {
      const limit = used > b.limit ? `${DECODE_BYTES_PER_BYTE} bytes per file byte + ${DECODE_BASE_BYTES} = ${b.limit} bytes` : `half of the free JS heap, ${b.heapLimit} bytes`;
      throw new RangeError(`${this.where}: ${this.path}: ${what}: decoding would need more memory than the file's budget allows `
        + `(${limit}, see docs/security.md#limits): the file declares far more structure or data than it holds`);
    }
    b.used = used;
    b.heapUsed = heapUsed;
  }

  /** Append one decoded value to a repeated field, charging its slot against the budget. */
  append<T>(list: T[], value: T, name: string): void {
    this.reserve(list, 1, name);
    list.push(value);
  }

  /** Check and charge `n` more entries of a repeated field before they are appended. */
  private reserve(list: unknown[], n: number, name: string): void {
    if (list.length + n > MAX_REPEATED) throw this.fail(`repeated field ${name} would hold ${list.length + n} entries (at most ${MAX_REPEATED})`);
    this.charge((list.length ? 0 : ARRAY_COST) + n * ELEMENT_COST, `${name}[${list.length}${n > 1 ? `..${list.length + n - 1}` : ''}]`);
  }

  /** Unsigned varint as a JS number; throws past 2^53 (no ONNX size or count gets near it). */
  private varintParts(): [number, number] {
    let lo = 0, hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw this.fail('varint runs past the end of the data');
      const b = this.bytes[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) { lo |= (b & 0x0f) << 28; hi |= (b & 0x7f) >> 4; }
      else hi |= (b & 0x7f) << (7 * i - 32);
      if (!(b & 0x80)) return [lo >>> 0, hi >>> 0];
    }
    throw this.fail('varint longer than 10 bytes');
  }

  /** A varint read as uint64 and returned as a number (exact up to 2^53). */
  uint(): number {
    const [lo, hi] = this.varintParts();
    return hi * 4294967296 + lo;
  }

  /** A varint read as int64/int32 (two's complement); exact within +-2^53. */
  int(): number {
    const [lo, hi] = this.varintParts();
    if (hi & 0x80000000) return -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1);
    return hi * 4294967296 + lo;
  }

  /** A length prefix, checked against what remains. */
  private length(): number {
    const n = this.uint();
    const left = this.bytes.length - this.pos;
    if (n > left) throw this.fail(`a field claims ${n} bytes but only ${left} remain`);
    return n;
  }

  header(): FieldHeader {
    const key = this.uint();
    const field = Math.floor(key / 8), wire = key % 8;
    if (field < 1 || field > 536870911) throw this.fail(`invalid field number ${field}`);
    if (wire !== WIRE_VARINT && wire !== WIRE_FIXED64 && wire !== WIRE_LEN && wire !== WIRE_FIXED32) {
      throw this.fail(`unsupported wire type ${wire} for field ${field}`);
    }
    return { field, wire };
  }

  /** The payload of a length-delimited field: a view, not a copy. */
  bytesField(): Uint8Array {
    const n = this.length();
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * A nested message: a reader over its payload (offsets in errors stay file-absolute). The
   * object the caller decodes from it is charged here.
   */
  message(path: string): ProtoReader {
    this.charge(MESSAGE_COST, path);
    const b = this.bytesField();
    return new ProtoReader(b, this.where, path, this.base + this.pos - b.length, this.budget);
  }

  string(): string {
    const b = this.bytesField();
    this.charge(STRING_COST + 2 * b.length, 'a string');
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw this.fail('a string field is not valid UTF-8');
    }
  }

  float(): number {
    if (this.bytes.length - this.pos < 4) throw this.fail('fixed32 runs past the end of the data');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.bytes.length - this.pos < 8) throw this.fail('fixed64 runs past the end of the data');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Skip a field of any accepted wire type. */
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.uint();
    else if (wire === WIRE_FIXED64) { this.need(8); this.pos += 8; }
    else if (wire === WIRE_FIXED32) { this.need(4); this.pos += 4; }
    else this.bytesField();
  }

  private need(n: number): void {
    if (this.bytes.length - this.pos < n) throw this.fail(`a field needs ${n} bytes but only ${this.bytes.length - this.pos} remain`);
  }

  /**
   * Skip one occurrence of a repeated numeric field, packed (wire 2) or not, and return how many
   * values it holds, allocating nothing: a tensor's data is counted first, checked against its
   * dims and the budget, then read into one typed array with `readNumbers`. Protobuf parsers
   * must accept both encodings whatever the schema says.
   */
  countNumbers(wire: number, kind: NumberKind, name: string): number {
    const single = kind === 'varint' ? WIRE_VARINT : kind === 'fixed32' ? WIRE_FIXED32 : WIRE_FIXED64;
    if (wire === single) { this.skip(wire); return 1; }
    if (wire !== WIRE_LEN) throw this.fail(`field ${name}: expected wire type ${single} or packed values, got wire type ${wire}`);
    const b = this.bytesField();
    if (kind !== 'varint') {
      const size = kind === 'fixed32' ? 4 : 8;
      if (b.length % size) throw this.fail(`field ${name}: packed ${kind} values of ${b.length} bytes (not a multiple of ${size})`);
      return b.length / size;
    }
    if (b.length && b[b.length - 1] & 0x80) throw this.fail(`field ${name}: packed varints end inside a varint`);
    let n = 0;
    for (let i = 0; i < b.length; i++) if (!(b[i] & 0x80)) n++;
    return n;
  }

  /**
   * Read one occurrence of a repeated numeric field into `out` from index `at` (varints as signed
   * int64); returns the index after the last value. `out` has room: the values were counted.
   */
  readNumbers(wire: number, kind: NumberKind, out: { [i: number]: number }, at: number): number {
    const one = (r: ProtoReader) => (kind === 'varint' ? r.int() : kind === 'fixed32' ? r.float() : r.double());
    if (wire !== WIRE_LEN) { out[at] = one(this); return at + 1; }
    const b = this.bytesField();
    const r = new ProtoReader(b, this.where, this.path, this.base + this.pos - b.length, this.budget);
    while (!r.done) out[at++] = one(r);
    return at;
  }

  /** A repeated integer field (e.g. dims), packed or not: appends to `out`, counted and charged first. */
  ints(wire: number, out: number[], name: string): void {
    this.numbers(wire, 'varint', out, name);
  }

  /** A repeated float field, packed or not: appends to `out`, counted and charged first. */
  floats(wire: number, out: number[], name: string): void {
    this.numbers(wire, 'fixed32', out, name);
  }

  private numbers(wire: number, kind: NumberKind, out: number[], name: string): void {
    const start = this.pos;
    const n = this.countNumbers(wire, kind, name);
    this.reserve(out, n, name);
    this.pos = start;
    const at = out.length;
    out.length = at + n; // room for exactly n more: appending one by one would grow it by half again, copying
    this.readNumbers(wire, kind, out, at);
  }

  /** Check a field's wire type; a mismatch means the file is not what it claims to be. */
  expect(h: FieldHeader, wire: number, name: string): void {
    if (h.wire !== wire) throw this.fail(`field ${h.field} (${name}) has wire type ${h.wire}, expected ${wire}`);
  }
}

/**
 * Writes one message. Nested messages are written into their own writer and appended with a
 * length prefix (`message`), which keeps the code obvious at the cost of one copy per level.
 */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** A non-negative integer (< 2^53) or a negative one as a 10-byte two's complement varint. */
  private varint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf: cannot encode ${v} as a varint`);
    if (v < 0) {
      // int64 two's complement: split into 32-bit halves.
      let lo = (v % 4294967296 + 4294967296) % 4294967296;
      let hi = Math.floor(v / 4294967296) >>> 0;
      for (let i = 0; i < 9; i++) {
        this.byte((lo & 0x7f) | 0x80);
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
      this.byte(lo & 0x01);
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, WIRE_FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8Encoder.encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** Repeated varints, one key each (proto2's default encoding for `repeated int64`). */
  intsUnpacked(field: number, vs: readonly number[]): this {
    for (const v of vs) this.int(field, v);
    return this;
  }

  /** Repeated floats, one key each (proto2's default for `repeated float`). */
  floatsUnpacked(field: number, vs: readonly number[]): this {
    for (const v of vs) this.float(field, v);
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
