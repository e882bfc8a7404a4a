// Bringing a PyTorch model in: load a state_dict saved as safetensors and run it in Node.
//
// examples/pytorch_classifier.py trains this PyTorch module and saves its state_dict:
//
//     class WaveClassifier(nn.Module):
//         def __init__(self):
//             super().__init__()
//             self.lstm = nn.LSTM(input_size=1, hidden_size=16, batch_first=True)
//             self.fc = nn.Linear(16, 3)
//         def forward(self, x):                 # x [B, T, 1]
//             out, _ = self.lstm(x)
//             return self.fc(out[:, -1])        # logits [B, 3]
//
// cellstate uses PyTorch's parameter names, shapes and gate order, so the same architecture built
// from named layers ({ lstm, last, fc } -> lstm.weight_ih_l0, ..., fc.bias) takes the state_dict as
// it is. The example checks our logits against PyTorch's on the held-out set it saved (at most
// 1e-4 apart) and then saves the model in cellstate's own format, architecture included.
//
// Run: node examples/from-pytorch.mjs [DIR]   (default DIR: examples/data, files committed there;
//      to make them yourself: python3 examples/pytorch_classifier.py DIR, which needs torch)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LastStep, Linear, LSTM, Sequential, load, readSafetensors, toTensors } from 'cellstate';

const dir = process.argv[2] ?? fileURLToPath(new URL('data', import.meta.url));
const TOLERANCE = 1e-4;

// 1. The same architecture, layers named like the PyTorch module's attributes. LastStep stands
//    for `out[:, -1]` (it has no parameters, so its name does not matter).
const model = new Sequential({
  lstm: new LSTM({ inputSize: 1, hiddenSize: 16, batchFirst: true }),
  last: new LastStep({ batchFirst: true }),
  fc: new Linear({ inFeatures: 16, outFeatures: 3 }),
});

// 2. Load the weights. Every name and shape is checked; a mismatch throws one error listing all
//    missing, unexpected and mis-shaped tensors, and then nothing is loaded.
const weights = toTensors(readSafetensors(path.join(dir, 'pytorch-classifier.safetensors')));
model.loadStateDict(weights);
console.log(`loaded ${[...weights.keys()].join(', ')}`);

// 3. Run it on the held-out waves PyTorch saved and compare with PyTorch's own logits.
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'pytorch-classifier.json'), 'utf8'));
const logits = model.predict(ref.x.map((seq) => seq.map((v) => [v]))); // [B][T][1] -> Tensor [B, 3]
let maxDiff = 0, correct = 0;
ref.logits.forEach((row, b) => {
  const ours = Array.from(logits.data.subarray(3 * b, 3 * b + 3));
  row.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - ours[j])); });
  if (ours.indexOf(Math.max(...ours)) === ref.y[b]) correct++;
});
const accuracy = correct / ref.y.length;
console.log(`held-out accuracy: cellstate ${accuracy.toFixed(3)}, PyTorch ${ref.accuracy.toFixed(3)} (torch ${ref.torch})`);
console.log(`max |cellstate - PyTorch| logit difference: ${maxDiff.toExponential(2)} (tolerance ${TOLERANCE})`);

// 4. From here on it is an ordinary cellstate model: save it with its architecture, so that
//    load(file) needs no code, or train it further with a Trainer.
const file = path.join(os.tmpdir(), 'cellstate-example-from-pytorch.safetensors');
model.save(file);
console.log(`saved as a cellstate model: ${file} -> ${String(load(file)).split('\n')[1].trim()}`);
if (!(maxDiff <= TOLERANCE)) process.exitCode = 1;
