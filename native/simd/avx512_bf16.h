// simd/avx512_bf16.h - AVX512-BF16 (vdpbf16ps) on top of the AVX-512 vocabulary: the bf16 dot
// product of Bf16Dot (simd/qgemm_tiles.h). Include only from *_avx512_bf16.cc files.
//
// vdpbf16ps computes acc + a.even * b.even + a.odd * b.odd per fp32 lane; it treats bf16
// denormals as zero and rounds with its own order, so it matches the contract's fp32 sum up to
// accumulation order (and denormal inputs), not bit for bit.
#pragma once

#include "avx512_vnni.h"

namespace cellstate {
namespace {

struct SimdAvx512Bf16 : SimdAvx512Vnni {
  using BfB = __m512bh;
  static CS_ALWAYS_INLINE BfB bf16_pair(const uint16_t* p) {
    int32_t u;
    std::memcpy(&u, p, 4);
    return (__m512bh)(_mm512_set1_epi32(u));
  }
  static CS_ALWAYS_INLINE BfB bf16_load(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_load_si512(p)); }
  static CS_ALWAYS_INLINE V bf16_dot(V acc, BfB a, BfB b) { return _mm512_dpbf16_ps(acc, a, b); }
};

}  // namespace
}  // namespace cellstate
