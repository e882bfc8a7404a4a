// The ONNX file format (onnx.proto, IR versions 3-10), the subset a recurrent model needs:
// ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto
// (tensor types only), OperatorSetIdProto and metadata entries. Field numbers are those of
// onnx/onnx.proto; unknown fields are skipped when reading, so newer files still parse.
//
// decodeOnnxModel(bytes) -> OnnxModelProto and encodeOnnxModel(model) -> bytes. Tensors are
// materialised as typed arrays after checking that the stored data has exactly the element count
// the dims promise (so a lying `dims` cannot make us allocate more than the file holds).
// Deliberately unsupported, with an error naming it: external tensor data, sparse initializers,
// element types other than float32 / float64 / int32 / int64 (subgraph attributes are recorded
// as present but not parsed: no operator we run has one).

import { checkElements } from '../tensor';
import { ProtoReader, ProtoWriter, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT, type FieldHeader, type NumberKind } from './protobuf';

/** The estimated heap cost of a typed array's objects (a Float32Array(0) takes 184 bytes), charged with its data. */
const TYPED_ARRAY_BYTES = 256;

/** TensorProto.DataType values we name in messages (all of them), and the ones we read. */
export const ONNX_DTYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING',
  9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
};
export const FLOAT = 1;
export const INT32 = 6;
export const INT64 = 7;
export const DOUBLE = 11;

export function dtypeName(t: number): string {
  return ONNX_DTYPE_NAMES[t] ?? `data type ${t}`;
}

/**
 * A dense tensor. When decoded, int64 values are JS numbers in a Float64Array (exact within
 * +-2^53); when encoding, any array of numbers will do for them.
 */
/** An ONNX TensorProto as decoded (initializers, tensor attributes). */
export interface OnnxTensor {
  /** Its name in the graph. */
  name: string;
  /** Its shape. */
  dims: number[];
  /** FLOAT, DOUBLE, INT32 or INT64 */
  dataType: number;
  /** The elements, row-major (INT64 as numbers). */
  data: Float32Array | Float64Array | Int32Array | number[];
}

export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

/** An ONNX AttributeProto as decoded: one of the value fields is set, per `type`. */
export interface OnnxAttribute {
  /** The attribute's name, e.g. 'hidden_size'. */
  name: string;
  /** AttributeProto.AttributeType (0 when an old writer left it out) */
  type: number;
  /** A FLOAT value. */
  f?: number;
  /** An INT value. */
  i?: number;
  /** A STRING value. */
  s?: string;
  /** A TENSOR value. */
  t?: OnnxTensor;
  /** A FLOATS value. */
  floats?: number[];
  /** An INTS value. */
  ints?: number[];
  /** A STRINGS value. */
  strings?: string[];
  /** a subgraph (g / graphs) was present; not parsed */
  hasGraph?: boolean;
}

/** An ONNX NodeProto: one operator application. */
export interface OnnxNode {
  /** The node's name (may be empty). */
  name: string;
  /** The operator, e.g. 'LSTM', 'Gemm'. */
  opType: string;
  /** The operator's domain ('' for the default ONNX domain). */
  domain: string;
  /** Input value names, in the operator's order ('' for an omitted optional input). */
  input: string[];
  /** Output value names. */
  output: string[];
  /** Its attributes. */
  attribute: OnnxAttribute[];
}

/** A tensor type: element type and dims (a number, a symbolic name, or null = unknown). */
export interface OnnxValueInfo {
  /** The value's name. */
  name: string;
  /** 0 when not given */
  elemType: number;
  /** null: rank unknown */
  shape: (number | string | null)[] | null;
}

/** An ONNX GraphProto as decoded. */
export interface OnnxGraph {
  /** The graph's name. */
  name: string;
  /** Its nodes, in topological order. */
  node: OnnxNode[];
  /** Its constant tensors (weights). */
  initializer: OnnxTensor[];
  /** Its inputs. */
  input: OnnxValueInfo[];
  /** Its outputs. */
  output: OnnxValueInfo[];
  /** Types of intermediate values, where the file gives them. */
  valueInfo: OnnxValueInfo[];
}

