// simd/neon.h - the AArch64 Advanced SIMD (NEON) vocabulary (4 floats per q-register) that the
// shared kernels in native/simd/ are written against. NEON is part of the AArch64 base ISA, so the
// *_neon.cc files that include this need no compiler flag (native/isa.json).
//
// NEON has no masked loads: a "mask" is a lane count n, and a partial vector (n < 4) goes through
// a small buffer, so no byte past the first n lanes is read or written.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "../cpu/dispatch.h"
#include "common.h"

namespace cellstate {
namespace {

struct SimdNeon {
  using V = float32x4_t;
  using A = float;      // fmla by element: the A value stays a scalar
  using Mask = int64_t;  // lanes < n
  static constexpr int kVw = 4;

  static CS_ALWAYS_INLINE V zero() { return vdupq_n_f32(0.f); }
  static CS_ALWAYS_INLINE V set1(float x) { return vdupq_n_f32(x); }
  static CS_ALWAYS_INLINE V load(const float* p) { return vld1q_f32(p); }
  static CS_ALWAYS_INLINE V loadu(const float* p) { return vld1q_f32(p); }
  static CS_ALWAYS_INLINE void store(float* p, V x) { vst1q_f32(p, x); }
  static CS_ALWAYS_INLINE void storeu(float* p, V x) { vst1q_f32(p, x); }
  static CS_ALWAYS_INLINE V add(V a, V b) { return vaddq_f32(a, b); }
  static CS_ALWAYS_INLINE V sub(V a, V b) { return vsubq_f32(a, b); }
  static CS_ALWAYS_INLINE V mul(V a, V b) { return vmulq_f32(a, b); }
  static CS_ALWAYS_INLINE V div(V a, V b) { return vdivq_f32(a, b); }
  static CS_ALWAYS_INLINE V min(V a, V b) { return vminq_f32(a, b); }
  static CS_ALWAYS_INLINE V max(V a, V b) { return vmaxq_f32(a, b); }
  static CS_ALWAYS_INLINE V neg(V a) { return vnegq_f32(a); }
  static CS_ALWAYS_INLINE V fmadd(V a, V b, V c) { return vfmaq_f32(c, a, b); }   // a*b + c, one rounding
  static CS_ALWAYS_INLINE V fnmadd(V a, V b, V c) { return vfmsq_f32(c, a, b); }  // c - a*b, one rounding
  static CS_ALWAYS_INLINE V round(V a) { return vrndnq_f32(a); }
  // p * 2^n for integral n in [-126, 127]: (n + 127) << 23 is a normal float's exponent field.
  static CS_ALWAYS_INLINE V scale2(V p, V n) {
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
  }
  static CS_ALWAYS_INLINE V abs(V a) { return vabsq_f32(a); }
  // b (>= 0) with the sign of s (bit select: the sign bit from s, the rest from b)
  static CS_ALWAYS_INLINE V with_sign_of(V b, V s) { return vbslq_f32(vdupq_n_u32(0x80000000u), s, b); }
  static CS_ALWAYS_INLINE V select_lt(V a, V b, V t, V f) { return vbslq_f32(vcltq_f32(a, b), t, f); }

  static CS_ALWAYS_INLINE A bcast(const float* p) { return *p; }
  static CS_ALWAYS_INLINE V fma_a(A a, V b, V acc) { return vfmaq_n_f32(acc, b, a); }

  static CS_ALWAYS_INLINE Mask mask_first(int64_t n) { return n < kVw ? n : kVw; }
  static CS_ALWAYS_INLINE Mask mask_part(int64_t n) { return n; }
  static CS_ALWAYS_INLINE V load_mask(const float* p, Mask n) {
    if (n >= kVw) return vld1q_f32(p);
    float t[kVw] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t l = 0; l < n; ++l) t[l] = p[l];
    return vld1q_f32(t);
  }
  static CS_ALWAYS_INLINE void store_mask(float* p, Mask n, V x) {
    if (n >= kVw) {
      vst1q_f32(p, x);
      return;
    }
    float t[kVw];
    vst1q_f32(t, x);
    for (int64_t l = 0; l < n; ++l) p[l] = t[l];
  }
  // GEMM edge tiles: whole vectors plain, only the last (partial) one through its lane count.
  using EdgeMaskArg = Mask;
  static constexpr bool kMaskEveryEdgeVector = false;

  // The compiler must not fuse a multiply with a following add here (GCC contracts in C++):
  // the int8 epilogue's f32(acc) * scale is rounded before C and the bias are added.
  static CS_ALWAYS_INLINE V keep(V x) {
#if defined(__GNUC__)
    __asm__("" : "+w"(x));
#endif
    return x;
  }
  // Low precision (simd/qgemm_tiles.h). bf16: 4 columns x a k pair, widened by a shift / a mask.
  static CS_ALWAYS_INLINE V widen_bf16_even(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshlq_n_u32(vld1q_u32(reinterpret_cast<const uint32_t*>(p)), 16));
  }
  static CS_ALWAYS_INLINE V widen_bf16_odd(const uint16_t* p) {
    return vreinterpretq_f32_u32(vandq_u32(vld1q_u32(reinterpret_cast<const uint32_t*>(p)), vdupq_n_u32(0xFFFF0000u)));
  }
  // int8 (base AArch64, no dot-product extension): vmull_s8 multiplies 2 columns' k quads by the
  // A quad (exact int16 products, |q| <= 127), vpadalq_s16 adds adjacent pairs into int32, so
  // lo / hi hold two partial sums per column of columns 0-1 / 2-3; i_finish adds the pairs.
  using VI = int32x4_t;
  struct I { int32x4_t lo, hi; };
  using IA = int8x8_t;
  using IB = int8x16_t;
  static constexpr QuantA kA = QuantA::s8;
  static constexpr int kAQuadBytes = 4;
  static constexpr bool kU8 = false;
  static CS_ALWAYS_INLINE I i_zero() { return I{vdupq_n_s32(0), vdupq_n_s32(0)}; }
  static CS_ALWAYS_INLINE VI i_finish(I a) { return vpaddq_s32(a.lo, a.hi); }
  static CS_ALWAYS_INLINE VI i_loadu(const int32_t* p) { return vld1q_s32(p); }
  static CS_ALWAYS_INLINE VI i_sub(VI a, VI b) { return vsubq_s32(a, b); }
  static CS_ALWAYS_INLINE VI i_shl7(VI a) { return vshlq_n_s32(a, 7); }
  static CS_ALWAYS_INLINE V i_cvt(VI a) { return vcvtq_f32_s32(a); }
  static CS_ALWAYS_INLINE IA i8_bcast(const uint8_t* p) {
    uint32_t u;
    std::memcpy(&u, p, 4);
    return vreinterpret_s8_u32(vdup_n_u32(u));
  }
  static CS_ALWAYS_INLINE IB i8_load(const int8_t* p) { return vld1q_s8(p); }
  static CS_ALWAYS_INLINE I i8_dot(I acc, IA a, IB b) {
    return I{vpadalq_s16(acc.lo, vmull_s8(vget_low_s8(b), a)), vpadalq_s16(acc.hi, vmull_s8(vget_high_s8(b), a))};
  }
};

}  // namespace
}  // namespace cellstate
