// Sequential.predict: Tensors, nested arrays (one per sequence, ragged padded with lengths),
// typed arrays with a shape, in both layouts and on every backend. The reference is forward on the
// same batch built by hand, and (for ragged batches) each sequence run alone.
import { expect } from 'chai';
import { Embedding, LastStep, Linear, LSTM, GRU, Sequential, Tanh, Tensor, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { Rng } from './helpers/random.mjs';

/** Nested [B][T][I] sequences -> the padded Tensor in the given layout, and their lengths. */
function pad(seqs, batchFirst, dtype, ids = false) {
  const B = seqs.length, T = Math.max(...seqs.map((s) => s.length)), I = ids ? 1 : seqs[0][0].length;
  const data = dtype === 'float64' ? new Float64Array(T * B * I) : new Float32Array(T * B * I);
  seqs.forEach((s, b) => s.forEach((step, t) => {
    const at = (batchFirst ? b * T + t : t * B + b) * I;
    if (ids) data[at] = step; else step.forEach((v, f) => { data[at + f] = v; });
  }));
  const shape = ids ? (batchFirst ? [B, T] : [T, B]) : (batchFirst ? [B, T, I] : [T, B, I]);
  return { x: new Tensor(data, shape), lengths: seqs.map((s) => s.length) };
}

const rows = (t) => Array.from(t.data);

describe('Sequential.predict', function () {
  this.timeout(60000);
  for (const { backend, dtype } of backendCases()) {
    for (const batchFirst of [false, true]) {
      const label = `${backend}, ${dtype}, ${batchFirst ? 'batch-first' : 'time-major'}`;

      it(`nested feature arrays [B][T][I], ragged, give forward's output on the padded batch with lengths (${label})`, function () {
        const rng = new Rng(1);
        const seqs = [5, 2, 4].map((T) => Array.from({ length: T }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)]));
        const perStep = new Sequential([new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst, seed: 2, dtype, backend }), new Linear({ inFeatures: 4, outFeatures: 2, seed: 3, dtype })]);
        const { x, lengths } = pad(seqs, batchFirst, dtype);
        const y = perStep.predict(seqs);
        expect(y).to.be.instanceOf(Tensor);
        expect(y.shape).to.deep.equal(batchFirst ? [3, 5, 2] : [5, 3, 2]);
        expect(rows(y)).to.deep.equal(rows(perStep.forward(x, { lengths }).output));

        // Many-to-one: each row equals that sequence predicted alone (padding changes nothing).
        const clf = new Sequential([new GRU({ inputSize: 3, hiddenSize: 4, batchFirst, seed: 4, dtype, backend }), new LastStep({ batchFirst }), new Linear({ inFeatures: 4, outFeatures: 2, seed: 5, dtype })]);
        const all = clf.predict(seqs);
        expect(all.shape).to.deep.equal([3, 2]);
        seqs.forEach((s, b) => {
          const alone = clf.predict(s); // a single sequence [T][I]: a batch of one
          expect(alone.shape).to.deep.equal([1, 2]);
          rows(alone).forEach((v, c) => expect(all.data[b * 2 + c], `row ${b}[${c}]`).to.be.closeTo(v, dtype === 'float64' ? 1e-12 : 1e-6));
        });
      });

      it(`token ids for an Embedding-first model: [B][T] ragged, one [T] sequence, typed arrays with a shape (${label})`, function () {
        const model = new Sequential([new Embedding({ numEmbeddings: 7, embeddingDim: 3, seed: 1, dtype }),
          new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst, seed: 2, dtype, backend }), new LastStep({ batchFirst })]);
        const seqs = [[1, 2, 3, 4], [6, 5], [0, 1, 2]];
        const { x, lengths } = pad(seqs, batchFirst, dtype, true);
        const want = rows(model.forward(x, { lengths }).output);
        expect(rows(model.predict(seqs))).to.deep.equal(want);
        expect(rows(model.predict(seqs.map((s) => Int32Array.from(s))))).to.deep.equal(want); // typed arrays as sequences
        const one = model.predict([6, 5]);
        expect(one.shape).to.deep.equal([1, 4]);
        rows(one).forEach((v, c) => expect(want[4 + c]).to.be.closeTo(v, dtype === 'float64' ? 1e-12 : 1e-6));
        // A flat Int32Array of ids with a shape in the model's layout, and explicit lengths.
        const flat = Int32Array.from(x.data);
        expect(rows(model.predict(flat, { shape: x.shape, lengths }))).to.deep.equal(want);
        // Padded already: regular nested arrays plus lengths.
        const padded = seqs.map((s) => [...s, 0, 0, 0, 0].slice(0, 4));
        expect(rows(model.predict(padded, { lengths }))).to.deep.equal(want);
      });

      it(`a Tensor goes straight to forward; another dtype is converted (${label})`, function () {
        const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, batchFirst, seed: 2, dtype, backend }), new Tanh()]);
        const x = tensor([[[0.1, 0.2], [0.3, -0.4]], [[0.5, 0.6], [-0.7, 0.8]], [[0.9, 1], [0, -1]]], undefined, dtype);
        expect(rows(model.predict(x))).to.deep.equal(rows(model.forward(x).output));
        const lengths = batchFirst ? [1, 2, 2] : [1, 2]; // x is [B=3, T=2, 2] batch-first, [T=3, B=2, 2] time-major
        expect(rows(model.predict(x, { lengths }))).to.deep.equal(rows(model.forward(x, { lengths }).output));
        const other = x.clone(dtype === 'float32' ? 'float64' : 'float32');
        expect(rows(model.predict(other))).to.deep.equal(rows(model.forward(other.clone(dtype)).output));
      });
    }
  }

  it('a model without a time axis takes nested arrays as a plain tensor', function () {
    const mlp = new Sequential([new Linear({ inFeatures: 2, outFeatures: 3, seed: 1 }), new Tanh()]);
    const y = mlp.predict([[1, 2], [3, 4]]);
    expect(y.shape).to.deep.equal([2, 3]);
    expect(rows(y)).to.deep.equal(rows(mlp.forward(tensor([[1, 2], [3, 4]])).output));
  });

  it('refuses bad input naming the argument, what was expected and what it got', function () {
    const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, batchFirst: true, seed: 2 }), new LastStep({ batchFirst: true })]);
    expect(() => model.predict('abc')).to.throw(TypeError, /Sequential.predict: x: expected a Tensor \(\[B, T, I\]\), nested arrays \(one per sequence\), or a typed array with options.shape, got "abc"/);
    expect(() => model.predict([])).to.throw(TypeError, /Sequential.predict: x: expected a non-empty array of sequences/);
    expect(() => model.predict([[[1, 2], [3]]])).to.throw(RangeError, /Sequential.predict: x\[0\]\[1\]: expected an array of 2 features \(like the first step\), got an array of length 1/);
    expect(() => model.predict([[[1, 2]], []])).to.throw(TypeError, /Sequential.predict: x\[1\]: expected a non-empty sequence/);
    expect(() => model.predict([[[1, 'a']]])).to.throw(TypeError, /Sequential.predict: x\[0\]\[0\]\[1\]: expected a number, got "a"/);
    expect(() => model.predict(new Float32Array(4))).to.throw(TypeError, /Sequential.predict: options.shape: expected the shape of the typed array x \(\[B, T, I\]\), got undefined/);
    expect(() => model.predict(new Float32Array(4), { shape: [1, 3, 2] })).to.throw(RangeError, /Sequential.predict: x: expected 6 elements for shape \[1, 3, 2\], got 4/);
    expect(() => model.predict([[[1, 2]], [[1, 2], [3, 4]]], { lengths: [2, 2] })).to.throw(RangeError, /Sequential.predict: options.lengths\[0\]: expected at most 1 \(that sequence's length\), got 2/);
    expect(() => model.predict(tensor([[[1, 2]]]), { shape: [1, 1, 2] })).to.throw(TypeError, /options.shape: expected no shape with a Tensor x/);
    expect(() => model.predict([[[1, 2, 3]]])).to.throw(RangeError, /LSTM.forward: x: expected shape \[B, T, 2\]/);
    expect(() => model.predict([[[1, 2]]], { batch: 1 })).to.throw(TypeError, /options.batch/);
  });
});

