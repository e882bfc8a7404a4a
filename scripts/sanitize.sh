#!/usr/bin/env bash
# sanitize.sh - builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (every UB
# report fatal) into its own folder and runs the native-relevant mocha files against it.
#
#   scripts/sanitize.sh            # build into $OUT (default /tmp/cellstate-asan) and test
#   OUT=dir scripts/sanitize.sh
#
# ASan in a Node addon: node itself is not instrumented, so the ASan runtime is preloaded
# (LD_PRELOAD) and leak detection is off (node's own allocations at exit are not ours; leaks are
# measured by scripts/soak.mjs and valgrind, see scripts/valgrind.sh). The addon is compiled from
# the same source list with the same per-file ISA flags as binding.gyp (scripts/native-sources.js
# --units: this machine's tiers from native/isa.json), by g++ (or $CXX), at most 2 jobs at once. The tests load it through CELLSTATE_ADDON_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/cellstate-asan}"
CXX="${CXX:-g++}"
mkdir -p "$OUT"
NODE_INC="$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")"
[[ -f "$NODE_INC/node_api.h" ]] || NODE_INC="$(npm config get nodedir 2>/dev/null)/include/node"
NAPI_INC="$(node -p "require('node-addon-api').include_dir")"
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
FLAGS=(-std=c++17 -O1 -g -fPIC -fvisibility=hidden -fexceptions -pthread -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -I"$NODE_INC" -I"$NAPI_INC" "${SAN[@]}")

cmds=() objs=()
while IFS=$'\t' read -r src isa; do
  obj="$OUT/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  cmds+=("$CXX ${FLAGS[*]} $isa -c $src -o $obj")
done < <(node scripts/native-sources.js --units)
echo "--- building the addon with ASan+UBSan into $OUT"
printf '%s\0' "${cmds[@]}" | xargs -0 -P 2 -I{} sh -c '{}'
"$CXX" -shared "${SAN[@]}" -pthread "${objs[@]}" -o "$OUT/cellstate.node"

ASAN_LIB="$("$CXX" -print-file-name=libasan.so)"
export LD_PRELOAD="$ASAN_LIB" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export CELLSTATE_ADDON_PATH="$OUT/cellstate.node" CELLSTATE_REQUIRE_NATIVE=1 CELLSTATE_QUIET=1
echo "--- native-relevant tests against the sanitized addon (not the soak: ASan quarantines freed memory, so RSS grows by design)"
node node_modules/mocha/bin/mocha.js --no-config --timeout 120000 \
  test/native.test.mjs test/fuzz.test.mjs test/limits.test.mjs test/concurrency.test.mjs test/family.test.mjs test/gradcheck.test.mjs \
  test/optim.test.mjs test/errors.test.mjs test/reference.test.mjs test/hostile.test.mjs test/onnx-import.test.mjs test/async-inputs.test.mjs
echo "SANITIZED ADDON: ALL TESTS PASSED"
