// The gradient-flow experiment (apps/experiments/gradient-flow.ts, `cellstate experiment
// gradient-flow`): its per-step norms of dL/dh_t and dL/dc_t equal PyTorch autograd's (float64,
// the cell unrolled by hand with retain_grad on every state; skipped without torch), and the
// --quick command writes a well-formed plot and a JSON with every series, in well under 20 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Rng } from 'cellstate';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TORCH = String.raw`
import json, sys, torch
torch.set_default_dtype(torch.float64)
def run(req):
  T, B, I, H, kind = req['T'], req['B'], req['I'], req['H'], req['kind']
  sd = {k: torch.tensor(v['data']).reshape(v['shape']) for k, v in req['weights'].items()}
  x = torch.tensor(req['x']).reshape(T, B, I)
  cell = torch.nn.LSTMCell(I, H) if kind == 'lstm' else torch.nn.RNNCell(I, H, nonlinearity='tanh')
  with torch.no_grad():
      for n in ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']:
          getattr(cell, n).copy_(sd[n + '_l0'])
  h = torch.zeros(B, H); c = torch.zeros(B, H)
  hs, cs = [], []
  for t in range(T):
      if kind == 'lstm':
          h, c = cell(x[t], (h, c)); c.retain_grad(); cs.append(c)
      else:
          h = cell(x[t], h)
      h.retain_grad(); hs.append(h)
  W = torch.tensor(req['head']['weight']).reshape(1, H); b = torch.tensor(req['head']['bias'])
  y = h @ W.T + b
  loss = ((y.flatten() - torch.tensor(req['target'])) ** 2).mean()
  loss.backward()
  out = {'loss': loss.item(), 'dh': [hs[T - 1 - k].grad.norm().item() for k in range(T)]}
  if kind == 'lstm': out['dc'] = [cs[T - 1 - k].grad.norm().item() for k in range(T)]
  return out
print(json.dumps([run(r) for r in json.load(sys.stdin)]))
`;

function findTorch() { // the first python with torch (the import alone is checked)
  for (const py of [process.env.CELLSTATE_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
}

describe('experiment gradient-flow', function () {
  this.timeout(60000);

  // One python process for both models (importing torch takes seconds).
  let torchRuns = null;
  const cases = {};
  before(async function () {
    const py = findTorch();
    if (!py) return;
    const { addingTask } = await import('../dist-apps/experiments/tasks.js');
    const { buildModel } = await import('../dist-apps/experiments/compare.js');
    const task = addingTask(12);
    for (const kind of ['lstm', 'rnn']) {
      const net = buildModel(task, kind, 5, 3);
      const batch = task.batch(new Rng(4), 6);
      const rec = net.layers[0].stateDict(), head = net.layers[2].stateDict();
      cases[kind] = { task, net, batch, req: {
        T: 12, B: 6, I: 2, H: 5, kind, x: Array.from(batch.x.data), target: Array.from(batch.values.data),
        weights: Object.fromEntries(Object.entries(rec).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }])),
        head: { weight: Array.from(head.weight.data), bias: Array.from(head.bias.data) },
      } };
    }
    const r = spawnSync(py, ['-c', TORCH], { input: JSON.stringify([cases.lstm.req, cases.rnn.req]), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    const [l, n] = JSON.parse(r.stdout);
    torchRuns = { lstm: l, rnn: n };
  });

  for (const kind of ['lstm', 'rnn']) {
    it(`${kind}: the norms of dL/dh_t${kind === 'lstm' ? ' and dL/dc_t' : ''} at every distance equal PyTorch autograd's (float64, 1e-9 relative)`, async function () {
      if (!torchRuns) this.skip();
      const { flowProfile } = await import('../dist-apps/experiments/gradient-flow.js');
      const { task, net, batch } = cases[kind];
      const p = flowProfile(net, kind, batch, task);
      const want = torchRuns[kind];
      expect(p.loss).to.be.closeTo(want.loss, 1e-12);
      const close = (got, exp) => got.forEach((g, k) => expect(Math.abs(g - exp[k]), `distance ${k}`).to.be.at.most(1e-9 * exp[k] + 1e-300));
      close(p.dh, want.dh);
      if (kind === 'lstm') close(p.dc, want.dc);
      else expect(p.dc).to.equal(null);
      // The fitted decay is the slope of log10(norm) over distances 1 .. T-1.
      const { logSlope } = await import('../dist-apps/experiments/gradient-flow.js');
      expect(logSlope([5, 100, 10, 1, 0.1])).to.be.closeTo(-1, 1e-12);
      expect(p.dhDecayPerStep).to.equal(10 ** logSlope(p.dh));
    });
  }

  it('--quick writes the plot and the JSON (every model, quantity and moment) in well under 20 s', function () {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-gf-'));
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [path.join(root, 'bin', 'cellstate.js'), 'experiment', 'gradient-flow', '--quick', '--budget-seconds', '1', '--out', out],
        { cwd: root, env: { ...process.env, CELLSTATE_QUIET: '1' }, encoding: 'utf8', timeout: 60000 });
      expect(r.status, r.stderr).to.equal(0);
      expect(Date.now() - t0).to.be.below(20000);
      expect(r.stdout).to.match(/LSTM\s+init\s+dL\/dh \d\.\d{4} per step .*; dL\/dc \d\.\d{4} per step/);
      expect(r.stdout).to.match(/tanh RNN\s+trained\s+dL\/dh \d\.\d{4} per step/);
      const json = JSON.parse(fs.readFileSync(path.join(out, 'gradient-flow-T20.json'), 'utf8'));
      expect(json.runs.map((x) => [x.kind, x.hidden])).to.deep.equal([['lstm', 16], ['rnn', 34]]);
      expect(Math.abs(json.runs[0].parameters - json.runs[1].parameters) / json.runs[0].parameters).to.be.below(0.05);
      for (const run of json.runs) {
        for (const p of [run.init, run.trained]) {
          expect(p.dh).to.have.length(20);
          expect(p.dh.every((v) => v > 0 && Number.isFinite(v))).to.equal(true);
          expect((p.dc ?? []).length).to.equal(run.kind === 'lstm' ? 20 : 0);
        }
        expect(run.training.steps).to.be.above(0);
      }
      const svg = fs.readFileSync(path.join(out, 'gradient-flow-T20.svg'), 'utf8');
      expect(XMLValidator.validate(svg)).to.equal(true);
      const doc = new XMLParser({ ignoreAttributes: false }).parse(svg);
      const lines = [doc.svg.g.find((g) => g['@_class'] === 'series').polyline].flat();
      expect(lines.map((l) => l['@_data-name'])).to.deep.equal([
        'LSTM (16) dL/dh, init', `LSTM (16) dL/dh, after ${json.runs[0].training.steps} steps`,
        'LSTM (16) dL/dc, init', `LSTM (16) dL/dc, after ${json.runs[0].training.steps} steps`,
        'tanh RNN (34) dL/dh, init', `tanh RNN (34) dL/dh, after ${json.runs[1].training.steps} steps`,
      ]);
      expect(lines.every((l) => l['@_points'].split(' ').length === 20)).to.equal(true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
