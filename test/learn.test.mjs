// Proof that training learns, on both backends, seeded, in well under a second each:
//  - sine-wave regression (noisy inputs, variable lengths 16..32): validation MSE below 0.01,
//    where predicting 0 scores about 0.5;
//  - character-level next-token model on a 120-character text with truncated BPTT (k = 16):
//    training cross-entropy below a fifth of the text's unigram entropy (2.85 nats).
import { expect } from 'chai';
import { Adam, availableBackends, Embedding, Linear, LSTM, Sequential, Trainer } from 'cellstate';
import { charData, sineData } from './helpers/data.mjs';

describe('training learns', function () {
  for (const backend of availableBackends()) {
    it(`${backend}: sine-wave regression reaches validation MSE < 0.01`, async function () {
      const train = sineData(96, 1), val = sineData(32, 2);
      const model = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 16, seed: 1, backend }), new Linear({ inFeatures: 16, outFeatures: 1, seed: 2 })]);
      const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'mse', seed: 3, clipNorm: 1 });
      const zero = trainer.evaluate(val).loss;
      const history = await trainer.fit(train, { epochs: 25, batchSize: 16, validation: val, progress: 'none' });
      expect(zero).to.be.greaterThan(0.1);
      expect(history.at(-1).valLoss).to.be.below(0.01);
      expect(trainer.evaluate(val, { batchSize: 16 }).loss).to.equal(history.at(-1).valLoss);
      const pred = trainer.predict(val.slice(0, 2));
      expect(pred[0].length).to.equal(val[0].x.length);
      expect(pred[0][0].length).to.equal(1);
    });

    it(`${backend}: character model (truncated BPTT) drives loss below a fifth of the unigram entropy`, async function () {
      const { data, vocab, entropy } = charData();
      const model = new Sequential([
        new Embedding({ numEmbeddings: vocab, embeddingDim: 12, seed: 4 }),
        new LSTM({ inputSize: 12, hiddenSize: 48, seed: 5, backend }),
        new Linear({ inFeatures: 48, outFeatures: vocab, seed: 6 }),
      ]);
      const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'crossEntropy', seed: 7, clipNorm: 5 });
      const history = await trainer.fit(data, { epochs: 20, batchSize: 8, tbptt: 16, progress: 'none' });
      expect(entropy).to.be.closeTo(2.85, 0.01);
      expect(history[0].loss).to.be.greaterThan(0.8 * entropy);
      expect(history.at(-1).loss).to.be.below(entropy / 5);
      expect(history[0].steps).to.equal(3 * 2); // 3 batches x 2 chunks of 16 steps
    });
  }
});
