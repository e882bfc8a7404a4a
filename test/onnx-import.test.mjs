// fromOnnx on the shared reference cases, built from their RAW ONNX tensors (W, R, B, P in ONNX
// gate order, the node's attributes) into a one-node ONNX model with our writer: the importer must
// reproduce the stored ONNX Runtime / ONNX-backend outputs within each case's tolerance, on every
// backend. The same models (layout 0) also go through ONNX Runtime itself, which checks the writer.
// Then hostile files: truncated, lying lengths, wrong types, missing tensors, unsupported things.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { encodeOnnxModel, decodeOnnxModel, fromOnnx, recurrentFromOnnx, toOnnx, tensor, LSTM, GRU, Rng, UnsupportedModelError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose, loadAllCases } from './helpers/reference.mjs';
import { randomTensor } from './helpers/random.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const FLOAT = 1, INT32 = 6, INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7, STRINGS: 8 };

function attribute(name, v) {
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: v };
  if (Array.isArray(v)) return typeof v[0] === 'string' ? { name, type: ATTR.STRINGS, strings: v } : { name, type: ATTR.INTS, ints: v };
  return Number.isInteger(v) && name !== 'clip' ? { name, type: ATTR.INT, i: v } : { name, type: ATTR.FLOAT, f: v };
}

/** A one-node ONNX model from a reference case's `onnx` field; graph inputs for what the case feeds. */
function modelFromCase(c, opset = Math.max(14, c.onnx.opset)) {
  const o = c.onnx, t = o.tensors;
  const init = [];
  const addInit = (name) => {
    if (!t[name]) return '';
    init.push({ name, dims: t[name].shape, dataType: FLOAT, data: Float32Array.from(t[name].data) });
    return name;
  };
  const inputs = [{ name: 'X', elemType: FLOAT, shape: c.inputs.x.shape }];
  const feed = (key, name, elemType) => {
    if (!c.inputs[key]) return '';
    inputs.push({ name, elemType, shape: c.inputs[key].shape });
    return name;
  };
  const nodeIn = ['X', addInit('W'), addInit('R'), addInit('B'), feed('lengths', 'sequence_lens', INT32), feed('h0', 'initial_h', FLOAT)];
  if (o.op_type === 'LSTM') nodeIn.push(feed('c0', 'initial_c', FLOAT), addInit('P'));
  while (nodeIn[nodeIn.length - 1] === '') nodeIn.pop();
  const outs = o.op_type === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'];
  return encodeOnnxModel({
    irVersion: 8, producerName: 'test', producerVersion: '', docString: '', metadata: {},
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: c.name, initializer: init, input: inputs, valueInfo: [],
      node: [{ name: 'rnn', opType: o.op_type, domain: '', input: nodeIn, output: outs, attribute: Object.entries(o.attributes).map(([k, v]) => attribute(k, v)) }],
      output: outs.map((name) => ({ name, elemType: FLOAT, shape: null })),
    },
  });
}

function caseFeeds(c) {
  const f = { X: tensor(c.inputs.x.data, c.inputs.x.shape) };
  if (c.inputs.lengths) f.sequence_lens = c.inputs.lengths.data;
  if (c.inputs.h0) f.initial_h = tensor(c.inputs.h0.data, c.inputs.h0.shape);
  if (c.inputs.c0 && c.onnx.op_type === 'LSTM') f.initial_c = tensor(c.inputs.c0.data, c.inputs.c0.shape);
  return f;
}

const onnxCases = loadAllCases().filter((c) => c.folder === 'onnxruntime' || c.folder === 'onnx-backend');