/** An ONNX ModelProto as decodeOnnxModel reads it and encodeOnnxModel writes it (the fields this library uses). */
export interface OnnxModelProto {
  /** The ONNX IR version. */
  irVersion: number;
  /** The tool that wrote it. */
  producerName: string;
  /** That tool's version. */
  producerVersion: string;
  /** Free text. */
  docString: string;
  /** The opset of each operator domain. */
  opsetImport: {
    /** The domain ('' for the default ONNX domain). */
    domain: string;
    /** The opset version. */
    version: number;
  }[];
  /** decoded as a null-prototype object (keys come from the file) */
  metadata: Record<string, string>;
  /** The graph. */
  graph: OnnxGraph;
}

// ------------------------------------------------------------------------------------------
// Reading

/** Decode an ONNX file's bytes (protobuf) into an OnnxModelProto, with bounds checks on every length. */
export function decodeOnnxModel(bytes: Uint8Array, where = 'fromOnnx'): OnnxModelProto {
  const r = new ProtoReader(bytes, where, 'ModelProto');
  const m: OnnxModelProto = { irVersion: 0, producerName: '', producerVersion: '', docString: '', opsetImport: [], metadata: Object.create(null), graph: null as unknown as OnnxGraph };
  let graph: OnnxGraph | null = null;
  while (!r.done) {
    const h = r.header();
    switch (h.field) {
      case 1: r.expect(h, WIRE_VARINT, 'ir_version'); m.irVersion = r.int(); break;
      case 2: r.expect(h, WIRE_LEN, 'producer_name'); m.producerName = r.string(); break;
      case 3: r.expect(h, WIRE_LEN, 'producer_version'); m.producerVersion = r.string(); break;
      case 6: r.expect(h, WIRE_LEN, 'doc_string'); m.docString = r.string(); break;
      case 7: r.expect(h, WIRE_LEN, 'graph'); graph = readGraph(r.message('ModelProto.graph')); break;
      case 8: {
        r.expect(h, WIRE_LEN, 'opset_import');
        const o = r.message(`ModelProto.opset_import[${m.opsetImport.length}]`);
        const op = { domain: '', version: 0 };
        while (!o.done) {
          const g = o.header();
          if (g.field === 1) { o.expect(g, WIRE_LEN, 'domain'); op.domain = o.string(); } else if (g.field === 2) { o.expect(g, WIRE_VARINT, 'version'); op.version = o.int(); } else o.skip(g.wire);
        }
        r.append(m.opsetImport, op, 'opset_import');
        break;
      }
      case 14: {
        r.expect(h, WIRE_LEN, 'metadata_props');
        const e = r.message('ModelProto.metadata_props');
        let k = '', v = '';
        while (!e.done) {
          const g = e.header();
          if (g.field === 1) { e.expect(g, WIRE_LEN, 'key'); k = e.string(); } else if (g.field === 2) { e.expect(g, WIRE_LEN, 'value'); v = e.string(); } else e.skip(g.wire);
        }
        m.metadata[k] = v; // a null-prototype object: any key is an own property, "__proto__" too
        break;
      }
      default: r.skip(h.wire);
    }
  }
  if (!graph) throw new RangeError(`${where}: ModelProto: no graph (field 7) found: not an ONNX model, or an empty file`);
  m.graph = graph;
  return m;
}

