// Optimizers against PyTorch's published update rules (torch.optim docs, written out below in
// their textbook form, independently of lib/train/optim-math.ts), on hand-computable steps and
// on a few random steps; native and ts agree; clipping and schedules.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import {
  Adam, AdamW, availableBackends, clipGradNorm, clipGradValue, cosineLR, exponentialLR, Linear, LSTM, RMSprop, Sequential, SGD,
  stepLR, tensor, warmup,
} from 'cellstate';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomTensor, Rng } from './helpers/random.mjs';

/** A bare parameterised "model": one named tensor per entry, counting commits. */
function bag(values, dtype = 'float32') {
  const params = Object.entries(values).map(([n, v]) => [n, tensor(v, [v.length], dtype)]);
  return { commits: 0, namedParameters: () => params, commitParameters() { this.commits++; }, get: (n) => Array.from(params.find((p) => p[0] === n)[1].data) };
}
const root = fileURLToPath(new URL('..', import.meta.url));
const g1 = (v, dtype = 'float32') => ({ p: tensor(v, [v.length], dtype) });

describe('optimizers: hand-computed steps (PyTorch rules)', function () {
  for (const backend of availableBackends()) {
    describe(backend, function () {
      it('SGD: plain, weight decay, momentum, dampening, Nesterov', function () {
        let m = bag({ p: [1] });
        new SGD(m, { lr: 0.1, backend }).step(g1([0.5]));
        expect(m.get('p')[0]).to.be.closeTo(0.95, 1e-7);
        expect(m.commits).to.equal(1);
        m = bag({ p: [1] });
        new SGD(m, { lr: 0.1, weightDecay: 0.1, backend }).step(g1([0]));
        expect(m.get('p')[0]).to.be.closeTo(0.99, 1e-7);
        m = bag({ p: [0] });
        let o = new SGD(m, { lr: 0.1, momentum: 0.9, backend });
        o.step(g1([1])); o.step(g1([1]));
        expect(m.get('p')[0]).to.be.closeTo(-0.29, 1e-7); // b1 = 1, b2 = 0.9 + 1
        m = bag({ p: [0] });
        o = new SGD(m, { lr: 0.1, momentum: 0.9, dampening: 0.5, backend });
        o.step(g1([1])); o.step(g1([1]));
        expect(m.get('p')[0]).to.be.closeTo(-0.1 - 0.14, 1e-7); // b1 = g (no dampening on the first step), b2 = 0.9 + 0.5
        m = bag({ p: [0] });
        o = new SGD(m, { lr: 0.1, momentum: 0.9, nesterov: true, backend });
        o.step(g1([1])); o.step(g1([1]));
        expect(m.get('p')[0]).to.be.closeTo(-0.19 - 0.271, 1e-7); // g + μb: 1.9, then 1 + 0.9·1.9
      });

      it('Adam: the first step moves by lr·sign(g); the second as computed by hand', function () {
        const m = bag({ p: [1] });
        const o = new Adam(m, { lr: 0.1, backend });
        o.step(g1([2]));
        expect(m.get('p')[0]).to.be.closeTo(0.9, 1e-7);
        o.step(g1([-1]));
        // m = 0.9·0.2 - 0.1 = 0.08, v = 0.999·0.004 + 0.001 = 0.004996, m̂ = 0.08/0.19, v̂ = 0.004996/0.001999
        const expected = 0.9 - 0.1 * (0.08 / 0.19) / (Math.sqrt(0.004996 / 0.001999) + 1e-8);
        expect(m.get('p')[0]).to.be.closeTo(expected, 1e-6);
        expect(expected).to.be.closeTo(0.873366, 1e-6);
      });

      it('AdamW decays the weight before the step; Adam adds wd·p to the gradient', function () {
        let m = bag({ p: [2] });
        new AdamW(m, { lr: 0.1, weightDecay: 0.5, backend }).step(g1([3]));
        expect(m.get('p')[0]).to.be.closeTo(2 * (1 - 0.05) - 0.1, 1e-6);
        m = bag({ p: [2] });
        new Adam(m, { lr: 0.1, weightDecay: 0.5, backend }).step(g1([-3])); // g + wd·p = -2: still a full lr step
        expect(m.get('p')[0]).to.be.closeTo(2.1, 1e-6);
      });

      it('RMSprop: plain, centered, momentum', function () {
        let m = bag({ p: [1] });
        new RMSprop(m, { lr: 0.01, backend }).step(g1([2])); // v = 0.04, p -= 0.01·2/0.2
        expect(m.get('p')[0]).to.be.closeTo(0.9, 1e-6);
        m = bag({ p: [1] });
        new RMSprop(m, { lr: 0.01, centered: true, backend }).step(g1([2])); // ga = 0.02, den = √(0.04 - 0.0004)
        expect(m.get('p')[0]).to.be.closeTo(1 - 0.02 / Math.sqrt(0.0396), 1e-6);
        m = bag({ p: [1] });
        const o = new RMSprop(m, { lr: 0.01, momentum: 0.9, backend });
        o.step(g1([2])); o.step(g1([2])); // buf = 10, then 9 + 2/√0.0796
        expect(m.get('p')[0]).to.be.closeTo(0.9 - 0.01 * (9 + 2 / Math.sqrt(0.0796)), 1e-6);
      });
    });
  }
});

