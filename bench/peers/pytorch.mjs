// PyTorch as an optional benchmark peer: bench/peers/pytorch.py in a Python subprocess (one per
// worker process), running nn.LSTM / nn.GRU in fp32, bf16 and dynamic int8 on our weights.
//
// The interpreter: $CELLSTATE_PYTHON, else python3, else /usr/bin/python3; the first that imports
// torch. None (or no pytorch.py beside this file: the npm package ships the .mjs peers only) ->
// the rows are not run and the bench says why. The Python side times its own forward calls
// (perf_counter around the call), so the pipe's round trip is not counted; one warm-up call
// first, as for every row.
//
// PyTorch's GRU is the linear-before-reset variant (r applied to W_hn·h + b_hn); our GRU rows use
// the ONNX/Keras default, so the PyTorch GRU row is checked against our GRU with
// linearBeforeReset: true on the same weights (same FLOPs).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch.py');

/** Why the PyTorch peer cannot run here, or null (after findTorch()). */
export let loadError = null;

/**
 * The Python interpreter with torch and what it reports ({ python, torch, mkldnn, qengine,
 * cpuCapability }), or null with loadError set.
 */
export function findTorch() {
  if (!fs.existsSync(SCRIPT)) {
    loadError = `${path.basename(SCRIPT)} is not beside ${path.basename(fileURLToPath(import.meta.url))} (the npm package does not ship it)`;
    return null;
  }
  const tried = [];
  for (const python of [process.env.CELLSTATE_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const r = spawnSync(python, [SCRIPT], { input: '', encoding: 'utf8', timeout: 60000 });
    const first = r.stdout?.split('\n')[0];
    if (r.status === 0 && first) {
      loadError = null;
      return { python, ...JSON.parse(first) };
    }
    tried.push(`${python}: ${r.error?.code ?? (r.stderr?.trim().split('\n').pop() || `exit ${r.status}`)}`);
  }
  loadError = `no Python with torch (${tried.join('; ')}); set CELLSTATE_PYTHON to one that has it (docs/performance.md#low-precision-rows)`;
  return null;
}

export function torchSupports(w) {
  return w.kind === 'infer' && !!w.quant;
}

let proc = null; // { child, next() -> Promise<object> } shared by the runners of this worker

function start(python) {
  if (proc) return proc;
  const child = spawn(python, ['-u', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const queue = [], waiting = [];
  lines.on('line', (l) => (waiting.length ? waiting.shift()(JSON.parse(l)) : queue.push(JSON.parse(l))));
  child.on('exit', (code) => { for (const w of waiting.splice(0)) w({ error: `python exited (${code})` }); proc = null; });
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
  proc = { child, next, ready: next() };
  return proc;
}

/** Ends this process's Python child (it exits at the end of its input). */
export function stopTorch() {
  proc?.child.stdin.end();
  proc = null;
}

async function ask(msg) {
  proc.child.stdin.write(JSON.stringify(msg) + '\n');
  const r = await proc.next();
  if (r.error) throw new Error(`pytorch: ${r.error}`);
  return r;
}

/**
 * A runner { async, run() -> Promise<Float32Array>, slice(ms, capMs) -> Promise<number[]>, dispose() }
 * of workload w in `precision` with `threads` threads, on `model`'s weights and input x.
 */
export async function makeTorchRunner(w, { python, precision, threads }, model, x, encodeSafetensors) {
  await start(python).ready;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-bench-torch-'));
  const weights = path.join(dir, 'weights.safetensors'), out = path.join(dir, 'out.f32');
  const parts = encodeSafetensors({ ...model.stateDict(), x });
  fs.writeFileSync(weights, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  const { B, T, H } = w, D = w.bidir ? 2 : 1;
  await ask({ cmd: 'load', weights, w, precision, threads });
  return {
    async: true,
    run: async () => {
      await ask({ cmd: 'output', file: out });
      const b = fs.readFileSync(out);
      const y = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      if (y.length !== T * B * D * H) throw new Error(`pytorch: output has ${y.length} values, expected ${T * B * D * H}`);
      return y;
    },
    slice: async (ms, capMs) => (await ask({ cmd: 'slice', ms, capMs })).times,
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
