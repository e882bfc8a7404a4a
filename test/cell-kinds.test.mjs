// The cell-kind descriptors (lib/nn/cell-kinds/) against what the backends declare per kind, and the
// layers built on them: the gate count agrees with the backend's, and a layer's parameters,
// output size and config are the ones its descriptor states.
import { expect } from 'chai';
import { GRU, LayerNormLSTM, LSTM, RNN, tensor } from 'cellstate';
import { gateCount } from '../dist/backend/types.js';
import { SCHEMA } from '../dist/backend/schema.gen.js';
import { gruCell } from '../dist/nn/cell-kinds/gru.js';
import { lstmCell } from '../dist/nn/cell-kinds/lstm.js';
import { lnLstmCell } from '../dist/nn/cell-kinds/lnlstm.js';
import { rnnCell } from '../dist/nn/cell-kinds/rnn.js';

const H = 5;
const kinds = [
  { desc: lstmCell, Layer: LSTM, options: [{}, { projSize: 3 }, { peephole: true }, { inputForget: true }, { projSize: 2, peephole: true, inputForget: true }, { forgetBias: 1 }, { chronoInit: 50 }] },
  { desc: gruCell, Layer: GRU, options: [{}, { linearBeforeReset: false }] },
  { desc: rnnCell, Layer: RNN, options: [{}, { nonlinearity: 'relu' }] },
  { desc: lnLstmCell, Layer: LayerNormLSTM, options: [{}, { normEpsilon: 1e-5 }, { forgetBias: 1 }, { chronoInit: 50, normEpsilon: 1e-5 }] },
];

describe('cell-kind descriptors', () => {
  for (const { desc, Layer, options } of kinds) {
    for (const o of options) {
      it(`${desc.name} ${JSON.stringify(o)}: parameters, outSize and config as the descriptor states`, () => {
        const s = desc.read(o);
        const m = new Layer({ inputSize: 4, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 3, ...o });
        const P = desc.outSize(s, H);
        expect(m.outSize).to.equal(P);
        const G = gateCount(desc.kind(s)) * H; // the gate count has one source: the addon schema
        const extra = desc.extraParams(s, H, P);
        const want = [];
        for (let k = 0; k < 2; k++) {
          for (const sfx of [`_l${k}`, `_l${k}_reverse`]) {
            const I = k === 0 ? 4 : 2 * P;
            want.push([`weight_ih${sfx}`, [G, I]], [`weight_hh${sfx}`, [G, P]], [`bias_ih${sfx}`, [G]], [`bias_hh${sfx}`, [G]]);
            for (const e of extra) want.push([`${e.name}${sfx}`, e.shape]);
          }
        }
        expect(m.paramSpecs().map((p) => [p.name, p.shape])).to.deep.equal(want);
        const cfg = m.config();
        const { type, ...rest } = cfg;
        expect(type).to.equal(desc.name);
        for (const [k, v] of Object.entries(desc.config(s))) expect(cfg[k]).to.deep.equal(v);
        expect(new Layer({ ...rest, seed: 3 }).config()).to.deep.equal(cfg);
        const r = m.forward(tensor(new Float32Array(2 * 3 * 4).fill(0.5), [2, 3, 4]));
        expect(r.hN.shape).to.deep.equal([4, 3, P]);
        expect(r.cN === undefined).to.equal(!desc.hasCellState);
      });

      it(`${desc.name} ${JSON.stringify(o)}: options and extra parameters as the addon schema declares the kind`, () => {
        // scripts/addon-schema.js declares each kind's flags and parameters (shape in I/H/P/G, and
        // when each is there); the descriptor's flags and extraParams must be exactly those.
        const s = desc.read(o);
        const kind = SCHEMA.cellKinds.find((k) => k.name === desc.kind(s));
        const P = desc.outSize(s, H), dims = { I: 4, H, P, G: kind.gates * H };
        const flags = desc.params(s, () => new Float32Array(0)).flags;
        expect(Object.keys(flags).sort()).to.deep.equal(kind.flags.map((f) => f.name).sort());
        expect(kind.cellState).to.equal(desc.hasCellState);
        expect(kind.projection || P === H).to.equal(true);
        const there = (q) => q.when === 'always' || (q.when === 'projection' ? P !== H : flags[q.when] === true);
        expect(desc.extraParams(s, H, P).map((e) => ({ name: e.name, shape: e.shape }))).to.deep.equal(kind.params.filter(there).map((q) => ({ name: q.name, shape: q.shape.map((d) => dims[d]) })));
      });
    }
  }
});

describe('a model file\'s parameter count comes from the descriptors', () => {
  it('parameterCount(config) equals the built layer\'s count for every kind and option', async () => {
    const { parameterCount } = await import('../dist/nn/from-config.js');
    for (const { Layer, options } of kinds) {
      for (const o of options) {
        for (const extra of [{}, { numLayers: 3, bidirectional: true, ...(o.forgetBias || o.chronoInit ? {} : { bias: false }) }]) { // the init options need biases
          const m = new Layer({ inputSize: 5, hiddenSize: H, seed: 1, ...o, ...extra });
          const n = m.namedParameters().reduce((a, [, t]) => a + t.size, 0);
          expect(parameterCount(m.config()), `${Layer.name} ${JSON.stringify({ ...o, ...extra })}`).to.equal(n);
        }
      }
    }
    expect(parameterCount({ type: 'LSTM', inputSize: 2, hiddenSize: 3, projSize: 5 })).to.equal(null); // invalid: the constructor says why
  });
});
