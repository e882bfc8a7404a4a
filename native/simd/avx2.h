// simd/avx2.h - the AVX2 + FMA vocabulary (8 floats per ymm) that the shared kernels in
// native/simd/ are written against: one struct of always-inline operations. Include only from
// *_avx2.cc files (compiled with the flags native/isa.json gives avx2).
//
// Masks are lane masks in an integer vector (vmaskmov): lanes outside the mask are neither read
// (they load as 0) nor written.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../cpu/dispatch.h"
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

  // The compiler must not fuse a multiply with a following add here (GCC contracts in C++):
  // the int8 epilogue's f32(acc) * scale is rounded before C and the bias are added.
  static CS_ALWAYS_INLINE V keep(V x) {
#if defined(__GNUC__)
    __asm__("" : "+x"(x));
#endif
    return x;
  }
  // Low precision (simd/qgemm_tiles.h). bf16: 8 columns x a k pair (16 uint16, 32-byte aligned);
  // a bf16 is the high half of an fp32, so even k = pattern << 16, odd k = pattern & 0xFFFF0000.
  static CS_ALWAYS_INLINE V widen_bf16_even(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)), 16));
  }
  static CS_ALWAYS_INLINE V widen_bf16_odd(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)),
                                                _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  // int8 without VNNI: never vpmaddubsw (u8 x s8 pairs saturate in int16). The weights' k quad of a
  // column is one int32 lane; its even bytes (k0, k2) and odd bytes (k1, k3), sign-extended to
  // int16 by shifts, meet the A values (q0, q2) and (q1, q3) (QuantA::s16eo) in vpmaddwd, whose
  // int16 x int16 products and pair sums are exact in int32.
  using VI = __m256i;
  using I = __m256i;
  struct IA { __m256i e, o; };
  struct IB { __m256i e, o; };
  static constexpr QuantA kA = QuantA::s16eo;
  static constexpr int kAQuadBytes = 8;
  static constexpr bool kU8 = false;
  static CS_ALWAYS_INLINE I i_zero() { return _mm256_setzero_si256(); }
  static CS_ALWAYS_INLINE VI i_finish(I a) { return a; }
  static CS_ALWAYS_INLINE VI i_loadu(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static CS_ALWAYS_INLINE VI i_sub(VI a, VI b) { return _mm256_sub_epi32(a, b); }
  static CS_ALWAYS_INLINE VI i_shl7(VI a) { return _mm256_slli_epi32(a, 7); }
  static CS_ALWAYS_INLINE V i_cvt(VI a) { return _mm256_cvtepi32_ps(a); }
  static CS_ALWAYS_INLINE IA i8_bcast(const uint8_t* p) {
    int32_t e, o;
    std::memcpy(&e, p, 4);
    std::memcpy(&o, p + 4, 4);
    return IA{_mm256_set1_epi32(e), _mm256_set1_epi32(o)};
  }
  static CS_ALWAYS_INLINE IB i8_load(const int8_t* p) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
    return IB{_mm256_srai_epi16(_mm256_slli_epi16(x, 8), 8), _mm256_srai_epi16(x, 8)};
  }
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) {
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(b.e, a.e), _mm256_madd_epi16(b.o, a.o)));
  }
};

}  // namespace
}  // namespace cellstate
