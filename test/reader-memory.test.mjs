// Memory per input byte of the file readers (issue #18, items 4/6): the worst hostile case of each
// reader (scripts/reader-memory/files.mjs), at a modest size, in a fresh process, must grow its
// peak RSS by at most the factor docs/security.md states, plus a fixed allowance for the runtime.
// A TF.js manifest listing one shard path many times used to concatenate the shard once per
// listing (1.5 GB from a 1 MB input at full size).
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnNodeFresh } from './helpers/fresh-node.mjs';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'reader-memory', 'files.mjs');
const FACTOR = 20; // bytes of RSS per input byte: docs/security.md, "Limits"
const FIXED = 32 * 2 ** 20; // the runtime's own growth (code, JIT, first-use allocations)

describe('file readers: memory per input byte', function () {
  this.timeout(60000);
  const cases = [
    ['safetensors', 'many zero-size tensors, 16 MB header', 0.0625],
    ['tfjs', 'many zero-size weights, 16 MB manifest', 0.0625],
    ['tfjs', 'repeated shard path: 1 MiB shard listed 1,500 times', 0.25],
    ['checkpoint', 'many zero-size model tensors, 16 MB header', 0.0625],
  ];
  for (const [reader, name, scale] of cases) {
    it(`${reader}: ${name} (scaled by ${scale}): peak RSS growth <= ${FACTOR} x input + ${FIXED / 2 ** 20} MB`, function () {
      const r = spawnNodeFresh(['--expose-gc', script, name, String(scale)]);
      expect(r.status, r.stderr).to.equal(0);
      const m = JSON.parse(r.stdout.trim().split('\n').pop());
      // A high-water mark from before the case (e.g. inherited from the parent) would hide its growth.
      expect(m.peakBefore, 'MB of peak RSS above the RSS before the case').to.be.below(64 * 2 ** 20);
      expect(m.bytes).to.be.above(100_000);
      expect(m.rssGrowth, `${(m.rssGrowth / 2 ** 20).toFixed(1)} MB for ${(m.bytes / 2 ** 20).toFixed(2)} MB (${m.outcome})`).to.be.at.most(FACTOR * m.bytes + FIXED);
    });
  }
});
