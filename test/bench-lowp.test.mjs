// The benchmark's low-precision code paths (issue #21): the int8 weight rule the ONNX Runtime
// peer is built with, that each peer's bf16/int8 model is checked before timing (and that the
// check can fail: a gate-order or GRU-formula mistake is caught), and a quick bench run with the
// new rows. PyTorch parts run where a Python with torch is found (CI: Debian's python3-torch,
// with CELLSTATE_REQUIRE_TORCH=1 so they cannot skip there).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { availableBackends, toOnnx } from 'cellstate';
import { check, makeOurRunner, makeRunner, setup } from '../bench/impls.mjs';
import { loadOrt } from '../bench/peers/ort.mjs';
import { checkOrtInt8, int8Onnx, quantizeRows, rne } from '../bench/peers/ort-int8.mjs';
import { findTorch, stopTorch } from '../bench/peers/pytorch.mjs';
import { noAmxPreload } from '../bench/peers/no-amx.mjs';
import { absErrors, LOW_PRECISION_TOLERANCE as TOL, lowPrecisionIsa, lowPrecisionUnavailable } from '../bench/quant.mjs';

const LSTM_W = { name: 'tiny', kind: 'infer', B: 3, T: 6, I: 7, H: 5, quant: true };
const GRU_W = { ...LSTM_W, cell: 'gru' };
const within = (e) => e !== null && e.max <= TOL.maxAbs && e.mean <= TOL.meanAbs;

