// Fuzz targets for the file readers other than ONNX and for state dicts (issue #18 items 2, 6, 9,
// 10): safetensors (bytes and files), checkpoints (files), TF.js models ({ modelJson, weights }),
// loadStateDict and Optimizer.loadStateDict. Inputs are mostly valid with hostile names
// (`__proto__`, `constructor`, `__proto__.x`, `constructor.keys`, `toString`, `hasOwnProperty`) in
// every place a name is read, repeated shard paths, and small inputs declaring huge counts or
// sizes. Besides the harness's property (a correct result or a named error), every call is
// checked with a canary: Object.prototype and Object must be exactly as before (a pollution is
// undone and reported as a failure).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Adam, decodeSafetensors, encodeSafetensors, GRU, Linear, loadCheckpoint, loadTfjsModel, LSTM, readSafetensors, RMSprop, saveCheckpoint,
  Sequential, SGD, Tensor, tensor,
} from 'cellstate';

export const HOSTILE_NAMES = ['__proto__', 'constructor', '__proto__.x', 'constructor.keys', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '__defineGetter__'];

const PROTO = Object.getOwnPropertyDescriptors(Object.prototype);
const OBJECT = Object.getOwnPropertyDescriptors(Object);
const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

/** A failure of the canary (not an allowed error class, so the harness reports it). */
class PollutionError extends Error {
  constructor(m) { super(m); this.name = 'PollutionError'; }
}

/** Throws PollutionError (after undoing it) if Object.prototype or Object changed. */
export function checkCanary() {
  const changed = [];
  for (const [target, saved, label] of [[Object.prototype, PROTO, 'Object.prototype'], [Object, OBJECT, 'Object']]) {
    const now = Object.getOwnPropertyDescriptors(target);
    for (const k of Reflect.ownKeys(now)) {
      const a = saved[k], b = now[k];
      if (!own(saved, k) || a.value !== b.value || a.get !== b.get || a.set !== b.set) changed.push(`${label}.${String(k)}`);
    }
    for (const k of Reflect.ownKeys(target)) if (!own(saved, k)) delete target[k];
    for (const k of Reflect.ownKeys(saved)) Object.defineProperty(target, k, saved[k]);
  }
  if (changed.length) throw new PollutionError(`polluted ${changed.join(', ')}`);
}

/** An object with own enumerable `name` = value (defineProperty: `__proto__` stays a name). */
const setOwn = (o, name, value) => Object.defineProperty(o, name, { value, enumerable: true, configurable: true, writable: true });

