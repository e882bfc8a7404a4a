// Sequence classification (many-to-one): tell a sine, a square and a sawtooth wave apart.
//
// Each sample is one noisy wave of random frequency, phase and length (24 to 40 steps, so the batch
// is ragged); the label is its shape. The model reads the whole sequence and classifies its last
// step:  LSTM (batch-first) -> LastStep (each sequence's last valid step) -> Linear (3 logits).
// Training stops once held-out accuracy reaches 95 %; the model is then saved, loaded back and
// asked about a few fresh waves.
//
// Run: node examples/classify.mjs   (about 1 s on the native backend, 7 s on ts)

import os from 'node:os';
import path from 'node:path';
import { Adam, LastStep, Linear, LSTM, Rng, Sequential, Trainer, load } from 'cellstate';

const CLASSES = ['sine', 'square', 'sawtooth'];
const TARGET_ACCURACY = 0.95;
const rng = new Rng(7); // seeded: every run prints the same numbers on the same backend

// One labelled sample: x is [T][1] (T steps of one feature), y the class index.
function wave(label) {
  const T = 24 + Math.floor(rng.next() * 17);
  const freq = 0.05 + 0.1 * rng.next(); // cycles per step
  const phase = rng.next();
  const x = [];
  for (let t = 0; t < T; t++) {
    const p = (freq * t + phase) % 1; // position within the cycle, 0..1
    const clean = label === 0 ? Math.sin(2 * Math.PI * p) : label === 1 ? (p < 0.5 ? 1 : -1) : 2 * p - 1;
    x.push([clean + 0.2 * (rng.next() - 0.5)]);
  }
  return { x, y: label };
}
const dataset = (n) => Array.from({ length: n }, (_, i) => wave(i % CLASSES.length));
const train = dataset(600);
const heldOut = dataset(300);

// batchFirst: true on every layer (a chain has one layout; fit() hands batches over in it).
const model = new Sequential({
  lstm: new LSTM({ inputSize: 1, hiddenSize: 24, batchFirst: true, seed: 1 }),
  last: new LastStep({ batchFirst: true }),
  fc: new Linear({ inFeatures: 24, outFeatures: CLASSES.length, seed: 2 }),
});
console.log(String(model));

const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.01 }), loss: 'crossEntropy', seed: 3, clipNorm: 1 });
const history = await trainer.fit(train, {
  epochs: 40,
  batchSize: 32,
  validation: heldOut,
  metrics: ['accuracy'], // reported per epoch in log.metrics / log.valMetrics
  progress: 'none',
  callbacks: [{
    onEpochEnd(log, t) {
      console.log(`epoch ${log.epoch}: loss ${log.loss.toFixed(3)}, held-out accuracy ${log.valMetrics.accuracy.toFixed(3)}`);
      if (log.valMetrics.accuracy >= TARGET_ACCURACY) t.stop(); // good enough: stop early
    },
  }],
});

const { accuracy } = trainer.evaluate(heldOut, { metrics: ['accuracy'] }).metrics;
console.log(`trained ${history.length} epochs`);
console.log(`held-out accuracy: ${accuracy.toFixed(3)} (target ${TARGET_ACCURACY})`);

// Save the whole model (weights + architecture) and load it back without any code of ours.
const file = path.join(os.tmpdir(), 'cellstate-example-classifier.safetensors');
model.save(file);
const again = load(file);
console.log(`saved to ${file}`);

// Inference on raw nested arrays: one [T][1] array per sequence, lengths may differ.
const fresh = [wave(0), wave(1), wave(2)];
const logits = again.predict(fresh.map((s) => s.x)); // Tensor [3, 3]
for (let i = 0; i < fresh.length; i++) {
  const row = Array.from(logits.data.subarray(3 * i, 3 * i + 3));
  const guess = row.indexOf(Math.max(...row));
  console.log(`a ${CLASSES[fresh[i].y]} wave of ${fresh[i].x.length} steps -> ${CLASSES[guess]}`);
}
if (accuracy < TARGET_ACCURACY) process.exitCode = 1;
