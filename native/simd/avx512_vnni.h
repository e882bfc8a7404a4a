// simd/avx512_vnni.h - AVX512-VNNI (vpdpbusd on zmm) on top of the AVX-512 vocabulary: only the
// int8 dot product differs. Include only from *_avx512_vnni.cc / *_avx512_bf16.cc files.
#pragma once

#include "avx512.h"

namespace cellstate {
namespace {

struct SimdAvx512Vnni : SimdAvx512 {
  // vpdpbusd: per int32 lane, acc + sum of 4 (u8 a) x (s8 b) products, wrapping (no saturation).
  // A holds q + 128 (QuantA::u8); I8Tiles subtracts 128 * sum_k q_w.
  using IA = __m512i;
  using IB = __m512i;
  static constexpr QuantA kA = QuantA::u8;
  static constexpr int kAQuadBytes = 4;
  static constexpr bool kU8 = true;
  static CS_ALWAYS_INLINE IA i8_bcast(const uint8_t* p) {
    int32_t u;
    std::memcpy(&u, p, 4);
    return _mm512_set1_epi32(u);
  }
  static CS_ALWAYS_INLINE IB i8_load(const int8_t* p) { return _mm512_load_si512(p); }
  // GCC: the instruction itself, acc tied in place ("+v"). Through the intrinsic GCC 12 moved every
  // accumulator to another register and back around each vpdpbusd (and spilled the wider tiles):
  // the int8 tile issued about one vpdpbusd per cycle where the core issues two (gemm_test, M = 64
  // N = 2048 K = 512: 565 -> 702 GOP/s on a 2-port core at mr = 4).
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) {
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, a, b);
#endif
  }
};

}  // namespace
}  // namespace cellstate
