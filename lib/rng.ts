// Seeded pseudo-random numbers: weight initialisation, dropout masks and the Trainer's shuffling.
//
// xoshiro128** (Blackman & Vigna) seeded through splitmix32: small, fast in 32-bit integer JS
// arithmetic, and its whole state is four uint32 words, so a checkpoint can save and restore it.
// Not cryptographic. The same seed gives the same stream on every platform and backend.

import { processId } from './host';

/** An Rng's whole state: four uint32 words (saved in checkpoints). */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seeded pseudo-random numbers, xoshiro128** seeded through splitmix32: the same seed gives the
 * same stream on every platform and backend. Not cryptographic.
 */
export class Rng {
  private s: Uint32Array;

  /** `seed`: any safe integer; seeds differing in high bits give different streams. */
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    const sm = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2f));
    this.s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // all-zero state is a fixed point
  }

  /** A generator that continues from a saved state(). */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.s.set(state);
    return r;
  }

  /** A copy of the current state. */
  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  next(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seed for models built without one: varies per process and per call. */
let unseededCounter = 0;
export function freshSeed(): number {
  unseededCounter = (unseededCounter + 1) >>> 0;
  return ((Date.now() >>> 0) ^ Math.imul(processId(), 0x9e3779b1) ^ Math.imul(unseededCounter, 0x85ebca6b)) >>> 0;
}
