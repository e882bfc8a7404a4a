// Generation from a character model, one character at a time through the streaming path:
// embedding lookup -> LSTM.step (state carried from the previous character) -> dense head ->
// softmax at a temperature -> a draw from a seeded generator. The same seed, prime and model give
// the same text on every run.

import { Rng, Tensor, type StepState } from 'cellstate';
import type { CharLM } from './model';

export interface SampleOptions {
  prime?: string; // text fed first; generation continues it (default: a line break if known)
  length: number; // characters to generate
  temperature: number; // > 0; 0 picks the most likely character every time
  seed: number;
}

/** Index drawn from softmax(logits / temperature); argmax at temperature 0. */
export function drawIndex(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
  if (temperature === 0) return best;
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let j = 0; j < logits.length; j++) z += (p[j] = Math.exp((logits[j] - logits[best]) / temperature));
  let u = rng.next() * z;
  for (let j = 0; j < p.length; j++) {
    u -= p[j];
    if (u < 0) return j;
  }
  return best; // rounding left u a hair above 0
}

/** Yields `length` generated characters (the prime itself is not repeated). */
export function* generate(model: CharLM, options: SampleOptions): Generator<string> {
  const rng = new Rng(options.seed);
  const prime = Array.from(options.prime ?? '');
  if (prime.length === 0) prime.push(model.idOf('\n') !== undefined ? '\n' : model.vocab[0]);
  let state: StepState | null = null;
  let logits: ArrayLike<number> = [];
  const feed = (id: number) => {
    const e = model.embedding.forward(new Tensor(Float32Array.of(id), [1])).output; // [1, E]
    const r = model.lstm.step(e, state);
    state = r.state;
    logits = model.head.forward(r.output).output.data; // [1, V]
  };
  for (const ch of prime) {
    const id = model.idOf(ch);
    if (id === undefined) throw new RangeError(`generate: prime: character ${JSON.stringify(ch)} is not in the model's vocabulary`);
    feed(id);
  }
  for (let i = 0; i < options.length; i++) {
    const id = drawIndex(logits, options.temperature, rng);
    yield model.vocab[id];
    feed(id);
  }
}
