#!/usr/bin/env bash
# Builds wasm/cellstate.wasm: the same C++ kernels as the addon (cells, LSTM, GEMM, the scalar tier
# and the wasm_simd128 tier of native/isa.json) compiled for wasm32-wasi with Debian's clang + lld
# + wasi-libc + libc++ (Debian 12: apt-get install clang lld wasi-libc libc++-14-dev-wasm32
# libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32), behind the C ABI of native/wasm/
# (lib/backend/wasm.ts loads it).
#
# Chosen over emscripten: emscripten brings its own JS runtime glue (which we would have to load in
# Node and in the browser) and its own LLVM; a wasi "reactor" module whose only imports are six
# wasi functions (environment and stdio, stubbed in lib/backend/wasm.ts) is all the kernels need,
# and Debian's stock clang builds it. No C++ exceptions (clang 14 has no wasm EH with wasi-libc:
# a throw traps, native/wasm/wasm_abi.cc), no threads.
#
# Sources: the wasm32 units of scripts/native-sources.js (the common files and the wasm32 tiers'
# files, each tier with its flags from native/isa.json) minus the N-API layer, the thread pool
# and the glibc shims, plus native/wasm/ (the C ABI, the runtime hooks, the one-thread pool).
# Compiled with CELLSTATE_WASM defined (native/threadpool.h and util/scratch.cc read it).
#   CXX=clang++-16 scripts/build-wasm.sh    another clang
#   OUT=/tmp/x.wasm scripts/build-wasm.sh    another output file
set -eu
cd "$(dirname "$0")/.."
CXX=${CXX:-clang++}
OUT=${OUT:-wasm/cellstate.wasm}
OBJ=${OBJ:-build/wasm-obj}
mkdir -p "$OBJ" "$(dirname "$OUT")"
CXXFLAGS="--target=wasm32-wasi -std=c++17 -O3 -fvisibility=hidden -DNDEBUG -DCELLSTATE_WASM=1 \
  -Wall -Wno-unused-function"
node scripts/native-sources.js --units wasm32 | while IFS="$(printf '\t')" read -r src flags; do
  case "$src" in native/napi/*|native/compat/*|native/threadpool.cc|native/optim/optim_napi.cc) continue ;; esac
  echo "$src	$flags"
done > "$OBJ/units.txt"
for f in native/wasm/*.cc; do printf '%s\t\n' "$f" >> "$OBJ/units.txt"; done
while IFS="$(printf '\t')" read -r src flags; do
  o="$OBJ/$(echo "$src" | tr '/' '_' | sed 's/\.cc$/.o/')"
  rm -f "$o"  # a failed compile leaves no object, so the link fails (the last `wait` reports no status)
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS $flags -c "$src" -o "$o" &
  # two compilers at a time (shared machine)
  if [ "$(jobs -p | wc -l)" -ge 2 ]; then wait -n; fi
done < "$OBJ/units.txt"
wait
objs=$(sed 's/\t.*//' "$OBJ/units.txt" | tr '/' '_' | sed "s|^|$OBJ/|; s/\.cc$/.o/")
# shellcheck disable=SC2086
$CXX --target=wasm32-wasi -O3 -mexec-model=reactor \
  -Wl,--strip-all -Wl,-z,stack-size=1048576 -Wl,--initial-memory=16777216 -Wl,--max-memory=4294967296 \
  $objs -o "$OUT"
echo "$OUT: $(wc -c < "$OUT") bytes"
