// ONNX cases for scripts/reader-memory/run.mjs (the format is described there), and the hostile
// files they are made of, built byte by byte (test/onnx-hostile.test.mjs and
// test/helpers/fuzz-onnx.mjs use the same builders at small sizes). Each hostile file is small
// on disk and declares a lot: the decoder must refuse it within its memory budget
// (lib/io/protobuf.ts) or decode it in memory proportional to its size.
import { fromOnnx, LSTM, toOnnx } from 'cellstate';

// ---------------------------------------------------------------- protobuf bytes by hand

/** A varint's bytes (n < 2^53). */
export function varint(n) {
  const out = [];
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}

/** Concatenate byte arrays / number arrays into one Uint8Array. */
export function cat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A length-delimited field: key (field, wire 2), length, payload. */
export function lenField(field, payload) {
  return cat(varint(field * 8 + 2), varint(payload.length), payload);
}

/** `unit` repeated to fill `bytes` bytes (rounded down to whole units). */
export function repeat(unit, bytes) {
  const n = Math.max(1, Math.floor(bytes / unit.length));
  const out = new Uint8Array(n * unit.length);
  out.set(unit);
  for (let filled = unit.length; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
  return out;
}

/** ModelProto { ir_version 8, opset_import { version 17 }, graph { <graph payload> } }. */
export function modelWithGraph(graphPayload) {
  return cat([0x08, 0x08], lenField(8, [0x10, 17]), lenField(7, graphPayload));
}

// ---------------------------------------------------------------- hostile files

/** A graph of nothing but empty nodes (2 bytes each): ~`bytes` bytes. */
export const emptyNodes = (bytes) => modelWithGraph(repeat([0x0a, 0x00], bytes));

/** One initializer whose dims field is one packed field of ~`bytes` one-byte varints. */
export const packedDims = (bytes) => modelWithGraph(lenField(5, cat(lenField(1, repeat([0x01], bytes)), [0x10, 1])));

/** One INT64 initializer of ~`bytes` values, as packed one-byte varints, with the dims that fit. */
export function packedInt64(bytes) {
  const values = repeat([0x05], bytes);
  return modelWithGraph(lenField(5, cat([0x08], varint(values.length), [0x10, 7], lenField(7, values))));
}

/** A graph of ~`bytes` / 6 empty FLOAT initializers (dims [0]). */
export const manyInitializers = (bytes) => modelWithGraph(repeat(cat([0x2a, 0x04], [0x08, 0x00, 0x10, 0x01]), bytes));

/** One node with ~`bytes` / 2 empty input names. */
export const manyInputs = (bytes) => modelWithGraph(lenField(1, repeat([0x0a, 0x00], bytes)));

/**
 * Subgraph attributes nested `depth` deep: node { attribute { g: graph { node { attribute { g: ... } } } } }
 * (written from the inside out, so building it is linear).
 */
export function nestedAttributes(depth) {
  const buf = new Uint8Array(depth * 3 * 7 + 64);
  let start = buf.length; // the message being wrapped is buf[start..]
  const wrap = (field) => {
    const len = varint(buf.length - start), key = varint(field * 8 + 2);
    start -= len.length; buf.set(len, start);
    start -= key.length; buf.set(key, start);
  };
  for (let d = 0; d < depth; d++) { wrap(6); wrap(5); wrap(1); } // attribute.g, node.attribute, graph.node
  return modelWithGraph(buf.subarray(start));
}

/**
 * A valid graph: ~`nodeBytes` / 19 Identity nodes (x -> x) and an unused FLOAT initializer of
 * `padBytes` bytes of raw_data (the cheapest bytes to decode, so the nodes fit the budget).
 * fromOnnx accepts it, so its plan of the graph is built too.
 */
export function identityChain(nodeBytes, padBytes = 0) {
  const x = [0x78]; // "x"
  const typed = cat(lenField(1, x), lenField(2, lenField(1, [0x08, 0x01]))); // ValueInfoProto { name: "x", type { tensor_type { elem_type: FLOAT } } }
  const node = lenField(1, cat(lenField(1, x), lenField(2, x), lenField(4, new TextEncoder().encode('Identity'))));
  const n = Math.floor(padBytes / 4);
  const pad = lenField(5, cat([0x08], varint(n), [0x10, 0x01, 0x42, 0x01, 0x70], lenField(9, new Uint8Array(4 * n)))); // dims [n], FLOAT, name "p", raw_data
  return modelWithGraph(cat(lenField(11, typed), lenField(12, typed), pad, repeat(node, nodeBytes)));
}

/** A valid model: an LSTM of hidden size `H` (input size H), ~16·H² bytes of weights. */
export function validLstm(H) {
  return toOnnx(new LSTM({ inputSize: H, hiddenSize: H, seed: 1, backend: 'ts' }));
}

// ---------------------------------------------------------------- cases for run.mjs

const MB = 2 ** 20;
const decode = (input) => { fromOnnx(input); };

export const cases = [
  { reader: 'onnx', name: 'empty nodes, 40 MB', make: () => emptyNodes(40 * MB), run: decode },
  { reader: 'onnx', name: 'one packed varint field (dims), 110 MB', make: () => packedDims(110 * MB), run: decode },
  { reader: 'onnx', name: 'one packed varint field (dims), 16 MB', make: () => packedDims(16 * MB - 64), run: decode },
  { reader: 'onnx', name: 'one packed varint field (int64_data), 40 MB', make: () => packedInt64(40 * MB), run: decode },
  { reader: 'onnx', name: 'empty initializers, 40 MB', make: () => manyInitializers(40 * MB), run: decode },
  { reader: 'onnx', name: 'empty input names in one node, 40 MB', make: () => manyInputs(40 * MB), run: decode },
  { reader: 'onnx', name: 'subgraph attributes nested 1e6 deep', make: () => nestedAttributes(1e6), run: decode },
  { reader: 'onnx', name: 'Identity nodes (a valid graph), 40 MB', make: () => identityChain(16 * MB, 24 * MB), run: decode },
  { reader: 'onnx', name: 'valid LSTM, H = 512 (8 MB)', make: () => validLstm(512), run: decode },
];
