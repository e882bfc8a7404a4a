#!/usr/bin/env bash
# Builds wasm/cellstate.wasm: the same C++ kernels as the addon (cells, LSTM, GEMM, the scalar tier
# and the wasm_simd128 tier of native/isa.json) compiled for wasm32-wasi with Debian's clang + lld
# + wasi-libc + libc++ (apt-get install clang lld wasi-libc libc++-dev-wasm32 libc++abi-dev-wasm32
# libclang-rt-dev-wasm32), behind the C ABI of native/wasm/ (lib/backend/wasm.ts loads it).
#
# Chosen over emscripten: Debian's emscripten pins its own LLVM and a JS runtime glue we do not
# want in the browser build; a wasi "reactor" module with no imports but a few wasi stubs is
# all the kernels need. Sources: every common .cc of the addon except the N-API layer, the
# thread pool and the glibc shims (nothing here has threads), plus native/wasm/ and the
# wasm32 tiers' files (scripts/native-sources.js --units wasm32), each tier with its flags.
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
objs=""
node scripts/native-sources.js --units wasm32 | while IFS="$(printf '\t')" read -r src flags; do
  case "$src" in native/napi/*|native/compat/*|native/threadpool.cc|native/optim/optim_napi.cc) continue ;; esac
  echo "$src	$flags"
done > "$OBJ/units.txt"
for f in native/wasm/*.cc; do printf '%s\t\n' "$f" >> "$OBJ/units.txt"; done
while IFS="$(printf '\t')" read -r src flags; do
  o="$OBJ/$(echo "$src" | tr '/' '_' | sed 's/\.cc$/.o/')"
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS $flags -c "$src" -o "$o" &
  objs="$objs $o"
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
