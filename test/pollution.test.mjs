// Prototype pollution through untrusted names (issue #18, item 2): every reader that turns names
// from a file or a caller's object into keys (checkpoints, safetensors tensor names and
// __metadata__, TF.js model.json and its weight manifest, state dicts as objects / Maps / arrays of
// entries, optimizer state, option objects) either loads correctly or throws a named error, and
// Object.prototype and Object's own functions are unchanged afterwards. A checkpoint tensor named
// "optimizer.__proto__.x" used to set Object.prototype.x, and "optimizer.constructor.keys" to
// replace Object.keys, before any validation.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Adam, decodeSafetensors, encodeSafetensors, GRU, Linear, loadCheckpoint, loadTfjsModel, LSTM, readSafetensors, saveCheckpoint,
  Sequential, SGD, tensor, Tensor, toTensors,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

export const NAMES = ['__proto__', 'constructor', '__proto__.x', 'constructor.keys', 'toString', 'hasOwnProperty'];
const ALLOWED = ['TypeError', 'RangeError', 'SafetensorsError', 'UnsupportedModelError'];

// The canary: every own property of Object.prototype and of Object, as descriptors.
const PROTO = Object.getOwnPropertyDescriptors(Object.prototype);
const OBJECT = Object.getOwnPropertyDescriptors(Object);
function changes() {
  const found = [];
  for (const [target, saved, label] of [[Object.prototype, PROTO, 'Object.prototype'], [Object, OBJECT, 'Object']]) {
    const now = Object.getOwnPropertyDescriptors(target);
    for (const k of Reflect.ownKeys(now)) {
      const a = saved[k], b = now[k];
      if (!Object.prototype.hasOwnProperty.call(saved, k) || a.value !== b.value || a.get !== b.get || a.set !== b.set) found.push(`${label}.${String(k)}`);
    }
  }
  return found;
}
/** Put Object.prototype and Object back as they were (so one failure does not poison the run). */
function restore() {
  for (const [target, saved] of [[Object.prototype, PROTO], [Object, OBJECT]]) {
    for (const k of Reflect.ownKeys(target)) if (!Object.prototype.hasOwnProperty.call(saved, k)) delete target[k];
    for (const k of Reflect.ownKeys(saved)) Object.defineProperty(target, k, saved[k]);
  }
}
/** Run fn; it must return or throw a named library error; the canary must be untouched. Returns the error, if any. */
export function guarded(fn) {
  let err = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  const bad = changes();
  restore();
  expect(bad, 'Object.prototype / Object changed').to.deep.equal([]);
  if (err) {
    expect(ALLOWED, `${err?.name}: ${err?.message}`).to.include(err.name);
    expect(err.message).to.match(/^[^\s:]+( \([^)]*\))?: /);
  }
  return err;
}
const dump = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
/** An object with an own enumerable property `name` (an assignment would hit the __proto__ setter). */
const withOwn = (o, name, value) => Object.defineProperty({ ...o }, name, { value, enumerable: true, configurable: true, writable: true });

