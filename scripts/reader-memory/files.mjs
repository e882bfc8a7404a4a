// Cases for scripts/reader-memory/run.mjs (the format is described there): the safetensors,
// TF.js and checkpoint readers, each on valid inputs and on hostile ones that are small for what
// they declare (many tiny tensors, a large header or metadata, repeated shard paths, huge declared
// shapes). test/reader-memory.test.mjs runs the worst hostile case of each reader at a modest size
// and asserts the factor docs/security.md states.
//
//   node --expose-gc scripts/reader-memory/files.mjs <case name> [scale] : one case in this process, printing
//   { bytes, rssGrowth, outcome } (peak RSS growth over the run, from the kernel's high-water mark).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adam, decodeSafetensors, encodeSafetensors, Linear, loadCheckpoint, loadTfjsModel, LSTM, readCheckpoint, saveCheckpoint, Sequential } from 'cellstate';

const MB = 2 ** 20;

/** A safetensors image whose header is `entries` (strings "name":{...}) and metadata pairs. */
function safetensors(entries, dataBytes = 0, metadata = null) {
  const parts = metadata ? [`"__metadata__":{${metadata.join(',')}}`, ...entries] : entries;
  const json = Buffer.from(`{${parts.join(',')}}`);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  return new Uint8Array(Buffer.concat([head, json, Buffer.alloc(dataBytes)]));
}
/** `n` zero-size tensors (the cheapest valid entries: ~45 header bytes each). */
const zeroTensors = (n, prefix = 't') => Array.from({ length: n }, (_, i) => `"${prefix}${i.toString(36)}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
/** `n` one-element F32 tensors, back to back. */
const tinyTensors = (n) => Array.from({ length: n }, (_, i) => `"${i.toString(36)}":{"dtype":"F32","shape":[1],"data_offsets":[${4 * i},${4 * i + 4}]}`);

// ---------------------------------------------------------------- TF.js
const lstmJson = (units, I, paths, weights) => ({
  modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'LSTM', config: { name: 'l', units, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: true, batch_input_shape: [null, 3, I] } }] } },
  weightsManifest: [{ paths, weights: weights ?? [{ name: 'l/kernel', shape: [I, 4 * units], dtype: 'float32' }, { name: 'l/recurrent_kernel', shape: [units, 4 * units], dtype: 'float32' }, { name: 'l/bias', shape: [4 * units], dtype: 'float32' }] }],
});
const lstmBytes = (units, I) => 4 * (I * 4 * units + units * 4 * units + 4 * units);
const tfjsSize = (input) => Buffer.byteLength(typeof input.modelJson === 'string' ? input.modelJson : JSON.stringify(input.modelJson))
  + (ArrayBuffer.isView(input.weights) ? input.weights.byteLength : new Set(Object.values(input.weights)).size * Object.values(input.weights)[0].byteLength);
/** A model.json listing one shard `reps` times, with weights declared to match (the shard is given once). */
function repeatedShard(shardBytes, reps) {
  const units = 64, I = Math.max(1, Math.round((shardBytes * reps) / (4 * 4 * units)) - units - 1);
  const paths = Array(reps).fill('group1-shard1of1.bin');
  return { modelJson: JSON.stringify(lstmJson(units, I, paths)), weights: { 'group1-shard1of1.bin': new Uint8Array(shardBytes).fill(0) } };
}
export const tfjsRepeatedShard = repeatedShard;

// ---------------------------------------------------------------- checkpoints
const tmpFile = (name) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-mem-')), name);
function checkpointCase(name, makeBytes, load) {
  let file;
  return {
    reader: 'checkpoint', name,
    make: () => { const bytes = makeBytes(); file = tmpFile('ck.safetensors'); fs.writeFileSync(file, bytes); return bytes; },
    run: () => { try { load(file); } finally { fs.rmSync(path.dirname(file), { recursive: true, force: true }); } },
  };
}
const ckModel = (H) => new Sequential([new LSTM({ inputSize: H, hiddenSize: H, seed: 1 }), new Linear({ inFeatures: H, outFeatures: 4, seed: 2 })]);
let validTarget = null;
const checkpointHeader = (entries, metadata) => safetensors(entries, 0, [
  '"format":"cellstate.checkpoint"', '"format_version":"1"', '"config":"null"', ...(metadata ?? []),
]);

/** Every case; `scale` shrinks the inputs (test/reader-memory.test.mjs runs hostile ones at modest sizes). */
export function makeCases(scale = 1) {
  const S = (n) => Math.max(1, Math.round(n * scale));
  return [
  // safetensors
  { reader: 'safetensors', name: 'valid: one F32 tensor, 32 MB', make: () => safetensors([`"w":{"dtype":"F32","shape":[${8 * MB}],"data_offsets":[0,${32 * MB}]}`], 32 * MB), run: decodeSafetensors },
  { reader: 'safetensors', name: 'valid: tiny F32 tensors, 16 MB', make: () => safetensors(tinyTensors(S(250_000)), 4 * S(250_000)), run: decodeSafetensors },
  { reader: 'safetensors', name: 'many zero-size tensors, 16 MB header', make: () => safetensors(zeroTensors(S(16 * MB / 50))), run: decodeSafetensors },
  { reader: 'safetensors', name: 'large __metadata__, 16 MB', make: () => safetensors([], 0, Array.from({ length: S(16 * MB / 12) }, (_, i) => `"${i.toString(36)}":"v"`)), run: decodeSafetensors },
  { reader: 'safetensors', name: 'huge declared shapes, 1 MB', make: () => safetensors(Array.from({ length: S(20_000) }, (_, i) => `"h${i}":{"dtype":"F64","shape":[${2 ** 40},${2 ** 12}],"data_offsets":[0,8]}`), 8), run: decodeSafetensors },
  // TF.js
  { reader: 'tfjs', name: 'valid: LSTM 512 units, 8 MB, one buffer', make: () => ({ modelJson: JSON.stringify(lstmJson(512, 512, ['w.bin'])), weights: new Uint8Array(lstmBytes(512, 512)) }), size: tfjsSize, run: (input) => { loadTfjsModel(input); } },
  { reader: 'tfjs', name: 'repeated shard path: 1 MiB shard listed 1,500 times', make: () => repeatedShard(S(MB), S(1500)), size: tfjsSize, run: (input) => { loadTfjsModel(input); } },
  { reader: 'tfjs', name: 'many zero-size weights, 16 MB manifest', make: () => ({ modelJson: JSON.stringify(lstmJson(2, 2, ['w.bin'], Array.from({ length: S(16 * MB / 48) }, (_, i) => ({ name: `w${i.toString(36)}`, shape: [0], dtype: 'float32' })))), weights: new Uint8Array(0) }), size: tfjsSize, run: (input) => { loadTfjsModel(input); } },
  { reader: 'tfjs', name: 'huge declared shapes, 1 MB manifest', make: () => ({ modelJson: JSON.stringify(lstmJson(2, 2, ['w.bin'], Array.from({ length: S(16_000) }, (_, i) => ({ name: `w${i}`, shape: [2 ** 20, 2 ** 20], dtype: 'float32' })))), weights: new Uint8Array(64) }), size: tfjsSize, run: (input) => { loadTfjsModel(input); } },
  // checkpoints
  checkpointCase('valid: LSTM 512 + Adam, 25 MB', () => {
    const m = ckModel(512), file = tmpFile('v.safetensors');
    saveCheckpoint(file, { model: m, optimizer: new Adam(m) });
    validTarget = ckModel(512);
    validTarget.optimizer = new Adam(validTarget);
    return new Uint8Array(fs.readFileSync(file));
  }, (file) => loadCheckpoint(file, { model: validTarget, optimizer: validTarget.optimizer })),
  checkpointCase('many zero-size optimizer tensors, 16 MB header', () => checkpointHeader(zeroTensors(S(16 * MB / 64), 'optimizer.exp_avg.'), ['"optimizer":"{\\"kind\\":\\"Adam\\",\\"options\\":{},\\"step\\":0,\\"lr\\":0.1,\\"slots\\":[\\"exp_avg\\"]}"']), readCheckpoint),
  checkpointCase('many zero-size model tensors, 16 MB header', () => checkpointHeader(zeroTensors(S(16 * MB / 56), 'model.')), readCheckpoint),
];
}
export const cases = makeCases(1);

// One case in this process: peak RSS growth (the kernel's high-water mark) over run().
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const all = makeCases(Number(process.argv[3] ?? 1));
  const c = all.find((k) => k.name === process.argv[2]);
  if (!c) throw new Error(`no case ${JSON.stringify(process.argv[2])}: ${all.map((k) => k.name).join('; ')}`);
  const input = await c.make();
  const bytes = c.size ? c.size(input) : input.byteLength;
  global.gc?.();
  const rss0 = process.memoryUsage.rss(), peak0 = process.resourceUsage().maxRSS * 1024;
  let outcome = 'ok';
  try { await c.run(input); } catch (e) { outcome = `${e?.name}: ${String(e?.message).slice(0, 120)}`; }
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ bytes, rssGrowth: Math.max(0, peak - Math.max(rss0, peak0)), peakBefore: peak0 - rss0, outcome }));
}
