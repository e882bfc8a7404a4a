// simd/avx2.h - the AVX2 + FMA vocabulary (8 floats per ymm) that the shared kernels in
// native/simd/ are written against: one struct of always-inline operations. Include only from
// *_avx2.cc files (compiled with the flags native/isa.json gives avx2).
//
// Masks are lane masks in an integer vector (vmaskmov): lanes outside the mask are neither read
// (they load as 0) nor written.
#pragma once

#include <immintrin.h>

#include "common.h"

namespace cellstate {
namespace {

struct SimdAvx2 {
  using V = __m256;     // kVw floats
  using A = __m256;     // one broadcast element of A in the GEMM k step
  using Mask = __m256i;
  static constexpr int kVw = 8;

  static CS_ALWAYS_INLINE V zero() { return _mm256_setzero_ps(); }
  static CS_ALWAYS_INLINE V set1(float x) { return _mm256_set1_ps(x); }
  static CS_ALWAYS_INLINE V load(const float* p) { return _mm256_load_ps(p); }  // 32-byte aligned
  static CS_ALWAYS_INLINE V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static CS_ALWAYS_INLINE void store(float* p, V x) { _mm256_store_ps(p, x); }  // 32-byte aligned
  static CS_ALWAYS_INLINE void storeu(float* p, V x) { _mm256_storeu_ps(p, x); }
  static CS_ALWAYS_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  static CS_ALWAYS_INLINE V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static CS_ALWAYS_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static CS_ALWAYS_INLINE V div(V a, V b) { return _mm256_div_ps(a, b); }
  static CS_ALWAYS_INLINE V min(V a, V b) { return _mm256_min_ps(a, b); }
  static CS_ALWAYS_INLINE V max(V a, V b) { return _mm256_max_ps(a, b); }
  static CS_ALWAYS_INLINE V neg(V a) { return _mm256_sub_ps(_mm256_setzero_ps(), a); }
  static CS_ALWAYS_INLINE V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c, one rounding
  static CS_ALWAYS_INLINE V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b, one rounding
  static CS_ALWAYS_INLINE V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n for integral n in [-126, 127]: (n + 127) << 23 is a normal float's exponent field.
  static CS_ALWAYS_INLINE V scale2(V p, V n) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static CS_ALWAYS_INLINE V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  // b (>= 0) with the sign of s
  static CS_ALWAYS_INLINE V with_sign_of(V b, V s) { return _mm256_or_ps(b, _mm256_and_ps(_mm256_set1_ps(-0.f), s)); }
  // a < b ? t : f, lane by lane
  static CS_ALWAYS_INLINE V select_lt(V a, V b, V t, V f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }

  // GEMM k step: broadcast A element, acc + a * b
  static CS_ALWAYS_INLINE A bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static CS_ALWAYS_INLINE V fma_a(A a, V b, V acc) { return _mm256_fmadd_ps(a, b, acc); }

  // Lanes < min(n, kVw) (n >= 0); lanes < n for 0 < n <= kVw; masked load (others 0) and store.
  static CS_ALWAYS_INLINE Mask mask_first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < kVw ? n : kVw)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static CS_ALWAYS_INLINE Mask mask_part(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static CS_ALWAYS_INLINE V load_mask(const float* p, Mask k) { return _mm256_maskload_ps(p, k); }
  static CS_ALWAYS_INLINE void store_mask(float* p, Mask k, V x) { _mm256_maskstore_ps(p, k, x); }
  // GEMM edge tiles: whole vectors plain, only the last (partial) one through mask_part.
  using EdgeMaskArg = Mask;
  static constexpr bool kMaskEveryEdgeVector = false;
};

}  // namespace
}  // namespace cellstate
