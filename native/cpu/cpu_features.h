// cpu_features.h - which SIMD instruction sets this CPU *and* this OS support.
//
// Probes CPUID (leaves 1 and 7) and the OS-enabled register state (XGETBV /
// XCR0) once per call and returns the best tier the GEMM / LSTM kernels have
// an implementation for. It does not cache, does not read environment
// variables and does not choose kernels: capping and the kernel table live in
// dispatch.h. This file is compiled without any ISA flags (-mavx...), so it is
// safe to call on any x86-64 CPU; on non-x86 builds detect_isa() is scalar.
#pragma once

namespace cellstate {

// Ordered tiers: a higher value implies every lower tier is usable too.
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

// "scalar", "avx2", "avx512" (static strings; "unknown" for out-of-range).
const char* isa_name(Isa isa);

// Best tier usable here:
//   avx512: AVX512F + AVX512VL + AVX512BW + AVX512DQ + AVX2 + FMA, and the OS
//           saves XMM/YMM/opmask/ZMM state (XCR0 bits 1,2,5,6,7)
//   avx2:   AVX + AVX2 + FMA, and the OS saves XMM/YMM state (XCR0 bits 1,2)
//   scalar: everything else (including every non-x86 build)
Isa detect_isa();

}  // namespace cellstate
