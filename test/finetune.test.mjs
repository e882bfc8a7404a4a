// Fine-tune any model: a model rebuilt by load(file), one imported by loadTfjsModel (built and
// saved by TF.js itself) and one imported by fromOnnx from a chain all train with Trainer.fit on
// every backend: every optimizer accepts them, the loss goes down, and the fine-tuned model saves
// and loads back bit for bit. A Trainer checkpoint loads as a model too (same config, same bits).
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Adam, AdamW, availableBackends, fromOnnx, GRU, LastStep, Linear, load, loadTfjsModel, LSTM, RMSprop, Sequential, SGD, toOnnx, Trainer,
} from 'cellstate';
import { sineData } from './helpers/data.mjs';
import { randomTensor, Rng } from './helpers/random.mjs';

tf.env().set('PROD', true);

const bits = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-finetune-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Next-value prediction on noisy sines: per step (a [.., .., 1] output) or the last value only.
const perStep = sineData(24, 3);
const lastOnly = perStep.map((s) => ({ x: s.x, y: s.y[s.y.length - 1] }));

/** A TF.js Sequential (LSTM -> Dense) saved by TF.js, with seeded weights, loaded by loadTfjsModel. */
async function tfjsModel(backend) {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units: 6, recurrentActivation: 'sigmoid', inputShape: [null, 1] }));
  m.add(tf.layers.dense({ units: 1 }));
  const rng = new Rng(7);
  m.setWeights(m.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.uniform(-0.5, 0.5)), w.shape)));
  let art;
  await m.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const modelJson = { modelTopology: art.modelTopology, format: art.format, generatedBy: art.generatedBy, convertedBy: art.convertedBy, weightsManifest: [{ paths: ['w.bin'], weights: art.weightSpecs }] };
  return loadTfjsModel({ modelJson: JSON.stringify(modelJson), weights: new Uint8Array(art.weightData) }, { backend });
}

const SOURCES = [
  ['load(file) of a saved Sequential', perStep, async (backend, file) => {
    new Sequential([new LSTM({ inputSize: 1, hiddenSize: 6, seed: 1 }), new Linear({ inFeatures: 6, outFeatures: 1, seed: 2 })]).save(file);
    return load(file, { backend });
  }],
  ['loadTfjsModel of a TF.js LSTM -> Dense', lastOnly, async (backend) => tfjsModel(backend)],
  ['fromOnnx of a toOnnx chain (batch-first GRU -> LastStep -> Linear)', lastOnly, async (backend) => fromOnnx(toOnnx(new Sequential([
    new GRU({ inputSize: 1, hiddenSize: 6, batchFirst: true, seed: 3 }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 6, outFeatures: 1, seed: 4 })])), { backend })],
];

describe('fine-tuning imported and loaded models', function () {
  for (const backend of availableBackends()) {
    describe(backend, function () {
      SOURCES.forEach(([name, data, make], k) => {
        it(`${name}: trains with Trainer.fit, the loss goes down, and it saves and loads back bit for bit`, async function () {
          const model = await make(backend, path.join(tmp, `${backend}-${k}-source.safetensors`));
          expect(model).to.be.instanceOf(Sequential);
          const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'mse', seed: 5 });
          const before = trainer.evaluate(data).loss;
          const logs = await trainer.fit(data, { epochs: 8, batchSize: 8, progress: 'none' });
          const after = trainer.evaluate(data).loss;
          expect(logs).to.have.length(8);
          expect(after, `loss ${before} -> ${after}`).to.be.below(before * 0.8);
          expect(logs[7].loss).to.be.below(logs[0].loss);

          const file = path.join(tmp, `${backend}-${k}-tuned.safetensors`);
          model.save(file);
          const again = load(file, { backend });
          expect(again.config()).to.deep.equal(model.config());
          expect(bits(again)).to.deep.equal(bits(model));
          const x = randomTensor(new Rng(9), model.batchFirst ? [3, 7, 1] : [7, 3, 1]);
          expect(Array.from(again.forward(x).output.data)).to.deep.equal(Array.from(model.forward(x).output.data));
        });

        it(`${name}: every optimizer accepts it and takes finite steps`, async function () {
          for (const Opt of [SGD, Adam, AdamW, RMSprop]) {
            const model = await make(backend, path.join(tmp, `${backend}-${k}-${Opt.name}.safetensors`));
            const start = bits(model);
            const trainer = new Trainer({ model, optimizer: new Opt(model, { lr: 0.01 }), loss: 'mse', seed: 6 });
            const [log] = await trainer.fit(data, { epochs: 1, batchSize: 8, progress: 'none' });
            expect(log.steps, Opt.name).to.equal(3);
            const end = bits(model);
            expect(Object.keys(end)).to.deep.equal(Object.keys(start));
            expect(Object.entries(end).some(([n, v]) => v.some((e, i) => e !== start[n][i])), `${Opt.name} changed the weights`).to.equal(true);
            expect(Object.values(end).every((v) => v.every(Number.isFinite)), Opt.name).to.equal(true);
          }
        });
      });

      it('a Trainer checkpoint loads as a model with load(file): same config, the same bits', async function () {
        const model = await SOURCES[2][2](backend);
        const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'mse', seed: 8 });
        await trainer.fit(lastOnly, { epochs: 2, batchSize: 8, progress: 'none' });
        const file = path.join(tmp, `${backend}-checkpoint.safetensors`);
        trainer.saveCheckpoint(file);
        const back = load(file, { backend });
        expect(back).to.be.instanceOf(Sequential);
        expect(back.config()).to.deep.equal(model.config());
        expect(bits(back)).to.deep.equal(bits(model));
        const x = randomTensor(new Rng(10), [3, 5, 1]);
        expect(Array.from(back.forward(x).output.data)).to.deep.equal(Array.from(model.forward(x).output.data));
        // ... and is itself fine-tuned further.
        const t2 = new Trainer({ model: back, optimizer: new SGD(back, { lr: 0.05 }), loss: 'mse', seed: 9 });
        const l0 = t2.evaluate(lastOnly).loss;
        await t2.fit(lastOnly, { epochs: 3, batchSize: 8, progress: 'none' });
        expect(t2.evaluate(lastOnly).loss).to.be.below(l0);
      });
    });
  }

  it('load refuses a checkpoint of a format version it does not read, naming it', function () {
    const model = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1 }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 2 })]);
    const file = path.join(tmp, 'v1.safetensors');
    new Trainer({ model, optimizer: new SGD(model), loss: 'mse' }).saveCheckpoint(file);
    const bytes = fs.readFileSync(file);
    const text = bytes.toString('latin1');
    const at = text.indexOf('"format_version":"1"');
    expect(at).to.be.above(0);
    bytes.write('"format_version":"9"', at, 'latin1');
    expect(() => load(new Uint8Array(bytes))).to.throw(/^load: model bytes: checkpoint format version "9" is not supported \(this library reads 1\)/);
  });
});
