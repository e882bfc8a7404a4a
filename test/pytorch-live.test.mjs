// A live PyTorch module, both ways (when a python3 with torch is on the machine: CI installs
// Debian's python3-torch and sets CELLSTATE_REQUIRE_TORCH=1, so there it cannot skip):
//   PyTorch -> cellstate: the state_dict of `emb -> lstm (batch_first, 2 layers, bidirectional)
//     -> out[:, -1] -> fc` loads into `new Sequential({ emb, lstm, last, fc })` with no renaming,
//     and our forward equals PyTorch's within float32 tolerance.
//   cellstate -> PyTorch: `model.save(file)` loads with `safetensors.torch.load_file` into the same
//     module by `load_state_dict(strict=True)`, and PyTorch's forward equals ours (needs the
//     Python safetensors package, which Debian does not package: this part runs where it is
//     installed, e.g. a developer machine with `pip install safetensors`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Embedding, LastStep, Linear, LSTM, Sequential, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose } from './helpers/reference.mjs';

const SCRIPT = `
import json, sys, torch, torch.nn as nn
torch.manual_seed(0)
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        self.lstm = nn.LSTM(8, 10, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(20, 3)
    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.fc(out[:, -1])
m = Clf().eval()
req = json.load(sys.stdin)
if req['file']:
    from safetensors.torch import load_file
    m.load_state_dict(load_file(req['file']), strict=True)
x = torch.tensor(req['x'], dtype=torch.long)
with torch.no_grad():
    y = m(x)
print(json.dumps({'y': y.flatten().tolist(), 'state': {k: {'shape': list(v.shape), 'data': v.flatten().tolist()} for k, v in m.state_dict().items()}}))
`;

function findPython() {
  for (const py of [process.env.CELLSTATE_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) {
      const st = spawnSync(py, ['-c', 'import safetensors.torch'], { encoding: 'utf8' });
      return { py, safetensors: st.status === 0 };
    }
  }
  return null;
}

function runTorch(py, x, file = null) {
  const r = spawnSync(py, ['-c', SCRIPT], { input: JSON.stringify({ x, file }), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const X = [[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8], [9, 7, 9, 3, 2, 3]]; // [B=3, T=6] token ids

describe('a live PyTorch module, both ways', function () {
  this.timeout(120000);
  const found = findPython();
  before(function () {
    if (found) return;
    if (process.env.CELLSTATE_REQUIRE_TORCH) throw new Error('CELLSTATE_REQUIRE_TORCH is set but no python3 imports torch');
    this.skip();
  });

  for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
    const build = () => new Sequential({
      emb: new Embedding({ numEmbeddings: 12, embeddingDim: 8, seed: 1 }),
      lstm: new LSTM({ inputSize: 8, hiddenSize: 10, numLayers: 2, bidirectional: true, batchFirst: true, backend, seed: 2 }),
      last: new LastStep({ batchFirst: true }),
      fc: new Linear({ inFeatures: 20, outFeatures: 3, seed: 3 }),
    });

    it(`${backend}: PyTorch's state_dict loads by its own names (a Map, as is) and computes PyTorch's output`, function () {
      const pt = runTorch(found.py, X);
      const model = build();
      const sd = new Map(Object.entries(pt.state).map(([k, v]) => [k, tensor(v.data, v.shape)]));
      model.loadStateDict(sd);
      expect(Object.keys(model.stateDict()).sort()).to.deep.equal([...sd.keys()].sort());
      const ours = model.forward(tensor(X.flat(), [3, 6])).output;
      expect(ours.shape).to.deep.equal([3, 3]);
      expect(allclose(ours.data, pt.y, { rtol: 1e-4, atol: 1e-5 })).to.equal(null);
    });

    it(`${backend}: model.save(file) loads in safetensors.torch.load_file into the module (strict) and computes our output`, function () {
      if (!found.safetensors) this.skip(); // Debian has no python3-safetensors; see the header
      const model = build();
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-pt-live-')), 'model.safetensors');
      model.save(file);
      const pt = runTorch(found.py, X, file);
      const ours = model.forward(tensor(X.flat(), [3, 6])).output;
      expect(allclose(ours.data, pt.y, { rtol: 1e-4, atol: 1e-5 })).to.equal(null);
      for (const [k, t] of Object.entries(model.stateDict())) expect(Float32Array.from(pt.state[k].data), k).to.deep.equal(t.data);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });
  }
});
