// cpu_features.h - which SIMD instruction sets this CPU *and* this OS support.
//
// Probes CPUID (leaves 1 and 7) and the OS-enabled register state (XGETBV /
// XCR0) once per call and returns the best tier the GEMM / LSTM kernels have
// an implementation for. It does not cache, does not read environment
// variables and does not choose kernels: capping and the kernel table live in
// dispatch.h. This file is compiled without any ISA flags (-mavx...), so it is
// safe to call on any x86-64 CPU; on AArch64 it reports neon, elsewhere scalar.
#pragma once

#include "isa.gen.h"

namespace cellstate {

// The tiers (Isa), their names and levels come from the one ISA table, native/isa.json, as
// isa.gen.h. Within one architecture they are ordered by isa_rank(): a tier implies every lower
// one of its architecture is usable too (x86-64: scalar < avx2 < avx512; AArch64: scalar < neon).

// The level of a tier, comparable across architectures: scalar 0, avx2 and neon 1, avx512 2.
// A cap (CELLSTATE_MAX_ISA) is a level: "avx2" on AArch64 allows neon, "neon" on x86-64 allows
// avx2, so one setting means the same thing on either kind of machine.
int isa_rank(Isa isa);

// "scalar", "avx2", "avx512", "neon" (static strings; "unknown" for out-of-range).
const char* isa_name(Isa isa);

// Best tier usable here:
//   avx512: AVX512F + AVX512VL + AVX512BW + AVX512DQ + AVX2 + FMA, and the OS
//           saves XMM/YMM/opmask/ZMM state (XCR0 bits 1,2,5,6,7)
//   avx2:   AVX + AVX2 + FMA, and the OS saves XMM/YMM state (XCR0 bits 1,2)
//   neon:   AArch64 with Advanced SIMD (always, per the AArch64 ABI; checked through
//           getauxval(AT_HWCAP) on Linux)
//   scalar: everything else
Isa detect_isa();

}  // namespace cellstate