describe('bench: low-precision rows', function () {
  describe('our bf16/int8 rows', function () {
    for (const p of ['bf16', 'int8']) {
      it(`${p}: run on the backend they are named after, and native passes its check against ts where it has kernels`, async function () {
        const ts = makeOurRunner(LSTM_W, 'ts', p);
        expect(ts.model.precision).to.equal(p);
        expect(within(absErrors(ts.run(), makeOurRunner(LSTM_W, 'ts').run()))).to.equal(true);
        const why = lowPrecisionUnavailable('native', p);
        if (why !== null) {
          // quantize() would run it on ts: the row must not time that as native.
          if (availableBackends().includes('native')) expect(() => makeOurRunner(LSTM_W, 'native', p)).to.throw(new RegExp(`has no ${p} kernels`));
          return;
        }
        for (const w of [LSTM_W, GRU_W, { ...LSTM_W, kind: 'stream', B: 1 }]) {
          expect(await check(w, { name: `native ${p} 1T`, backend: 'native', precision: p, threads: 1 }), `${w.cell ?? 'lstm'} ${w.kind}`).to.equal(null);
        }
      });
    }
  });

  describe('the int8 weight rule of the ONNX Runtime peer', function () {
    it('rounds half to even', function () {
      expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(rne)).to.deep.equal([0, 2, 2, 0, -2, -2, 2, 3]);
    });

    it('quantizes per output row, symmetric, and transposes to [D, K, N]', function () {
      // D = 1, N = 3 rows of K = 3: the row's amax maps to +-127; 0.5 * 127 = 63.5 rounds to 64.
      const w = new Float32Array([0.5, -1, 0.25, /* row 1 */ 0, 0, 0, /* row 2 */ 2, 1, -2]);
      const { q, scale } = quantizeRows(w, 1, 3, 3);
      expect(Array.from(scale)).to.deep.equal([Math.fround(1 / 127), 1, Math.fround(2 / 127)]);
      // q[k * N + j]: column j is row j of w.
      expect(Array.from(q)).to.deep.equal([64, 0, 127, -127, 0, 64, 32, 0, -127]);
    });
  });

  describe('ONNX Runtime DynamicQuantizeLSTM', function () {
    before(function () {
      if (!loadOrt()) this.skip();
    });

    it('runs the com.microsoft op and passes the check against ORT fp32', async function () {
      const ours = makeOurRunner(LSTM_W, 'ts');
      expect(await checkOrtInt8(LSTM_W, 1, ours.model, ours.x, toOnnx)).to.equal(null);
      const ort = loadOrt();
      const session = await ort.InferenceSession.create(int8Onnx(toOnnx(ours.model)));
      const y = (await session.run({ x: new ort.Tensor('float32', ours.x.data, ours.x.shape) })).output.data;
      const fp32 = ours.run();
      const e = absErrors(y, fp32);
      expect(within(e)).to.equal(true);
      // It is quantized: not bit-equal to fp32.
      expect(e.max).to.be.greaterThan(0);
    });

    it('a gate-order mistake in the peer model fails the check', async function () {
      // Swap the i and o blocks of W and R (ONNX order i, o, f, c) in the int8 model only.
      const ours = makeOurRunner({ ...LSTM_W, H: 16, I: 16 }, 'ts');
      const H = 16, bytes = toOnnx(ours.model);
      const params = new Map(ours.model.namedParameters()); // the model's own tensors
      for (const k of ['weight_ih_l0', 'weight_hh_l0']) {
        const d = params.get(k).data, cols = d.length / (4 * H), block = H * cols;
        const i = d.slice(0, block);
        d.set(d.subarray(3 * block, 4 * block), 0); // PyTorch order i, f, g, o: swap i and o
        d.set(i, 3 * block);
      }
      const ort = loadOrt();
      const wrong = await ort.InferenceSession.create(int8Onnx(toOnnx(ours.model)));
      const fp32 = await ort.InferenceSession.create(bytes);
      const feeds = { x: new ort.Tensor('float32', ours.x.data, ours.x.shape) };
      const e = absErrors((await wrong.run(feeds)).output.data, (await fp32.run(feeds)).output.data);
      expect(within(e)).to.equal(false);
      expect(e.max).to.be.greaterThan(0.1);
    });

    it('check() of an ort-int8 impl passes at B = 1 and B = 3', async function () {
      const impl = { name: 'ort-int8 1T', backend: 'ort', precision: 'int8', threads: 1, peer: true };
      await setup(impl);
      expect(await check({ ...LSTM_W, B: 1 }, impl)).to.equal(null);
      expect(await check(LSTM_W, impl)).to.equal(null);
    });
  });

  describe('PyTorch (optional peer)', function () {
    let torch = null;
    before(function () {
      torch = findTorch();
      if (!torch) {
        if (process.env.CELLSTATE_REQUIRE_TORCH === '1') throw new Error('CELLSTATE_REQUIRE_TORCH=1 but no Python with torch was found');
        this.skip();
      }
    });
    after(stopTorch);

    for (const w of [LSTM_W, GRU_W]) {
      it(`${w.cell ?? 'lstm'}: fp32, bf16 and int8 pass the check; bf16 and int8 are not fp32`, async function () {
        const outs = {};
        for (const precision of ['fp32', 'bf16', 'int8']) {
          const impl = { name: `torch ${precision} 1T`, backend: 'torch', precision, threads: 1, peer: true, python: torch.python };
          expect(await check(w, impl), precision).to.equal(null);
          const r = await makeRunner(w, impl);
          outs[precision] = await r.run();
          expect((await r.slice(5, 1000)).length).to.be.greaterThan(0);
          r.dispose();
        }
        expect(absErrors(outs.fp32, makeOurRunner(w, 'ts', 'fp32', { linearBeforeReset: true }).run()).max).to.be.below(1e-5);
        expect(absErrors(outs.bf16, outs.fp32).max).to.be.greaterThan(0);
        expect(absErrors(outs.int8, outs.fp32).max).to.be.greaterThan(0);
      });
    }

    it('the GRU check would fail against the other GRU formula (why the PyTorch row uses linearBeforeReset)', async function () {
      const w = { ...GRU_W, H: 16, I: 16 };
      const r = await makeRunner(w, { backend: 'torch', precision: 'fp32', threads: 1, python: torch.python });
      const e = absErrors(await r.run(), makeOurRunner(w, 'ts').run());
      r.dispose();
      expect(within(e)).to.equal(false);
    });
  });

  it('a quick bench run has the new rows, checked, and records the CPU flags', function () {
    this.timeout(240000);
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-bench-')), 'r.json');
    const r = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--only', 'S2,Stream', '--json', json], { encoding: 'utf8', env: { ...process.env, CELLSTATE_QUIET: '1' } });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    const { notes, ...isa } = lowPrecisionIsa();
    expect(report.machine.lowPrecision).to.deep.equal(isa);
    expect(notes).to.have.keys('bf16', 'int8');
    const row = (w, impl) => report.results.find((x) => x.workload === w && x.impl === impl);
    for (const w of ['S2', 'Stream']) {
      for (const p of ['bf16', 'int8']) {
        const x = row(w, `native ${p} 1T`);
        expect(x, `${w} native ${p} 1T`).to.not.equal(undefined);
        expect(x.precision).to.equal(p);
        const why = lowPrecisionUnavailable('native', p);
        if (why === null) expect(x.error === null && x.ms > 0, JSON.stringify(x)).to.equal(true);
        else expect(x.unavailable).to.equal(why);
      }
    }
    if (loadOrt()) expect(row('S2', 'ort-int8 1T')).to.include({ error: null, precision: 'int8' });
    expect(row('Stream', 'ort-int8 1T')).to.equal(undefined); // streaming is not an ONNX Runtime row
    if (report.machine.pytorch.torch) expect(row('S2', 'torch int8 1T')).to.include({ error: null, precision: 'int8' });
    for (const x of report.results) expect(x.error, `${x.workload} ${x.impl}`).to.equal(null);
    expect(report.machine.amxDenied).to.equal(false);
  });

  describe('--no-amx (bench/peers/no-amx.c)', function () {
    before(function () {
      // A Linux x64 build machine has a C compiler (the addon's); elsewhere --no-amx says it cannot run.
      if (process.platform !== 'linux' || process.arch !== 'x64' || !availableBackends().includes('native')) this.skip();
    });
    const isaIn = (env) => {
      const r = spawnSync(process.execPath, ['-e', "const i = require('./dist/backend/native.js').loadNative().addon.info(); console.log(JSON.stringify([i.isa, i.detectedIsa]))"], { encoding: 'utf8', env: { ...process.env, CELLSTATE_QUIET: '1', ...env } });
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout);
    };

    it('the preload refuses AMX only: the addon runs the tier below it, detection still sees it', function () {
      this.timeout(60000);
      const so = noAmxPreload();
      const [free] = isaIn({});
      const [denied, detected] = isaIn({ LD_PRELOAD: so });
      // Where the OS grants AMX the addon uses it; denied, the best tier without it (a CPU with AMX has AVX512-BF16).
      if (free === 'amx') expect([denied, detected]).to.deep.equal(['avx512_bf16', 'amx']);
      else expect(denied).to.equal(free);
      // Everything else goes through libc's syscall() unchanged: a child that uses it runs as usual.
      const r = spawnSync(process.execPath, ['-e', "require('node:fs').writeFileSync(process.argv[1], String(process.pid))", path.join(os.tmpdir(), `no-amx-${process.pid}`)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: so } });
      expect(r.status, r.stderr).to.equal(0);
    });

    it('a quick bench run with --no-amx says so and records it', function () {
      this.timeout(120000);
      const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-bench-')), 'r.json');
      const r = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--no-amx', '--no-peers', '--only', 'S2', '--json', json], { encoding: 'utf8', env: { ...process.env, CELLSTATE_QUIET: '1' } });
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.contain('AMX denied to every row');
      const report = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(report.machine.amxDenied).to.equal(true);
      expect(report.machine.native.isa).to.not.equal('amx');
      for (const x of report.results) expect(x.error, `${x.workload} ${x.impl}`).to.equal(null);
    });
  });
});

