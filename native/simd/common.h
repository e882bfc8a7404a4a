// simd/common.h - what every SIMD file shares: forced inlining, loop unrolling, and the
// compile-time switch the kernels use to turn a run-time count into a template argument.
//
// Everything in native/simd/ is in an anonymous namespace: each per-ISA translation unit (compiled
// with its own -m flags) gets its own copy, so the linker can never hand AVX-512 code to a scalar
// caller (COMDAT folding). Include these headers only from *_<isa>.cc files.
#pragma once

#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#define CS_ALWAYS_INLINE __forceinline
#define CS_UNROLL
#else
#define CS_ALWAYS_INLINE inline __attribute__((always_inline))
#define CS_PRAGMA(x) _Pragma(#x)
#define CS_UNROLL CS_PRAGMA(GCC unroll 8)
#endif

// No load or store moves across it (it emits nothing): for micro-kernels whose registers run out if
// the compiler starts the next group of loads early (GCC hoists them and spills accumulators).
#if defined(__GNUC__)
#define CS_LOAD_FENCE() __asm__ volatile("" ::: "memory")
#else
#define CS_LOAD_FENCE() ((void)0)
#endif

namespace cellstate {
namespace {

// x itself, but the compiler may not fuse the operation that made it with the one that uses it
// (GCC contracts a * b + c into an FMA in C++ whenever the target has one; the low-precision
// contract rounds some products before the add). Costs nothing: an empty asm on the register.
CS_ALWAYS_INLINE float keep_f32(float x) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(x));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(x));
#endif
  return x;
}

// Op::template run<N>(args...) for the N == n in 1..MAX; nothing for any other n. One switch, so
// an edge tile with m rows (or nv vectors) runs code compiled for exactly that count.
template <int MAX, class Op, class... Args>
CS_ALWAYS_INLINE void switch_n(int64_t n, Args... args) {
  static_assert(MAX >= 1 && MAX <= 16, "switch_n: 1 <= MAX <= 16");
  switch (n) {
    case 1: Op::template run<1>(args...); break;
    case 2: if constexpr (MAX >= 2) Op::template run<2>(args...); break;
    case 3: if constexpr (MAX >= 3) Op::template run<3>(args...); break;
    case 4: if constexpr (MAX >= 4) Op::template run<4>(args...); break;
    case 5: if constexpr (MAX >= 5) Op::template run<5>(args...); break;
    case 6: if constexpr (MAX >= 6) Op::template run<6>(args...); break;
    case 7: if constexpr (MAX >= 7) Op::template run<7>(args...); break;
    case 8: if constexpr (MAX >= 8) Op::template run<8>(args...); break;
    case 9: if constexpr (MAX >= 9) Op::template run<9>(args...); break;
    case 10: if constexpr (MAX >= 10) Op::template run<10>(args...); break;
    case 11: if constexpr (MAX >= 11) Op::template run<11>(args...); break;
    case 12: if constexpr (MAX >= 12) Op::template run<12>(args...); break;
    case 13: if constexpr (MAX >= 13) Op::template run<13>(args...); break;
    case 14: if constexpr (MAX >= 14) Op::template run<14>(args...); break;
    case 15: if constexpr (MAX >= 15) Op::template run<15>(args...); break;
    case 16: if constexpr (MAX >= 16) Op::template run<16>(args...); break;
    default: break;
  }
}

}  // namespace
}  // namespace cellstate
