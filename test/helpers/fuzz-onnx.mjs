// Fuzz targets for the ONNX reader and graph execution (wired into test/helpers/fuzz-api.mjs's
// makeTargets; same property, same harness, which runs under a low setMaxElements):
//
// - small files declaring huge counts and lengths: packed varint / float fields, repeated fields
//   (empty nodes, initializers, input names), dims whose product is huge, raw_data and length
//   prefixes that lie, subgraph attributes nested deep -- decoded within the file's memory
//   budget, or refused with a named RangeError / TypeError;
// - names from the file that are Object.prototype's own (initializers, nodes, values, outputs,
//   attributes, metadata keys): the model loads and runs (outputs keyed by exactly those names)
//   or is refused by name, and Object.prototype is unchanged either way;
// - graphs whose glue operators would blow sizes up (chained Concats, float and int64,
//   broadcasts, MatMul with K = 0, Transpose of high rank, hostile Reshape / Slice / Squeeze
//   arguments): a RangeError naming the node before any buffer over the element limit is
//   allocated, or a result within it.
import { decodeOnnxModel, encodeOnnxModel, fromOnnx, maxElements, tensor } from 'cellstate';
import { cat, emptyNodes, lenField, manyInitializers, manyInputs, modelWithGraph, nestedAttributes, packedDims, packedInt64, repeat, varint } from '../../scripts/reader-memory/onnx.mjs';

const FLOAT = 1, INT32 = 6, INT64 = 7;
const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__proto__.polluted', 'constructor.prototype.polluted', '__defineGetter__', 'isPrototypeOf', 'polluted'];

/** Throws a plain Error (not an allowed class: the harness reports it) when Object.prototype changed. */
function checkPrototype(before) {
  const now = Object.getOwnPropertyNames(Object.prototype);
  if (now.length !== before.length || now.some((k, i) => k !== before[i]) || ({}).polluted !== undefined || typeof Object.keys !== 'function') {
    throw new Error(`Object.prototype changed: ${now.filter((k) => !before.includes(k)).join(', ') || 'a property was replaced'}`);
  }
}

