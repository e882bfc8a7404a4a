// The JS/C++ boundary as a schema (scripts/addon-schema.js): the generated TypeScript and C++ are
// current, the built addon's tables equal the TypeScript ones, and the addon checks every field
// of every descriptor call by its declared kind and presence, naming it.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends } from 'cellstate';
// Every slot of cellPrepare's gate activations at the kind's default (rnn_tanh tanh, rnn_relu relu, else sigmoid, tanh, tanh).
const defActs = (k) => ({ act0: k === 3 ? 2 : k === 2 ? 1 : 0, alpha0: 0, beta0: 0, act1: 1, alpha1: 0, beta1: 0, act2: 1, alpha2: 0, beta2: 0 });


const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const schema = require('../dist/backend/schema.gen.js');
const { loadNative } = require('../dist/backend/native.js');
const { gateCount } = require('../dist/backend/types.js');
const source = require('../scripts/addon-schema.js');
const hasNative = availableBackends().includes('native');

describe('addon schema', function () {
  it('the generated files are what scripts/gen-addon-schema.js makes of scripts/addon-schema.js', function () {
    const r = spawnSync(process.execPath, ['scripts/gen-addon-schema.js', '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('the TypeScript codes are the schema\'s: kinds, gate counts, flags', function () {
    for (const k of source.cellKinds) {
      expect(schema.CELL_KIND_CODE[k.name]).to.equal(k.code);
      expect(gateCount(k.name)).to.equal(k.gates);
    }
    expect(Object.keys(schema.CELL_KIND_CODE)).to.have.length(source.cellKinds.length);
    expect(schema.CELL_PARAMS).to.deep.equal(source.cellParams.map((q) => q.name));
    for (const k of source.cellKinds) {
      // Each kind its own bits, 1 << k in declaration order; its parameters in declaration order.
      expect(schema.CELL_KINDS[k.name].flags, k.name).to.deep.equal(Object.fromEntries(k.flags.map((f, i) => [f.name, 2 ** i])));
      expect(schema.CELL_KINDS[k.name].params, k.name).to.deep.equal(k.params.map((q) => q.name));
      expect(schema.CELL_KINDS[k.name].cellState, k.name).to.equal(k.cellState);
    }
  });

  it('an encoder puts every header field at its declared place and the buffers after it, in order', function () {
    for (const c of schema.SCHEMA.calls) {
      const d = {};
      c.header.forEach((f, i) => { d[f.name] = f.kind === 'flag' ? i % 2 === 1 : 10 + i; });
      const bufs = c.buffers.map((b) => ({ tag: b.name }));
      c.buffers.forEach((b, i) => { d[b.name] = bufs[i]; });
      const P = c.name[0].toUpperCase() + c.name.slice(1);
      const wire = c.header.length ? schema[`encode${P}`](d, new Float64Array(c.header.length)) : schema[`encode${P}`](d);
      const h = c.header.length ? Array.from(wire[0]) : [];
      expect(h, c.name).to.deep.equal(c.header.map((f, i) => (f.kind === 'flag' ? i % 2 : 10 + i)));
      expect(wire.slice(c.header.length ? 1 : 0), c.name).to.deep.equal(bufs);
    }
  });

  (hasNative ? describe : describe.skip)('the built addon', function () {
    const addon = () => loadNative().addon;
    const f = (n) => new Float32Array(n);

    it('reports the same tables as the TypeScript (addon.schema())', function () {
      expect(addon().schema()).to.deep.equal(JSON.parse(JSON.stringify(schema.SCHEMA)));
    });

    it('exports every declared call and its async and pair forms', function () {
      for (const [name, c] of Object.entries(source.calls)) {
        const names = [name, ...(c.async ? [`${name}Async`] : []), ...(c.pair ? [`${name}Pair`] : []), ...(c.pair && c.async ? [`${name}PairAsync`] : [])];
        for (const n of names) expect(addon()[n], n).to.be.a('function');
      }
    });

    // A valid descriptor of each call: an LSTM with projection and peepholes, so every `when` buffer is present.
    const I = 2, H = 3, P = 2, G = 4 * H, T = 2, B = 2, N = T * B;
    // The LSTM's list: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, peephole_i, peephole_f, peephole_o.
    const lstmList = () => [f(G * I), f(G * P), f(G), f(G), f(P * H), f(H), f(H), f(H)];
    const prepareDesc = () => ({ kind: schema.CELL_KIND_CODE.lstm, I, H, P, flags: schema.CELL_KINDS.lstm.flags.peephole, clip: 0, precision: 0, ...defActs(0), params: lstmList(), qparams: null, qscales: null });
    const handle = () => addon().cellPrepare(...schema.encodeCellPrepare(prepareDesc(), new Float64Array(schema.CELL_PREPARE_HEADER)));
    const cacheN = (w) => addon().cellCacheSize(...schema.encodeCellCacheSize({ w, T, B }, new Float64Array(2)));
    const seq = (w) => ({ w, T, B, rowT: B, rowB: 1, reverse: false, lengths: Int32Array.of(2, 1) });
    const valid = {
      setThreads: () => ({ threads: addon().info().threads }), // (the pool size as it is)
      fmaPeak: () => ({ threads: 1 }),
      firstNonFinite: () => ({ a: f(5) }),
      sgemm: () => ({ transA: false, transB: true, M: 2, N: 3, K: 4, A: f(8), aOffset: 0, lda: 4, B: f(12), bOffset: 0, ldb: 4, beta: 0, C: f(6), cOffset: 0, ldc: 3, packed: true }),
      cellPrepare: prepareDesc,
      cellRelease: () => ({ w: handle() }),
      cellCacheSize: () => ({ w: handle(), T, B }),
      cellForward: () => { const w = handle(); return { ...seq(w), x: f(N * I), xOffset: 0, ldx: I, y: f(N * P), yOffset: 0, ldy: P, h0: f(B * P), c0: f(B * H), hN: f(B * P), cN: f(B * H), cache: f(cacheN(w)) }; },
      cellBackward: () => {
        const w = handle();
        return { ...seq(w), x: f(N * I), xOffset: 0, ldx: I, cache: f(cacheN(w)), dy: f(N * P), dyOffset: 0, lddy: P, dhN: f(B * P), dcN: f(B * H), dx: f(N * I), dxOffset: 0, lddx: I,
          dh0: f(B * P), dc0: f(B * H), grads: lstmList() };
      },
      optimSgd: () => ({ params: [f(3)], grads: [f(3)], bufs: [f(3)], lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, first: true }),
      optimAdam: () => ({ params: [f(3)], grads: [f(3)], expAvg: [f(3)], expAvgSq: [f(3)], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, biasCorrection1: 0.1, biasCorrection2Sqrt: 0.1 }),
      optimRmsprop: () => ({ params: [f(3)], grads: [f(3)], squareAvg: [f(3)], gradAvg: [f(3)], momentumBuffer: [f(3)], lr: 0.1, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0.5, centered: true }),
    };
    const call = (c, d) => {
      const P_ = c.name[0].toUpperCase() + c.name.slice(1);
      const wire = c.header.length ? schema[`encode${P_}`](d, new Float64Array(c.header.length)) : schema[`encode${P_}`](d);
      return addon()[c.name](...wire);
    };

    it('covers every declared call with a valid descriptor', function () {
      expect(Object.keys(valid).sort()).to.deep.equal(schema.SCHEMA.calls.map((c) => c.name).sort());
      for (const c of schema.SCHEMA.calls) expect(() => call(c, valid[c.name]()), c.name).to.not.throw();
    });

    it('refuses each header field out of its kind, by name: a dim or code NaN, a flag 0.5, a number NaN', function () {
      let n = 0;
      for (const c of schema.SCHEMA.calls) {
        for (const fld of c.header) {
          const d = valid[c.name]();
          d[fld.name] = fld.kind === 'flag' ? 0.5 : NaN; // a flag is encoded as d ? 1 : 0; write the wire value below
          const P_ = c.name[0].toUpperCase() + c.name.slice(1);
          const wire = schema[`encode${P_}`](d, new Float64Array(c.header.length));
          wire[0][c.header.indexOf(fld)] = fld.kind === 'flag' ? 0.5 : NaN;
          expect(() => addon()[c.name](...wire), `${c.name}.${fld.name}`).to.throw(RangeError, new RegExp(`^${c.name}: ${fld.name}: expected `));
          n++;
        }
      }
      expect(n).to.equal(schema.SCHEMA.calls.reduce((s, c) => s + c.header.length, 0));
    });

    it('refuses each buffer by its presence, by name: a required or `when` one missing, any one of the wrong type', function () {
      let n = 0;
      for (const c of schema.SCHEMA.calls) {
        c.buffers.forEach((b, i) => {
          const at = (c.header.length ? 1 : 0) + i;
          const named = new RegExp(`^${c.name}: ${b.name} \\(argument ${at}\\): expected `);
          if (b.presence !== 'optional') {
            expect(() => call(c, { ...valid[c.name](), [b.name]: null }), `${c.name}.${b.name} = null`).to.throw(TypeError, named);
            n++;
          }
          expect(() => call(c, { ...valid[c.name](), [b.name]: 'x' }), `${c.name}.${b.name} = 'x'`).to.throw(TypeError, named);
          n++;
        });
      }
      expect(n).to.be.above(40);
    });

    it('checks a parameter list against its kind\'s declaration, naming the entry: count, presence, length', function () {
      const names = [...schema.CELL_PARAMS, ...schema.CELL_KINDS.lstm.params];
      const prep = (over) => () => addon().cellPrepare(...schema.encodeCellPrepare({ ...prepareDesc(), ...over }, new Float64Array(schema.CELL_PREPARE_HEADER)));
      const bwd = (grads) => () => call(schema.SCHEMA.calls.find((c) => c.name === 'cellBackward'), { ...valid.cellBackward(), grads });
      let n = 0;
      for (const [fn, run, list] of [['cellPrepare', (l) => prep({ params: l }), 'params'], ['cellBackward', bwd, 'grads']]) {
        const at = fn === 'cellPrepare' ? 1 : 11; // the header, then the buffers
        expect(run(lstmList().slice(0, 7)), fn).to.throw(TypeError, new RegExp(`^${fn}: ${list} \\(argument ${at}\\): expected an Array of 8 entries for a lstm cell \\(${names.join(', ')}\\), got 7`));
        expect(run([...lstmList(), null]), fn).to.throw(TypeError, /expected an Array of 8 entries/);
        names.forEach((name, i) => {
          const tag = `^${fn}: ${list}\\[${i}\\] \\(${name}\\)`;
          const l = lstmList();
          l[i] = 'x';
          expect(run(l), `${fn} ${name} = 'x'`).to.throw(TypeError, new RegExp(`${tag} \\(argument ${at}\\): expected a Float32Array or null`));
          const short = lstmList();
          short[i] = f(short[i].length - 1);
          expect(run(short), `${fn} ${name} short`).to.throw(RangeError, new RegExp(`${tag}: expected at least ${short[i].length + 1} elements, got ${short[i].length}`));
          const missing = lstmList();
          missing[i] = null;
          if (name.startsWith('bias')) expect(run(missing), `${fn} ${name} null`).to.not.throw(); // optional
          else expect(run(missing), `${fn} ${name} null`).to.throw(TypeError, new RegExp(`${tag} \\(argument ${at}\\): expected a Float32Array$`));
          n += 3;
        });
      }
      // Present without the projection or the flag that declares it: refused, named.
      expect(prep({ P: 0, params: [f(G * I), f(G * H), null, null, f(H * H), f(H), f(H), f(H)] })).to.throw(TypeError, /^cellPrepare: params\[4\] \(weight_hr\) \(argument 1\): expected null \(this cell has none\)/);
      expect(prep({ flags: 0 })).to.throw(TypeError, /^cellPrepare: params\[5\] \(peephole_i\) \(argument 1\): expected null/);
      // A flag bit the kind does not declare: the GRU has one (linearBeforeReset = 1), the RNN none.
      expect(prep({ kind: schema.CELL_KIND_CODE.gru, flags: 2, P: 0, params: [f(3 * H * I), f(9 * H), null, null] })).to.throw(RangeError, /^cellPrepare: flags: expected an integer in \[0, 1\], got 2/);
      expect(prep({ kind: schema.CELL_KIND_CODE.rnn_tanh, flags: 1, P: 0, params: [f(H * I), f(H * H), null, null] })).to.throw(RangeError, /^cellPrepare: flags: expected an integer in \[0, 0\], got 1/);
      expect(n).to.equal(2 * 3 * names.length);
    });

    it('checks the quantized matrices against the precision and the kind, naming the entry (qparams, qscales)', function () {
      // The LSTM of prepareDesc, quantized: the matrices (weight_ih, weight_hh, weight_hr) cross in qparams, null in params.
      const fp = () => [null, null, f(G), f(G), null, f(H), f(H), f(H)];
      const u16 = (n) => new Uint16Array(n), i8 = (n) => new Int8Array(n);
      const q = (mk) => [mk(G * I), mk(G * P), null, null, mk(P * H), null, null, null];
      const sc = () => [f(G), f(G), null, null, f(P), null, null, null];
      const prep = (over) => () => addon().cellPrepare(...schema.encodeCellPrepare({ ...prepareDesc(), params: fp(), ...over }, new Float64Array(schema.CELL_PREPARE_HEADER)));
      expect(prep({ precision: schema.PRECISION_CODE.bf16, qparams: q(u16) })).to.not.throw();
      expect(prep({ precision: schema.PRECISION_CODE.int8, qparams: q(i8), qscales: sc() })).to.not.throw();
      expect(prep({ precision: 3, qparams: q(u16) })).to.throw(RangeError, /^cellPrepare: precision: expected an integer in \[0, 2\], got 3/);
      expect(prep({ precision: 1, params: lstmList(), qparams: q(u16) })).to.throw(TypeError, /^cellPrepare: params\[0\] \(weight_ih\) \(argument 1\): expected null \(a quantized matrix crosses in qparams\)/);
      expect(prep({ precision: 1 })).to.throw(TypeError, /^cellPrepare: qparams \(argument 2\): expected the quantized matrices \(a Uint16Array \(bf16\) for each\)/);
      expect(prep({ precision: 1, qparams: q(i8) })).to.throw(TypeError, /^cellPrepare: qparams\[0\] \(weight_ih\) \(argument 2\): expected a Uint16Array \(bf16\)/);
      expect(prep({ precision: 2, qparams: q(u16), qscales: sc() })).to.throw(TypeError, /qparams\[0\] \(weight_ih\) .*expected an Int8Array \(int8\)/);
      expect(prep({ precision: 2, qparams: q(i8) })).to.throw(TypeError, /^cellPrepare: qscales \(argument 3\): expected the int8 row scales/);
      expect(prep({ precision: 1, qparams: q(u16), qscales: sc() })).to.throw(TypeError, /^cellPrepare: qscales \(argument 3\): expected null \(bf16 weights have no scales\)/);
      expect(prep({ params: lstmList(), qparams: q(u16) })).to.throw(TypeError, /^cellPrepare: qparams \(argument 2\): expected null \(fp32 weights cross in params\)/);
      const short = q(u16);
      short[1] = u16(G * P - 1);
      expect(prep({ precision: 1, qparams: short })).to.throw(RangeError, new RegExp(`qparams\\[1\\] \\(weight_hh\\): expected at least ${G * P} elements, got ${G * P - 1}`));
      const shortScale = sc();
      shortScale[4] = f(P - 1);
      expect(prep({ precision: 2, qparams: q(i8), qscales: shortScale })).to.throw(RangeError, new RegExp(`qscales\\[4\\] \\(weight_hr\\): expected at least ${P} scales, got ${P - 1}`));
      const stray = q(u16);
      stray[5] = u16(H);
      expect(prep({ precision: 1, qparams: stray })).to.throw(TypeError, /qparams\[5\] \(peephole_i\) .*expected null \(not a matrix of this cell\)/);
      expect(prep({ precision: 1, qparams: q(u16).slice(0, 7) })).to.throw(TypeError, /qparams \(argument 2\): expected an Array of 8 entries/);
      // A quantized cell runs inference only: a training cache or a backward is refused, naming quantize().
      const w = prep({ precision: 1, qparams: q(u16) })();
      const fwd = { ...seq(w), x: f(N * I), xOffset: 0, ldx: I, y: f(N * P), yOffset: 0, ldy: P, h0: null, c0: null, hN: f(B * P), cN: f(B * H) };
      const enc = (d) => schema.encodeCellForward(d, new Float64Array(schema.CELL_FORWARD_HEADER));
      expect(() => addon().cellForward(...enc({ ...fwd, cache: f(1 << 12) }))).to.throw(TypeError, /^cellForward: cache \(argument 9\): expected null: a cell quantized by quantize\(\) \(bf16\) runs inference only/);
      addon().cellForward(...enc({ ...fwd, cache: null }));
      const bwd = { ...valid.cellBackward(), w };
      expect(() => call(schema.SCHEMA.calls.find((c) => c.name === 'cellBackward'), bwd)).to.throw(TypeError, /^cellBackward: w \(argument 1\): expected fp32 cell weights: a cell quantized by quantize\(\) \(bf16\)/);
    });

    it('refuses a `when` buffer the cell does not have, by name', function () {
      const gru = { ...prepareDesc(), kind: schema.CELL_KIND_CODE.gru, P: 0, flags: 0, params: [f(3 * H * I), f(9 * H), null, null] };
      const w = addon().cellPrepare(...schema.encodeCellPrepare(gru, new Float64Array(schema.CELL_PREPARE_HEADER)));
      const d = { ...seq(w), x: f(N * I), xOffset: 0, ldx: I, y: f(N * H), yOffset: 0, ldy: H, h0: null, c0: null, hN: f(B * H), cN: f(B * H), cache: null };
      expect(() => addon().cellForward(...schema.encodeCellForward(d, new Float64Array(schema.CELL_FORWARD_HEADER)))).to.throw(TypeError, /^cellForward: cN \(argument 8\): expected null \(this cell has none\)/);
      expect(() => addon().cellForward(...schema.encodeCellForward({ ...d, cN: null, c0: f(B * H) }, new Float64Array(schema.CELL_FORWARD_HEADER)))).to.throw(TypeError, /c0 \(argument 6\): expected null/);
      addon().cellForward(...schema.encodeCellForward({ ...d, cN: null }, new Float64Array(schema.CELL_FORWARD_HEADER)));
    });

    it('the training cache has one size: cellCacheSize is each kind\'s layout, and forward refuses one float less', function () {
      // lstm/lstm_fused.h LstmCache, gru_cell.cc, rnn_cell.cc: LSTM gates [N, 4H] | c [N, H] | hprev [N, P] | c0 [B, H] | pre [N, 4H] (clip) | m [N, H] (proj);
      // GRU gates [N, 3H] | hn [N, H] | hprev [N, H] | pre [N, 3H] (clip); RNN h [N, H] | hprev [N, H] | pre [N, H] (clip);
      // lnlstm_cell.cc: gates [N, 4H] | c [N, H] | x̂_ih, x̂_hh [N, 4H] | x̂_c [N, H] | rs [N, 3] | hprev [N, H] | c0 [B, H] | pre [N, 4H] (clip).
      const layout = (kind, h, p, clip, t, b) => {
        const n = t * b, g = gateCount(kind) * h;
        if (kind === 'lstm') return n * g + n * h + n * p + b * h + (clip ? n * g : 0) + (p !== h ? n * h : 0);
        if (kind === 'lnlstm') return 3 * n * g + 3 * n * h + 3 * n + b * h + (clip ? n * g : 0);
        if (kind === 'gru') return n * g + 2 * n * h + (clip ? n * g : 0);
        return 2 * n * h + (clip ? n * h : 0);
      };
      for (const kind of Object.keys(schema.CELL_KIND_CODE)) for (const clip of [0, 1.5]) for (const proj of kind === 'lstm' ? [0, 2] : [0]) {
        const h = 5, p = proj || h, g = gateCount(kind) * h;
        const d = { kind: schema.CELL_KIND_CODE[kind], I: 3, H: h, P: proj, flags: 0, clip, precision: 0, ...defActs(schema.CELL_KIND_CODE[kind]), qparams: null, qscales: null,
          params: [f(g * 3), f(g * p), null, null, ...(kind === 'lstm' ? [proj ? f(p * h) : null, null, null, null] : []), ...(kind === 'lnlstm' ? [f(g), f(g), f(g), f(g), f(h), f(h)] : [])] };
        const w = addon().cellPrepare(...schema.encodeCellPrepare(d, new Float64Array(schema.CELL_PREPARE_HEADER)));
        for (const [t, b] of [[1, 1], [7, 3]]) {
          const want = layout(kind, h, p, clip, t, b);
          expect(addon().cellCacheSize(...schema.encodeCellCacheSize({ w, T: t, B: b }, new Float64Array(2))), `${kind} clip=${clip} P=${proj} T=${t} B=${b}`).to.equal(want);
          const fwd = (cache) => addon().cellForward(...schema.encodeCellForward({ w, T: t, B: b, rowT: b, rowB: 1, reverse: false, lengths: null, x: f(t * b * 3), xOffset: 0, ldx: 3,
            y: f(t * b * p), yOffset: 0, ldy: p, h0: null, c0: null, hN: f(b * p), cN: kind === 'lstm' || kind === 'lnlstm' ? f(b * h) : null, cache }, new Float64Array(schema.CELL_FORWARD_HEADER)));
          fwd(f(want));
          expect(() => fwd(f(want - 1))).to.throw(RangeError, `cache: expected at least ${want} elements, got ${want - 1}`);
        }
      }
    });
  });
});

describe('a binary built from another call schema is refused at load', function () {
  this.timeout(30000);
  const run = (schemaSource) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-schema-'));
    const file = path.join(dir, 'addon.js'); // require() loads a .js "addon" like a .node one
    fs.writeFileSync(file, `const g = ${JSON.stringify(root)} + '/dist/backend/schema.gen.js';\nmodule.exports = { info: () => ({ hardwareThreads: 1 }), schema: () => (${schemaSource}) };\n`);
    const r = spawnSync(process.execPath, ['-e', "const c = require('./dist/index.js'); console.log(JSON.stringify(c.availableBackends())); try { c.backend('native'); } catch (e) { console.log(e.message); }"],
      { cwd: root, env: { ...process.env, CELLSTATE_ADDON_PATH: file, CELLSTATE_WASM_PATH: '/nonexistent/cellstate.wasm', CELLSTATE_QUIET: '1' }, encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    return r.stdout;
  };
  it('a different schema (or none): native is unavailable, and the cause says why', function () {
    for (const src of ["{ cellKinds: [] }", 'undefined']) {
      const out = run(src);
      expect(out.split('\n')[0]).to.equal('["ts"]');
      expect(out).to.match(/built from another call schema than this library's JavaScript/);
    }
  });
  it('the same tables with their keys in another order load', function () {
    const reordered = "(() => { const rev = (v) => Array.isArray(v) ? v.map(rev) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, rev(x)])) : v; return rev(require(g).SCHEMA); })()";
    expect(run(reordered).split('\n')[0]).to.equal('["native","ts"]');
  });
});