function readGraph(r: ProtoReader): OnnxGraph {
  const g: OnnxGraph = { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [] };
  while (!r.done) {
    const h = r.header();
    switch (h.field) {
      case 1: r.expect(h, WIRE_LEN, 'node'); r.append(g.node, readNode(r.message(`GraphProto.node[${g.node.length}]`)), 'node'); break;
      case 2: r.expect(h, WIRE_LEN, 'name'); g.name = r.string(); break;
      case 5: r.expect(h, WIRE_LEN, 'initializer'); r.append(g.initializer, readTensor(r.message(`GraphProto.initializer[${g.initializer.length}]`)), 'initializer'); break;
      case 11: r.expect(h, WIRE_LEN, 'input'); r.append(g.input, readValueInfo(r.message(`GraphProto.input[${g.input.length}]`)), 'input'); break;
      case 12: r.expect(h, WIRE_LEN, 'output'); r.append(g.output, readValueInfo(r.message(`GraphProto.output[${g.output.length}]`)), 'output'); break;
      case 13: r.expect(h, WIRE_LEN, 'value_info'); r.append(g.valueInfo, readValueInfo(r.message(`GraphProto.value_info[${g.valueInfo.length}]`)), 'value_info'); break;
      case 15: throw new TypeError(`${r.where}: GraphProto.sparse_initializer: sparse tensors are not supported`);
      default: r.skip(h.wire);
    }
  }
  return g;
}

function readNode(r: ProtoReader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', input: [], output: [], attribute: [] };
  while (!r.done) {
    const h = r.header();
    switch (h.field) {
      case 1: r.expect(h, WIRE_LEN, 'input'); r.append(n.input, r.string(), 'input'); break;
      case 2: r.expect(h, WIRE_LEN, 'output'); r.append(n.output, r.string(), 'output'); break;
      case 3: r.expect(h, WIRE_LEN, 'name'); n.name = r.string(); break;
      case 4: r.expect(h, WIRE_LEN, 'op_type'); n.opType = r.string(); break;
      case 5: r.expect(h, WIRE_LEN, 'attribute'); r.append(n.attribute, readAttribute(r.message(`${r.path}.attribute[${n.attribute.length}]`)), 'attribute'); break;
      case 7: r.expect(h, WIRE_LEN, 'domain'); n.domain = r.string(); break;
      default: r.skip(h.wire);
    }
  }
  return n;
}

function readAttribute(r: ProtoReader): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0 };
  while (!r.done) {
    const h = r.header();
    switch (h.field) {
      case 1: r.expect(h, WIRE_LEN, 'name'); a.name = r.string(); break;
      case 2: r.expect(h, WIRE_FIXED32, 'f'); a.f = r.float(); break;
      case 3: r.expect(h, WIRE_VARINT, 'i'); a.i = r.int(); break;
      case 4: r.expect(h, WIRE_LEN, 's'); a.s = r.string(); break;
      case 5: r.expect(h, WIRE_LEN, 't'); a.t = readTensor(r.message(`${r.path}.t`)); break;
      case 6: case 11: a.hasGraph = true; r.skip(h.wire); break;
      case 7: r.floats(h.wire, (a.floats ??= []), 'floats'); break;
      case 8: r.ints(h.wire, (a.ints ??= []), 'ints'); break;
      case 9: r.expect(h, WIRE_LEN, 'strings'); r.append((a.strings ??= []), r.string(), 'strings'); break;
      case 20: r.expect(h, WIRE_VARINT, 'type'); a.type = r.int(); break;
      default: r.skip(h.wire);
    }
  }
  return a;
}

function readValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  while (!r.done) {
    const h = r.header();
    if (h.field === 1) { r.expect(h, WIRE_LEN, 'name'); v.name = r.string(); continue; }
    if (h.field !== 2) { r.skip(h.wire); continue; }
    r.expect(h, WIRE_LEN, 'type');
    const t = r.message(`${r.path}.type`);
    while (!t.done) {
      const th = t.header();
      if (th.field !== 1) { t.skip(th.wire); continue; } // sequence/map/optional types: not tensors
      t.expect(th, WIRE_LEN, 'tensor_type');
      const tt = t.message(`${r.path}.type.tensor_type`);
      while (!tt.done) {
        const x = tt.header();
        if (x.field === 1) { tt.expect(x, WIRE_VARINT, 'elem_type'); v.elemType = tt.int(); continue; }
        if (x.field !== 2) { tt.skip(x.wire); continue; }
        tt.expect(x, WIRE_LEN, 'shape');
        const s = tt.message(`${r.path}.type.tensor_type.shape`);
        const shape: (number | string | null)[] = v.shape = [];
        while (!s.done) {
          const d = s.header();
          if (d.field !== 1) { s.skip(d.wire); continue; }
          s.expect(d, WIRE_LEN, 'dim');
          const dm = s.message(`${r.path}.type.tensor_type.shape.dim`);
          let dim: number | string | null = null;
          while (!dm.done) {
            const e = dm.header();
            if (e.field === 1) { dm.expect(e, WIRE_VARINT, 'dim_value'); dim = dm.int(); } else if (e.field === 2) { dm.expect(e, WIRE_LEN, 'dim_param'); dim = dm.string(); } else dm.skip(e.wire);
          }
          s.append(shape, dim, 'dim');
        }
      }
    }
  }
  return v;
}

/** TensorProto's typed value fields (used when there is no raw_data): number, name, encoding, by data type. */
const DATA_FIELDS: Record<number, { field: number; name: string; kind: NumberKind }> = {
  [FLOAT]: { field: 4, name: 'float_data', kind: 'fixed32' }, [INT32]: { field: 5, name: 'int32_data', kind: 'varint' },
  [INT64]: { field: 7, name: 'int64_data', kind: 'varint' }, [DOUBLE]: { field: 10, name: 'double_data', kind: 'fixed64' },
};
const DATA_FIELD_BY_NUMBER = new Map(Object.values(DATA_FIELDS).map((d) => [d.field, d]));

/**
 * Two passes over the message: the first reads dims, type, name and raw_data and counts the
 * values of the typed fields (allocating nothing for them); once the element count is checked
 * against dims, the size limit and the decode's budget, the second reads the values straight
 * into the tensor's typed array.
 */