describe('scripts/quant-accuracy.mjs (the accuracy contract)', function () {
  it('--quick measures every quant workload and the character model, in JSON and markdown', function () {
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-qa-'));
    const json = path.join(dir, 'a.json'), md = path.join(dir, 'a.md');
    const r = spawnSync(process.execPath, ['scripts/quant-accuracy.mjs', '--quick', '--json', json, '--md', md], { encoding: 'utf8', env: { ...process.env, CELLSTATE_QUIET: '1' } });
    expect(r.status, r.stderr).to.equal(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(fs.readFileSync(md, 'utf8')).to.contain('| precision | validation loss');
    expect(report.available).to.equal(true);
    const names = new Set(report.workloads.map((x) => x.workload));
    expect([...names]).to.deep.equal(['S2', 'M', 'L', 'XL', 'GRU-M', 'Stream']);
    for (const x of report.workloads) {
      // Quantized, so not exact; and within the bench's check tolerance.
      expect(x.maxAbs, `${x.workload} ${x.precision}`).to.be.greaterThan(0).and.below(TOL.maxAbs);
      expect(x.meanAbs).to.be.greaterThan(0).and.at.most(x.maxAbs);
    }
    const rows = Object.fromEntries(report.charModel.rows.map((x) => [x.precision, x]));
    expect(Object.keys(rows)).to.deep.equal(['fp32', 'bf16', 'int8']);
    for (const p of ['bf16', 'int8']) {
      expect(rows[p].changePct).to.be.closeTo((100 * (rows[p].loss - rows.fp32.loss)) / rows.fp32.loss, 1e-9);
      expect(rows[p].loss).to.not.equal(rows.fp32.loss);
    }
    // 50 steps on 20k characters: a barely trained model whose loss is near log(V) = log(58).
    expect(rows.fp32.loss).to.be.within(1, Math.log(58) + 0.5);
  });
});
