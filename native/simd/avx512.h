// simd/avx512.h - the AVX-512 (F, VL, BW, DQ) vocabulary (16 floats per zmm) that the shared
// kernels in native/simd/ are written against. Include only from *_avx512.cc files (compiled with
// the flags native/isa.json gives avx512).
//
// Masks are opmask registers: lanes outside the mask are neither read (they load as 0) nor written.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../cpu/dispatch.h"
#include "common.h"

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized and, in sanitizer builds inlined
// through LayerNormLSTM's state backward, -Wuninitialized (its _mm512_undefined_ps idiom).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace cellstate {
namespace {

struct SimdAvx512 {
  using V = __m512;
  using A = __m512;
  using Mask = __mmask16;
  static constexpr int kVw = 16;

  static CS_ALWAYS_INLINE V zero() { return _mm512_setzero_ps(); }
  static CS_ALWAYS_INLINE V set1(float x) { return _mm512_set1_ps(x); }
  static CS_ALWAYS_INLINE V load(const float* p) { return _mm512_load_ps(p); }  // 64-byte aligned
  static CS_ALWAYS_INLINE V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static CS_ALWAYS_INLINE void store(float* p, V x) { _mm512_store_ps(p, x); }  // 64-byte aligned
  static CS_ALWAYS_INLINE void storeu(float* p, V x) { _mm512_storeu_ps(p, x); }
  static CS_ALWAYS_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  static CS_ALWAYS_INLINE V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static CS_ALWAYS_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static CS_ALWAYS_INLINE V div(V a, V b) { return _mm512_div_ps(a, b); }
  static CS_ALWAYS_INLINE V min(V a, V b) { return _mm512_min_ps(a, b); }
  static CS_ALWAYS_INLINE V max(V a, V b) { return _mm512_max_ps(a, b); }
  static CS_ALWAYS_INLINE V neg(V a) { return _mm512_sub_ps(_mm512_setzero_ps(), a); }
  static CS_ALWAYS_INLINE V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }    // a*b + c, one rounding
  static CS_ALWAYS_INLINE V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b, one rounding
  static CS_ALWAYS_INLINE V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static CS_ALWAYS_INLINE V scale2(V p, V n) { return _mm512_scalef_ps(p, n); }  // p * 2^n
  static CS_ALWAYS_INLINE V abs(V a) { return _mm512_abs_ps(a); }
  static CS_ALWAYS_INLINE V with_sign_of(V b, V s) {  // b (>= 0) with the sign of s
    return _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(b), _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(INT32_MIN))));
  }
  static CS_ALWAYS_INLINE V select_lt(V a, V b, V t, V f) {  // a < b ? t : f
    const __mmask16 lt = _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
    return _mm512_mask_blend_ps(lt, f, t);
  }

  static CS_ALWAYS_INLINE A bcast(const float* p) { return _mm512_set1_ps(*p); }
  static CS_ALWAYS_INLINE V fma_a(A a, V b, V acc) { return _mm512_fmadd_ps(a, b, acc); }

  static CS_ALWAYS_INLINE Mask mask_first(int64_t n) {
    return n >= kVw ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
  }
  static CS_ALWAYS_INLINE Mask mask_part(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static CS_ALWAYS_INLINE V load_mask(const float* p, Mask k) { return _mm512_maskz_loadu_ps(k, p); }
  static CS_ALWAYS_INLINE void store_mask(float* p, Mask k, V x) { _mm512_mask_storeu_ps(p, k, x); }
  // GEMM edge tiles: every vector goes through its own mask (opmasks cost nothing extra);
  // edge_masks(n, mask): mask[v] selects columns [16v, 16v+16) that are < n.
  using EdgeMaskArg = const Mask*;
  static constexpr bool kMaskEveryEdgeVector = true;
  static CS_ALWAYS_INLINE void edge_masks(int64_t n, Mask (&mask)[4]) {
    for (int v = 0; v < 4; ++v) {
      const int64_t cnt = n - v * kVw;  // valid columns in vector v
      mask[v] = cnt >= kVw ? static_cast<__mmask16>(0xFFFF)
                : cnt <= 0 ? static_cast<__mmask16>(0)
                           : static_cast<__mmask16>((1u << cnt) - 1u);
    }
  }

  // The compiler must not fuse a multiply with a following add here (GCC contracts in C++):
  // the int8 epilogue's f32(acc) * scale is rounded before C and the bias are added.
  static CS_ALWAYS_INLINE V keep(V x) {
#if defined(__GNUC__)
    __asm__("" : "+v"(x));
#endif
    return x;
  }
  // Low precision (simd/qgemm_tiles.h), as in simd/avx2.h with 16 columns per vector.
  static CS_ALWAYS_INLINE V widen_bf16_even(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_load_si512(p), 16));
  }
  static CS_ALWAYS_INLINE V widen_bf16_odd(const uint16_t* p) {  // a zero-masked load: no ALU op, no constant register
    return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(static_cast<__mmask32>(0xAAAAAAAAu), p));
  }
  using VI = __m512i;
  using I = __m512i;
  struct IA { __m512i e, o; };
  struct IB { __m512i e, o; };
  static constexpr QuantA kA = QuantA::s16eo;
  static constexpr int kAQuadBytes = 8;
  static constexpr bool kU8 = false;
  static CS_ALWAYS_INLINE I i_zero() { return _mm512_setzero_si512(); }
  static CS_ALWAYS_INLINE VI i_finish(I a) { return a; }
  static CS_ALWAYS_INLINE VI i_loadu(const int32_t* p) { return _mm512_loadu_si512(p); }
  static CS_ALWAYS_INLINE VI i_sub(VI a, VI b) { return _mm512_sub_epi32(a, b); }
  static CS_ALWAYS_INLINE VI i_shl7(VI a) { return _mm512_slli_epi32(a, 7); }
  static CS_ALWAYS_INLINE V i_cvt(VI a) { return _mm512_cvtepi32_ps(a); }
  static CS_ALWAYS_INLINE IA i8_bcast(const uint8_t* p) {
    int32_t e, o;
    std::memcpy(&e, p, 4);
    std::memcpy(&o, p + 4, 4);
    return IA{_mm512_set1_epi32(e), _mm512_set1_epi32(o)};
  }
  static CS_ALWAYS_INLINE IB i8_load(const int8_t* p) {
    const __m512i x = _mm512_load_si512(p);
    return IB{_mm512_srai_epi16(_mm512_slli_epi16(x, 8), 8), _mm512_srai_epi16(x, 8)};
  }
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) {
    return _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(b.e, a.e), _mm512_madd_epi16(b.o, a.o)));
  }
};

}  // namespace
}  // namespace cellstate
