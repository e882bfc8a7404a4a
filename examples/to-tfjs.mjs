// Sending a model to TensorFlow.js: train in Node, write a TF.js Layers model with toTfjs, load
// it with tf.loadLayersModel and check that TF.js predicts what the trained model does.
//
// Needs the dev dependency @tensorflow/tfjs (npm install @tensorflow/tfjs). In a browser the
// folder is served as is: tf.loadLayersModel('/model/model.json'); with @tensorflow/tfjs-node:
// tf.loadLayersModel('file://' + dir + '/model.json'). Plain @tensorflow/tfjs in Node has no
// file:// loader, so this example hands TF.js the two files itself.
//
// The task (many-to-many): denoise a signal. Input: a noisy sine of random frequency, 40 steps;
// target: the clean sine at every step. LSTM -> Linear, batch-first as TF.js expects ([B, T, 1]).
// Trained until the held-out MSE is below a third of the noise's (0.0133), then exported.
//
// Run: node examples/to-tfjs.mjs   (about 5 s on the native backend)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Adam, Linear, LSTM, Rng, Sequential, Trainer, tensor, toTfjs } from 'cellstate';

const T = 40, NOISE = 0.4; // uniform noise in [-0.2, 0.2]: variance 0.4² / 12 = 0.0133
const TARGET_MSE = NOISE ** 2 / 12 / 3;
const TOLERANCE = 1e-4;
const rng = new Rng(9);
function sample() {
  const freq = 0.02 + 0.06 * rng.next(), phase = rng.next();
  const clean = Array.from({ length: T }, (_, t) => Math.sin(2 * Math.PI * (freq * t + phase)));
  return { x: clean.map((v) => [v + NOISE * (rng.next() - 0.5)]), y: clean }; // x [T][1], y [T]
}
const train = Array.from({ length: 800 }, sample);
const heldOut = Array.from({ length: 100 }, sample);

const model = new Sequential([
  new LSTM({ inputSize: 1, hiddenSize: 16, batchFirst: true, bidirectional: true, seed: 1 }), // sees both sides of each step
  new Linear({ inFeatures: 32, outFeatures: 1, seed: 2 }), // 2 directions × 16
]);
const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'mse', seed: 3, clipNorm: 1 });
const history = await trainer.fit(train, {
  epochs: 40, batchSize: 32, validation: heldOut, progress: 'none',
  callbacks: [{ onEpochEnd: (log, t) => log.valLoss < TARGET_MSE && t.stop() }],
});
const mse = trainer.evaluate(heldOut).loss;
console.log(`trained ${history.length} epochs; cellstate held-out MSE: ${mse.toFixed(5)} (noise alone ${(NOISE ** 2 / 12).toFixed(5)}, target < ${TARGET_MSE.toFixed(5)})`);

// Export: model.json (Keras topology: LSTM with return_sequences, then a Dense) + a weight shard.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-example-tfjs-'));
toTfjs(model, dir);
console.log(`wrote ${dir}: ${fs.readdirSync(dir).join(', ')}`);

// Load in TF.js: the IO handler returns what a fetch of model.json and its shards would give.
const tfModel = await tf.loadLayersModel({
  load: async () => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const group = json.weightsManifest[0];
    const bytes = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    return { modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: new Uint8Array(bytes).buffer };
  },
});

// The held-out batch through both: [B, T, 1] in, [B, T, 1] out.
const xs = heldOut.flatMap((s) => s.x.flat());
const theirs = await tfModel.predict(tf.tensor3d(xs, [heldOut.length, T, 1])).data();
const ours = model.predict(tensor(xs, [heldOut.length, T, 1])).data;
let maxDiff = 0, se = 0;
for (let i = 0; i < ours.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(theirs[i] - ours[i]));
  se += (theirs[i] - heldOut[Math.floor(i / T)].y[i % T]) ** 2;
}
console.log(`TF.js ${tf.version.tfjs} held-out MSE: ${(se / ours.length).toFixed(5)}`);
console.log(`max |TF.js - cellstate| difference: ${maxDiff.toExponential(2)} (tolerance ${TOLERANCE})`);
fs.rmSync(dir, { recursive: true });
if (!(mse < TARGET_MSE && maxDiff <= TOLERANCE)) process.exitCode = 1;
