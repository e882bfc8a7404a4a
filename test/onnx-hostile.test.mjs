// Hostile ONNX files (issue #18): decoding memory bounded by the file's size (a budget in
// lib/io/protobuf.ts).
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeOnnxModel, encodeOnnxModel, fromOnnx, LSTM, MAX_ELEMENTS, recurrentFromOnnx, Rng, setMaxElements, tensor, toOnnx, UnsupportedModelError } from 'cellstate';
import { availableBackends } from 'cellstate';
import { emptyNodes, manyInitializers, packedDims } from '../scripts/reader-memory/onnx.mjs';
import { randomTensor } from './helpers/random.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const FLOAT = 1, INT64 = 7;
const ATTR = { INT: 2, INTS: 7 };
const MiB = 2 ** 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

/** A model around `graph` (opset 17). */
function model(graph, extra = {}) {
  return encodeOnnxModel({
    irVersion: 8, producerName: 'test', producerVersion: '', docString: '', metadata: {}, opsetImport: [{ domain: '', version: 17 }], ...extra,
    graph: { name: 'g', initializer: [], input: [], output: [], valueInfo: [], node: [], ...graph },
  });
}
const node = (opType, input, output, attribute = [], name = '') => ({ name, opType, domain: '', input, output, attribute });
const out = (name) => ({ name, elemType: FLOAT, shape: null });

describe('ONNX decoding: memory bounded by the file (16 bytes per file byte + 16 MiB)', function () {
  this.timeout(20000);
  // The budget bounds what a decode keeps; its short-lived objects (a reader per message) are
  // garbage that V8's young generation (semi-spaces of up to 16 MiB) collects as it goes.
  const GARBAGE = 32 * MiB;
  const bound = (n) => 16 * n + 16 * MiB + GARBAGE;
  /** Heap + external growth while `fn` runs, its result kept, nothing collected after it. */
  function growth(fn) {
    gc(); gc();
    const m0 = process.memoryUsage();
    let result, error = null;
    try { result = fn(); } catch (e) { error = e; }
    const m1 = process.memoryUsage();
    const bytes = m1.heapUsed + m1.external - m0.heapUsed - m0.external;
    result = null;
    gc();
    return { bytes, error };
  }
  for (const [label, make] of [['empty nodes (2 bytes each)', emptyNodes], ['empty initializers (6 bytes each)', manyInitializers]]) {
    it(`${label}: a 4 MB file is refused within 16 x its size + 16 MiB`, function () {
      const file = make(4 * MiB);
      const { bytes, error } = growth(() => decodeOnnxModel(file));
      expect(error, 'refused').to.be.instanceOf(RangeError);
      expect(error.message).to.match(/^fromOnnx: .*decoding would need more memory than the file's budget allows \(16 bytes per file byte \+ 16777216 = \d+ bytes, see SECURITY.md\)/);
      expect(bytes, `${(bytes / file.length).toFixed(1)} bytes per file byte`).to.be.below(bound(file.length));
    });
  }

  it('one packed field of 2^24 + 16 varints is refused before its array is built (at most 2^24 entries)', function () {
    const file = packedDims(2 ** 24 + 16);
    const { bytes, error } = growth(() => decodeOnnxModel(file));
    expect(error).to.be.instanceOf(RangeError);
    expect(error.message).to.match(/^fromOnnx: GraphProto.initializer\[0\]: .*repeated field dims would hold 16777232 entries \(at most 16777216\)/);
    expect(bytes).to.be.below(MiB);
  });

  it('a valid model decodes within the budget, every value as written (packed or not, raw or typed fields)', function () {
    const m = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 2 });
    const bytes = toOnnx(m);
    const { bytes: used, error } = growth(() => decodeOnnxModel(bytes));
    expect(error).to.equal(null);
    expect(used).to.be.below(bound(bytes.length));
    // Values in the typed fields (float_data packed, int64_data unpacked and packed), read back exactly.
    const fd = Float32Array.of(1.5, -2, 3.25);
    const f32 = [0x22, 12, ...new Uint8Array(fd.buffer)]; // float_data, packed
    const t1 = [0x08, 3, 0x10, FLOAT, 0x42, 1, 0x61, ...f32]; // dims [3], FLOAT, name "a"
    const t2 = [0x08, 3, 0x10, INT64, 0x42, 1, 0x62, 0x38, 5, 0x3a, 11, 0x7f, ...new Array(9).fill(0xff), 0x01]; // int64_data: 5, then packed [127, -1]
    const graph = [0x2a, t1.length, ...t1, 0x2a, t2.length, ...t2];
    const d = decodeOnnxModel(Uint8Array.from([0x08, 0x08, 0x3a, graph.length, ...graph]));
    expect(Array.from(d.graph.initializer[0].data)).to.deep.equal([1.5, -2, 3.25]);
    expect(Array.from(d.graph.initializer[1].data)).to.deep.equal([5, 127, -1]);
    t2[1] = 4; // dims [4]: one value short
    const bad = [0x2a, t2.length, ...t2];
    expect(() => decodeOnnxModel(Uint8Array.from([0x08, 0x08, 0x3a, bad.length, ...bad]))).to.throw(RangeError, 'expected 4 elements for dims [4], got 3 values');
  });

  it('a packed varint field that ends inside a varint is refused', function () {
    const t = [0x08, 1, 0x10, INT64, 0x3a, 2, 0x05, 0x85];
    const g = [0x2a, t.length, ...t];
    expect(() => decodeOnnxModel(Uint8Array.from([0x08, 0x08, 0x3a, g.length, ...g]))).to.throw(RangeError, 'field int64_data: packed varints end inside a varint');
  });
});
