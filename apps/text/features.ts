// Simple per-character text features and the units whose activity follows them, after Karpathy,
// Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks": a unit that tracks
// "inside a quotation" or "position in the line" shows it by correlating with the feature.
//
// A feature is a number per character of the text, computed from the characters up to and
// including it (what a left-to-right model has seen at that step). Pearson's r between a unit's
// value at each character and a feature ranks the units; a constant feature or unit has no r
// (NaN, never listed).

export interface TextFeature {
  name: string;
  doc: string;
  values: Float64Array; // [n]
}

const isWordChar = (ch: string) => /[\p{L}\p{N}]/u.test(ch) || ch === "'";

export function textFeatures(chars: readonly string[]): TextFeature[] {
  const n = chars.length;
  const f = (name: string, doc: string, fn: (t: number) => number): TextFeature => {
    const values = new Float64Array(n);
    for (let t = 0; t < n; t++) values[t] = fn(t);
    return { name, doc, values };
  };
  // Inside quotes: after an opening " and up to (not including) its closing one.
  const quote = new Float64Array(n);
  let open = false;
  for (let t = 0; t < n; t++) {
    if (chars[t] === '"') { quote[t] = open ? 0 : 1; open = !open; } else quote[t] = open ? 1 : 0;
  }
  const col = new Float64Array(n);
  for (let t = 0, c = 0; t < n; t++) { col[t] = c; c = chars[t] === '\n' ? 0 : c + 1; }
  return [
    { name: 'in quotes', doc: 'between a " and its closing " (1) or not (0)', values: quote },
    { name: 'position in line', doc: 'characters since the last line break', values: col },
    f('in a word', 'a letter, digit or apostrophe (1) or not (0)', (t) => (isWordChar(chars[t]) ? 1 : 0)),
    f('space', 'a blank or line break (1) or not (0)', (t) => (/\s/u.test(chars[t]) ? 1 : 0)),
    f('position in word', 'characters since the word began (0 outside words)', (() => {
      const v = new Float64Array(n);
      for (let t = 0, k = 0; t < n; t++) { k = isWordChar(chars[t]) ? k + 1 : 0; v[t] = k; }
      return (t: number) => v[t];
    })()),
  ];
}

/** Pearson's correlation of a[off + t*stride] (t < n) with b; NaN when either is constant. */
export function pearson(a: ArrayLike<number>, off: number, stride: number, b: ArrayLike<number>, n: number): number {
  let sa = 0, sb = 0;
  for (let t = 0; t < n; t++) { sa += a[off + t * stride]; sb += b[t]; }
  const ma = sa / n, mb = sb / n;
  let cov = 0, va = 0, vb = 0;
  for (let t = 0; t < n; t++) {
    const x = a[off + t * stride] - ma, y = b[t] - mb;
    cov += x * y; va += x * x; vb += y * y;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : NaN;
}

/**
 * Every unit's r with every feature: values [n, U] row-major (unit u of character t at t*U + u).
 * Returns r[feature][unit].
 */
export function unitCorrelations(values: ArrayLike<number>, n: number, U: number, features: readonly TextFeature[]): Float64Array[] {
  return features.map((f) => {
    const r = new Float64Array(U);
    for (let u = 0; u < U; u++) r[u] = pearson(values, u, U, f.values, n);
    return r;
  });
}

/** The k units with the largest |r| (NaN left out), best first. */
export function topUnits(r: Float64Array, k: number): { unit: number; r: number }[] {
  return Array.from(r, (v, unit) => ({ unit, r: v })).filter((e) => Number.isFinite(e.r)).sort((a, b) => Math.abs(b.r) - Math.abs(a.r)).slice(0, k);
}
