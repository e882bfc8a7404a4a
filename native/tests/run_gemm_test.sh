#!/usr/bin/env bash
# run_gemm_test.sh - builds native/tests/gemm_test.cc and runs it per ISA tier.
#
# Per-file ISA flags exactly as the production build must use them: only the
# *_avx2.cc / *_avx512.cc kernel files get -m flags, everything else
# (including *_scalar.cc) is compiled for the baseline ISA. Runs the test with CELLSTATE_MAX_ISA=scalar,
# avx2, avx512 (tiers the CPU lacks are capped by detection and reported),
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
AVX2_FLAGS=(-mavx2 -mfma)
AVX512_FLAGS=(-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma)
# The dispatch table links every kernel family's per-ISA files, so all
# native/**/*_{scalar,avx2,avx512}.cc are built (flags chosen by suffix), plus
# the GEMM core and the test itself.
SRCS=(cpu/cpu_features.cc cpu/dispatch.cc threadpool.cc gemm/pack.cc gemm/gemm.cc util/scratch.cc tests/gemm_test.cc)
while IFS= read -r f; do SRCS+=("${f#"$NATIVE"/}"); done < <(
  find "$NATIVE" -path "$NATIVE/tests" -prune -o -type f \( -name '*_scalar.cc' -o -name '*_avx2.cc' -o -name '*_avx512.cc' \) -print | sort)

# build NAME "extra flags..."  -> $OUT/NAME/gemm_test (objects compiled in parallel)
build() {
  local name="$1"; shift
  local dir="$OUT/$name"
  mkdir -p "$dir"
  local objs=() pids=()
  for src in "${SRCS[@]}"; do
    local obj="$dir/$(echo "$src" | tr / _).o"
    local isa=()
    case "$src" in
      *_avx512.cc) isa=("${AVX512_FLAGS[@]}") ;;
      *_avx2.cc) isa=("${AVX2_FLAGS[@]}") ;;
    esac
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
for isa in scalar avx2 avx512; do
  run "release" "$isa" "$OUT/release/gemm_test" $PERF_ARG
done
run "release bad env" "bogus" "$OUT/release/gemm_test" --no-perf

echo "--- building asan+ubsan (-O1)"
build asan -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
for isa in scalar avx2 avx512; do
  run "asan+ubsan" "$isa" "$OUT/asan/gemm_test" --quick --no-perf
done

echo "--- building tsan (-O1): thread pool protocol + threaded GEMM"
build tsan -O1 -g -fsanitize=thread
run "tsan" "scalar" "$OUT/tsan/gemm_test" --quick --no-perf  # scalar: TSan does not see 32/64-byte vector accesses

echo "--- building scratch-failure fallback (-O2)"
build fallback -O2 -DCELLSTATE_TEST_FORCE_SCRATCH_FAILURE
run "fallback" "avx512" "$OUT/fallback/gemm_test" --quick --no-perf

if [[ $status -eq 0 ]]; then echo "ALL GEMM TESTS PASSED"; else echo "SOME GEMM TESTS FAILED"; fi
exit $status
