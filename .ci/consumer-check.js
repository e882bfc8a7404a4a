// Run from a scratch project that installed the packed tarball (.ci/pack-install.sh), as a user's
// code would: require('cellstate') must give the native backend (from the prebuilt binary, not a
// compile), and native forwards and backwards must match ts on the same weights.
//   node consumer-check.js EXPECTED_ADDON_SUFFIX   e.g. prebuilds/linux-x64/cellstate.node
'use strict';
const assert = require('node:assert');
const c = require('cellstate');
const path = require('node:path');
// Not a public entry point (package exports): reached by file path, to see which file loaded.
const { loadNative } = require(path.join(path.dirname(require.resolve('cellstate')), 'backend', 'native.js'));

const want = process.argv[2];
const installed = path.join(require('node:fs').realpathSync(process.cwd()), 'node_modules', 'cellstate');
assert.ok(require.resolve('cellstate').startsWith(installed + path.sep), `cellstate resolved to ${require.resolve('cellstate')}, not the installed ${installed}`);
const b = c.backend();
assert.strictEqual(b.name, 'native', `backend() is ${JSON.stringify(b)}; causes: ${loadNative().causes.join('; ')}`);
assert.strictEqual(loadNative().file, path.join(installed, want), 'the addon the library loaded');

const rng = new c.Rng(5);
const rand = (shape) => c.tensor(Float32Array.from({ length: shape.reduce((a, v) => a * v, 1) }, () => rng.uniform(-1, 1)), shape);
function maxRel(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  return m;
}
let worst = 0;
for (const [Cls, opts] of [[c.LSTM, { numLayers: 2, bidirectional: true }], [c.LSTM, { hiddenSize: 33 }], [c.GRU, {}], [c.RNN, {}]]) {
  const o = { inputSize: 7, hiddenSize: 17, seed: 3, ...opts };
  const n = new Cls(o), t = new Cls({ ...o, backend: 'ts' });
  const x = rand([9, 3, 7]);
  const lengths = [9, 4, 1];
  const fn = n.forwardTrain(x, { lengths }), ft = t.forwardTrain(x, { lengths });
  worst = Math.max(worst, maxRel(fn.output.data, ft.output.data), maxRel(fn.hN.data, ft.hN.data));
  const gn = n.backward(fn.cache, { dOutput: fn.output }), gt = t.backward(ft.cache, { dOutput: ft.output });
  worst = Math.max(worst, maxRel(gn.dX.data, gt.dX.data));
  for (const k of Object.keys(gt.grads)) worst = Math.max(worst, maxRel(gn.grads[k].data, gt.grads[k].data));
}
assert.ok(worst < 1e-3, `native vs ts: worst relative difference ${worst}`);
console.log(`consumer check: backend ${JSON.stringify(b)} from ${want}; native vs ts forward+backward worst rel. diff ${worst.toExponential(2)}`);