function readTensor(r: ProtoReader): OnnxTensor {
  const dims: number[] = [];
  let dataType = 0, name = '', raw: Uint8Array | null = null, external = false;
  const counts: Record<number, number> = { 4: 0, 5: 0, 7: 0, 10: 0 };
  while (!r.done) {
    const h: FieldHeader = r.header();
    switch (h.field) {
      case 1: r.ints(h.wire, dims, 'dims'); break;
      case 2: r.expect(h, WIRE_VARINT, 'data_type'); dataType = r.int(); break;
      case 4: case 5: case 7: case 10: { const d = DATA_FIELD_BY_NUMBER.get(h.field)!; counts[h.field] += r.countNumbers(h.wire, d.kind, d.name); break; }
      case 8: r.expect(h, WIRE_LEN, 'name'); name = r.string(); break;
      case 9: r.expect(h, WIRE_LEN, 'raw_data'); raw = r.bytesField(); break;
      case 13: external = true; r.skip(h.wire); break;
      case 14: r.expect(h, WIRE_VARINT, 'data_location'); if (r.int() === 1) external = true; break;
      default: r.skip(h.wire);
    }
  }
  const where = `${r.where}: tensor ${JSON.stringify(name)}`;
  if (external) throw new TypeError(`${where}: external data (a separate weights file) is not supported; save the model with its weights inside`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${where}: dims: expected non-negative integers, got ${d}`);
    count *= d;
    if (!Number.isSafeInteger(count)) throw new RangeError(`${where}: dims: element count overflows`);
  }
  const size = dataType === FLOAT || dataType === INT32 ? 4 : dataType === INT64 || dataType === DOUBLE ? 8 : 0;
  if (!size) throw new TypeError(`${where}: data_type: expected FLOAT, DOUBLE, INT32 or INT64, got ${dtypeName(dataType)}`);
  const { field, kind } = DATA_FIELDS[dataType];
  const stored = raw ? raw.length / size : counts[field];
  const shown = dims.length > 16 ? `${dims.length} dims [${dims.slice(0, 8).join(', ')}, ...]` : `dims [${dims.join(', ')}]`;
  if (stored !== count) {
    throw new RangeError(`${where}: expected ${count} elements for ${shown}, got ${raw ? `${raw.length} bytes of raw_data` : `${stored} values`}`);
  }
  checkElements(r.where, `tensor ${JSON.stringify(name)}`, count, shown);
  r.charge(TYPED_ARRAY_BYTES, `tensor ${JSON.stringify(name)}`);
  r.charge(count * size, `tensor ${JSON.stringify(name)}`, true);
  const data = dataType === FLOAT ? new Float32Array(count) : dataType === INT32 ? new Int32Array(count) : new Float64Array(count);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      // int64 as a JS number: exact within +-2^53, else rounded (only used as "very large", e.g. Slice ends).
      data[i] = dataType === FLOAT ? view.getFloat32(4 * i, true) : dataType === DOUBLE ? view.getFloat64(8 * i, true)
        : dataType === INT32 ? view.getInt32(4 * i, true) : view.getInt32(8 * i + 4, true) * 4294967296 + view.getUint32(8 * i, true);
    }
  } else {
    r.rewind();
    let at = 0;
    while (!r.done) {
      const h = r.header();
      if (h.field === field) at = r.readNumbers(h.wire, kind, data, at);
      else r.skip(h.wire);
    }
  }
  return { name, dims, dataType, data };
}

// ------------------------------------------------------------------------------------------
// Writing

/** Encode an OnnxModelProto as ONNX file bytes (protobuf). */
export function encodeOnnxModel(m: OnnxModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, writeGraph(m.graph));
  for (const o of m.opsetImport) {
    const ow = new ProtoWriter();
    if (o.domain) ow.string(1, o.domain);
    ow.int(2, o.version);
    w.message(8, ow);
  }
  for (const [k, v] of Object.entries(m.metadata)) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}

function writeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.node) w.message(1, writeNode(n));
  w.string(2, g.name);
  for (const t of g.initializer) w.message(5, writeTensor(t));
  for (const v of g.input) w.message(11, writeValueInfo(v));
  for (const v of g.output) w.message(12, writeValueInfo(v));
  for (const v of g.valueInfo) w.message(13, writeValueInfo(v));
  return w;
}

function writeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const s of n.input) w.string(1, s);
  for (const s of n.output) w.string(2, s);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attribute) w.message(5, writeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function writeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  if (a.i !== undefined) w.int(3, a.i);
  if (a.s !== undefined) w.string(4, a.s);
  if (a.t !== undefined) w.message(5, writeTensor(a.t));
  if (a.floats) w.floatsUnpacked(7, a.floats);
  if (a.ints) w.intsUnpacked(8, a.ints);
  if (a.strings) for (const s of a.strings) w.string(9, s);
  w.int(20, a.type);
  return w;
}

function writeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const tt = new ProtoWriter().int(1, v.elemType);
  if (v.shape) {
    const s = new ProtoWriter();
    for (const d of v.shape) {
      const dw = new ProtoWriter();
      if (typeof d === 'number') dw.int(1, d);
      else if (typeof d === 'string') dw.string(2, d);
      s.message(1, dw);
    }
    tt.message(2, s);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tt));
}

/** Tensors are written as raw_data (little-endian), the form every runtime reads fastest. */
function writeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter().intsUnpacked(1, t.dims).int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  const n = t.data.length;
  const size = t.dataType === FLOAT || t.dataType === INT32 ? 4 : 8;
  const raw = new Uint8Array(n * size);
  const v = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    const x = t.data[i];
    if (t.dataType === FLOAT) v.setFloat32(4 * i, x, true);
    else if (t.dataType === DOUBLE) v.setFloat64(8 * i, x, true);
    else if (t.dataType === INT32) v.setInt32(4 * i, x, true);
    else v.setBigInt64(8 * i, BigInt(x), true);
  }
  return w.bytes(9, raw);
}
