// cpu_features.h - which SIMD instruction sets this CPU *and* this OS support.
//
// Probes CPUID (leaves 1 and 7) and the OS-enabled register state (XGETBV /
// XCR0) once per call and returns the best tier the GEMM / LSTM kernels have
// an implementation for. It does not cache, does not read environment
// variables and does not choose kernels: capping and the kernel table live in
// dispatch.h. This file is compiled without any ISA flags (-mavx...), so it is
// safe to call on any x86-64 CPU; on AArch64 it reports neon, elsewhere scalar.
#pragma once

#include <cstdint>

#include "isa.gen.h"

namespace cellstate {

// The tiers (Isa), their names and levels come from the one ISA table, native/isa.json, as
// isa.gen.h. Within one architecture they are ordered by isa_rank() (x86-64: scalar < avx2 <
// avx2_vnni < avx512 < avx512_vnni < avx512_bf16 < amx; AArch64: scalar < neon); a tier implies the
// tiers of its base chain (kIsaBase), not every lower one.

// The level of a tier, comparable across architectures: scalar 0, avx2 and neon 1, avx2_vnni 2,
// avx512 3, avx512_vnni 4, avx512_bf16 5, amx 6.
// A cap (CELLSTATE_MAX_ISA) is a level: "avx2" on AArch64 allows neon, "neon" on x86-64 allows
// avx2, so one setting means the same thing on either kind of machine.
int isa_rank(Isa isa);

// "scalar", "avx2", ..., "neon" (static strings; "unknown" for out-of-range).
const char* isa_name(Isa isa);

// The tiers usable here, as a set (bit isa_bit(t) for tier t; scalar always):
//   avx2:        AVX + AVX2 + FMA, and the OS saves XMM/YMM state (XCR0 bits 1,2)
//   avx2_vnni:   avx2 + AVX-VNNI (CPUID.(7,1):EAX[4]; Alder Lake without AVX-512 has it)
//   avx512:      avx2 + AVX512F + AVX512VL + AVX512BW + AVX512DQ, and the OS saves
//                opmask/ZMM state too (XCR0 bits 5,6,7)
//   avx512_vnni: avx512 + AVX512_VNNI (CPUID.(7,0):ECX[11]; Skylake-X lacks it)
//   avx512_bf16: avx512_vnni + AVX512_BF16 (CPUID.(7,1):EAX[5])
//   amx:         avx512_bf16 + AMX-TILE, AMX-BF16, AMX-INT8 (CPUID.(7,0):EDX[24,22,25]) with
//                palette 1's 8 tiles of 16 x 64 bytes, and the OS saves the tile state (XCR0
//                bits 17, 18); on Linux the process must still ask for it (enable_isa)
//   neon:        AArch64 with Advanced SIMD (always, per the AArch64 ABI; checked through
//                getauxval(AT_HWCAP) on Linux)
// The set is not a chain: Skylake-X has avx512 but not avx2_vnni.
uint32_t supported_isas();
uint32_t isa_bit(Isa isa);

// Asks the OS for what tier `isa` needs beyond supported_isas() - on Linux, AMX's tile state
// (arch_prctl ARCH_REQ_XCOMP_PERM, which also makes the process's signal frames 8 KB bigger) -
// and says whether the tier may run. Called by dispatch.cc for the tier it chose, so a capped
// process (CELLSTATE_MAX_ISA below amx) never asks.
bool enable_isa(Isa isa);

// The highest-level tier of supported_isas().
Isa detect_isa();

}  // namespace cellstate
