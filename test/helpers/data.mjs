// Small seeded data sets for the training tests.
import { Rng } from 'cellstate';

/** Noisy sine waves of random phase, frequency and length 16..32: predict the next clean value. */
export function sineData(n, seed) {
  const rng = new Rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const T = 16 + Math.floor(rng.next() * 17), ph = rng.next() * 2 * Math.PI, f = 0.2 + 0.2 * rng.next();
    const x = [], y = [];
    for (let t = 0; t < T; t++) {
      x.push([Math.sin(ph + f * t) + 0.05 * rng.uniform(-1, 1)]);
      y.push(Math.sin(ph + f * (t + 1)));
    }
    out.push({ x, y });
  }
  return out;
}

export const TEXT = 'the quick brown fox jumps over the lazy dog. a stitch in time saves nine. to be or not to be, that is the question. ';

/** Next-character windows over TEXT; also the vocabulary size and the unigram entropy (nats). */
export function charData(L = 32, stride = 4) {
  const chars = [...new Set(TEXT)].sort();
  const ids = [...TEXT].map((c) => chars.indexOf(c));
  const counts = new Array(chars.length).fill(0);
  ids.forEach((i) => counts[i]++);
  const entropy = -counts.reduce((s, c) => s + (c / ids.length) * Math.log(c / ids.length), 0);
  const data = [];
  for (let s = 0; s + L + 1 <= ids.length; s += stride) data.push({ x: ids.slice(s, s + L), y: ids.slice(s + 1, s + L + 1) });
  return { data, vocab: chars.length, entropy };
}
