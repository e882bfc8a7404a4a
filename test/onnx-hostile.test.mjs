// Hostile ONNX files and graphs (issue #18): decoding memory bounded by the file's size (a budget
// in lib/io/protobuf.ts), every operator's output checked against the element limit before it is
// allocated, names from the file that are Object.prototype's own ("__proto__", "constructor", ...)
// neither polluting it nor read from it, Transpose above rank 10 and MatMul with K = 0 as ONNX
// Runtime computes them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
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
      expect(bytes, `${(bytes / file.length).toFixed(1)} bytes per file byte`).to.be.below(bound(file.length));
      expect(error, 'refused').to.be.instanceOf(RangeError);
      expect(error.message).to.match(/^fromOnnx: .*decoding would need more memory than the file's budget allows \(16 bytes per file byte \+ 16777216 = \d+ bytes, see docs\/security.md#limits\)/);
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

describe('ONNX operators: every output checked against the element limit before it is allocated', function () {
  afterEach(() => setMaxElements(MAX_ELEMENTS));

  /** x [1000] concatenated with itself `k` times (then sliced back to 4 values, so only the intermediates are large). */
  function concatChain(dataType, k) {
    const data = dataType === FLOAT ? new Float32Array(1000).fill(1) : Array.from({ length: 1000 }, (_, i) => i);
    const nodes = [];
    for (let i = 0; i < k; i++) nodes.push(node('Concat', [`c${i}`, `c${i}`], [`c${i + 1}`], [{ name: 'axis', type: ATTR.INT, i: 0 }], `cat${i}`));
    nodes.push(node('Slice', [`c${k}`, 'zero', 'four'], ['y'], [], 'slice'));
    return model({
      initializer: [{ name: 'c0', dims: [1000], dataType, data }, { name: 'zero', dims: [1], dataType: INT64, data: [0] }, { name: 'four', dims: [1], dataType: INT64, data: [4] }],
      node: nodes, output: [out('y')],
    });
  }
  for (const [label, dataType] of [['float', FLOAT], ['int64', INT64]]) {
    it(`chained Concats (${label}): the first output over the limit is refused, naming the node`, function () {
      const m = fromOnnx(concatChain(dataType, 8)); // up to 256 000 elements
      expect(Array.from(m.forward({}).y.data)).to.deep.equal(dataType === FLOAT ? [1, 1, 1, 1] : [0, 1, 2, 3]);
      setMaxElements(100000);
      expect(() => m.forward({})).to.throw(RangeError, 'fromOnnx: node 6 (Concat "cat6"): output: expected at most 100000 elements (the size limit, see docs/security.md#limits), got [128000]');
    });
  }
  it('chained Concats that would reach 10^12 elements (int64): a RangeError at the first over the limit', function () {
    const m = fromOnnx(concatChain(INT64, 30));
    setMaxElements(1e6);
    expect(() => m.forward({})).to.throw(RangeError, 'node 9 (Concat "cat9"): output: expected at most 1000000 elements (the size limit, see docs/security.md#limits), got [1024000]');
  });

  // Each operator that allocates, with inputs under the limit (when loaded) and an output over
  // it; the graph's output is one row of it, so only the operator's own check can refuse.
  const x = { name: 'x', dims: [30, 40], dataType: FLOAT, data: new Float32Array(1200).fill(0.5) };
  const ops = [
    ['Transpose', [x], node('Transpose', ['x'], ['y'])],
    ['Relu', [x], node('Relu', ['x'], ['y'])],
    ['Softmax', [x], node('Softmax', ['x'], ['y'])],
    ['Add (broadcast)', [x, { name: 'b', dims: [40], dataType: FLOAT, data: new Float32Array(40) }], node('Add', ['x', 'b'], ['y'])],
    ['MatMul', [x, { name: 'w', dims: [40, 40], dataType: FLOAT, data: new Float32Array(1600) }], node('MatMul', ['x', 'w'], ['y'])],
    ['Gemm', [x, { name: 'w', dims: [40, 40], dataType: FLOAT, data: new Float32Array(1600) }], node('Gemm', ['x', 'w'], ['y'])],
    ['Slice', [x, { name: 's', dims: [1], dataType: INT64, data: [0] }, { name: 'e', dims: [1], dataType: INT64, data: [30] }], node('Slice', ['x', 's', 'e'], ['y'])],
  ];
  for (const [label, init, n] of ops) {
    it(`${label}`, function () {
      const bounds = [{ name: 'zero', dims: [1], dataType: INT64, data: [0] }, { name: 'one', dims: [1], dataType: INT64, data: [1] }];
      const m = fromOnnx(model({ initializer: [...init, ...bounds], node: [{ ...n, name: 'op' }, node('Slice', ['y', 'zero', 'one', 'zero'], ['row'])], output: [out('row')] }));
      expect(m.forward({}).row.shape[0]).to.equal(1);
      setMaxElements(1199);
      expect(() => m.forward({})).to.throw(RangeError, `fromOnnx: node 0 (${n.opType} "op"): output: expected at most 1199 elements`);
    });
  }
});

describe('ONNX graph execution: each value dropped after its last reader', function () {
  this.timeout(20000);
  it('a chain of 200 Relus on 10^6 elements (a 4 KB file) holds a few values at a time, not 200 (peak RSS, in a fresh process)', function () {
    // A dropped value is freed when V8 next collects, and that lags as its heuristics and, under
    // load, its background threads please (465 MB, then with --gc-interval 1244 MB, were seen on
    // busy machines). So the child collects in full before every 20th 4 MB value is made (a
    // Float32Array constructor that calls gc() first): the peak then counts what the runner still
    // holds, about 20 values at most. The peak is sampled as each value is made, not read from
    // getrusage's maxRSS: Linux carries the high-water mark of the process that forked the child
    // into it (mocha's, over 1.3 GB late in the suite). 52-56 MB here, idle, loaded with six busy
    // loops, or late in the full suite; 757 MB with the runner's release line removed.
    const script = `
      const n = 1e6, k = 200;
      const F = globalThis.Float32Array;
      let made = 0;
      let peak = 0;
      globalThis.Float32Array = new Proxy(F, { construct(t, a) {
        if (a[0] === n) { if (++made % 20 === 0) globalThis.gc(); peak = Math.max(peak, process.memoryUsage.rss()); }
        return Reflect.construct(t, a);
      } });
      const { encodeOnnxModel, fromOnnx, tensor } = await import('cellstate');
      const node = (i) => ({ name: '', opType: 'Relu', domain: '', input: [i ? 'v' + i : 'x'], output: ['v' + (i + 1)], attribute: [] });
      const bytes = encodeOnnxModel({ irVersion: 8, producerName: '', producerVersion: '', docString: '', metadata: {}, opsetImport: [{ domain: '', version: 17 }],
        graph: { name: 'g', initializer: [], valueInfo: [], input: [{ name: 'x', elemType: 1, shape: [n] }], node: Array.from({ length: k }, (_, i) => node(i)), output: [{ name: 'v' + k, elemType: 1, shape: null }] } });
      const m = fromOnnx(bytes);
      const x = tensor(new Float32Array(n).fill(0.5), [n]);
      const rss0 = process.memoryUsage().rss;
      const y = m.forward(x)['v' + k];
      if (y.data[0] !== 0.5) throw new Error('wrong result');
      if (made < k) throw new Error('the values were not made through Float32Array: the collections did not run');
      peak = Math.max(peak, process.memoryUsage.rss());
      console.log(JSON.stringify({ bytes: bytes.length, growth: peak - rss0 }));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: new URL('.', import.meta.url).pathname });
    expect(r.status, r.stderr).to.equal(0);
    const { bytes, growth } = JSON.parse(r.stdout);
    expect(bytes).to.be.below(4096);
    expect(growth / MiB, 'MB of peak RSS growth (200 values of 4 MB would be 800)').to.be.below(200);
  });
});

describe('ONNX names that are Object.prototype\'s own: no pollution, no confusion with inherited properties', function () {
  const before = Object.getOwnPropertyNames(Object.prototype).sort();
  afterEach(function () {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(before);
    expect({}.polluted).to.equal(undefined);
    expect(Object.keys).to.be.a('function');
    expect(Object.prototype.toString.call([])).to.equal('[object Array]');
  });
  const WEIGHTS = ['constructor', 'toString', 'valueOf', '__proto__.polluted'];
  const VALUES = ['__proto__', 'constructor.prototype.polluted', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'];

  for (const backend of availableBackends()) {
    it(`${backend}: a model whose every initializer, node, value and output is named after them loads and runs`, function () {
      // x -> LSTM (weights named after them) -> h_n -> Identity chain through values named after them, all outputs.
      const lstm = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 4, backend });
      const m = decodeOnnxModel(toOnnx(lstm));
      const g = m.graph;
      expect(g.initializer).to.have.length(WEIGHTS.length);
      const rename = new Map(g.initializer.map((t, i) => [t.name, WEIGHTS[i]]));
      for (const t of g.initializer) t.name = rename.get(t.name);
      for (const n of g.node) { n.input = n.input.map((s) => rename.get(s) ?? s); n.name = 'constructor'; }
      let prev = 'h_n';
      for (const name of VALUES) { g.node.push(node('Identity', [prev], [name], [], '__proto__')); prev = name; }
      g.output = VALUES.map(out);
      m.metadata = { __proto__: null, ['__proto__']: 'meta', constructor: 'c' };
      const x = randomTensor(new Rng(5), [4, 1, 2]);
      const res = fromOnnx(encodeOnnxModel(m), { backend }).forward(x);
      expect(Object.keys(res).sort()).to.deep.equal([...VALUES].sort());
      const want = lstm.forward(x).hN.data;
      for (const name of VALUES) {
        expect(Object.hasOwn(res, name), name).to.equal(true);
        res[name].data.forEach((v, i) => expect(v, name).to.be.closeTo(want[i], 1e-6));
      }
      const meta = decodeOnnxModel(encodeOnnxModel(m)).metadata;
      expect(Object.keys(meta).sort()).to.deep.equal(['__proto__', 'constructor']);
      expect(meta['__proto__']).to.equal('meta');
    });

    it(`${backend}: a recurrent node's attribute named __proto__ or constructor is refused by name`, function () {
      for (const name of ['__proto__', 'constructor', 'toString']) {
        const m = decodeOnnxModel(toOnnx(new LSTM({ inputSize: 2, hiddenSize: 3, seed: 4 })));
        m.graph.node.find((n) => n.opType === 'LSTM').attribute.push({ name, type: ATTR.INTS, ints: [1] });
        expect(() => fromOnnx(encodeOnnxModel(m), { backend }), name).to.throw(UnsupportedModelError, `LSTM attribute ${JSON.stringify(name)} is not supported`);
      }
    });

    it(`${backend}: recurrentFromOnnx reads own attributes only (an inherited direction is not one)`, function () {
      const W = { dims: [1, 4, 1], data: new Float32Array(4) }, R = { dims: [1, 4, 1], data: new Float32Array(4) };
      const inherited = Object.create({ direction: 'reverse' });
      const { module } = recurrentFromOnnx({ opType: 'LSTM', attributes: inherited, W, R }, { backend });
      expect(module.reverse).to.equal(false);
      const own = JSON.parse('{"__proto__": [1], "hidden_size": 1}');
      expect(() => recurrentFromOnnx({ opType: 'LSTM', attributes: own, W, R }, { backend })).to.throw(UnsupportedModelError, 'LSTM attribute "__proto__" is not supported');
    });
  }

  it('an operator\'s attribute it does not know (__proto__, constructor, a typo) is refused by name, before it is stored', function () {
    for (const [op, name] of [['Softmax', '__proto__'], ['Relu', 'constructor'], ['Gemm', 'transposeA'], ['Concat', 'toString']]) {
      const bytes = model({ input: [{ name: 'x', elemType: FLOAT, shape: [2, 2] }], node: [node(op, op === 'Gemm' || op === 'Concat' ? ['x', 'x'] : ['x'], ['y'], [{ name, type: ATTR.INT, i: 1 }], 'n')], output: [out('y')] });
      expect(() => fromOnnx(bytes), `${op} ${name}`).to.throw(UnsupportedModelError, `fromOnnx: node 0 (${op} "n"): attribute ${JSON.stringify(name)} is not supported (known: `);
    }
  });

  it('a graph input named toString is fed by own properties only', function () {
    const m = fromOnnx(model({ input: [{ name: 'toString', elemType: FLOAT, shape: [2] }, { name: 'b', elemType: FLOAT, shape: [2] }], node: [node('Add', ['toString', 'b'], ['y'])], output: [out('y')] }));
    expect(() => m.forward({ b: tensor([1, 2]) })).to.throw(TypeError, 'OnnxModel.forward: feeds.toString: expected a value for graph input "toString", got undefined');
    expect(Array.from(m.forward({ toString: tensor([1, 2]), b: tensor([3, 4]) }).y.data)).to.deep.equal([4, 6]);
  });
});

