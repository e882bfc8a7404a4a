// native-hashes.mjs - the sha256 of every output of the native backend over a grid of configs, to
// prove that a refactor changed no bit: run it against two builds of the library and under every
// ISA tier, and compare what it prints (one line per config, then the count and a hash of all).
//
//   CELLSTATE_MAX_ISA=avx2 node test/helpers/native-hashes.mjs [ROOT] > avx2.txt
//
// ROOT is the checkout whose dist/ and build/ to load (default: this one); only the public API is
// used, so any version with it can be compared. Per config: a forward (inference), then a training
// forward and its backward with random upstream gradients; hashed are the output, hN, cN, dX,
// dH0, dC0 and every parameter gradient, as float32 bytes. The grid: every kind and option
// (projection, peephole, inputForget, clip, linearBeforeReset false/true, relu), 1 or 2 layers,
// one or two directions, full or variable lengths, time-major or batch-first, 1 or 2 threads, a
// small H beside a SIMD-width edge, and a bigger size where the threads split the steps.
import crypto from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..'));
const require = createRequire(import.meta.url);
const cs = require(path.join(root, 'dist', 'index.js'));
const { GRU, LSTM, RNN, Rng, tensor, setThreads } = cs;
if (cs.backend('native').name !== 'native') throw new Error('no native backend');

const kinds = [
  ['LSTM', LSTM, {}], ['LSTM', LSTM, { projSize: 3 }], ['LSTM', LSTM, { peephole: true }], ['LSTM', LSTM, { inputForget: true }],
  ['LSTM', LSTM, { clip: 0.7 }], ['LSTM', LSTM, { projSize: 2, peephole: true, inputForget: true, clip: 0.9 }],
  ['GRU', GRU, {}], ['GRU', GRU, { linearBeforeReset: false }], ['GRU', GRU, { clip: 0.8 }], ['GRU', GRU, { linearBeforeReset: false, clip: 0.6 }],
  ['RNN', RNN, {}], ['RNN', RNN, { nonlinearity: 'relu' }], ['RNN', RNN, { clip: 0.5 }], ['RNN', RNN, { nonlinearity: 'relu', clip: 0.9 }],
];
const sizes = [{ I: 4, H: 5, T: 6, B: 3 }, { I: 7, H: 17, T: 5, B: 4 }];
const big = { I: 32, H: 64, T: 20, B: 8 };

const configs = [];
for (const [name, Layer, o] of kinds) {
  for (const size of sizes) {
    for (const bidirectional of [false, true]) for (const numLayers of [1, 2]) for (const varLen of [false, true])
      for (const batchFirst of [false, true]) for (const threads of [1, 2]) configs.push({ name, Layer, o, ...size, bidirectional, numLayers, varLen, batchFirst, threads });
  }
  for (const varLen of [false, true]) for (const threads of [1, 2]) configs.push({ name, Layer, o, ...big, bidirectional: true, numLayers: 2, varLen, batchFirst: false, threads });
}

const all = crypto.createHash('sha256');
configs.forEach((c, i) => {
  setThreads(c.threads);
  const rng = new Rng(1000 + i);
  const rand = (shape) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
  const m = new c.Layer({ inputSize: c.I, hiddenSize: c.H, numLayers: c.numLayers, bidirectional: c.bidirectional, batchFirst: c.batchFirst,
    seed: 7 + i, backend: 'native', ...c.o });
  const D = c.bidirectional ? 2 : 1, P = m.outSize, hasC = c.name === 'LSTM';
  const x = rand(c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I]);
  const lengths = c.varLen ? Array.from({ length: c.B }, (_, b) => (b === 1 ? c.T : 1 + ((b * 5 + 3) % c.T))) : null;
  const opts = { lengths, h0: i % 2 ? rand([c.numLayers * D, c.B, P]) : null, c0: i % 2 && hasC ? rand([c.numLayers * D, c.B, c.H]) : null };
  const h = crypto.createHash('sha256');
  const add = (t) => { if (t) h.update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)); };
  const inf = m.forward(x, opts);
  add(inf.output); add(inf.hN); add(inf.cN);
  const tr = m.forwardTrain(x, opts);
  add(tr.output); add(tr.hN); add(tr.cN);
  const g = m.backward(tr.cache, { dOutput: rand(tr.output.shape), dHN: rand(tr.hN.shape), dCN: hasC ? rand(tr.cN.shape) : null });
  add(g.dX); add(g.dH0); add(g.dC0);
  for (const k of Object.keys(g.grads).sort()) add(g.grads[k]);
  const d = h.digest('hex');
  all.update(d);
  const tag = `${c.name} ${JSON.stringify(c.o)} I=${c.I} H=${c.H} T=${c.T} B=${c.B} L=${c.numLayers} D=${D} len=${c.varLen ? 'var' : 'full'} bf=${c.batchFirst} threads=${c.threads}`;
  console.log(`${String(i).padStart(4)} ${d.slice(0, 16)} ${tag}`);
});
console.log(`configs ${configs.length} isa ${cs.backend('native').isa} all ${all.digest('hex')}`);