describe('fromOnnx: reference cases from their raw ONNX tensors', function () {
  it('finds all 21 ONNX cases', function () {
    expect(onnxCases).to.have.length(21);
  });
  for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
    describe(backend, function () {
      for (const c of onnxCases) {
        it(`${c.folder}/${c.name}`, function () {
          const got = fromOnnx(modelFromCase(c), { backend }).forward(caseFeeds(c));
          let compared = 0;
          for (const [key, name] of [['output', 'Y'], ['h_n', 'Y_h'], ['c_n', 'Y_c']]) {
            const want = c.outputs[key];
            if (!want) continue;
            expect(got[name].shape, `${name} shape`).to.deep.equal(want.shape);
            expect(allclose(got[name].data, want.data, c.tolerance.forward), name).to.equal(null);
            compared++;
          }
          expect(compared).to.be.greaterThan(0);
        });
      }
    });
  }

  describe('the same models in ONNX Runtime (layout 0; ORT rejects layout 1)', function () {
    for (const c of onnxCases.filter((k) => !k.onnx.attributes.layout)) {
      it(`${c.folder}/${c.name}`, async function () {
        const s = await ort.InferenceSession.create(modelFromCase(c), { intraOpNumThreads: 1 });
        const feeds = {};
        for (const [k, v] of Object.entries(caseFeeds(c))) {
          feeds[k] = k === 'sequence_lens' ? new ort.Tensor('int32', Int32Array.from(v), [v.length]) : new ort.Tensor('float32', v.data, v.shape);
        }
        const r = await s.run(feeds);
        for (const [key, name] of [['output', 'Y'], ['h_n', 'Y_h'], ['c_n', 'Y_c']]) {
          if (c.outputs[key]) expect(allclose(r[name].data, c.outputs[key].data, c.tolerance.forward), name).to.equal(null);
        }
      });
    }
  });

  it('recurrentFromOnnx maps one node\'s tensors to our PyTorch-named weights (the case\'s `weights`)', function () {
    for (const c of onnxCases) {
      const t = c.onnx.tensors;
      const dims = (k) => (t[k] ? { dims: t[k].shape, data: t[k].data } : null);
      const { module } = recurrentFromOnnx({ opType: c.onnx.op_type, attributes: c.onnx.attributes, W: dims('W'), R: dims('R'), B: dims('B'), P: dims('P') });
      const sd = module.stateDict();
      expect(Object.keys(sd).sort(), c.name).to.deep.equal(Object.keys(c.weights).sort());
      for (const [k, v] of Object.entries(c.weights)) expect(Array.from(sd[k].data), `${c.name} ${k}`).to.deep.equal(v.data);
    }
  });
});

describe('fromOnnx: a graph with a dense head', function () {
  it('LSTM -> Squeeze/Transpose/Reshape -> Gemm -> Relu -> MatMul -> Add -> Softmax runs like the same math in JS', function () {
    const rng = new Rng(21);
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 21 });
    const base = decodeOnnxModel(toOnnx(lstm));
    const g = base.graph;
    const W1 = randomTensor(rng, [5, 4]), b1 = randomTensor(rng, [5]), W2 = randomTensor(rng, [5, 2]), b2 = randomTensor(rng, [2]);
    g.initializer.push(
      { name: 'W1', dims: [5, 4], dataType: FLOAT, data: W1.data }, { name: 'b1', dims: [5], dataType: FLOAT, data: b1.data },
      { name: 'W2', dims: [5, 2], dataType: FLOAT, data: W2.data }, { name: 'b2', dims: [2], dataType: FLOAT, data: b2.data },
      { name: 'sq_axes', dims: [1], dataType: INT64, data: [0] },
    );
    g.node.push(
      { name: 'sq', opType: 'Squeeze', domain: '', input: ['h_n', 'sq_axes'], output: ['h_last'], attribute: [] },
      { name: 'fc1', opType: 'Gemm', domain: '', input: ['h_last', 'W1', 'b1'], output: ['z1'], attribute: [{ name: 'transB', type: ATTR.INT, i: 1 }] },
      { name: 'act', opType: 'Relu', domain: '', input: ['z1'], output: ['a1'], attribute: [] },
      { name: 'fc2', opType: 'MatMul', domain: '', input: ['a1', 'W2'], output: ['z2'], attribute: [] },
      { name: 'bias2', opType: 'Add', domain: '', input: ['z2', 'b2'], output: ['z3'], attribute: [] },
      { name: 'sm', opType: 'Softmax', domain: '', input: ['z3'], output: ['probs'], attribute: [] },
    );
    g.output = [{ name: 'probs', elemType: FLOAT, shape: null }];
    const x = randomTensor(rng, [6, 2, 3]);
    const got = fromOnnx(encodeOnnxModel(base)).forward(x).probs;
    const h = lstm.forward(x).hN.data; // [1, 2, 4]
    expect(got.shape).to.deep.equal([2, 2]);
    for (let b = 0; b < 2; b++) {
      const a1 = [0, 1, 2, 3, 4].map((o) => Math.max(0, b1.data[o] + [0, 1, 2, 3].reduce((s, i) => s + W1.data[o * 4 + i] * h[b * 4 + i], 0)));
      const z = [0, 1].map((j) => b2.data[j] + a1.reduce((s, v, o) => s + v * W2.data[o * 2 + j], 0));
      const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), sum = e[0] + e[1];
      for (let j = 0; j < 2; j++) expect(got.data[b * 2 + j]).to.be.closeTo(e[j] / sum, 1e-5);
    }
  });
});

