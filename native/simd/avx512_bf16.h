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

// QGemmKernel::quant_bf16 for the tiers whose products treat bf16 denormals as zero (vdpbf16ps,
// AMX; QuantA::bf16): vcvtne2ps2bf16, 32 values an instruction where the generic loop
// (simd/quantize.h) takes about ten operations per 16. The same bits as bf16_rne_bits - round to
// nearest even, a NaN stays a quiet NaN - except that an fp32 denormal input becomes a zero of
// its sign: vcvtne2ps2bf16 reads denormals as zero, and the dot products would read the bf16
// denormal (or the 2^-126 the largest ones round to) as at most that much anyway.
inline void quant_bf16_row_cvt(int64_t k, const float* x, void* out) {
  uint16_t* o = static_cast<uint16_t*>(out);
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    const __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(o + i, reinterpret_cast<__m512i>(r));
  }
  for (; i < k; i += 16) {
    const int64_t n = k - i < 16 ? k - i : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const __m256bh r = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
    _mm256_mask_storeu_epi16(o + i, m, reinterpret_cast<__m256i>(r));
  }
  if (k & 1) o[k] = 0;  // the pair's padding
}

}  // namespace
}  // namespace cellstate
