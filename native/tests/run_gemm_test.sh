#!/usr/bin/env bash
# run_gemm_test.sh - builds native/tests/gemm_test.cc and runs it per ISA tier.
#
# Per-file ISA flags exactly as the production build must use them (the one ISA table,
# native/isa.json, through scripts/native-sources.js --units): only the per-ISA kernel files get
# -m flags, everything else (including *_scalar.cc) is compiled for the baseline ISA. Runs the test
# at every tier of this architecture (--tiers; tiers the CPU lacks are capped by detection and reported),
# once with an invalid value (must warn and fall back to detection), then a
# -fsanitize=address,undefined build (--quick, all tiers), a -fsanitize=thread
# build and a build whose scratch allocation always fails (fallback path). Outputs go to $OUT
# (default /tmp/cellstate-gemm-test), never into the repository.
# Usage: native/tests/run_gemm_test.sh [--no-perf]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NATIVE="$(cd "$HERE/.." && pwd)"
OUT="${OUT:-/tmp/cellstate-gemm-test}"
CXX="${CXX:-g++}"
PERF_ARG=""
[[ "${1:-}" == "--no-perf" ]] && PERF_ARG="--no-perf"
mkdir -p "$OUT"

BASE_FLAGS=(-std=c++17 -Wall -Wextra -Werror -pthread -fvisibility=hidden)
TIERS=($(cd "$NATIVE/.." && node scripts/native-sources.js --tiers))
# The dispatch table links every kernel family's per-ISA files, so all
# native/**/*_<tier>.cc of this machine's tiers are built, plus the GEMM core and the test itself.
# SRCS[i] is compiled with ISA_FLAGS[i].
SRCS=(cpu/cpu_features.cc cpu/dispatch.cc threadpool.cc gemm/pack.cc gemm/gemm.cc gemm/qpack.cc gemm/qgemm.cc
      util/scratch.cc tests/gemm_test.cc tests/qgemm_test.cc)
ISA_FLAGS=("" "" "" "" "" "" "" "" "" "")
per_isa="_($(IFS='|'; echo "${TIERS[*]}"))\.cc\b"
while IFS=$'\t' read -r f flags; do SRCS+=("${f#native/}"); ISA_FLAGS+=("$flags"); done < <(
  cd "$NATIVE/.." && node scripts/native-sources.js --units | grep -E "$per_isa")

# build NAME "extra flags..."  -> $OUT/NAME/gemm_test (objects compiled in parallel)
build() {
  local name="$1"; shift
  local dir="$OUT/$name"
  mkdir -p "$dir"
  local objs=() pids=()
  for i in "${!SRCS[@]}"; do
    local src="${SRCS[$i]}"
    local obj="$dir/$(echo "$src" | tr / _).o"
    local isa=(${ISA_FLAGS[$i]})
    "$CXX" "${BASE_FLAGS[@]}" "$@" "${isa[@]}" -c "$NATIVE/$src" -o "$obj" &
    pids+=($!)
    objs+=("$obj")
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  "$CXX" "${BASE_FLAGS[@]}" "$@" "${objs[@]}" -o "$dir/gemm_test"
}

status=0
run() {  # run LABEL ENV_VALUE BINARY ARGS...
  local label="$1" isa="$2"; shift 2
  echo "=== $label (CELLSTATE_MAX_ISA=$isa)"
  if ! CELLSTATE_MAX_ISA="$isa" "$@"; then
    echo "=== $label: FAILED"
    status=1
  fi
}

echo "--- building release (-O3)"
build release -O3
for isa in "${TIERS[@]}"; do
  run "release" "$isa" "$OUT/release/gemm_test" $PERF_ARG
done
# avx512_bf16 times its vdpbf16ps kernels against its base's widening ones and keeps the faster
# (choose_bf16_avx512_bf16): both, by name (where the CPU has the tier).
for k in vdpbf16ps widen; do
  CELLSTATE_BF16_KERNEL=$k run "release, CELLSTATE_BF16_KERNEL=$k" "avx512_bf16" "$OUT/release/gemm_test" --no-perf
done
run "release bad env" "bogus" "$OUT/release/gemm_test" --no-perf

echo "--- building asan+ubsan (-O1)"
build asan -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
for isa in "${TIERS[@]}"; do
  run "asan+ubsan" "$isa" "$OUT/asan/gemm_test" --quick --no-perf
done
for k in vdpbf16ps widen; do
  CELLSTATE_BF16_KERNEL=$k run "asan+ubsan, CELLSTATE_BF16_KERNEL=$k" "avx512_bf16" "$OUT/asan/gemm_test" --quick --no-perf
done

echo "--- building tsan (-O1): thread pool protocol + threaded GEMM"
build tsan -O1 -g -fsanitize=thread
run "tsan" "scalar" "$OUT/tsan/gemm_test" --quick --no-perf  # scalar: TSan does not see 32/64-byte vector accesses

echo "--- building scratch-failure fallback (-O2)"
build fallback -O2 -DCELLSTATE_TEST_FORCE_SCRATCH_FAILURE
run "fallback" "${TIERS[-1]}" "$OUT/fallback/gemm_test" --quick --no-perf

if [[ $status -eq 0 ]]; then echo "ALL GEMM TESTS PASSED"; else echo "SOME GEMM TESTS FAILED"; fi
exit $status