/** PyTorch's documented algorithms in textbook form, float64, for random multi-step runs. */
function reference(kind, o, p, grads) {
  const n = p.length, s = { b: new Array(n).fill(0), m: new Array(n).fill(0), v: new Array(n).fill(0), ga: new Array(n).fill(0) };
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < n; i++) {
      let gi = g[i];
      if (kind === 'SGD') {
        if (o.weightDecay) gi += o.weightDecay * p[i];
        if (o.momentum) {
          s.b[i] = t === 1 ? gi : o.momentum * s.b[i] + (1 - (o.dampening ?? 0)) * gi;
          gi = o.nesterov ? gi + o.momentum * s.b[i] : s.b[i];
        }
        p[i] -= o.lr * gi;
      } else if (kind === 'Adam' || kind === 'AdamW') {
        const wd = o.weightDecay ?? (kind === 'AdamW' ? 0.01 : 0);
        if (kind === 'AdamW') p[i] *= 1 - o.lr * wd; else gi += wd * p[i];
        s.m[i] = 0.9 * s.m[i] + 0.1 * gi;
        s.v[i] = 0.999 * s.v[i] + 0.001 * gi * gi;
        const mh = s.m[i] / (1 - 0.9 ** t), vh = s.v[i] / (1 - 0.999 ** t);
        p[i] -= o.lr * mh / (Math.sqrt(vh) + 1e-8);
      } else {
        if (o.weightDecay) gi += o.weightDecay * p[i];
        s.v[i] = 0.99 * s.v[i] + 0.01 * gi * gi;
        let den = Math.sqrt(s.v[i]);
        if (o.centered) { s.ga[i] = 0.99 * s.ga[i] + 0.01 * gi; den = Math.sqrt(s.v[i] - s.ga[i] ** 2); }
        den += 1e-8;
        if (o.momentum) { s.b[i] = o.momentum * s.b[i] + gi / den; p[i] -= o.lr * s.b[i]; } else p[i] -= o.lr * gi / den;
      }
    }
  });
  return p;
}

const CONFIGS = [
  ['SGD', { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }], ['SGD', { lr: 0.05, momentum: 0.8, nesterov: true }], ['SGD', { lr: 0.05, momentum: 0.5, dampening: 0.3 }],
  ['Adam', { lr: 0.01 }], ['Adam', { lr: 0.01, weightDecay: 0.1 }], ['AdamW', { lr: 0.01 }], ['AdamW', { lr: 0.01, weightDecay: 0.2 }],
  ['RMSprop', { lr: 0.01 }], ['RMSprop', { lr: 0.01, centered: true, momentum: 0.5, weightDecay: 0.01 }],
];
const CLASSES = { SGD, Adam, AdamW, RMSprop };

