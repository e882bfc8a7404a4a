// Reference-case driver: discovers the cases in test/fixtures/reference/*/index.json (a copy of the
// project's shared reference cases; provenance in its README), decides which a
// layer supports from each case's config, converts ONNX-convention tensors to PyTorch's layout
// (a pure index permutation), and compares with the README's allclose rule and tolerances.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REFERENCE_DIR = process.env.CELLSTATE_REFERENCE_DIR
  ?? path.resolve(here, '..', 'fixtures', 'reference');
export const SOURCES = ['pytorch', 'onnxruntime', 'onnx-backend'];

/** Every case file of every source, parsed. Throws (failing the suite) when the folder is missing. */
export function loadAllCases() {
  if (!fs.existsSync(REFERENCE_DIR)) {
    throw new Error(`reference cases not found at ${REFERENCE_DIR} (set CELLSTATE_REFERENCE_DIR)`);
  }
  const cases = [];
  for (const src of SOURCES) {
    const index = JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, src, 'index.json'), 'utf8'));
    for (const entry of index.cases) {
      const c = JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, src, entry.file), 'utf8'));
      c.folder = src;
      cases.push(c);
    }
  }
  return cases;
}

/** allclose: |a - e| <= atol + rtol*|e| elementwise; returns null or a description of the worst miss. */
export function allclose(actual, expected, { rtol, atol }) {
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = null;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    const lim = atol + rtol * Math.abs(e);
    if (!(err <= lim) && (!worst || err - lim > worst.excess)) worst = { i, a, e, err, excess: err - lim };
  }
  return worst && `index ${worst.i}: got ${worst.a}, expected ${worst.e} (|diff| ${worst.err.toExponential(3)})`;
}

/**
 * Expected outputs of a case in PyTorch convention: output [T, B, D*H] (or [B, T, D*H] when x is
 * batch-first), h_n/c_n [L*D, B, H]. ONNX cases: Y [T, D, B, H] (layout 0) or [B, T, D, H]
 * (layout 1, already PyTorch batch-first order); Y_h [D, B, H] or [B, D, H].
 */
export function expectedPytorchOutputs(c) {
  const cfg = c.config;
  const out = c.outputs;
  if (cfg.output_convention === 'pytorch') return { output: out.output?.data, h_n: out.h_n?.data, c_n: out.c_n?.data };
  const D = cfg.num_directions, H = cfg.hidden_size, T = cfg.seq_len, B = cfg.batch;
  const conv = {};
  if (out.output) {
    if (cfg.layout === 1) conv.output = out.output.data;
    else {
      const y = new Array(T * B * D * H);
      for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
        y[((t * B + b) * D + d) * H + j] = out.output.data[((t * D + d) * B + b) * H + j];
      }
      conv.output = y;
    }
  }
  for (const k of ['h_n', 'c_n']) {
    if (!out[k]) continue;
    conv[k] = cfg.layout === 1 ? swap01(out[k].data, B, D, H) : out[k].data;
  }
  return conv;
}

/** ONNX layout=1 initial/final states [B, D, H] -> [D, B, H]. */
export function swap01(data, n0, n1, inner) {
  const out = new Array(data.length);
  for (let a = 0; a < n0; a++) for (let b = 0; b < n1; b++) for (let j = 0; j < inner; j++) {
    out[(b * n0 + a) * inner + j] = data[(a * n1 + b) * inner + j];
  }
  return out;
}

/** Whether x of the case is batch-first ([B, T, I]). */
export function isBatchFirst(c) {
  return c.config.output_convention === 'pytorch' ? !!c.config.batch_first : c.config.layout === 1;
}

/** The case's initial state (h0 or c0) in [L*D, B, H] order, or null. */
export function initialState(c, key) {
  const t = c.inputs[key];
  if (!t) return null;
  const cfg = c.config;
  if (cfg.output_convention === 'onnx' && cfg.layout === 1) {
    return swap01(t.data, cfg.batch, cfg.num_directions, t.shape[2]);
  }
  return t.data;
}
