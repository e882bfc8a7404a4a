#!/usr/bin/env bash
# run_fuzz.sh - builds native/tests/fuzz_cell.cc with AddressSanitizer + UndefinedBehaviorSanitizer
# (UB fatal) and runs it for a time budget on every ISA tier, then once more built with
# ThreadSanitizer (scalar tier).
#
#   native/tests/run_fuzz.sh [SECONDS_PER_TIER=20]
#
# With clang (apt: clang libclang-rt-14-dev) it is a coverage-guided libFuzzer binary whose corpus
# persists in $OUT/corpus (rerun to continue); crashes are written to $OUT/crash-* with the input
# that reproduces them (./fuzz_cell $OUT/crash-...). Without clang it falls back to g++ and the
# harness's own seeded driver (CELLSTATE_FUZZ_STANDALONE; FUZZ_MODE=standalone forces it). Per-file ISA flags exactly as the addon
# (only the per-ISA files get -m flags). Outputs go to $OUT (default /tmp/cellstate-fuzz),
# never into the repository. Compiles with at most 2 jobs. Sources, per-file flags and tiers come from
# the one ISA table (native/isa.json, through scripts/native-sources.js --units / --tiers).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NATIVE="$(cd "$HERE/.." && pwd)"
OUT="${OUT:-/tmp/cellstate-fuzz}"
SECONDS_PER_TIER="${1:-20}"
mkdir -p "$OUT/corpus"

if [[ "${FUZZ_MODE:-}" != standalone ]] && command -v clang++ >/dev/null && echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long){return 0;}' \
     | clang++ -x c++ -fsanitize=fuzzer - -o "$OUT/probe" 2>/dev/null; then
  CXX=clang++; MODE=libfuzzer; FUZZ_FLAGS=(-fsanitize=fuzzer,address,undefined)
else
  CXX="${CXX:-g++}"; MODE=standalone; FUZZ_FLAGS=(-fsanitize=address,undefined -DCELLSTATE_FUZZ_STANDALONE)
fi
BASE=(-std=c++17 -O1 -g -fno-omit-frame-pointer -pthread -fno-sanitize-recover=all "${FUZZ_FLAGS[@]}")

# SRCS[i] is compiled with ISA_FLAGS[i] (this machine's tiers; only the per-ISA files have any).
SRCS=(tests/fuzz_cell.cc) ISA_FLAGS=("")
while IFS=$'\t' read -r f flags; do SRCS+=("${f#native/}"); ISA_FLAGS+=("$flags"); done < <(
  cd "$NATIVE/.." && node scripts/native-sources.js --units | grep -v '^native/napi/' | grep -v '_napi.cc')
TIERS=($(cd "$NATIVE/.." && node scripts/native-sources.js --tiers))

echo "--- building fuzz_cell ($MODE, $CXX)"
objs=() cmds=()
for i in "${!SRCS[@]}"; do
  src="${SRCS[$i]}"
  obj="$OUT/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  # fuzz_cell.cc alone gets the fuzzer instrumentation; libraries only the sanitizers.
  flags=("${BASE[@]}")
  [[ "$src" != tests/fuzz_cell.cc && $MODE == libfuzzer ]] && flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -pthread -fno-sanitize-recover=all -fsanitize=fuzzer-no-link,address,undefined)
  cmds+=("$CXX ${flags[*]} ${ISA_FLAGS[$i]} -c $NATIVE/$src -o $obj")
done
printf '%s\0' "${cmds[@]}" | xargs -0 -P 2 -I{} sh -c '{}'
"$CXX" "${BASE[@]}" "${objs[@]}" -o "$OUT/fuzz_cell"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
# avx512_bf16 keeps whichever of vdpbf16ps and its base's widening kernels runs faster here: the
# one it does not pick runs as a tier of its own (CELLSTATE_BF16_KERNEL; the other spelling of the
# tier name is for the label only).
for isa in "${TIERS[@]}" $( [[ " ${TIERS[*]} " == *" avx512_bf16 "* ]] && echo avx512_bf16+vdpbf16ps avx512_bf16+widen ); do
  if [[ $isa == *+* ]]; then export CELLSTATE_BF16_KERNEL=${isa#*+}; isa=${isa%+*}; else unset CELLSTATE_BF16_KERNEL; fi
  echo "=== fuzz_cell, CELLSTATE_MAX_ISA=$isa${CELLSTATE_BF16_KERNEL:+ CELLSTATE_BF16_KERNEL=$CELLSTATE_BF16_KERNEL}, ${SECONDS_PER_TIER}s"
  if [[ $MODE == libfuzzer ]]; then
    CELLSTATE_MAX_ISA=$isa "$OUT/fuzz_cell" -max_total_time="$SECONDS_PER_TIER" -max_len=128 -print_final_stats=1 \
      -artifact_prefix="$OUT/" "$OUT/corpus" 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|violated|runtime error|Done' || status=1
    [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  else
    CELLSTATE_MAX_ISA=$isa "$OUT/fuzz_cell" "$SECONDS_PER_TIER" "$RANDOM" || status=1
  fi
done
unset CELLSTATE_BF16_KERNEL
# The same harness under ThreadSanitizer (seeded driver, g++ or clang): the threaded paths - the
# fused LSTM's teams with their per-step barriers, the pool's jobs - must be free of data races.
# Run on the scalar tier: ThreadSanitizer does not see 32- and 64-byte vector accesses, so a race
# between AVX kernels would go unreported (checked: removing a barrier is caught only here).
echo "--- building fuzz_cell (ThreadSanitizer, standalone)"
mkdir -p "$OUT/tsan"
TSAN=(-std=c++17 -O1 -g -pthread -fsanitize=thread -DCELLSTATE_FUZZ_STANDALONE)
objs=() cmds=()
for i in "${!SRCS[@]}"; do
  src="${SRCS[$i]}"
  obj="$OUT/tsan/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  cmds+=("${CXX_TSAN:-g++} ${TSAN[*]} ${ISA_FLAGS[$i]} -c $NATIVE/$src -o $obj")
done
printf '%s\0' "${cmds[@]}" | xargs -0 -P 2 -I{} sh -c '{}'
"${CXX_TSAN:-g++}" "${TSAN[@]}" "${objs[@]}" -o "$OUT/tsan/fuzz_cell"
echo "=== fuzz_cell under ThreadSanitizer, CELLSTATE_MAX_ISA=scalar, ${SECONDS_PER_TIER}s"
CELLSTATE_MAX_ISA=scalar TSAN_OPTIONS="halt_on_error=1" "$OUT/tsan/fuzz_cell" "$SECONDS_PER_TIER" "$RANDOM" || status=1

if [[ $status -eq 0 ]]; then echo "FUZZ_CELL PASSED"; else echo "FUZZ_CELL FAILED (artifacts in $OUT)"; fi
exit $status