describe('optimizers: 6 random steps against the textbook rules; native equals ts', function () {
  for (const [kind, o] of CONFIGS) {
    it(`${kind} ${JSON.stringify(o)}`, function () {
      const rng = new Rng(77);
      const p0 = Array.from({ length: 37 }, () => rng.uniform(-1, 1));
      const grads = Array.from({ length: 6 }, () => Array.from({ length: 37 }, () => rng.uniform(-2, 2)));
      const want = reference(kind, o, p0.slice(), grads);
      const finals = {};
      for (const [backend, dtype, tol] of [['ts', 'float64', 1e-12], ...availableBackends().map((b) => [b, 'float32', 2e-5])]) {
        const m = bag({ p: p0 }, dtype);
        const opt = new CLASSES[kind](m, { ...o, backend });
        expect(opt.backend).to.equal(backend);
        for (const g of grads) opt.step(g1(g, dtype));
        const got = m.get('p');
        got.forEach((v, i) => expect(v, `${backend} ${dtype} p[${i}]`).to.be.closeTo(want[i], tol * (1 + Math.abs(want[i]))));
        if (dtype === 'float32') finals[backend] = got;
      }
      // The native update mirrors the ts math term for term: the same float32 results.
      if (finals.native) finals.native.forEach((v, i) => expect(v).to.be.closeTo(finals.ts[i], 1e-6 * (1 + Math.abs(v))));
      // wasm has no fused multiply-add, so the same double arithmetic rounds identically: bit for bit.
      if (finals.wasm) expect(finals.wasm).to.deep.equal(finals.ts);
    });
  }

  describe('wasm: several parameters (sizes around the 4-wide vector), state and all, bit-identical to ts', function () {
    if (!availableBackends().includes('wasm')) return;
    const sizes = { a: 1, b: 3, c: 4, d: 7, e: 16, f: 33 };
    for (const [kind, o] of CONFIGS) {
      it(`${kind} ${JSON.stringify(o)}`, function () {
        const rng = new Rng(5);
        const p0 = Object.fromEntries(Object.entries(sizes).map(([n, k]) => [n, Array.from({ length: k }, () => rng.uniform(-1, 1))]));
        const grads = Array.from({ length: 5 }, () => Object.fromEntries(Object.entries(sizes).map(([n, k]) => [n, tensor(Array.from({ length: k }, () => rng.uniform(-2, 2)), [k])])));
        const run = (backend) => {
          const m = bag(p0), opt = new CLASSES[kind](m, { ...o, backend });
          expect(opt.backend).to.equal(backend);
          for (const g of grads) opt.step(g);
          expect(m.commits).to.equal(grads.length);
          const st = opt.stateDict();
          return { p: Object.keys(sizes).map((n) => m.get(n)), slots: Object.fromEntries(Object.entries(st.slots).map(([s, b]) => [s, Object.values(b).map((t) => Array.from(t.data))])) };
        };
        const ts = run('ts'), wasm = run('wasm');
        expect(wasm.p).to.deep.equal(ts.p);
        expect(wasm.slots).to.deep.equal(ts.slots);
        expect(Object.keys(ts.slots).length).to.be.above(0);
      });
    }

    it('the default backend updates on wasm when wasm is the process default', function () {
      const r = spawnSync(process.execPath, ['-e', "const c = require('./dist'); const m = { namedParameters: () => [['p', c.tensor([1, 2])]], commitParameters() {} }; " +
        "console.log(c.backend().name, new c.Adam(m).backend, new c.SGD(m, { backend: 'ts' }).backend)"],
      { cwd: root, env: { ...process.env, CELLSTATE_BACKEND: 'wasm', CELLSTATE_QUIET: '1' }, encoding: 'utf8' });
      expect(r.stderr).to.equal('');
      expect(r.stdout.trim()).to.equal('wasm wasm ts');
    });

    it('float64 parameters asked to run on wasm update with the TS math', function () {
      const m = bag({ p: [1] }, 'float64');
      const opt = new SGD(m, { lr: 0.1, backend: 'wasm' });
      expect(opt.backend).to.equal('ts');
      opt.step(g1([0.5], 'float64'));
      expect(m.get('p')[0]).to.equal(1 - 0.1 * 0.5);
    });
  });

  it('updates a Sequential in place and commits its weights once per step (caches go stale)', function () {
    const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
    const x = randomTensor(new Rng(1), [3, 2, 2]);
    const r = model.forwardTrain(x);
    const g = model.backward(r.cache, { dOutput: randomTensor(new Rng(2), [3, 2, 1]) });
    const before = model.forward(x).output.data.slice();
    new Adam(model, { lr: 0.01 }).step(g.grads);
    expect(Array.from(model.forward(x).output.data)).to.not.deep.equal(Array.from(before));
    expect(() => model.backward(r.cache, { dOutput: randomTensor(new Rng(2), [3, 2, 1]) })).to.throw(/changed after forwardTrain/);
  });

  it('stateDict / loadStateDict continue bit-identically', function () {
    const rng = new Rng(3);
    const grads = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => rng.uniform(-1, 1)));
    const a = bag({ p: [0.1, 0.2, 0.3, 0.4, 0.5] }), oa = new Adam(a, { lr: 0.1 });
    grads.forEach((g) => oa.step(g1(g)));
    const b = bag({ p: [0.1, 0.2, 0.3, 0.4, 0.5] }), ob = new Adam(b, { lr: 0.1 });
    grads.slice(0, 2).forEach((g) => ob.step(g1(g)));
    const c = bag({ p: b.get('p') }), oc = new Adam(c, { lr: 0.1 }).loadStateDict(ob.stateDict());
    expect(oc.stepCount).to.equal(2);
    grads.slice(2).forEach((g) => oc.step(g1(g)));
    expect(c.get('p')).to.deep.equal(a.get('p'));
    expect(() => new SGD(bag({ p: [1] })).loadStateDict(oa.stateDict())).to.throw(TypeError, /state.kind: expected 'SGD', got "Adam"/);
  });

  describe('loadStateDict checks the values it loads (finite, the optimizer\'s dtype), read once', function () {
    for (const backend of availableBackends()) {
      const setup = () => {
        const m = bag({ p: [1, 2, 3], q: [4, 5] });
        const opt = new SGD(m, { lr: 0.1, momentum: 0.9, backend });
        opt.step({ p: tensor([1, 1, 1]), q: tensor([1, 1]) });
        return { m, opt, good: opt.stateDict(), before: JSON.stringify(Object.values(opt.stateDict().slots.momentum_buffer).map((t) => Array.from(t.data))) };
      };
      const bufs = (opt) => JSON.stringify(Object.values(opt.stateDict().slots.momentum_buffer).map((t) => Array.from(t.data)));
      const withBuf = (good, name, t) => ({ ...good, slots: { momentum_buffer: { ...good.slots.momentum_buffer, [name]: t } } });

      it(`${backend}: NaN or infinite buffers are a RangeError naming the buffer; nothing changes`, function () {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const { opt, good, before } = setup();
          expect(() => opt.loadStateDict({ ...withBuf(good, 'q', tensor([0, bad])), step: 7 }))
            .to.throw(RangeError, `SGD.loadStateDict: state.slots.momentum_buffer['q']: expected finite numbers (in float32), got ${bad} at flat index 1`);
          expect(bufs(opt)).to.equal(before);
          expect(opt.stepCount).to.equal(1);
        }
      });

      it(`${backend}: a buffer of another dtype is refused, not converted`, function () {
        const { opt, good, before } = setup();
        expect(() => opt.loadStateDict(withBuf(good, 'p', tensor([1, 2, 3], [3], 'float64'))))
          .to.throw(TypeError, "SGD.loadStateDict: state.slots.momentum_buffer['p'].data: expected a Float32Array (the model's dtype is float32), got Float64Array(3)");
        expect(bufs(opt)).to.equal(before);
      });

      it(`${backend}: a buffer changed by another entry's getter after it was read is loaded as read`, function () {
        const { opt, good } = setup();
        const p = good.slots.momentum_buffer.p, want = Array.from(p.data);
        const slot = { p, get q() { p.data.fill(NaN); return good.slots.momentum_buffer.q; } };
        let threw = null;
        try { opt.loadStateDict({ ...good, slots: { momentum_buffer: slot } }); } catch (e) { threw = e; }
        // Either refused (the getter ran before p was copied) or loaded as checked: never NaN.
        if (threw) expect(threw).to.be.instanceOf(RangeError);
        else expect(Array.from(opt.stateDict().slots.momentum_buffer.p.data)).to.deep.equal(want);
        expect(Object.values(opt.stateDict().slots.momentum_buffer).every((t) => t.data.every(Number.isFinite))).to.equal(true);
      });
    }

    it('float64 optimizers refuse float32 buffers', function () {
      const m = bag({ p: [1, 2] }, 'float64'), opt = new Adam(m, { backend: 'ts' });
      const good = opt.stateDict();
      expect(() => opt.loadStateDict({ ...good, slots: { ...good.slots, exp_avg: { p: tensor([0, 0]) } } }))
        .to.throw(TypeError, "Adam.loadStateDict: state.slots.exp_avg['p'].data: expected a Float64Array (the model's dtype is float64), got Float32Array(2)");
    });
  });

  it('validates options and gradients, naming them', function () {
    const m = bag({ p: [1, 2] });
    expect(() => new Adam(m, { beta1: 1 })).to.throw(RangeError, /Adam: beta1: expected a number in \[0, 1\)/);
    expect(() => new SGD(m, { nesterov: true })).to.throw(RangeError, /nesterov/);
    expect(() => new SGD(m, { lr: -1 })).to.throw(RangeError, /lr/);
    expect(() => new SGD(m, { lrr: 1 })).to.throw(TypeError, /lrr/);
    expect(() => new SGD(m).step({})).to.throw(TypeError, /grads\['p'\]/);
    expect(() => new SGD(m).step({ p: tensor([1]) })).to.throw(RangeError, /expected 2 elements|shape \[2\]/);
    expect(() => new SGD(bag({ p: [1] }, 'float64'), { backend: 'native' })).to.throw(TypeError, /native computes in float32/);
  });
});