// One scratch folder per process (each fuzzing run makes targets anew), removed at exit.
let dir = null;
function scratchDir() {
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-fuzz-files-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

export function makeFilesTargets(r, backends) {
  const T = [];
  const add = (name, make) => T.push({
    name,
    make: () => {
      const c = make();
      const call = c.call;
      return { ...c, call: async () => { try { return await call(); } finally { checkCanary(); } } };
    },
  });
  const name = () => (r.chance(0.6) ? r.pick(HOSTILE_NAMES) : r.pick(['a', 'w', '0.weight', 'x.y', '', ' ', 'é', '0']));
  const backend = () => r.pick(backends);
  const hugeDim = () => r.pick([2 ** 20, 2 ** 31, 2 ** 40, 2 ** 53 - 1, 1e6, 3]);
  const tmp = (file) => path.join(scratchDir(), file);
  const fail = (msg) => { throw new PollutionError(`property: ${msg}`); };

  // ------------------------------------------------------------------ safetensors
  /** A safetensors image from a header object (keys kept as written, even "__proto__"). */
  function stImage(entries, metadata, data) {
    const parts = entries.map(([n, e]) => `${JSON.stringify(n)}:${JSON.stringify(e)}`);
    if (metadata) parts.unshift(`"__metadata__":{${metadata.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
    const json = Buffer.from(`{${parts.join(',')}}`);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(r.chance(0.05) ? r.pick([2 ** 40, json.length + 1, 2 ** 27]) : json.length));
    return Buffer.concat([head, json, data]);
  }
  add('files: decodeSafetensors (hostile names, huge declared sizes)', () => {
    const n = r.chance(0.1) ? 200 + r.int(2000) : 1 + r.int(6); // sometimes many tiny tensors
    const entries = [];
    let off = 0;
    for (let i = 0; i < n; i++) {
      const dims = r.chance(0.1) ? [hugeDim(), r.int(3)] : [1 + r.int(3)];
      const bytes = 4 * dims.reduce((a, b) => a * b, 1);
      const offsets = r.chance(0.05) ? [0, r.pick([2 ** 40, 2 ** 53, bytes])] : [off, off + bytes];
      off += Math.min(bytes, 64);
      entries.push([i < 9 && r.chance(0.7) ? name() : `t${i}`, { dtype: r.chance(0.95) ? 'F32' : r.pick(['F64', 'U8', '__proto__', 'toString']), shape: dims, data_offsets: offsets }]);
    }
    const metadata = r.chance(0.7) ? Array.from({ length: 1 + r.int(4) }, () => [name(), r.chance(0.9) ? 'v' : { x: 1 }]) : null;
    const bytes = stImage(entries, metadata, Buffer.alloc(off));
    const viaFile = r.chance(0.2);
    return {
      desc: `safetensors ${n} tensors ${viaFile ? 'file' : 'bytes'} names ${entries.slice(0, 9).map(([k]) => k).join('|')}`,
      call: () => {
        if (!viaFile) return decodeSafetensors(bytes);
        fs.writeFileSync(tmp('f.safetensors'), bytes);
        return readSafetensors(tmp('f.safetensors'));
      },
      check: (f) => {
        if (Object.getPrototypeOf(f.metadata) !== null) fail('metadata is not a null-prototype record');
        for (const [k, v] of metadata ?? []) if (typeof v === 'string' && f.metadata[k] !== v) fail(`metadata[${k}] lost`);
        for (const [k, t] of f.tensors) if (t.data instanceof Float32Array && t.data.length !== t.shape.reduce((a, b) => a * b, 1)) fail(`tensor ${k}: length does not match its shape`);
      },
    };
  });

  // ------------------------------------------------------------------ checkpoints
  const ckModel = (b, seed) => new Sequential([new LSTM({ inputSize: 2, hiddenSize: 2, seed, backend: b }), new Linear({ inFeatures: 2, outFeatures: 1, seed: seed + 1 })]);
  const OPTS = [[SGD, { lr: 0.1, momentum: 0.5 }], [Adam, { lr: 0.01 }], [RMSprop, { lr: 0.01, centered: true }]];
  add('files: loadCheckpoint (hostile names, NaN / float64 / huge buffers)', () => {
    const b = backend(), [Opt, o] = r.pick(OPTS);
    const model = ckModel(b, 1), opt = new Opt(model, { ...o, backend: b });
    const file = tmp('ck.safetensors');
    saveCheckpoint(file, { model, optimizer: opt, trainer: { epoch: 1, step: 2, rng: [1, 2, 3, 4] } });
    const f = readSafetensors(file);
    const ts = new Map([...f.tensors].map(([k, t]) => [k, new Tensor(t.data.slice(), t.shape)]));
    const md = { ...f.metadata };
    const keys = [...ts.keys()];
    const optKeys = keys.filter((k) => k.startsWith('optimizer.'));
    const k = r.int(9), nm = name();
    if (k === 0) ts.set(`optimizer.${nm}`, tensor([1]));
    else if (k === 1) ts.set(`optimizer.${r.pick(optKeys).split('.')[1]}.${nm}`, tensor([1]));
    else if (k === 2) ts.set(`model.${r.chance(0.5) ? '0.' : ''}${nm}`, tensor([1]));
    else if (k === 3) { const m = JSON.parse(md.optimizer); m.slots.push(nm); md.optimizer = JSON.stringify(m); for (const q of optKeys) ts.set(q.replace(/^optimizer\.[a-z_]+\./, `optimizer.${nm}.`), ts.get(q)); }
    else if (k === 4) md.optimizer = md.optimizer.replace('"options":{', `"options":{${JSON.stringify(nm)}:${r.pick(['1', '{"lr":9}', '"x"'])},`);
    else if (k === 5) { const q = r.pick(optKeys); const t = ts.get(q); t.data[r.int(t.data.length)] = r.pick([NaN, Infinity, -Infinity]); }
    else if (k === 6) { const q = r.pick(optKeys); const t = ts.get(q); ts.set(q, new Tensor(Float64Array.from(t.data), t.shape)); }
    else if (k === 7) md[nm] = r.chance(0.5) ? 'x' : '{"__proto__":{"polluted":1}}';
    else { const q = r.pick(keys); ts.delete(q); ts.set(q.replace(/[^.]+$/, nm), tensor([1, 2])); }
    const bytes = Buffer.concat(encodeSafetensors(ts, md));
    const target = ckModel(b, 7), topt = new Opt(target, { ...o, backend: b });
    const before = JSON.stringify(Object.values(target.stateDict()).map((t) => Array.from(t.data)));
    return {
      desc: `checkpoint ${b} ${Opt.name} case ${k} name ${JSON.stringify(nm)}`,
      call: () => {
        fs.writeFileSync(file, bytes);
        try {
          return loadCheckpoint(file, { model: target, optimizer: topt });
        } catch (e) {
          if (JSON.stringify(Object.values(target.stateDict()).map((t) => Array.from(t.data))) !== before) fail('a failed loadCheckpoint changed the model');
          throw e;
        }
      },
      check: () => {
        for (const [n, t] of Object.entries(target.stateDict())) if (!t.data.every(Number.isFinite)) fail(`non-finite weight ${n} loaded`);
        for (const [s, bufs] of Object.entries(topt.stateDict().slots)) for (const [n, t] of Object.entries(bufs)) if (!t.data.every(Number.isFinite)) fail(`non-finite ${s}.${n} loaded`);
      },
    };
  });

  // ------------------------------------------------------------------ TF.js
  add('files: loadTfjsModel (hostile names, repeated shard paths, huge declared shapes)', () => {
    const units = 2, layer = r.chance(0.3) ? name() : 'l';
    const specs = [['kernel', [2, 4 * units]], ['recurrent_kernel', [units, 4 * units]], ['bias', [4 * units]]].map(([leaf, shape]) => ({ name: `${layer}/${leaf}`, shape, dtype: 'float32' }));
    const bytes = 4 * (2 * 8 + 2 * 8 + 8);
    const data = new Uint8Array(Float32Array.from({ length: bytes / 4 }, (_, i) => Math.sin(i) / 3).buffer);
    const k = r.int(8);
    let paths = ['w.bin'], parts = [data];
    if (k === 0 || k === 1) {
      // Split into shards, some named hostile, some repeated (repeats must never be concatenated).
      const cut = 1 + r.int(bytes - 1);
      paths = [r.chance(0.7) ? name() : 'a.bin', r.chance(0.7) ? name() : 'b.bin'];
      parts = [data.subarray(0, cut), data.subarray(cut)];
      if (k === 1) { const reps = r.pick([2, 10, 1000]); paths = [...paths, ...Array(reps).fill(paths[0])]; parts = [...parts, ...Array(reps).fill(parts[0])]; }
    }
    if (k === 2) specs.push({ name: name(), shape: [0], dtype: 'float32' });
    if (k === 3) specs[r.int(3)].shape = [hugeDim(), hugeDim()];
    if (k === 4) specs.push({ ...specs[r.int(3)] }); // a weight name listed twice
    let json = JSON.stringify({
      modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'LSTM', config: { name: layer, units, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: true, batch_input_shape: [null, 3, 2] } }] } },
      weightsManifest: [{ paths, weights: specs }],
    });
    if (k === 5) json = json.replace('"config":{"name":', `"config":{${JSON.stringify(name())}:{"return_sequences":false,"units":9},"name":`);
    if (k === 6) json = json.replace('{"modelTopology"', `{${JSON.stringify(name())}:{"weightsManifest":[]},"modelTopology"`);
    const form = r.int(3);
    const weights = form === 0 ? (parts.length === 1 ? parts[0] : Buffer.concat(parts))
      : form === 1 ? parts
        : paths.reduce((o, p, i) => (own(o, p) ? o : setOwn(o, p, parts[i])), {});
    return {
      desc: `tfjs case ${k} form ${form} layer ${JSON.stringify(layer)} paths ${paths.length}`,
      call: () => loadTfjsModel({ modelJson: r.chance(0.5) ? json : JSON.parse(json), weights }, { backend: backend() }).forward(tensor(new Float32Array(6).fill(0.1), [1, 3, 2])),
      check: (r) => { if (!r.output.data.every(Number.isFinite)) fail('non-finite output'); },
    };
  });

  // ------------------------------------------------------------------ state dicts and optimizer state
  add('files: loadStateDict (hostile names; object, Map, JSON, entries; values that change after the check)', () => {
    const b = backend();
    const m = r.chance(0.5) ? new GRU({ inputSize: 2, hiddenSize: 2, seed: 1, backend: b })
      : new Sequential([new LSTM({ inputSize: 2, hiddenSize: 2, seed: 1, backend: b }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 2 })]);
    const sd = m.stateDict(), names = Object.keys(sd), first = names[0];
    const before = JSON.stringify(Object.values(sd).map((t) => Array.from(t.data)));
    const k = r.int(6), nm = (r.chance(0.3) ? '0.' : '') + name();
    let input;
    if (k === 0) input = setOwn({ ...sd }, nm, sd[first]);
    else if (k === 1) input = new Map([...Object.entries(sd), [nm, sd[first]]]);
    else if (k === 2) input = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(sd).map(([n, t]) => [n, { shape: t.shape, data: Array.from(t.data) }]))).replace(/^\{/, `{${JSON.stringify(nm)}:{"shape":[1],"data":[1]},`));
    else if (k === 3) input = r.chance(0.5) ? Object.entries(sd) : new Map(Object.entries(sd));
    else if (k === 4) {
      // A value that reads finite once, then NaN: what is checked must be what is loaded.
      const src = Array.from(sd[first].data);
      let reads = 0;
      input = { ...sd, [first]: { shape: sd[first].shape, data: new Proxy(src, { get(t, p) { if (typeof p === 'string' && /^\d+$/.test(p) && reads++ >= src.length) return NaN; return t[p]; } }) } };
    } else {
      const a = sd[first].data.slice();
      input = { ...sd, [first]: { shape: sd[first].shape, data: a }, [names[1]]: { shape: sd[names[1]].shape, get data() { a.fill(NaN); return sd[names[1]].data; } } };
    }
    return {
      desc: `loadStateDict ${m.constructor.name} ${b} case ${k} name ${JSON.stringify(nm)}`,
      call: () => {
        try {
          return m.loadStateDict(input);
        } catch (e) {
          if (JSON.stringify(Object.values(m.stateDict()).map((t) => Array.from(t.data))) !== before) fail('a failed loadStateDict changed the weights');
          throw e;
        }
      },
      check: () => { for (const [n, t] of Object.entries(m.stateDict())) if (!t.data.every(Number.isFinite)) fail(`non-finite ${n} loaded`); },
    };
  });

  add('files: Optimizer.loadStateDict (hostile names, NaN, other dtypes)', () => {
    const b = backend(), [Opt, o] = r.pick(OPTS);
    const model = ckModel(b, 1), opt = new Opt(model, { ...o, backend: b });
    const good = opt.stateDict();
    const slot = r.pick(Object.keys(good.slots)), param = r.pick(Object.keys(good.slots[slot])), nm = name();
    const k = r.int(8);
    let st = { ...good, slots: { ...good.slots, [slot]: { ...good.slots[slot] } } };
    if (k === 0) st = setOwn({ ...good }, nm, 1);
    else if (k === 1) setOwn(st.slots, nm, good.slots[slot]);
    else if (k === 2) setOwn(st.slots[slot], nm, good.slots[slot][param]);
    else if (k === 3) st.options = JSON.parse(`{${JSON.stringify(nm)}:{"lr":1},${JSON.stringify(good.options).slice(1)}`);
    else if (k === 4) { const t = good.slots[slot][param]; const d = t.data.slice(); d[r.int(d.length)] = r.pick([NaN, Infinity]); st.slots[slot][param] = new Tensor(d, t.shape); }
    else if (k === 5) { const t = good.slots[slot][param]; st.slots[slot][param] = new Tensor(Float64Array.from(t.data), t.shape); }
    else if (k === 6) st.slots[slot][param] = { shape: [hugeDim(), hugeDim()], data: new Float32Array(3) };
    else { const t = good.slots[slot][param]; const d = t.data.slice(); st.slots[slot][param] = new Tensor(d, t.shape); Object.defineProperty(st.slots[slot], `${param}\u0000`, { enumerable: false, value: 1 }); }
    const before = JSON.stringify(Object.values(opt.stateDict().slots).map((s) => Object.values(s).map((t) => Array.from(t.data))));
    return {
      desc: `${Opt.name} ${b} loadStateDict case ${k} slot ${slot} name ${JSON.stringify(nm)}`,
      call: () => {
        try {
          return opt.loadStateDict(st);
        } catch (e) {
          if (JSON.stringify(Object.values(opt.stateDict().slots).map((s) => Object.values(s).map((t) => Array.from(t.data)))) !== before) fail('a failed loadStateDict changed the optimizer');
          throw e;
        }
      },
      check: () => { for (const [s, bufs] of Object.entries(opt.stateDict().slots)) for (const [n, t] of Object.entries(bufs)) if (!t.data.every(Number.isFinite)) fail(`non-finite ${s}.${n} loaded`); },
    };
  });
  return T;
}
