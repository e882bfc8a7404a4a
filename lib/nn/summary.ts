// What a model is, in words: `String(layer)` (its type and construction options, as PyTorch's
// module repr) and `Sequential.summary()` (one row per layer: name, type, output shape,
// parameter count; Keras's model.summary()). Read from each layer's config and parameters only,
// so it works for any layer and costs no forward.

import { isRecurrent, layerConfig, type Layer } from './layer';

export interface LayerSummary {
  name: string; // the layer's parameter-name prefix in the model ('0', '1', ... or its name)
  layer: string; // the layer's toString(): its type and options
  output: string; // e.g. '[T, B, 16]', '[B, T, 16]', '[B, 2]'; '[..., F]' where the leading axes are not known
  params: number; // parameters (trainable values) of the layer
}

/**
 * `Type(option=value, ...)` from the layer's config and `extra` options (dtype shown only when
 * not float32).
 */
export function describeLayer(layer: Layer, extra: Record<string, unknown> = {}): string {
  const { type, ...options } = { ...layerConfig(layer), ...extra };
  const parts = Object.entries(options)
    .filter(([k, v]) => v !== undefined && !(k === 'dtype' && v === 'float32'))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : JSON.stringify(v)}`);
  return `${type}(${parts.join(', ')})`;
}

/** A layer's own toString() where it has one, else describeLayer. */
function layerText(layer: Layer): string {
  const s = (layer as { toString?: () => string }).toString;
  return typeof s === 'function' && s !== Object.prototype.toString ? s.call(layer) : describeLayer(layer);
}

/**
 * Parameter values of a layer or a chain: from the declared shapes where the layer has them (a
 * quantized recurrent layer, whose namedParameters() refuses, counts its bf16 / int8 matrices too).
 */
export function parameterCount(layer: Pick<Layer, 'namedParameters'>): number {
  const l = layer as { layers?: unknown; paramSpecs?: () => { shape: number[] }[] };
  if (Array.isArray(l.layers)) return (l.layers as Layer[]).reduce((n, x) => n + parameterCount(x), 0);
  if (typeof l.paramSpecs === 'function') return l.paramSpecs().reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  return layer.namedParameters().reduce((n, [, t]) => n + t.size, 0);
}

/** Layers whose output has their input's shape. */
const SHAPE_KEEPING = new Set(['Tanh', 'Sigmoid', 'ReLU', 'Softmax', 'Dropout', 'LayerNorm']);

/**
 * Rows for a chain of layers. The output shape follows the features through the chain: a
 * recurrent layer or an Embedding gives a time axis ([T, B, F], or [B, T, F] batch-first), a
 * LastStep removes it, Linear changes F, activations, Dropout and LayerNorm keep the shape.
 */
export function summarizeLayers(layers: readonly Layer[], batchFirst: boolean, names: readonly string[] = layers.map((_, i) => String(i))): LayerSummary[] {
  let time: boolean | null = null; // whether the current value has a time axis (null: unknown)
  let features: number | null = null;
  return layers.map((l, i) => {
    const c = layerConfig(l);
    if (isRecurrent(l)) {
      const r = l as Layer & { outSize?: number; numDirections?: number; hiddenSize: number };
      features = (r.numDirections ?? 1) * (r.outSize ?? r.hiddenSize);
      time = true;
    } else if (c.type === 'Embedding') {
      features = Number(c.embeddingDim);
      time = true;
    } else if (c.type === 'Linear') {
      features = Number(c.outFeatures);
    } else if (c.type === 'LastStep') {
      time = false;
    } else if (!SHAPE_KEEPING.has(c.type)) {
      features = null;
      time = null;
    }
    const F = features === null ? '?' : String(features);
    const output = time === true ? (batchFirst ? `[B, T, ${F}]` : `[T, B, ${F}]`) : time === false ? `[B, ${F}]` : `[..., ${F}]`;
    return { name: names[i], layer: layerText(l), output, params: parameterCount(l) };
  });
}

/** The rows as a fixed-width table with a total. */
export function formatSummary(title: string, rows: readonly LayerSummary[]): string {
  const head = ['name', 'layer', 'output', 'params'];
  const cells = rows.map((r) => [r.name, r.layer, r.output, r.params.toLocaleString('en-US')]);
  const width = head.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j].length)));
  const line = (c: string[]) => c.map((v, j) => (j === 3 ? v.padStart(width[j]) : v.padEnd(width[j]))).join('  ').trimEnd();
  const rule = '-'.repeat(width.reduce((a, b) => a + b, 0) + 2 * (width.length - 1));
  const total = rows.reduce((n, r) => n + r.params, 0);
  return [title, rule, line(head), rule, ...cells.map(line), rule, `parameters: ${total.toLocaleString('en-US')}`].join('\n');
}
