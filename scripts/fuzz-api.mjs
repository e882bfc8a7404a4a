#!/usr/bin/env node
// Fuzz the public API (test/helpers/fuzz-api.mjs) for a time budget, on every backend available:
//   node scripts/fuzz-api.mjs [--seconds 60] [--seed 1]
// Prints the inputs tried per target and every failure (with its seed and round, to replay), and
// exits 1 on any failure. Seeds are consecutive from --seed, one per 10 s slice.
import { availableBackends } from 'cellstate';
import { fuzzApi } from '../test/helpers/fuzz-api.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const seconds = arg('seconds', 30), seed0 = arg('seed', 1);
const backends = availableBackends();
const total = { tried: 0, ok: 0, threw: {}, failures: [], perTarget: {} };
const end = Date.now() + seconds * 1000;
for (let seed = seed0; Date.now() < end; seed++) {
  const s = await fuzzApi({ seed, ms: Math.min(10000, end - Date.now()), backends, onFailure: (f) => console.error(JSON.stringify(f)) });
  total.tried += s.tried; total.ok += s.ok; total.failures.push(...s.failures);
  for (const [k, v] of Object.entries(s.threw)) total.threw[k] = (total.threw[k] ?? 0) + v;
  for (const [k, v] of Object.entries(s.perTarget)) total.perTarget[k] = (total.perTarget[k] ?? 0) + v;
}
console.log(JSON.stringify({ backends, seconds, inputs: total.tried, succeeded: total.ok, threw: total.threw, failures: total.failures.length, perTarget: total.perTarget }));
process.exit(total.failures.length ? 1 : 0);
