// Child process for the crash test: saves checkpoints to argv[2] in a loop, each one internally
// consistent (every weight equals the save counter k, stored also as the trainer epoch), and
// prints "saved k" after each save returns. The parent SIGKILLs it at random points.
import { Adam, LSTM, Linear, saveCheckpoint, Sequential } from 'cellstate';

const file = process.argv[2];
const model = new Sequential([new LSTM({ inputSize: 8, hiddenSize: 96, seed: 1 }), new Linear({ inFeatures: 96, outFeatures: 4, seed: 2 })]);
const optimizer = new Adam(model);
const shapes = Object.entries(model.stateDict()).map(([n, t]) => [n, t.shape, t.size]);
for (let k = 1; ; k++) {
  const weights = Object.fromEntries(shapes.map(([n, shape, size]) => [n, { shape, data: new Float32Array(size).fill(k) }]));
  model.loadStateDict(weights);
  saveCheckpoint(file, { model, optimizer, trainer: { epoch: k, step: k, rng: [k, 2, 3, 4] } });
  process.stdout.write(`saved ${k}\n`);
}