describe('LSTM / GRU predict (a bare recurrent layer)', function () {
  for (const { backend, dtype } of backendCases()) {
    for (const batchFirst of [false, true]) {
      it(`nested ragged arrays give forward's output on the padded batch with lengths (${backend}, ${dtype}, ${batchFirst ? 'batch-first' : 'time-major'})`, function () {
        const rng = new Rng(3);
        for (const Cls of [LSTM, GRU]) {
          const m = new Cls({ inputSize: 2, hiddenSize: 3, batchFirst, backend, dtype, seed: 4 });
          const seqs = [4, 1, 3].map((T) => Array.from({ length: T }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1)]));
          const { x, lengths } = pad(seqs, batchFirst, dtype);
          expect(rows(m.predict(seqs))).to.deep.equal(rows(m.forward(x, { lengths }).output));
          expect(m.predict(x).shape).to.deep.equal(m.forward(x).output.shape);
          expect(() => m.predict('abc')).to.throw(TypeError, new RegExp(`^${Cls.name}\\.predict: x: expected a Tensor`));
        }
      });
    }
  }
  it('forward given nested arrays says what takes them', function () {
    const m = new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1 });
    expect(() => m.forward([[[1]]])).to.throw(TypeError, /^LSTM\.forward: x: expected a float32 Tensor \(for nested arrays use tensor\(x\), or model\.predict\(x\)\), got an array of length 1$/);
    expect(() => new Sequential([m]).forward([[[1]]])).to.throw(TypeError, /model\.predict\(x\)/);
  });
});
