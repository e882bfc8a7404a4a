// Compiled by test/types.test.mjs with `tsc --strict --noEmit` against the published .d.ts files:
// what the docs' examples and a strict TypeScript user write must type-check without casts.
import { Adam, LSTM, LayerNorm, Linear, LastStep, Sequential, Tensor, Trainer, readSafetensors, tensor, toTensors, writeSafetensors } from 'cellstate';
import type { EpochLog, EvaluateResult, Metric, Model, SequentialState } from 'cellstate';
import { createBatcher, createSession, createTsWorkerPool, load } from 'cellstate';

// docs/interop.md's PyTorch example: toTensors gives a Map, which loadStateDict takes.
const lstm = new LSTM({ inputSize: 32, hiddenSize: 64, numLayers: 2 });
lstm.loadStateDict(toTensors(readSafetensors('lstm.safetensors')));
writeSafetensors('lstm-out.safetensors', lstm.stateDict());

// Maps and plain objects wherever a state dict is taken, for every layer and for Sequential.
const net = new Sequential([new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 4, outFeatures: 2 })]);
const weights: Map<string, Tensor> = new Map(Object.entries(net.stateDict()));
net.loadStateDict(weights);
net.loadStateDict(net.stateDict());
net.layers[1].loadStateDict(new Map());
const named = new Sequential({ lstm: new LSTM({ inputSize: 3, hiddenSize: 4 }), fc: new Linear({ inFeatures: 4, outFeatures: 1 }) });
named.loadStateDict(new Map(Object.entries(named.stateDict())));
const names: readonly string[] = named.layerNames;
const n: number = net.numParameters();
const text: string = net.summary() + String(net) + lstm.toString();
const first: boolean = net.batchFirst;

// predict takes nested arrays (ragged), typed arrays with a shape, or Tensors, and returns a Tensor.
const clf = new Sequential([new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true }), new LayerNorm({ normalizedShape: 4 }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 4, outFeatures: 2 })]);
const ragged: Tensor = clf.predict([[[1, 2, 3]], [[1, 2, 3], [4, 5, 6]]]);
const flat: Tensor = clf.predict(new Float32Array(6), { shape: [1, 2, 3], lengths: [2] });
const fromTensor: Tensor = clf.predict(tensor([[[1, 2, 3]]]));
const ids = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2 })]).predict([Int32Array.from([1, 2]), Int32Array.from([3])].map((s) => Array.from(s, (v) => [v])));
const v0: number = ragged.data[0] + flat.data[0] + fromTensor.data[0] + ids.data[0];

// Trainer: tensor data, metrics, and predict results a strict caller indexes without casts.
const trainer = new Trainer({ model: clf, optimizer: new Adam(clf), loss: 'crossEntropy' });
const perSeq: number[][] = trainer.predict([{ x: [[1, 2, 3]] }], { perStep: false });
const p00: number = perSeq[0][0];
const perStep: number[][][] = new Trainer({ model: named, optimizer: new Adam(named), loss: 'mse' }).predict({ x: tensor([[[1, 2, 3]]]) }, { perStep: true });
const p000: number = perStep[0][0][0];
const metrics: Metric[] = ['accuracy', (output, targets) => output.size + (targets.mask?.length ?? 0), { name: 'zero', fn: () => 0 }];
const ev: EvaluateResult = trainer.evaluate({ x: tensor([[[1, 2, 3]]]), y: tensor([1]) }, { metrics });
const acc: number = ev.metrics.accuracy + ev.loss;
const history: Promise<EpochLog[]> = trainer.fit({ x: tensor([[[1, 2, 3]]]), y: [1], lengths: [1] }, { epochs: 1, metrics, validation: [{ x: [[1, 2, 3]], y: 0 }] });
void history.then((h) => h[0].metrics?.accuracy ?? h[0].valMetrics?.zero);
// Node's own stream and signal fit the structural types the .d.ts files declare (ProgressStream,
// AbortSignalLike), so the published types need no @types/node yet a Node user passes these.
void trainer.fit([{ x: [[1, 2, 3]], y: 0 }], { epochs: 1, progress: 'json', progressStream: process.stderr });
void createBatcher(named).run([1, 2, 3], { signal: AbortSignal.timeout(1000) });
void createSession(named).step([1, 2, 3], { signal: new AbortController().signal });

// Serving: a Sequential's batcher resolves { output, state }; a recurrent layer's { output, hN }; a
// model from load() (either kind) serves too, and its results share `output`.
async function serving(): Promise<number> {
  const batcher = createBatcher(named, { maxBatch: 8 });
  const r = await batcher.run([[1, 2, 3], [4, 5, 6]]);
  const s0: number = r.output.data[0] + (r.state[0]?.h.data[0] ?? 0);
  const session = batcher.session();
  const y: Tensor = await session.step([1, 2, 3]);
  const st: SequentialState = session.state;
  const rec = await createBatcher(lstm).run(tensor(new Float32Array(64), [2, 32]));
  const h: number = rec.hN.data[0];
  const loaded: Model = load('classifier.safetensors');
  const any = await createBatcher(loaded).run([1, 2, 3]);
  const o: number = any.output.data[0] + ('state' in any ? any.state.length : any.hN.size);
  const seq = loaded instanceof Sequential ? loaded.summary() : String(loaded);
  const streamed: Tensor = await createSession(loaded).step([1]);
  const pool = createTsWorkerPool(loaded);
  await pool.close();
  const fa = await named.forwardAsync(tensor(new Float32Array(3), [1, 1, 3]));
  return s0 + y.size + st.length + h + o + seq.length + fa.output.size + streamed.size;
}

export { n, text, first, names, v0, p00, p000, acc, serving };
