// Checkpoint files: contents readable as plain safetensors, validation against the model,
// rejection of corrupt files, and crash safety (SIGKILL during saves never leaves a bad file).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Adam, CHECKPOINT_FORMAT, encodeSafetensors, Linear, loadCheckpoint, LSTM, readCheckpoint, readSafetensors, SafetensorsError, saveCheckpoint, Sequential, SGD, Tanh, Tensor,
} from 'cellstate';
import { Rng } from './helpers/random.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const model = (seed = 1, H = 4) => new Sequential([new LSTM({ inputSize: 2, hiddenSize: H, seed }), new Tanh(), new Linear({ inFeatures: H, outFeatures: 1, seed: seed + 1 })]);
const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-ck-'));

describe('checkpoints', function () {
  let dir;
  beforeEach(() => { dir = tmpdir(); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are plain safetensors: model.* and optimizer.<slot>.* tensors, config and state in metadata', function () {
    const m = model(), opt = new Adam(m, { lr: 0.5 });
    const file = path.join(dir, 'a.safetensors');
    saveCheckpoint(file, { model: m, optimizer: opt, trainer: { epoch: 3, step: 7, rng: [1, 2, 3, 4] } });
    const raw = readSafetensors(file);
    const names = [...raw.tensors.keys()];
    expect(names.filter((n) => n.startsWith('model.'))).to.deep.equal(['model.0.weight_ih_l0', 'model.0.weight_hh_l0', 'model.0.bias_ih_l0', 'model.0.bias_hh_l0', 'model.2.weight', 'model.2.bias']);
    expect(names).to.include('optimizer.exp_avg.0.weight_ih_l0').and.include('optimizer.exp_avg_sq.2.bias');
    expect(raw.tensors.get('model.2.weight').dtype).to.equal('F32');
    expect(raw.metadata.format).to.equal(CHECKPOINT_FORMAT);
    expect(JSON.parse(raw.metadata.config)).to.deep.equal({ type: 'Sequential', layers: [
      { type: 'LSTM', inputSize: 2, hiddenSize: 4, numLayers: 1, bias: true, batchFirst: false, bidirectional: false, dtype: 'float32' },
      { type: 'Tanh' }, { type: 'Linear', inFeatures: 4, outFeatures: 1, bias: true, dtype: 'float32' }] });
    expect(JSON.parse(raw.metadata.trainer)).to.deep.equal({ epoch: 3, step: 7, rng: [1, 2, 3, 4] });
    expect(JSON.parse(raw.metadata.optimizer)).to.include({ kind: 'Adam', step: 0, lr: 0.5 });
    const ck = readCheckpoint(file);
    expect(Array.from(ck.weights['2.weight'].data)).to.deep.equal(Array.from(m.stateDict()['2.weight'].data));
  });

  it('load restores weights and optimizer state; a different model or optimizer is rejected and nothing changes', function () {
    const a = model(1), oa = new Adam(a);
    const file = path.join(dir, 'a.safetensors');
    saveCheckpoint(file, { model: a, optimizer: oa });
    const b = model(9), ob = new Adam(b);
    loadCheckpoint(file, { model: b, optimizer: ob });
    expect(Object.keys(b.stateDict()).map((k) => Array.from(b.stateDict()[k].data))).to.deep.equal(Object.keys(a.stateDict()).map((k) => Array.from(a.stateDict()[k].data)));
    const c = model(5, 6);
    expect(() => loadCheckpoint(file, { model: c })).to.throw(TypeError, /model config: expected .*"hiddenSize":6.*got .*"hiddenSize":4/);
    const d = model(5), dBefore = d.stateDict();
    expect(() => loadCheckpoint(file, { model: d, optimizer: new SGD(d, { momentum: 0.9 }) })).to.throw(TypeError, /kind/);
    for (const [k, t] of Object.entries(d.stateDict())) expect(Array.from(t.data)).to.deep.equal(Array.from(dBefore[k].data));
  });

  it('truncated or corrupted checkpoints are rejected with a clear error', function () {
    const file = path.join(dir, 'a.safetensors');
    saveCheckpoint(file, { model: model() });
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => readCheckpoint(file)).to.throw(SafetensorsError, /a.safetensors: .*(overlap|outside|more data|trailing|gap)/);
    fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, 20), Buffer.from('X'), bytes.subarray(21)]));
    expect(() => readCheckpoint(file)).to.throw(SafetensorsError);
    expect(() => readCheckpoint(path.join(dir, 'missing.safetensors'))).to.throw(/ENOENT/);
  });

  it('a checkpoint whose optimizer buffers are NaN or float64 is refused, and nothing changes', function () {
    const a = model(1), oa = new Adam(a);
    const file = path.join(dir, 'a.safetensors');
    saveCheckpoint(file, { model: a, optimizer: oa });
    const f = readSafetensors(file);
    const rewrite = (edit) => {
      const ts = new Map([...f.tensors].map(([n, t]) => [n, new Tensor(t.data.slice(), t.shape)]));
      edit(ts);
      fs.writeFileSync(file, Buffer.concat(encodeSafetensors(ts, { ...f.metadata })));
    };
    const b = model(9), ob = new Adam(b), before = JSON.stringify(b.stateDict()), optBefore = JSON.stringify(ob.stateDict());
    rewrite((ts) => { ts.get('optimizer.exp_avg_sq.2.bias').data[0] = NaN; });
    expect(() => loadCheckpoint(file, { model: b, optimizer: ob })).to.throw(RangeError, "Adam.loadStateDict: state.slots.exp_avg_sq['2.bias']: expected finite numbers (in float32), got NaN at flat index 0");
    rewrite((ts) => { const t = ts.get('optimizer.exp_avg.0.weight_ih_l0'); ts.set('optimizer.exp_avg.0.weight_ih_l0', new Tensor(Float64Array.from(t.data), t.shape)); });
    expect(() => loadCheckpoint(file, { model: b, optimizer: ob })).to.throw(TypeError, "Adam.loadStateDict: state.slots.exp_avg['0.weight_ih_l0'].data: expected a Float32Array");
    expect(JSON.stringify(b.stateDict())).to.equal(before);
    expect(JSON.stringify(ob.stateDict())).to.equal(optBefore);
  });

  // CELLSTATE_KILL_ROUNDS (default 6) kills more writers: scripts/harden.sh runs a longer loop.
  const rounds = Number(process.env.CELLSTATE_KILL_ROUNDS ?? 6);
  it(`survives SIGKILL at random points during saves (${rounds} kills): the last complete checkpoint always loads`, async function () {
    this.timeout(30000 + rounds * 3000);
    const file = path.join(dir, 'run.safetensors');
    const rng = new Rng(4242);
    let lastSaved = 0;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, [path.join(here, 'helpers', 'checkpoint-writer.mjs'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const firstSave = new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => { out += d; if (/saved \d+/.test(out)) resolve(); });
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await firstSave;
      await new Promise((r) => setTimeout(r, 5 + Math.floor(rng.next() * 150)));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      const saves = [...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1]));
      lastSaved = saves.at(-1);
      const ck = readCheckpoint(file); // must parse: the old or the new file, never a torn one
      const k = ck.trainer.epoch;
      expect(k).to.be.oneOf([lastSaved, lastSaved + 1]); // killed after the rename but before printing
      for (const [name, t] of Object.entries(ck.weights)) expect(t.data.every((v) => v === k), name).to.equal(true);
      loadCheckpoint(file, { model: new Sequential([new LSTM({ inputSize: 8, hiddenSize: 96, seed: 1 }), new Linear({ inFeatures: 96, outFeatures: 4, seed: 2 })]) });
    }
    expect(lastSaved).to.be.greaterThan(0);
  });
});