describe('fromOnnx: hostile and unsupported files', function () {
  const good = () => toOnnx(new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, peephole: true, seed: 3 }), { lengths: true });
  const proto = () => decodeOnnxModel(good());
  const lstmNode = (m) => m.graph.node.find((n) => n.opType === 'LSTM');
  const mutate = (fn) => { const m = proto(); fn(m); return encodeOnnxModel(m); };

  it('every truncation of a valid file throws RangeError or TypeError naming fromOnnx', function () {
    const bytes = good();
    let n = 0;
    for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 97))) {
      let err = null;
      try { fromOnnx(bytes.subarray(0, cut)); } catch (e) { err = e; }
      expect(err, `cut at ${cut}`).to.not.equal(null);
      expect(err instanceof RangeError || err instanceof TypeError, `cut at ${cut}: ${err}`).to.equal(true);
      expect(err.message).to.match(/^fromOnnx/);
      n++;
    }
    expect(n).to.be.greaterThan(90);
  });

  it('seeded byte flips and garbage never crash: they load or throw RangeError/TypeError', function () {
    const rng = new Rng(99);
    const bytes = good();
    for (let k = 0; k < 300; k++) {
      const b = k < 250 ? bytes.slice() : new Uint8Array(1 + (rng.nextU32() % 400));
      if (k < 250) for (let j = 0; j < 1 + (k % 4); j++) b[rng.nextU32() % b.length] = rng.nextU32() & 0xff;
      else for (let j = 0; j < b.length; j++) b[j] = rng.nextU32() & 0xff;
      try { fromOnnx(b); } catch (e) {
        expect(e instanceof RangeError || e instanceof TypeError, `mutation ${k}: ${e && e.stack}`).to.equal(true);
      }
    }
  });

  const cases = [
    ['empty input', () => new Uint8Array(0), RangeError, 'got 0 bytes'],
    ['a length prefix larger than the file', () => Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0x7f, 1, 2]), RangeError, 'claims 268435455 bytes but only 2 remain'],
    ['a varint longer than 10 bytes', () => Uint8Array.from([0x08, ...new Array(11).fill(0xff), 0x01]), RangeError, 'varint longer than 10 bytes'],
    ['a group wire type', () => Uint8Array.from([0x0b]), RangeError, 'unsupported wire type 3'],
    ['no graph', () => Uint8Array.from([0x08, 0x07]), RangeError, 'no graph'],
    ['dims promising far more than the data', () => mutate((m) => { m.graph.initializer[1].dims = [1e9, 1e3]; }), RangeError, 'expected 1000000000000 elements'],
    ['a FLOAT16 weight', () => encodeFloat16Hack(proto()), TypeError, 'data_type: expected FLOAT, DOUBLE, INT32 or INT64, got FLOAT16'],
    ['W as an integer tensor', () => mutate((m) => { const w = m.graph.initializer.find((t) => t.name === 'W_l0'); w.dataType = INT32; w.data = Int32Array.from(w.data); }), TypeError, 'input W: expected a float tensor'],
    ['R missing', () => mutate((m) => { lstmNode(m).input[2] = ''; }), TypeError, 'input 2 (R) is required'],
    ['an input nobody produces', () => mutate((m) => { lstmNode(m).input[3] = 'nowhere'; }), TypeError, 'input "nowhere" is not produced'],
    ['W computed, not an initializer', () => mutate((m) => { lstmNode(m).input[1] = 'x'; }), UnsupportedModelError, 'must be an initializer'],
    ['W of the wrong shape', () => mutate((m) => { const w = m.graph.initializer.find((t) => t.name === 'W_l0'); w.dims = [2, 4, 6]; }), RangeError, 'LSTM W: expected shape [2, 8, 6] (D=2, H=2), got [2, 4, 6]'],
    ['hidden_size contradicting R', () => mutate((m) => { lstmNode(m).attribute.find((a) => a.name === 'hidden_size').i = 3; }), RangeError, 'expected shape [2, 12, 3] (D=2, H=3)'],
    ['an unsupported op', () => mutate((m) => { m.graph.node.push({ name: 'c', opType: 'Conv', domain: '', input: ['output'], output: ['y'], attribute: [] }); }), UnsupportedModelError, '"Conv" is not supported'],
    ['a custom domain', () => mutate((m) => { m.graph.node[0].domain = 'com.example'; }), UnsupportedModelError, 'domain "com.example"'],
    ['HardSigmoid in one direction only', () => mutate((m) => { lstmNode(m).attribute.push({ name: 'activations', type: ATTR.STRINGS, strings: ['HardSigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh'] }); }), UnsupportedModelError, 'LSTM activations: the reverse direction\'s {"name":"sigmoid","alpha":0,"beta":0} differs from the forward\'s {"name":"hardSigmoid","alpha":0.2,"beta":0.5} (position 0)'],
    ['an activation ONNX does not have', () => mutate((m) => { lstmNode(m).attribute.push({ name: 'activations', type: ATTR.STRINGS, strings: ['Gelu', 'Tanh', 'Tanh', 'Gelu', 'Tanh', 'Tanh'] }); }), UnsupportedModelError, '"Gelu" at position 0 is not an ONNX activation'],
    ['activations of the wrong count', () => mutate((m) => { lstmNode(m).attribute.push({ name: 'activations', type: ATTR.STRINGS, strings: ['Sigmoid'] }); }), RangeError, 'expected 6 names'],
    ['activation_alpha', () => mutate((m) => { lstmNode(m).attribute.push({ name: 'activation_alpha', type: 6, floats: [0.2] }); }), UnsupportedModelError, 'activation_alpha'],
    ['an unknown attribute', () => mutate((m) => { lstmNode(m).attribute.push({ name: 'frobnicate', type: ATTR.INT, i: 1 }); }), UnsupportedModelError, '"frobnicate"'],
    ['direction misspelled', () => mutate((m) => { lstmNode(m).attribute.find((a) => a.name === 'direction').s = 'both'; }), UnsupportedModelError, "direction: expected 'forward', 'reverse' or 'bidirectional', got \"both\""],
    ['opset 6', () => mutate((m) => { m.opsetImport = [{ domain: '', version: 6 }]; }), UnsupportedModelError, 'opset 6 is older than 7'],
    ['a graph output nobody produces', () => mutate((m) => { m.graph.output.push({ name: 'ghost', elemType: FLOAT, shape: null }); }), TypeError, 'graph output "ghost" is not produced'],
    ['external data', () => externalDataModel(), TypeError, 'external data'],
    ['a broadcast that would allocate far more than the file holds', () => {
      const m = { irVersion: 8, producerName: '', producerVersion: '', docString: '', metadata: {}, opsetImport: [{ domain: '', version: 17 }], graph: {
        name: 'blowup', valueInfo: [], input: [{ name: 'x', elemType: FLOAT, shape: [1] }],
        initializer: [{ name: 'col', dims: [4096, 1], dataType: FLOAT, data: new Float32Array(4096) }, { name: 'row', dims: [1, 4096], dataType: FLOAT, data: new Float32Array(4096) }],
        node: [{ name: 'add', opType: 'Add', domain: '', input: ['col', 'row'], output: ['y'], attribute: [] }],
        output: [{ name: 'y', elemType: FLOAT, shape: null }] } };
      const model = fromOnnx(encodeOnnxModel(m));
      return { forward: () => model.forward(tensor([0], [1])) };
    }, RangeError, 'output: expected at most 1048576 elements (64x the inputs), got 16777216'],
    ['not bytes', () => 'model.onnx', TypeError, 'fromOnnx: bytes: expected a Uint8Array'],
  ];
  for (const [label, make, cls, frag] of cases) {
    it(`${label}: ${cls.name} (${frag})`, function () {
      expect(() => { const m = make(); return m && typeof m.forward === 'function' ? m.forward() : fromOnnx(m); }).to.throw(cls, frag);
    });
  }

  describe('forward feeds', function () {
    const model = () => fromOnnx(good(), { as: 'graph' }); // a chain: by default a Sequential
    const x = () => randomTensor(new Rng(1), [4, 2, 3]);
    const fcases = [
      [() => model().forward(x()), TypeError, 'feeds: expected an object keyed by input name (x, lengths)'],
      [() => model().forward({ x: x() }), TypeError, 'feeds.lengths: expected a value'],
      [() => model().forward({ x: x(), lengths: [4, 2], y: 1 }), TypeError, 'feeds.y'],
      [() => model().forward({ x: randomTensor(new Rng(1), [4, 2, 5]), lengths: [4, 2] }), RangeError, 'feeds.x: expected shape [T, B, 3], got [4, 2, 5]'],
      [() => model().forward({ x: x(), lengths: [4, 2.5] }), RangeError, 'feeds.lengths: expected integers'],
      [() => model().forward({ x: x(), lengths: [4, 9] }), RangeError, 'lengths[1]: expected an integer in [1, 4]'],
      [() => model().forward({ x: [1, 2], lengths: [4, 2] }), TypeError, 'feeds.x: expected a float32 Tensor'],
    ];
    for (const [fn, cls, frag] of fcases) {
      it(`${cls.name}: ${frag}`, function () {
        expect(fn).to.throw(cls, frag);
      });
    }
  });
});