describe('optimizers against torch.optim (PyTorch 1.13 results in test/fixtures/optim-torch.json)', function () {
  const ref = JSON.parse(fs.readFileSync(new URL('./fixtures/optim-torch.json', import.meta.url), 'utf8'));
  const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  for (const c of ref.cases) {
    it(`${c.kind} ${JSON.stringify(c.torchOptions)}: ${ref.grads.length} steps`, function () {
      const options = Object.fromEntries(Object.entries(c.options).map(([k, v]) => [camel(k), v]));
      for (const [backend, dtype, tol] of [['ts', 'float64', 1e-12], ...availableBackends().map((b) => [b, 'float32', 1e-6])]) {
        const m = bag({ p: ref.p0 }, dtype);
        const opt = new CLASSES[c.kind](m, { ...options, backend });
        for (const g of ref.grads) opt.step(g1(g, dtype));
        const want = c.expected[dtype];
        m.get('p').forEach((v, i) => expect(v, `${backend} ${dtype} p[${i}]`).to.be.closeTo(want[i], tol * (1 + Math.abs(want[i]))));
      }
    });
  }
});

describe('native optimizer exports: checks in C++', function () {
  if (!availableBackends().includes('native')) return;
  // The optimizer calls of the addon the library loaded (a local build, a prebuilt one, or
  // CELLSTATE_ADDON_PATH), each encoded as its descriptor (lib/backend/native-optim.ts).
  const addon = () => createRequire(import.meta.url)('../dist/backend/native-optim.js').nativeOptim();
  it('throws TypeError/RangeError on bad buffers and writes nothing', function () {
    const a = addon();
    const p = new Float32Array([1, 2, 3]);
    expect(() => a.optimSgd([p], [new Float32Array(2)], null, 0.1, 0, 0, 0, false, true)).to.throw(RangeError, /grads\[0\] with 3 elements/);
    expect(() => a.optimSgd([p], [new Float64Array(3)], null, 0.1, 0, 0, 0, false, true)).to.throw(TypeError, /Float32Array/);
    expect(() => a.optimSgd([p], [], null, 0.1, 0, 0, 0, false, true)).to.throw(RangeError, /1 entries/);
    expect(() => a.optimSgd([p], [new Float32Array(3)], null, 0.1, 0.9, 0, 0, false, true)).to.throw(TypeError, /momentum buffers/);
    expect(() => a.optimAdam([p], [new Float32Array(3)], [new Float32Array(3)], [new Float32Array(4)], 0.1, 0.9, 0.999, 1e-8, 0, false, 0.1, 0.1)).to.throw(RangeError, /expAvgSq/);
    expect(() => a.optimAdam([p], [new Float32Array(3)], [new Float32Array(3)], [new Float32Array(3)], NaN, 0.9, 0.999, 1e-8, 0, false, 0.1, 0.1)).to.throw(RangeError, /finite/);
    expect(() => a.optimRmsprop('x')).to.throw(TypeError);
    expect(Array.from(p)).to.deep.equal([1, 2, 3]);
  });
});

