// Protocol Buffers wire format: the little that ONNX files need, read and written by hand.
//
// Reading is written for hostile input. Every length prefix is checked against the bytes that
// remain before anything is sliced or allocated, varints longer than 10 bytes are refused,
// group wire types (3, 4) are refused, and nothing is copied: length-delimited fields come back
// as views into the caller's buffer. A bad file throws a RangeError that says which message and
// field were being read and at which byte offset -- never a crash, never a huge allocation.
//
// What it deliberately does not do: no schema, no reflection, no proto3 JSON. lib/io/onnx.ts
// holds the (small) ONNX schema as code.
//
// Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** A parsed field key plus, for length-delimited fields, the bytes it spans. */
export interface FieldHeader {
  field: number;
  wire: number;
}

/**
 * Reads one message's bytes. `where` names the caller (e.g. "fromOnnx") and `path` the message
 * being read (e.g. "ModelProto.graph.node[3]") so errors point at the offending part.
 */
export class ProtoReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array, readonly where: string, readonly path: string, private readonly base = 0) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private fail(what: string): RangeError {
    return new RangeError(`${this.where}: ${this.path}: malformed or truncated protobuf at byte ${this.base + this.pos}: ${what}`);
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

  /** A nested message: a reader over its payload (offsets in errors stay file-absolute). */
  message(path: string): ProtoReader {
    const b = this.bytesField();
    return new ProtoReader(b, this.where, path, this.base + this.pos - b.length);
  }

  string(): string {
    const b = this.bytesField();
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
   * A repeated integer field, packed (wire 2) or not (wire 0): appends to `out`. Protobuf
   * parsers must accept both encodings whatever the schema says.
   */
  ints(wire: number, out: number[], signed = true): void {
    if (wire === WIRE_VARINT) { out.push(signed ? this.int() : this.uint()); return; }
    if (wire !== WIRE_LEN) throw this.fail(`expected a varint or packed varints, got wire type ${wire}`);
    const r = this.message(this.path);
    while (!r.done) out.push(signed ? r.int() : r.uint());
  }

  /** A repeated float field, packed or not: appends to `out`. */
  floats(wire: number, out: number[]): void {
    if (wire === WIRE_FIXED32) { out.push(this.float()); return; }
    if (wire !== WIRE_LEN) throw this.fail(`expected a float or packed floats, got wire type ${wire}`);
    const b = this.bytesField();
    if (b.length % 4) throw this.fail(`packed floats of ${b.length} bytes (not a multiple of 4)`);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < b.length; i += 4) out.push(v.getFloat32(i, true));
  }

  /** A repeated double field, packed or not. */
  doubles(wire: number, out: number[]): void {
    if (wire === WIRE_FIXED64) { out.push(this.double()); return; }
    if (wire !== WIRE_LEN) throw this.fail(`expected a double or packed doubles, got wire type ${wire}`);
    const b = this.bytesField();
    if (b.length % 8) throw this.fail(`packed doubles of ${b.length} bytes (not a multiple of 8)`);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < b.length; i += 8) out.push(v.getFloat64(i, true));
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
