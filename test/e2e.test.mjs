// The whole job as a user does it, on each backend: train a many-to-one classifier (Embedding,
// batch-first 2-layer bidirectional LSTM, LastStep, dense head) for a few epochs, save it, load it
// in a fresh process and serve it there with the server of docs/serving.md (createBatcher behind node:http
// on 127.0.0.1) to concurrent requests of different lengths — each reply bit-identical to
// model.forward on that sequence alone — export it to ONNX and run it in onnxruntime-node, and
// fine-tune the loaded model. Plus the silent-wrong-shape case of issue 17 as a regression test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Adam, Embedding, LastStep, Linear, LSTM, Rng, Sequential, Trainer, load, tensor, toOnnx } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose } from './helpers/reference.mjs';
import { codeBlocks } from './helpers/markdown.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const V = 12, C = 3;

/** Sequences of token ids (lengths 2..12); the class is the first token mod 3 (the reverse direction sees it last). */
function dataset(rng, n) {
  return Array.from({ length: n }, () => {
    const T = 2 + Math.floor(rng.next() * 11);
    const x = Array.from({ length: T }, () => 1 + Math.floor(rng.next() * (V - 1)));
    return { x, y: x[0] % C };
  });
}

function classifier(backend, seed) {
  return new Sequential({
    emb: new Embedding({ numEmbeddings: V, embeddingDim: 8, seed }),
    lstm: new LSTM({ inputSize: 8, hiddenSize: 10, numLayers: 2, bidirectional: true, batchFirst: true, backend, seed: seed + 1 }),
    last: new LastStep({ batchFirst: true, finalStates: true }),
    fc: new Linear({ inFeatures: 20, outFeatures: C, seed: seed + 2 }),
  });
}

/** The server of docs/serving.md (its code block under "## An HTTP server"), started on a free port with MODEL = file. */
async function startDocsServer(file, backend) {
  const page = fs.readFileSync(path.join(root, 'docs', 'serving.md'), 'utf8');
  const code = codeBlocks(page.split('\n## An HTTP server\n')[1])[0].code;
  expect(code.trim().split('\n').length, 'the example stays short').to.be.at.most(18);
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root, env: { ...process.env, PORT: '0', MODEL: file, CELLSTATE_BACKEND: backend, CELLSTATE_QUIET: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; const m = out.match(/listening on (\d+)/); if (m) resolve(Number(m[1])); });
    child.once('exit', (c) => reject(new Error(`the docs/serving.md server exited with ${c}`)));
  });
  return { port, stop: () => child.kill() };
}

const post = (port, body) => fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });

for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
  describe(`end to end on ${backend}: train, save, load and serve in a fresh process, export, fine-tune`, function () {
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-e2e-'));
    const file = path.join(dir, 'classifier.safetensors');
    let model;

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('trains: the loss falls', async () => {
      model = classifier(backend, 40);
      const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.03 }), loss: 'crossEntropy', seed: 1, clipNorm: 1 });
      const history = await trainer.fit(dataset(new Rng(2), 96), { epochs: 6, batchSize: 16, progress: 'none' });
      expect(history.at(-1).loss).to.be.below(history[0].loss * 0.8);
      model.save(file);
    });

    it('the server of docs/serving.md, in a fresh process, answers concurrent requests bit-identically to forward alone', async () => {
      const server = await startDocsServer(file, backend);
      try {
        const reqs = dataset(new Rng(3), 40).map((s) => s.x);
        const replies = await Promise.all(reqs.map((ids) => post(server.port, JSON.stringify(ids)).then(async (r) => [r.status, await r.json()])));
        replies.forEach(([status, logits], i) => {
          expect(status, `request ${i}`).to.equal(200);
          const ids = reqs[i];
          const want = model.forward(tensor(ids, [1, ids.length])).output.data; // [1, C]
          expect(Float32Array.from(logits), `request ${i}`).to.deep.equal(want);
        });
        for (const body of ['[1, 2, 99]', '[]', 'not json', '[[1, 2]]']) {
          const r = await post(server.port, body);
          expect(r.status, body).to.equal(400);
        }
      } finally {
        server.stop();
      }
    });

    it('exports to ONNX: onnxruntime-node computes what the loaded model computes', async () => {
      const loaded = load(file, { backend });
      const B = 4, T = 7, lengths = [7, 3, 5, 1];
      const rng = new Rng(4);
      const x = tensor(Float32Array.from({ length: B * T }, () => Math.floor(rng.next() * V)), [B, T]);
      const ours = loaded.forward(x, { lengths }).output;
      const session = await ort.InferenceSession.create(toOnnx(loaded, { lengths: true }), { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const theirs = (await session.run({
        x: new ort.Tensor('int64', BigInt64Array.from(x.data, (v) => BigInt(v)), [B, T]),
        lengths: new ort.Tensor('int32', Int32Array.from(lengths), [B]),
      })).output;
      expect(theirs.dims).to.deep.equal([B, C]);
      expect(allclose(theirs.data, ours.data, { rtol: 1e-4, atol: 1e-5 })).to.equal(null);
    });

    it('fine-tunes the loaded model on new data, and the result saves and loads bit for bit', async () => {
      const loaded = load(file, { backend });
      const before = loaded.stateDict();
      // New task: the class is now the first token mod 3, shifted by one.
      const data = dataset(new Rng(5), 64).map((s) => ({ x: s.x, y: (s.y + 1) % C }));
      const trainer = new Trainer({ model: loaded, optimizer: new Adam(loaded, { lr: 0.03 }), loss: 'crossEntropy', seed: 6 });
      const history = await trainer.fit(data, { epochs: 5, batchSize: 16, progress: 'none' });
      expect(history.at(-1).loss).to.be.below(history[0].loss);
      expect(loaded.stateDict()['fc.weight'].data).to.not.deep.equal(before['fc.weight'].data);
      const tuned = path.join(dir, 'tuned.safetensors');
      loaded.save(tuned);
      const again = load(tuned, { backend });
      for (const [name, t] of Object.entries(loaded.stateDict())) expect(again.stateDict()[name].data, name).to.deep.equal(t.data);
      const x = tensor([3, 1, 4, 1, 5], [1, 5]);
      expect(again.forward(x).output.data).to.deep.equal(loaded.forward(x).output.data);
    });
  });
}

describe('issue 17 regression: a batch-first LSTM before a time-major LastStep', () => {
  it('is refused at construction, naming the layer, instead of returning [T, ...] rows', () => {
    expect(() => new Sequential([
      new LSTM({ inputSize: 5, hiddenSize: 4, batchFirst: true, seed: 1 }), new LastStep(), new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 }),
    ])).to.throw(RangeError, /Sequential: layers\[1\]\.batchFirst: expected true like layers\[0\]/);
    const ok = new Sequential([
      new LSTM({ inputSize: 5, hiddenSize: 4, batchFirst: true, seed: 1 }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 }),
    ]);
    const x = tensor(new Float32Array(3 * 6 * 5).fill(0.1), [3, 6, 5]);
    expect(ok.forward(x).output.shape).to.deep.equal([3, 2]);
  });
});
