// The family's API beyond the reference cases: streaming step == whole sequence, the single-step
// cells against their layers (PyTorch names), GRU/RNN specifics and their argument errors.
import { expect } from 'chai';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, tensor, zeros } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

const close = (a, b, tol) => a.forEach((v, i) => { if (!(Math.abs(v - b[i]) <= tol * (1 + Math.abs(b[i])))) expect.fail(`[${i}] ${v} vs ${b[i]}`); });

for (const { backend, dtype } of backendCases()) {
  describe(`family on ${backend} ${dtype}`, function () {
    const tol = dtype === 'float64' ? 1e-12 : 1e-5;
    const makers = {
      'LSTM 2-layer': () => new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 1, backend, dtype }),
      'LSTM proj+peephole': () => new LSTM({ inputSize: 3, hiddenSize: 5, projSize: 2, peephole: true, seed: 1, backend, dtype }),
      'GRU 2-layer': () => new GRU({ inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 1, backend, dtype }),
      'GRU onnx': () => new GRU({ inputSize: 3, hiddenSize: 5, linearBeforeReset: false, seed: 1, backend, dtype }),
      'RNN relu': () => new RNN({ inputSize: 3, hiddenSize: 5, nonlinearity: 'relu', seed: 1, backend, dtype }),
      'LSTM batchFirst': () => new LSTM({ inputSize: 3, hiddenSize: 5, batchFirst: true, seed: 1, backend, dtype }),
    };
    for (const [name, make] of Object.entries(makers)) {
      it(`${name}: feeding one step at a time equals one whole-sequence call`, function () {
        const m = make();
        const rng = new Rng(3);
        const T = 7, B = 2;
        const x = randomTensor(rng, [T, B, 3], dtype);
        const xs = m.batchFirst ? (() => { const t = zeros([B, T, 3], dtype); for (let s = 0; s < T; s++) for (let b = 0; b < B; b++) for (let i = 0; i < 3; i++) t.data[(b * T + s) * 3 + i] = x.data[(s * B + b) * 3 + i]; return t; })() : x;
        const whole = m.forward(xs);
        let state = null;
        const P = m.outSize;
        for (let s = 0; s < T; s++) {
          const xt = tensor(x.data.slice(s * B * 3, (s + 1) * B * 3), [B, 3], dtype);
          const r = m.step(xt, state);
          state = r.state;
          for (let b = 0; b < B; b++) for (let j = 0; j < P; j++) {
            const want = m.batchFirst ? whole.output.data[(b * T + s) * P + j] : whole.output.data[(s * B + b) * P + j];
            expect(Math.abs(r.output.data[b * P + j] - want)).to.be.at.most(tol);
          }
        }
        close(state.h.data, whole.hN.data, tol);
        if (whole.cN) close(state.c.data, whole.cN.data, tol);
      });
    }
    it('step refuses bidirectional models and inputs of the wrong shape', function () {
      expect(() => new LSTM({ inputSize: 2, hiddenSize: 2, bidirectional: true, backend, dtype }).step(zeros([1, 2], dtype))).to.throw(TypeError, 'not bidirectional');
      expect(() => new GRU({ inputSize: 2, hiddenSize: 2, backend, dtype }).step(zeros([1, 3], dtype))).to.throw(RangeError, 'x: expected shape [B, 2]');
    });

    const cells = [
      ['LSTMCell', LSTMCell, LSTM, true, {}],
      ['GRUCell', GRUCell, GRU, false, {}],
      ['RNNCell', RNNCell, RNN, false, { nonlinearity: 'relu' }],
    ];
    for (const [name, Cell, Layer, hasC, extra] of cells) {
      it(`${name}: PyTorch names; a step and its gradients equal the one-layer ${Layer.name} on T=1`, function () {
        const rng = new Rng(8);
        const cell = new Cell({ inputSize: 4, hiddenSize: 3, seed: 2, backend, dtype, ...extra });
        const sd = cell.stateDict();
        expect(Object.keys(sd)).to.deep.equal(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']);
        const layer = new Layer({ inputSize: 4, hiddenSize: 3, backend, dtype, ...extra });
        layer.loadStateDict(Object.fromEntries(Object.entries(sd).map(([k, v]) => [`${k}_l0`, v])));
        const x = randomTensor(rng, [2, 4], dtype), h = randomTensor(rng, [2, 3], dtype), c = randomTensor(rng, [2, 3], dtype);
        const state = hasC ? { h, c } : { h };
        const r = cell.forwardTrain(x, state);
        const lr = layer.forwardTrain(tensor(x.data, [1, 2, 4], dtype), { h0: tensor(h.data, [1, 2, 3], dtype), c0: hasC ? tensor(c.data, [1, 2, 3], dtype) : null });
        close(r.h.data, lr.hN.data, tol);
        if (hasC) close(r.c.data, lr.cN.data, tol);
        const dH = randomTensor(rng, [2, 3], dtype), dC = randomTensor(rng, [2, 3], dtype);
        const g = cell.backward(r.cache, hasC ? { dH, dC } : { dH });
        const lg = layer.backward(lr.cache, { dHN: tensor(dH.data, [1, 2, 3], dtype), dCN: hasC ? tensor(dC.data, [1, 2, 3], dtype) : null });
        close(g.dX.data, lg.dX.data, tol);
        close(g.dH.data, lg.dH0.data, tol);
        for (const k of Object.keys(sd)) close(g.grads[k].data, lg.grads[`${k}_l0`].data, tol);
        if (!hasC) expect(() => cell.forward(x, { h, c })).to.throw(TypeError, 'state.c: expected nothing');
      });
    }

    it('GRU and RNN parameter shapes, and errors for options they do not have', function () {
      const g = new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, backend, dtype });
      const shapes = Object.fromEntries(Object.entries(g.stateDict()).map(([k, v]) => [k, v.shape]));
      expect(shapes.weight_ih_l0).to.deep.equal([12, 3]);
      expect(shapes.weight_ih_l1_reverse).to.deep.equal([12, 8]);
      expect(shapes.weight_hh_l1).to.deep.equal([12, 4]);
      expect(Object.keys(new RNN({ inputSize: 3, hiddenSize: 4, bias: false, backend, dtype }).stateDict())).to.deep.equal(['weight_ih_l0', 'weight_hh_l0']);
      const x = zeros([2, 1, 3], dtype);
      expect(() => g.forward(x, { c0: zeros([4, 1, 4], dtype) })).to.throw(TypeError, 'options.c0: expected nothing (a GRU has no cell state)');
      expect(() => new GRU({ inputSize: 3, hiddenSize: 4, peephole: true })).to.throw(TypeError, 'options.peephole');
      expect(() => new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'sigmoid' })).to.throw(TypeError, "nonlinearity: expected 'tanh' or 'relu'");
      expect(() => new LSTM({ inputSize: 3, hiddenSize: 4, projSize: 4 })).to.throw(RangeError, 'projSize: expected a positive integer below hiddenSize (4), got 4');
      expect(() => new LSTM({ inputSize: 3, hiddenSize: 4, clip: -1 })).to.throw(RangeError, 'clip: expected a positive finite number');
      expect(() => new LSTM({ inputSize: 3, hiddenSize: 4, dropout: 1 })).to.throw(RangeError, 'dropout: expected a probability in [0, 1)');
      expect(() => new LSTM({ inputSize: 3, hiddenSize: 4, reverse: true, bidirectional: true })).to.throw(TypeError, 'reverse: expected false when bidirectional');
    });

    it('a projected LSTM: h and output have projSize units, c keeps hiddenSize', function () {
      const m = new LSTM({ inputSize: 3, hiddenSize: 6, projSize: 2, numLayers: 2, bidirectional: true, backend, dtype });
      const r = m.forward(zeros([4, 3, 3], dtype));
      expect(r.output.shape).to.deep.equal([4, 3, 4]);
      expect(r.hN.shape).to.deep.equal([4, 3, 2]);
      expect(r.cN.shape).to.deep.equal([4, 3, 6]);
      expect(m.stateDict().weight_hr_l1_reverse.shape).to.deep.equal([2, 6]);
      expect(m.stateDict().weight_ih_l1.shape).to.deep.equal([24, 4]);
    });
  });
}