/** A model whose first initializer has data_type FLOAT16 and 2 bytes per element of raw data. */
function encodeFloat16Hack(m) {
  const t = m.graph.initializer[1];
  const n = t.dims.reduce((a, b) => a * b, 1);
  // Write as INT32 of half the element count (same bytes as n float16 values) then patch the type byte.
  t.dataType = INT32;
  t.data = new Int32Array(n / 2);
  const bytes = encodeOnnxModel(m);
  // data_type is field 2 (key 0x10) with value 6 (INT32) right after the dims of this tensor: patch the first
  // occurrence that follows the tensor's name bytes.
  const name = new TextEncoder().encode(t.name);
  outer: for (let i = 0; i < bytes.length - name.length; i++) {
    for (let j = 0; j < name.length; j++) if (bytes[i + j] !== name[j]) continue outer;
    for (let k = i; k > 1; k--) if (bytes[k - 1] === 0x10 && bytes[k] === INT32) { bytes[k] = 10; return bytes; }
  }
  throw new Error('test helper: could not patch data_type');
}

/** A model with one initializer stored as external data (data_location = EXTERNAL). */
function externalDataModel() {
  // By hand: ModelProto { ir_version: 8, graph { initializer { dims: 1, data_type: FLOAT, name: "w", data_location: EXTERNAL } } }.
  const tensorMsg = [0x08, 0x01, 0x10, 0x01, 0x42, 0x01, 0x77, 0x70, 0x01];
  const graph = [0x2a, tensorMsg.length, ...tensorMsg];
  return Uint8Array.from([0x08, 0x08, 0x3a, graph.length, ...graph]);
}
