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
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
};

}  // namespace
}  // namespace cellstate