export function makeOnnxTargets(r, backends) {
  const backendName = () => r.pick(backends);
  const big = () => r.pick([2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 53 - 1, 1e9, 2 ** 24 + 1]);
  const model = (graph, extra = {}) => encodeOnnxModel({
    irVersion: 8, producerName: 'fuzz', producerVersion: '', docString: '', metadata: {}, opsetImport: [{ domain: '', version: r.pick([13, 17]) }], ...extra,
    graph: { name: 'g', initializer: [], input: [], output: [], valueInfo: [], node: [], ...graph },
  });
  const node = (opType, input, output, attribute = [], name = '') => ({ name, opType, domain: '', input, output, attribute });
  const out = (name) => ({ name, elemType: FLOAT, shape: null });
  const ints = (name, v) => ({ name, type: 7, ints: v });
  const int = (name, v) => ({ name, type: 2, i: v });
  const floatInit = (name, dims) => ({ name, dims, dataType: FLOAT, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.num(-1, 1)) });
  const intInit = (name, values) => ({ name, dims: [values.length], dataType: INT64, data: values });

  /** A file of `kind`: small on disk, declaring a lot. */
  function declaring() {
    const kb = 1024 * (1 + r.int(r.chance(0.3) ? 400 : 40));
    switch (r.int(10)) {
      case 0: return [`empty nodes ${kb} B`, emptyNodes(kb)];
      case 1: return [`packed dims ${kb} B`, packedDims(kb)];
      case 2: return [`packed int64 ${kb} B`, packedInt64(kb)];
      case 3: return [`empty initializers ${kb} B`, manyInitializers(kb)];
      case 4: return [`empty input names ${kb} B`, manyInputs(kb)];
      case 5: return ['nested subgraph attributes', nestedAttributes(1 + r.int(20000))];
      case 6: { // a length prefix (of a packed field, raw_data, a message) that claims more than the file holds
        const n = big();
        const field = r.pick([1, 4, 5, 7, 9, 10]);
        return [`tensor field ${field} claiming ${n} bytes`, modelWithGraph(lenField(5, cat([0x10, FLOAT], varint(field * 8 + 2), varint(n), [1, 2, 3])))];
      }
      case 7: { // dims whose product is huge, with little or no data
        const dims = Array.from({ length: 1 + r.int(4) }, () => (r.chance(0.5) ? big() : r.int(3)));
        const body = cat(...dims.map((d) => [0x08, ...varint(d)]), [0x10, r.pick([FLOAT, INT32, INT64, 11])], r.chance(0.5) ? lenField(9, new Uint8Array(r.int(64))) : []);
        return [`dims [${dims}]`, modelWithGraph(lenField(5, body))];
      }
      case 8: { // a packed float field whose length is not a multiple of 4, or a varint field cut short
        const body = r.chance(0.5) ? cat([0x10, FLOAT, 0x08, 2], lenField(4, new Uint8Array(5 + r.int(3)))) : cat([0x10, INT64, 0x08, 1], lenField(7, [0xff, 0xff]));
        return ['bad packed field', modelWithGraph(lenField(5, body))];
      }
      default: { // one attribute with a packed ints / floats field of many values
        const values = repeat([r.chance(0.5) ? 0x01 : 0x7f], kb);
        const attr = cat(lenField(1, [0x61]), lenField(r.chance(0.5) ? 8 : 7, values.subarray(0, values.length & ~3)));
        return [`attribute with ${kb} packed values`, modelWithGraph(lenField(1, cat(lenField(4, new TextEncoder().encode('Relu')), lenField(5, attr))))];
      }
    }
  }

  /** A small valid graph whose initializers, nodes, values, outputs and metadata are named from PROTO_NAMES. */
  function protoNamed() {
    const pick = () => r.pick(PROTO_NAMES) + (r.chance(0.3) ? `#${r.int(3)}` : '');
    const a = pick(), b = pick(), c = pick();
    const names = new Set([a, b]);
    if (names.size < 2 || names.has(c)) return null; // values must be distinct: SSA
    const nodes = [node('Add', [a, b], [c], [], pick())];
    const outs = [c];
    for (let k = r.int(3); k > 0; k--) {
      const o = pick();
      if (names.has(o) || outs.includes(o)) break;
      nodes.push(node('Identity', [outs[outs.length - 1]], [o], r.chance(0.2) ? [int(pick(), 1)] : [], pick()));
      outs.push(o);
    }
    const meta = Object.create(null);
    for (let k = r.int(3); k > 0; k--) meta[pick()] = pick();
    return {
      desc: `names ${JSON.stringify([a, b, ...outs])}`,
      bytes: model({ input: [{ name: a, elemType: FLOAT, shape: [2] }], initializer: [floatInit(b, [2])], node: nodes, output: outs.map(out) }, { metadata: meta }),
      feeds: { [a]: tensor([r.num(-1, 1), r.num(-1, 1)]) },
      outs,
      meta,
    };
  }

  /** A graph whose glue operators blow sizes up; `x` is a graph input of shape [n]. */
  function blowUp() {
    const n = 1 + r.int(64);
    const init = [], nodes = [];
    let last = 'x', k = 0;
    const next = () => `v${k++}`;
    const chain = r.chance(0.4); // Concats only: doubling (or more) at each step
    const steps = 1 + r.int(chain || r.chance(0.3) ? 40 : 8);
    const dtype = r.chance(0.3) ? INT64 : FLOAT;
    if (dtype === INT64) { init.push(intInit('xi', Array.from({ length: n }, (_, i) => i))); last = 'xi'; }
    const desc = [];
    for (let s = 0; s < steps; s++) {
      const o = next();
      const op = chain ? 'Concat' : r.pick(['Concat', 'Concat', 'Add', 'MatMul', 'Transpose', 'Reshape', 'Slice', 'Unsqueeze', 'Squeeze']);
      desc.push(op);
      if (op === 'Concat') nodes.push(node('Concat', Array.from({ length: 2 + r.int(3) }, () => last), [o], [int('axis', r.chance(chain ? 0.98 : 0.8) ? 0 : r.pick([-1, 1, 5]))]));
      else if (op === 'Add' && dtype === FLOAT) { // [m, 1] + [1, m]: a broadcast to m^2
        const m = r.pick([16, 1024, 4096, 65536]);
        init.push(floatInit(`${o}_col`, [m, 1]), floatInit(`${o}_row`, [1, m]));
        nodes.push(node('Add', [`${o}_col`, `${o}_row`], [o]));
      } else if (op === 'MatMul' && dtype === FLOAT) { // K = 0: zeros of [M, N]
        const M = r.pick([1, 3, 1024, 2 ** 16]), N = r.pick([1, 2, 4096, 2 ** 16]);
        init.push(floatInit(`${o}_a`, [M, 0]), floatInit(`${o}_b`, [0, N]));
        nodes.push(node('MatMul', [`${o}_a`, `${o}_b`], [o]));
      } else if (op === 'Transpose') { // a rank up to 14 of ones and twos, a random (sometimes invalid) permutation
        const rank = 1 + r.int(14);
        const shape = Array.from({ length: rank }, () => 1 + r.int(2));
        const perm = Array.from({ length: rank }, (_, i) => i).sort(() => r.num(-1, 1));
        if (r.chance(0.1)) perm[r.int(rank)] = r.pick([rank, -1, 0]);
        init.push(dtype === FLOAT ? floatInit(`${o}_t`, shape) : { ...intInit(`${o}_t`, new Array(shape.reduce((p, q) => p * q, 1)).fill(1)), dims: shape });
        nodes.push(node('Transpose', [`${o}_t`], [o], [ints('perm', perm)]));
      } else if (op === 'Reshape') {
        const spec = Array.from({ length: 1 + r.int(r.chance(0.1) ? 80 : 4) }, () => r.pick([-1, 0, 1, 2, n, big(), -2]));
        init.push(intInit(`${o}_s`, spec));
        nodes.push(node('Reshape', [last, `${o}_s`], [o]));
      } else if (op === 'Slice') {
        init.push(intInit(`${o}_b`, [r.pick([0, -1, big(), -big()])]), intInit(`${o}_e`, [r.pick([1, -1, big(), -big()])]));
        nodes.push(node('Slice', [last, `${o}_b`, `${o}_e`], [o]));
      } else if (op === 'Unsqueeze' || op === 'Squeeze') {
        init.push(intInit(`${o}_a`, Array.from({ length: r.int(r.chance(0.1) ? 100 : 3) }, () => r.pick([0, 1, -1, 7, big()]))));
        nodes.push(node(op, [last, `${o}_a`], [o]));
      } else continue;
      last = o;
    }
    return { desc: `${dtype === INT64 ? 'int64' : 'float'} x[${n}] ${desc.join(' ')}`, bytes: model({ input: [{ name: 'x', elemType: FLOAT, shape: [n] }], initializer: init, node: nodes, output: [out(last)] }), n };
  }

  return [
    {
      name: 'onnx: files declaring huge counts',
      make: () => {
        const [desc, bytes] = declaring();
        const viaFromOnnx = r.chance(0.5);
        return { desc, call: () => (viaFromOnnx ? fromOnnx(bytes, { backend: backendName() }) : decodeOnnxModel(bytes)) };
      },
    },
    {
      name: 'onnx: prototype-key names',
      make: () => {
        const c = protoNamed();
        if (!c) return { desc: 'names collided', call: () => null };
        const before = Object.getOwnPropertyNames(Object.prototype);
        return {
          desc: c.desc,
          call: () => {
            try {
              const meta = decodeOnnxModel(c.bytes).metadata;
              for (const k of Object.keys(c.meta)) if (!Object.hasOwn(meta, k) || meta[k] !== c.meta[k]) throw new Error(`metadata key ${JSON.stringify(k)} lost`);
              return fromOnnx(c.bytes, { backend: backendName(), as: 'graph' }).forward(c.feeds);
            } finally {
              checkPrototype(before);
            }
          },
          check: (res) => {
            const keys = Object.keys(res).sort(), want = [...c.outs].sort();
            if (keys.join('\n') !== want.join('\n')) throw new Error(`outputs ${JSON.stringify(keys)}, expected ${JSON.stringify(want)}`);
          },
        };
      },
    },
    {
      name: 'onnx: glue operators blowing sizes up',
      make: () => {
        const c = blowUp();
        return {
          desc: c.desc,
          call: () => fromOnnx(c.bytes).forward(tensor(new Float32Array(c.n).fill(0.5), [c.n])),
          check: (res) => {
            for (const t of Object.values(res)) {
              if (t.data.length > maxElements()) throw new Error(`an output of ${t.data.length} elements passed the limit ${maxElements()}`);
            }
          },
        };
      },
    },
  ];
}
