// The LSTM family's initialisation options (lib/nn/cell-kinds/forget-init.ts; LSTM and
// LayerNormLSTM): forgetBias (Gers et al. 2000;
// Jozefowicz et al. 2015) and chronoInit (Tallec & Ollivier 2018). They set the initial b_f (and,
// for chrono, b_i) through bias_ih, with those rows of bias_hh at 0; every other initial value is
// the plain model's draw; the options survive config, Sequential and model files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { LayerNormLSTM, Linear, load, LSTM, Sequential } from 'cellstate';

const H = 6, I = 3;
const rows = (a, q, n = H) => Array.from(a.subarray(q * n, (q + 1) * n));

for (const Kind of [LSTM, LayerNormLSTM]) describe(`${Kind.name} forgetBias and chronoInit`, function () {
  it('forgetBias: b_ih f rows = the value, b_hh f rows = 0, everything else the plain draw, every layer-direction', function () {
    const plain = new Kind({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 5 }).stateDict();
    const m = new Kind({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 5, forgetBias: 1 });
    expect(m.config().forgetBias).to.equal(1);
    const sd = m.stateDict();
    for (const s of ['_l0', '_l0_reverse', '_l1', '_l1_reverse']) {
      const bi = sd[`bias_ih${s}`].data, bh = sd[`bias_hh${s}`].data, pi = plain[`bias_ih${s}`].data, ph = plain[`bias_hh${s}`].data;
      expect(rows(bi, 1)).to.deep.equal(new Array(H).fill(1));
      expect(rows(bh, 1)).to.deep.equal(new Array(H).fill(0));
      for (const q of [0, 2, 3]) {
        expect(rows(bi, q)).to.deep.equal(rows(pi, q));
        expect(rows(bh, q)).to.deep.equal(rows(ph, q));
      }
      for (const n of ['weight_ih', 'weight_hh']) expect(Array.from(sd[`${n}${s}`].data)).to.deep.equal(Array.from(plain[`${n}${s}`].data));
    }
  });

  it('chronoInit: b_f = log u, u in [1, Tmax-1), b_i = -b_f, b_hh i and f rows 0; the mean of log u matches U(1, Tmax-1)', function () {
    const Tmax = 100, Hb = 800;
    const m = new Kind({ inputSize: 1, hiddenSize: Hb, seed: 2, chronoInit: Tmax });
    const sd = m.stateDict();
    const bi = sd.bias_ih_l0.data, bh = sd.bias_hh_l0.data;
    let sum = 0;
    for (let j = 0; j < Hb; j++) {
      const bf = bi[Hb + j];
      expect(bf).to.be.at.least(0);
      expect(bf).to.be.below(Math.log(Tmax - 1) + 1e-6);
      expect(bi[j]).to.equal(-bf);
      expect(bh[j]).to.equal(0);
      expect(bh[Hb + j]).to.equal(0);
      sum += bf;
    }
    // E[log u] for u ~ U(a, b) = (b ln b - a ln a) / (b - a) - 1; the sample mean's standard error is ~0.03 here.
    const a = 1, b = Tmax - 1, want = (b * Math.log(b) - a * Math.log(a)) / (b - a) - 1;
    expect(Math.abs(sum / Hb - want)).to.be.below(0.12);
    // Seeded: the same seed gives the same biases, another seed others.
    expect(Array.from(new Kind({ inputSize: 1, hiddenSize: Hb, seed: 2, chronoInit: Tmax }).stateDict().bias_ih_l0.data)).to.deep.equal(Array.from(bi));
    expect(Array.from(new Kind({ inputSize: 1, hiddenSize: Hb, seed: 3, chronoInit: Tmax }).stateDict().bias_ih_l0.data)).to.not.deep.equal(Array.from(bi));
    // The weights are the plain model's.
    expect(Array.from(sd.weight_hh_l0.data)).to.deep.equal(Array.from(new Kind({ inputSize: 1, hiddenSize: Hb, seed: 2 }).stateDict().weight_hh_l0.data));
  });

  it('round-trips through config, Sequential and a model file', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-init-'));
    try {
      const seq = new Sequential([new Kind({ inputSize: I, hiddenSize: H, seed: 1, chronoInit: 30 }), new Linear({ inFeatures: H, outFeatures: 2, seed: 2 })]);
      expect(seq.config().layers[0].chronoInit).to.equal(30);
      const f = path.join(dir, 'm.safetensors');
      seq.save(f);
      const back = load(f);
      expect(back.config()).to.deep.equal(seq.config());
      const a = seq.stateDict(), b = back.stateDict();
      for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).to.deep.equal(Array.from(a[k].data));
      const l = new Kind({ inputSize: I, hiddenSize: H, seed: 1, forgetBias: 2.5 });
      const g = path.join(dir, 'l.safetensors');
      l.save(g);
      expect(load(g).config().forgetBias).to.equal(2.5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what cannot be meant, naming the option', function () {
    const mk = (o) => () => new Kind({ inputSize: I, hiddenSize: H, ...o });
    expect(mk({ forgetBias: '1' })).to.throw(TypeError, new RegExp(`^${Kind.name}: forgetBias: expected a finite number`));
    expect(mk({ forgetBias: Infinity })).to.throw(RangeError, new RegExp(`^${Kind.name}: forgetBias: expected a finite number`));
    expect(mk({ chronoInit: 2 })).to.throw(RangeError, new RegExp(`^${Kind.name}: chronoInit: expected a finite number Tmax > 2`));
    expect(mk({ chronoInit: 'long' })).to.throw(TypeError, new RegExp(`^${Kind.name}: chronoInit: expected a number Tmax > 2`));
    expect(mk({ forgetBias: 1, chronoInit: 10 })).to.throw(TypeError, new RegExp(`^${Kind.name}: chronoInit: expected null when forgetBias is given`));
    if (Kind === LSTM) expect(mk({ forgetBias: 1, inputForget: true })).to.throw(TypeError, /^LSTM: forgetBias: expected null with inputForget/);
    expect(mk({ chronoInit: 10, bias: false })).to.throw(TypeError, new RegExp(`^${Kind.name}: chronoInit: expected null when bias is false`));
    expect(mk({ forgetBias: null, chronoInit: null })).to.not.throw();
  });
});