describe('file arguments', function () {
  // A number was read as a file descriptor; file-system errors did not name the call.
  it('a path must be a string; file-system errors keep their code and name the outermost call', async function () {
    const { readSafetensors, writeSafetensors, loadCheckpoint, saveCheckpoint, LSTM: L, tensor } = await import('cellstate');
    const model = new L({ inputSize: 1, hiddenSize: 2, seed: 1 });
    expect(() => readSafetensors(0)).to.throw(TypeError, /^readSafetensors: file: expected a file path, got 0/);
    expect(() => loadCheckpoint(7, { model })).to.throw(TypeError, /^loadCheckpoint: file: expected a file path, got 7/);
    const missing = path.join(os.tmpdir(), 'cellstate-no-such-dir', 'x.safetensors');
    for (const [f, where] of [[() => readSafetensors(missing), 'readSafetensors'], [() => loadCheckpoint(missing, { model }), 'loadCheckpoint'],
      [() => saveCheckpoint(missing, { model }), 'saveCheckpoint'], [() => writeSafetensors(missing, { a: tensor([1]) }), 'writeSafetensors']]) {
      try { f(); expect.fail('no error'); } catch (e) {
        expect(e.code, where).to.equal('ENOENT');
        expect(e.message, where).to.match(new RegExp(`^${where}: file: ENOENT`));
      }
    }
  });
});
