// Sending a model to ONNX Runtime: train in Node, export with toOnnx, run the .onnx file in
// onnxruntime-node and check that it answers as the trained model does.
//
// Needs the dev dependency onnxruntime-node (npm install onnxruntime-node); any ONNX runtime
// (Python's onnxruntime, ONNX Runtime Web, C#, ...) loads the same file.
//
// The task: a sequence of tokens, "a" or "b", 5 to 25 of them (an odd count); which one is in
// the majority? Embedding -> GRU -> LastStep -> Linear (2 logits). Trained to 95 % held-out
// accuracy, exported with a `lengths` input so that one ONNX call runs a ragged batch.
//
// Run: node examples/to-onnx.mjs   (about 3 s on the native backend)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { Adam, Embedding, GRU, LastStep, Linear, Rng, Sequential, Trainer, toOnnx } from 'cellstate';

const TARGET_ACCURACY = 0.95;
const TOLERANCE = 1e-4; // float32 kernels differ in summation order, so not bit for bit
const rng = new Rng(5);
function sample() {
  const T = 5 + 2 * Math.floor(rng.next() * 11); // 5, 7, ..., 25
  const x = Array.from({ length: T }, () => (rng.next() < 0.5 ? 0 : 1)); // token ids: a=0, b=1
  const ones = x.reduce((a, b) => a + b, 0);
  return { x, y: ones * 2 > T ? 1 : 0 };
}
const train = Array.from({ length: 2000 }, sample);
const heldOut = Array.from({ length: 200 }, sample);

const model = new Sequential([
  new Embedding({ numEmbeddings: 2, embeddingDim: 4, seed: 1 }),
  new GRU({ inputSize: 4, hiddenSize: 16, seed: 2 }),
  new LastStep(), // each sequence's last *valid* step (lengths are passed along)
  new Linear({ inFeatures: 16, outFeatures: 2, seed: 3 }),
]);
const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.01 }), loss: 'crossEntropy', seed: 4, clipNorm: 1 });
const history = await trainer.fit(train, {
  epochs: 30, batchSize: 32, bucketing: true, validation: heldOut, metrics: ['accuracy'], progress: 'none',
  callbacks: [{ onEpochEnd: (log, t) => log.valMetrics.accuracy >= TARGET_ACCURACY && t.stop() }],
});
const { accuracy } = trainer.evaluate(heldOut, { metrics: ['accuracy'] }).metrics;
console.log(`trained ${history.length} epochs; cellstate held-out accuracy: ${accuracy.toFixed(3)}`);

// Export. Graph inputs: x [T, B] token ids (int64; time-major like the model) and lengths [B]
// (int32); output: `output` [B, 2].
const file = path.join(os.tmpdir(), 'cellstate-example-majority.onnx');
fs.writeFileSync(file, toOnnx(model, { opset: 17, lengths: true }));
console.log(`wrote ${file} (${fs.statSync(file).size} bytes)`);

// Run the held-out set through ONNX Runtime as one padded batch.
const B = heldOut.length, T = Math.max(...heldOut.map((s) => s.x.length));
const ids = new BigInt64Array(T * B); // [T, B], zeros past each sequence's end
heldOut.forEach((s, b) => s.x.forEach((id, t) => { ids[t * B + b] = BigInt(id); }));
const session = await ort.InferenceSession.create(file);
const { output } = await session.run({
  x: new ort.Tensor('int64', ids, [T, B]),
  lengths: new ort.Tensor('int32', Int32Array.from(heldOut, (s) => s.x.length), [B]),
});

// The same batch through cellstate: predict() pads and sets lengths itself.
const ours = model.predict(heldOut.map((s) => s.x)).data; // [B, 2]
let maxDiff = 0, ortCorrect = 0;
for (let b = 0; b < B; b++) {
  for (let j = 0; j < 2; j++) maxDiff = Math.max(maxDiff, Math.abs(output.data[2 * b + j] - ours[2 * b + j]));
  if ((output.data[2 * b + 1] > output.data[2 * b] ? 1 : 0) === heldOut[b].y) ortCorrect++;
}
console.log(`ONNX Runtime ${ort.env.versions?.common ?? ''} held-out accuracy: ${(ortCorrect / B).toFixed(3)}`);
console.log(`max |ONNX Runtime - cellstate| logit difference: ${maxDiff.toExponential(2)} (tolerance ${TOLERANCE})`);
if (!(accuracy >= TARGET_ACCURACY && maxDiff <= TOLERANCE)) process.exitCode = 1;
