// simd/avx2_vnni.h - AVX-VNNI (VEX vpdpbusd on ymm) on top of the AVX2 vocabulary: only the int8
// dot product differs. Include only from *_avx2_vnni.cc files (flags in native/isa.json).
#pragma once

#include "avx2.h"

namespace cellstate {
namespace {

struct SimdAvx2Vnni : SimdAvx2 {
  // vpdpbusd: per int32 lane, acc + sum of 4 (u8 a) x (s8 b) products, wrapping (no saturation).
  // A holds q + 128 (QuantA::u8); I8Tiles subtracts 128 * sum_k q_w.
  using IA = __m256i;
  using IB = __m256i;
  static constexpr QuantA kA = QuantA::u8;
  static constexpr int kAQuadBytes = 4;
  static constexpr bool kU8 = true;
  static CS_ALWAYS_INLINE IA i8_bcast(const uint8_t* p) {
    int32_t u;
    std::memcpy(&u, p, 4);
    return _mm256_set1_epi32(u);
  }
  static CS_ALWAYS_INLINE IB i8_load(const int8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  // GCC: the instruction itself, acc tied in place (see simd/avx512_vnni.h; here the intrinsic's
  // copies also spilled accumulators to the stack in the k loop: 366 -> 451 GOP/s, same shape).
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) {
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "xm"(b));
    return acc;
#else
    return _mm256_dpbusd_avx_epi32(acc, a, b);
#endif
  }
};

}  // namespace
}  // namespace cellstate
