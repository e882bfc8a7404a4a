#!/usr/bin/env bash
# run_arm64_qemu.sh - the C++ GEMM + thread-pool test and the fuzz harness for AArch64, cross-
# compiled with Debian's g++-aarch64-linux-gnu and run under qemu-user, at the neon and scalar
# tiers (CELLSTATE_MAX_ISA), plus an invalid cap (must warn and fall back to detection). Sources,
# per-file flags and tiers as the addon builds them on arm64 (the one ISA table, native/isa.json,
# through scripts/native-sources.js --units/--tiers arm64; NEON needs no flag), all built with UBSan (fatal). The fuzz harness is its seeded standalone driver; ASan and TSan
# do not run under qemu-user, so those stay on the x86-64 runs (run_fuzz.sh, run_gemm_test.sh).
# Outputs go to $OUT (default /tmp/cellstate-arm64), never into the repository.
#   native/tests/run_arm64_qemu.sh [FUZZ_SECONDS_PER_TIER=15]
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NATIVE="$(cd "$HERE/.." && pwd)"
OUT="${OUT:-/tmp/cellstate-arm64}/build"
FUZZ_S="${1:-15}"
CXX="${CXX_ARM64:-aarch64-linux-gnu-g++}"
export QEMU_LD_PREFIX="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
QEMU="${QEMU:-qemu-aarch64}"
mkdir -p "$OUT"

LIB=() LIB_FLAGS=()  # LIB[i] is compiled with LIB_FLAGS[i]
while IFS=$'\t' read -r f flags; do LIB+=("${f#native/}"); LIB_FLAGS+=("$flags"); done < <(
  cd "$NATIVE/.." && node scripts/native-sources.js --units arm64 | grep -v '^native/napi/' | grep -v '_napi.cc' | grep -v '/compat/')
TIERS=($(cd "$NATIVE/.." && node scripts/native-sources.js --tiers arm64))

# One set of library objects (-O2, UBSan fatal) serves both programs; each main is compiled apart.
FLAGS=(-std=c++17 -Wall -Wextra -Werror -pthread -fvisibility=hidden -O2 -g -fsanitize=undefined -fno-sanitize-recover=all)
echo "--- building the library for aarch64 (${FLAGS[*]})"
objs=() cmds=()
for i in "${!LIB[@]}"; do
  src="${LIB[$i]}"
  obj="$OUT/$(echo "$src" | tr / _).o"
  objs+=("$obj")
  cmds+=("$CXX ${FLAGS[*]} ${LIB_FLAGS[$i]} -c $NATIVE/$src -o $obj")
done
cmds+=("$CXX ${FLAGS[*]} -c $NATIVE/tests/gemm_test.cc -o $OUT/gemm_test.o")
cmds+=("$CXX ${FLAGS[*]} -c $NATIVE/tests/qgemm_test.cc -o $OUT/qgemm_test.o")
cmds+=("$CXX ${FLAGS[*]} -DCELLSTATE_FUZZ_STANDALONE -c $NATIVE/tests/fuzz_cell.cc -o $OUT/fuzz_cell.o")
printf '%s\0' "${cmds[@]}" | xargs -0 -P 2 -I{} sh -c '{}'
"$CXX" "${FLAGS[@]}" "${objs[@]}" "$OUT/gemm_test.o" "$OUT/qgemm_test.o" -o "$OUT/gemm_test"
"$CXX" "${FLAGS[@]}" "${objs[@]}" "$OUT/fuzz_cell.o" -o "$OUT/fuzz_cell"

status=0
run() {  # run LABEL ISA BINARY ARGS...
  local label="$1" isa="$2"; shift 2
  echo "=== $label (CELLSTATE_MAX_ISA=$isa, qemu-aarch64)"
  if ! CELLSTATE_MAX_ISA="$isa" "$QEMU" "$@"; then echo "=== $label: FAILED"; status=1; fi
}

for isa in "${TIERS[@]}"; do run "gemm_test" "$isa" "$OUT/gemm_test" --quick --no-perf; done
run "gemm_test bad env" "bogus" "$OUT/gemm_test" --quick --no-perf
if [[ "${ARM64_PERF:-0}" == 1 ]]; then  # emulated timings: indicative of instruction counts only
  for isa in "${TIERS[@]}"; do run "gemm_test perf" "$isa" "$OUT/gemm_test" --quick; done
fi
for isa in "${TIERS[@]}"; do run "fuzz_cell ${FUZZ_S}s" "$isa" "$OUT/fuzz_cell" "$FUZZ_S" "$RANDOM"; done

if [[ $status -eq 0 ]]; then echo "ARM64 (QEMU) TESTS PASSED"; else echo "ARM64 (QEMU) TESTS FAILED"; fi
exit $status