describe('wasm optimizer exports: checks in the TS shell and in C++', function () {
  if (!availableBackends().includes('wasm')) return;
  const wasm = () => createRequire(import.meta.url)('../dist/backend/wasm-load.js').loadWasm().optim;
  it('throws TypeError/RangeError on bad buffers and writes nothing', function () {
    const a = wasm();
    const p = new Float32Array([1, 2, 3]), z = () => new Float32Array(3);
    expect(() => a.optimSgd([p], [new Float32Array(2)], null, 0.1, 0, 0, 0, false, true)).to.throw(RangeError, 'optimSgd: expected grads[0] with 3 elements (its parameter\'s), got 2');
    expect(() => a.optimSgd([p], [new Float64Array(3)], null, 0.1, 0, 0, 0, false, true)).to.throw(TypeError, 'optimSgd: grads[0]: expected a Float32Array, got [object Float64Array]');
    expect(() => a.optimSgd([p], [], null, 0.1, 0, 0, 0, false, true)).to.throw(RangeError, 'optimSgd: grads: expected 1 entries (one per parameter), got 0');
    expect(() => a.optimSgd([p], [z()], null, 0.1, 0.9, 0, 0, false, true)).to.throw(TypeError, 'optimSgd: bufs: expected an Array of Float32Arrays for this configuration, got null');
    expect(() => a.optimAdam([p], [z()], [z()], [new Float32Array(4)], 0.1, 0.9, 0.999, 1e-8, 0, false, 0.1, 0.1)).to.throw(RangeError, /expAvgSq\[0\] with 3 elements/);
    // The module's own checks (the shell passes these through): a non-finite header, a zero bias correction.
    expect(() => a.optimAdam([p], [z()], [z()], [z()], NaN, 0.9, 0.999, 1e-8, 0, false, 0.1, 0.1)).to.throw(RangeError, 'cellstate (wasm): optimAdam: optimAdam: header or sizes out of range');
    expect(() => a.optimAdam([p], [z()], [z()], [z()], 0.1, 0.9, 0.999, 1e-8, 0, false, 0, 0.1)).to.throw(RangeError, 'optimAdam: bias corrections must be positive');
    expect(() => a.optimRmsprop([p], [z()], [z()], null, null, 0.1, 0.99, 1e-8, 0, 0, true)).to.throw(TypeError, /gradAvg: expected an Array/);
    expect(Array.from(p)).to.deep.equal([1, 2, 3]);
    // Still usable after refused calls; a zero-parameter step is a no-op.
    a.optimSgd([p], [new Float32Array([1, 1, 1])], null, 0.5, 0, 0, 0, false, true);
    expect(Array.from(p)).to.deep.equal([0.5, 1.5, 2.5]);
    a.optimSgd([], [], null, 0.5, 0, 0, 0, false, true);
  });
});

