#!/usr/bin/env bash
# valgrind.sh - memcheck on a short native run (a few hundred forward / training / async calls of
# every cell kind, through the public API), reporting only errors with a frame in cellstate.node:
# node and V8 themselves are noisy under valgrind (JIT code, custom allocators), so their reports
# are not ours to judge. Exit 1 if any error involves the addon.
#   scripts/valgrind.sh [N=200]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
cat > "$LOG.js" <<JS
const c = require('$(pwd)/dist');
c.setThreads(2);
const rng = new c.Rng(1);
const rand = (s) => new c.Tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), s);
const models = [
  new c.LSTM({ inputSize: 5, hiddenSize: 19, backend: 'native', seed: 1 }),
  new c.LSTM({ inputSize: 5, hiddenSize: 9, projSize: 4, peephole: true, clip: 2, backend: 'native', seed: 2 }),
  new c.GRU({ inputSize: 5, hiddenSize: 7, bidirectional: true, numLayers: 2, backend: 'native', seed: 3 }),
  new c.GRU({ inputSize: 5, hiddenSize: 6, linearBeforeReset: false, backend: 'native', seed: 4 }),
  new c.RNN({ inputSize: 5, hiddenSize: 8, nonlinearity: 'relu', reverse: true, backend: 'native', seed: 5 }),
];
(async () => {
  for (let i = 0; i < $N; i++) {
    const m = models[i % models.length];
    const x = rand([3 + (i % 4), 2, 5]);
    const lengths = [x.shape[0], 1 + (i % x.shape[0])];
    const f = m.forwardTrain(x, { lengths });
    m.backward(f.cache, { dOutput: f.output });
    await m.forwardAsync(x);
    try { m.forward(rand([2, 2, 4])); } catch (e) { if (!(e instanceof RangeError)) throw e; }
  }
  console.log('valgrind run: ok');
})();
JS
CELLSTATE_REQUIRE_NATIVE=1 CELLSTATE_QUIET=1 valgrind --tool=memcheck --error-limit=no --num-callers=30 --track-origins=no \
  --leak-check=no --log-file="$LOG" node "$LOG.js"
rm -f "$LOG.js"
total=$(grep -Eo 'ERROR SUMMARY: [0-9]+' "$LOG" | tail -1 | awk '{print $3}')
# Error blocks (separated by blank "==pid== " lines) that mention the addon.
ours=$(awk '/^==[0-9]+== $/ { if (blk ~ /cellstate\.node|cellstate::/) n++; blk = ""; next } { blk = blk "\n" $0 } END { print n + 0 }' "$LOG")
echo "valgrind memcheck: $total errors in total (node and V8 included), $ours involving cellstate.node"
if [[ "$ours" -gt 0 ]]; then
  awk '/^==[0-9]+== $/ { if (blk ~ /cellstate\.node|cellstate::/) print blk; blk = ""; next } { blk = blk "\n" $0 }' "$LOG" | head -80
  exit 1
fi