describe('ONNX operators as ONNX Runtime computes them', function () {
  async function compare(bytes, feeds) {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const want = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.shape)])));
    const got = fromOnnx(bytes, { as: 'graph' }).forward(feeds);
    for (const [k, w] of Object.entries(want)) {
      expect(got[k].shape, k).to.deep.equal(Array.from(w.dims));
      expect(Array.from(got[k].data), k).to.deep.equal(Array.from(w.data));
    }
  }

  it('Transpose of rank 11 and 12 (valid permutations above rank 10)', async function () {
    for (const shape of [[2, 1, 3, 1, 2, 1, 1, 2, 1, 1, 2], [1, 2, 1, 1, 3, 1, 1, 1, 1, 2, 1, 2]]) {
      const r = shape.length;
      const perm = Array.from({ length: r }, (_, i) => (i * 5 + 3) % r);
      expect(new Set(perm).size).to.equal(r);
      const x = randomTensor(new Rng(r), shape);
      const bytes = model({ input: [{ name: 'x', elemType: FLOAT, shape }], node: [node('Transpose', ['x'], ['y'], [{ name: 'perm', type: ATTR.INTS, ints: perm }])], output: [out('y')] });
      await compare(bytes, { x });
    }
  });

  it('Transpose still refuses what is not a permutation', function () {
    const bad = (perm) => model({ input: [{ name: 'x', elemType: FLOAT, shape: [2, 3, 1] }], node: [node('Transpose', ['x'], ['y'], [{ name: 'perm', type: ATTR.INTS, ints: perm }])], output: [out('y')] });
    for (const perm of [[0, 0, 1], [0, 1, 3], [0, 1], [2, 1, 0, 3], [0, 1, -1]]) {
      expect(() => fromOnnx(bad(perm)).forward({ x: tensor(new Float32Array(6), [2, 3, 1]) }), `[${perm}]`).to.throw(RangeError, 'perm: expected a permutation of 3 axes');
    }
  });

  it('MatMul with an empty inner dimension (K = 0) gives zeros of shape [..., M, N]', async function () {
    const w = { name: 'w', dims: [0, 3], dataType: FLOAT, data: new Float32Array(0) };
    const bytes = model({ input: [{ name: 'x', elemType: FLOAT, shape: [2, 4, 0] }], initializer: [w], node: [node('MatMul', ['x', 'w'], ['y'])], output: [out('y')] });
    await compare(bytes, { x: tensor(new Float32Array(0), [2, 4, 0]) });
    expect(fromOnnx(bytes).forward({ x: tensor(new Float32Array(0), [2, 4, 0]) }).y.shape).to.deep.equal([2, 4, 3]);
  });

  it('Gemm with K = 0 gives C broadcast to [M, N]', async function () {
    const a = { name: 'a', dims: [2, 0], dataType: FLOAT, data: new Float32Array(0) }, b = { name: 'b', dims: [0, 3], dataType: FLOAT, data: new Float32Array(0) };
    const bytes = model({ input: [{ name: 'c', elemType: FLOAT, shape: [3] }], initializer: [a, b], node: [node('Gemm', ['a', 'b', 'c'], ['y'])], output: [out('y')] });
    await compare(bytes, { c: tensor([1, 2, 3]) });
  });
});