describe('gradient clipping', function () {
  it('clipGradNorm scales by maxNorm/(total + 1e-6) when over; returns the total', function () {
    const g = { a: tensor([3], [1], 'float64'), b: tensor([0, 4], [2], 'float64') };
    expect(clipGradNorm(g, 1)).to.equal(5);
    expect(g.a.data[0]).to.be.closeTo(3 / (5 + 1e-6), 1e-15);
    expect(g.b.data[1]).to.be.closeTo(4 / (5 + 1e-6), 1e-15);
    const h = { a: tensor([0.3], [1], 'float64') };
    expect(clipGradNorm(h, 1)).to.be.closeTo(0.3, 1e-15);
    expect(h.a.data[0]).to.equal(0.3);
    expect(clipGradNorm({ a: tensor([NaN, 1], [2]) }, 1)).to.be.NaN;
    expect(() => clipGradNorm(g, 0)).to.throw(RangeError, /maxNorm/);
  });
  it('clipGradValue clamps every element', function () {
    const g = { a: tensor([-3, 0.5, 2], [3], 'float64') };
    clipGradValue(g, 1);
    expect(Array.from(g.a.data)).to.deep.equal([-1, 0.5, 1]);
  });
});

describe('learning-rate schedules (functions of the optimizer step)', function () {
  it('step, exponential, cosine and warm-up', function () {
    const s = stepLR({ stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 6].map((t) => s.lrAt(t, 1))).to.deep.equal([1, 1, 0.5, 0.25]);
    expect(exponentialLR({ gamma: 0.9 }).lrAt(2, 1)).to.be.closeTo(0.81, 1e-15);
    const c = cosineLR({ tMax: 10, etaMin: 0.1 });
    expect(c.lrAt(0, 1)).to.equal(1);
    expect(c.lrAt(5, 1)).to.be.closeTo(0.55, 1e-15);
    expect(c.lrAt(10, 1)).to.be.closeTo(0.1, 1e-15);
    expect(c.lrAt(50, 1)).to.equal(0.1);
    const w = warmup({ steps: 4, then: stepLR({ stepSize: 2, gamma: 0.1 }) });
    expect([0, 1, 2, 3, 4, 5, 6].map((t) => w.lrAt(t, 1))).to.deep.equal([0, 0.25, 0.5, 0.75, 1, 1, 0.1]);
    expect(w.describe()).to.deep.equal({ type: 'warmup', steps: 4, startFactor: 0, then: { type: 'step', stepSize: 2, gamma: 0.1 } });
    expect(() => stepLR({ stepSize: 0 })).to.throw(RangeError, /stepSize/);
  });
});