describe('prototype pollution through untrusted names', function () {
  afterEach(restore);

  describe('checkpoints', function () {
    let dir;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-pollute-')); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
      const setup = () => {
        const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
        const optimizer = new SGD(model, { lr: 0.1, momentum: 0.5, backend });
        const file = path.join(dir, 'ck.safetensors');
        saveCheckpoint(file, { model, optimizer });
        const f = readSafetensors(file);
        return { model, optimizer, file, tensors: toTensors(f), metadata: { ...f.metadata } };
      };
      /** Rewrite the checkpoint with `edit(tensors Map, metadata)` and load it into a fresh model + optimizer. */
      const tryLoad = (edit) => {
        const { file, tensors, metadata } = setup();
        edit(tensors, metadata);
        fs.writeFileSync(file, Buffer.concat(encodeSafetensors(tensors, metadata)));
        const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 7, backend }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 8 })]);
        const optimizer = new SGD(model, { lr: 0.1, momentum: 0.5, backend });
        const before = dump(model), optBefore = JSON.stringify(optimizer.stateDict());
        const err = guarded(() => loadCheckpoint(file, { model, optimizer }));
        if (err) {
          expect(dump(model), 'model changed by a failed load').to.deep.equal(before);
          expect(JSON.stringify(optimizer.stateDict()), 'optimizer changed by a failed load').to.equal(optBefore);
        }
        return err;
      };
      const t = () => new Tensor(new Float32Array(3), [3]);

      for (const name of NAMES) {
        it(`${backend}: tensors named optimizer.${name}, optimizer.momentum_buffer.${name} and model.${name} are refused`, function () {
          expect(tryLoad((ts) => ts.set(`optimizer.${name}`, t()))).to.be.an('error');
          expect(tryLoad((ts) => ts.set(`optimizer.${name}.0.weight_ih_l0`, t()))).to.be.an('error');
          expect(tryLoad((ts) => ts.set(`optimizer.momentum_buffer.${name}`, t()))).to.be.an('error');
          expect(tryLoad((ts) => ts.set(`model.${name}`, t()))).to.be.an('error');
          expect(tryLoad((ts) => ts.set(`model.0.${name}`, t()))).to.be.an('error');
        });

        it(`${backend}: an optimizer slot or option named ${name} in the metadata is refused`, function () {
          expect(tryLoad((ts, md) => {
            const o = JSON.parse(md.optimizer);
            o.slots.push(name);
            md.optimizer = JSON.stringify(o);
            for (const [k, v] of [...ts]) if (k.startsWith('optimizer.momentum_buffer.')) ts.set(k.replace('momentum_buffer', name), v);
          })).to.be.an('error');
          expect(tryLoad((ts, md) => { md.optimizer = md.optimizer.replace('"options":{', `"options":{${JSON.stringify(name)}:{"momentum":0.5},`); })).to.be.an('error');
        });
      }

      it(`${backend}: a metadata key such as __proto__ or toString does not disturb a valid checkpoint`, function () {
        expect(tryLoad((ts, md) => { for (const n of NAMES) md[n] = 'x'; })).to.equal(null);
      });
    }
  });

  describe('safetensors', function () {
    it('tensor names and __metadata__ keys such as __proto__ load as plain names', function () {
      const tensors = new Map(NAMES.map((n, i) => [n, tensor([i, i + 1])]));
      const metadata = Object.fromEntries(NAMES.map((n, i) => [n, `v${i}`]));
      let f;
      guarded(() => { f = decodeSafetensors(Buffer.concat(encodeSafetensors(tensors, metadata))); });
      expect([...f.tensors.keys()]).to.deep.equal(NAMES);
      NAMES.forEach((n, i) => expect(Array.from(f.tensors.get(n).data)).to.deep.equal([i, i + 1]));
      expect(Object.getPrototypeOf(f.metadata)).to.equal(null);
      expect(Object.keys(f.metadata)).to.deep.equal(NAMES);
      NAMES.forEach((n, i) => expect(f.metadata[n]).to.equal(`v${i}`));
    });

    it('a header written by hand with __proto__ entries is read, not obeyed', function () {
      const json = '{"__metadata__":{"__proto__":{"polluted":"1"}},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
      const bytes = Buffer.concat([Buffer.alloc(8), Buffer.from(json), Buffer.alloc(4)]);
      bytes.writeBigUInt64LE(BigInt(json.length));
      expect(guarded(() => decodeSafetensors(bytes))).to.match(/__metadata__\['__proto__'\] is not a string/);
      const ok = Buffer.from(bytes.toString('latin1').replace('{"polluted":"1"}', '"yes"'.padEnd(16)), 'latin1');
      let f;
      guarded(() => { f = decodeSafetensors(ok); });
      expect(f.metadata.__proto__).to.equal('yes');
      expect(f.tensors.get('__proto__').shape).to.deep.equal([1]);
    });
  });

  describe('TF.js models', function () {
    // A one-LSTM model.json (units 2, input 2) in the converter's format, with seeded weights.
    const units = 2, n = 2 * 8 + 2 * 8 + 8;
    const modelJson = (paths) => ({
      modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'LSTM', config: { name: 'l', units, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: true, batch_input_shape: [null, 3, 2] } }] } },
      weightsManifest: [{ paths, weights: [{ name: 'l/kernel', shape: [2, 4 * units], dtype: 'float32' }, { name: 'l/recurrent_kernel', shape: [units, 4 * units], dtype: 'float32' }, { name: 'l/bias', shape: [4 * units], dtype: 'float32' }] }],
    });
    const weights = Float32Array.from({ length: n }, (_, i) => Math.sin(i) / 2);
    const bytes = new Uint8Array(weights.buffer);
    const x = tensor(Float32Array.from({ length: 6 }, (_, i) => i / 6 - 0.5), [1, 3, 2]);
    const want = () => Array.from(loadTfjsModel({ modelJson: modelJson(['w.bin']), weights: bytes }).forward(x).output.data);
    // The weight bytes cut into one shard per name.
    const cuts = NAMES.map((_, i) => Math.round((i * bytes.length) / NAMES.length)).concat(bytes.length);
    const shards = NAMES.map((_, i) => bytes.slice(cuts[i], cuts[i + 1]));

    it('shard paths named __proto__, constructor, toString... load (in memory, as an object keyed by path)', function () {
      let out;
      const byPath = NAMES.reduce((o, p, i) => withOwn(o, p, shards[i]), {});
      guarded(() => { out = loadTfjsModel({ modelJson: modelJson(NAMES), weights: byPath }).forward(x).output; });
      expect(Array.from(out.data)).to.deep.equal(want());
    });

    it('shard files named __proto__, constructor, toString... load from a directory', function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-pollute-'));
      try {
        fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson(NAMES)));
        NAMES.forEach((p, i) => fs.writeFileSync(path.join(dir, p), shards[i]));
        let out;
        guarded(() => { out = loadTfjsModel(dir).forward(x).output; });
        expect(Array.from(out.data)).to.deep.equal(want());
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('__proto__ / constructor keys inside model.json are data, not instructions', function () {
      const text = JSON.stringify(modelJson(['w.bin']))
        .replace('"modelTopology":{', '"modelTopology":{"__proto__":{"class_name":"Functional"},"constructor":{"prototype":{"polluted":1}},')
        .replace('"config":{"name":"l"', '"config":{"__proto__":{"return_sequences":false,"go_backwards":true},"toString":1,"name":"l"')
        .replace('"paths":[', '"__proto__":{"paths":["x.bin"]},"paths":[');
      let out;
      guarded(() => { out = loadTfjsModel({ modelJson: text, weights: bytes }).forward(x).output; });
      expect(Array.from(out.data)).to.deep.equal(want());
      for (const name of NAMES) {
        const mj = modelJson(['w.bin']);
        mj.weightsManifest[0].weights.push({ name, shape: [0], dtype: 'float32' });
        mj.modelTopology.config.layers[0].config.name = name;
        for (const w of mj.weightsManifest[0].weights.slice(0, 3)) w.name = w.name.replace(/^l\//, `${name}/`);
        guarded(() => loadTfjsModel({ modelJson: mj, weights: bytes }).forward(x));
      }
    });
  });

  describe('state dicts', function () {
    for (const { backend, dtype } of backendCases()) {
      const models = [
        ['LSTM', () => new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend, dtype })],
        ['GRU', () => new GRU({ inputSize: 2, hiddenSize: 2, seed: 1, backend, dtype })],
        ['Sequential', () => new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend, dtype }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2, dtype })])],
      ];
      for (const [label, make] of models) {
        it(`${backend} ${dtype} ${label}: names such as __proto__ in an object, a JSON object or a Map are refused; arrays of entries too`, function () {
          const m = make(), sd = make().stateDict();
          const before = dump(m);
          const [first, value] = Object.entries(sd)[0];
          const prefixed = label === 'Sequential' ? NAMES.flatMap((n) => [n, `0.${n}`, `1.${n}`]) : NAMES;
          for (const name of prefixed) {
            const inputs = [
              withOwn(sd, name, value),
              withOwn(sd, name, { [first.replace(/^\d+\./, '')]: value, polluted: 1 }),
              new Map([...Object.entries(sd), [name, value]]),
              JSON.parse(JSON.stringify(withOwn(Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }])), name, { shape: value.shape, data: Array.from(value.data) }))),
            ];
            for (const input of inputs) {
              const err = guarded(() => m.loadStateDict(input));
              expect(err, `${label} ${name}`).to.be.instanceOf(TypeError);
              expect(err.message).to.match(new RegExp(`unexpected: .*${name.replace(/^\d+\./, '').replace(/[.$]/g, '\\$&')}`));
              expect(dump(m)).to.deep.equal(before);
            }
          }
          const err = guarded(() => m.loadStateDict(Object.entries(sd)));
          expect(err).to.be.instanceOf(TypeError);
          expect(err.message).to.match(/loadStateDict: weights: expected an object mapping parameter names to tensors, got an array/);
          // A Map of the right names loads like an object.
          guarded(() => m.loadStateDict(new Map(Object.entries(sd))));
          expect(dump(m)).to.deep.equal(dump(make()));
        });
      }
    }
  });

  describe('optimizer state', function () {
    const setup = () => {
      const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
      return { model, opt: new Adam(model, { lr: 0.1 }) };
    };

    it('stateDict() keys slots and buffers in null-prototype records', function () {
      const s = setup().opt.stateDict();
      expect(Object.getPrototypeOf(s.slots)).to.equal(null);
      expect(Object.getPrototypeOf(s.slots.exp_avg)).to.equal(null);
      expect(Object.keys(s.slots)).to.deep.equal(['exp_avg', 'exp_avg_sq']);
    });

    for (const name of NAMES) {
      it(`state fields, slots, buffers and options named ${name} are refused`, function () {
        const { opt } = setup();
        const good = opt.stateDict();
        const before = JSON.stringify(good);
        const buf = good.slots.exp_avg['0.weight_ih_l0'];
        const states = [
          withOwn(good, name, 1),
          { ...good, slots: withOwn(good.slots, name, good.slots.exp_avg) },
          { ...good, slots: { ...good.slots, exp_avg: withOwn(good.slots.exp_avg, name, buf) } },
          { ...good, options: withOwn(good.options, name, 0.9) },
          { ...good, options: JSON.parse(`{${JSON.stringify(name)}:{"beta1":0.9},${JSON.stringify(good.options).slice(1)}`) },
        ];
        for (const st of states) {
          const err = guarded(() => opt.loadStateDict(st));
          expect(err).to.be.instanceOf(TypeError);
          expect(err.message).to.match(/^Adam\.loadStateDict: state(\.options|\.slots(\.exp_avg)?)?\..*: expected one of the known/);
          expect(JSON.stringify(opt.stateDict())).to.equal(before);
        }
      });
    }
  });

  describe('option objects', function () {
    for (const name of NAMES.filter((n) => !n.includes('.'))) {
      it(`an own "${name}" key (also from JSON.parse) is refused, never applied`, function () {
        const json = JSON.parse(`{"inputSize":2,"hiddenSize":3,${JSON.stringify(name)}:{"hiddenSize":99,"polluted":1}}`);
        const err = guarded(() => new LSTM(json));
        expect(err).to.be.instanceOf(TypeError);
        expect(err.message).to.equal(`LSTM: options.${name}: expected one of the known options (${err.message.match(/\(([^)]*)\)/)[1]}), got ${JSON.stringify(name)}`);
        expect(guarded(() => new SGD(new Linear({ inFeatures: 1, outFeatures: 1 }), withOwn({ lr: 0.1 }, name, 1)))).to.be.instanceOf(TypeError);
      });
    }
  });
});
