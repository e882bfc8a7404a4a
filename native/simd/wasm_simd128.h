// simd/wasm_simd128.h - the WebAssembly 128-bit SIMD vocabulary (f32x4: 4 floats per v128) that the
// shared kernels in native/simd/ are written against. Include only from *_wasm_simd128.cc files
// (compiled with -msimd128, native/isa.json); they are built into the .wasm only
// (scripts/build-wasm.sh), never into the addon.
//
// Choices, written down once:
//   * No FMA in core wasm SIMD (relaxed-simd's madd may or may not fuse): fmadd/fnmadd/fma_a are a
//     mul then an add, two roundings. The tiers then differ by an ulp or so in the activations and
//     the GEMM sums, inside the float32 tolerances the scalar tier is tested with.
//   * min/max are pmin/pmax (b < a ? b : a, a < b ? b : a): one minps/maxps each on x86 engines,
//     where f32x4.min/max need a NaN fix-up sequence. A NaN in `a` passes through (like NEON).
//   * No masked loads: a "mask" is a lane count n, and a partial vector goes through a small
//     buffer, so no byte past the first n lanes is read or written (as in neon.h).
#pragma once

#include <wasm_simd128.h>

#include "common.h"

namespace cellstate {
namespace {

struct SimdWasm128 {
  using V = v128_t;
  using A = v128_t;      // the A element of a GEMM k step, splatted once (v128.load32_splat)
  using Mask = int64_t;  // lanes < n
  static constexpr int kVw = 4;

  static CS_ALWAYS_INLINE V zero() { return wasm_f32x4_splat(0.f); }
  static CS_ALWAYS_INLINE V set1(float x) { return wasm_f32x4_splat(x); }
  static CS_ALWAYS_INLINE V load(const float* p) { return wasm_v128_load(p); }  // wasm has no aligned-only load
  static CS_ALWAYS_INLINE V loadu(const float* p) { return wasm_v128_load(p); }
  static CS_ALWAYS_INLINE void store(float* p, V x) { wasm_v128_store(p, x); }
  static CS_ALWAYS_INLINE void storeu(float* p, V x) { wasm_v128_store(p, x); }
  static CS_ALWAYS_INLINE V add(V a, V b) { return wasm_f32x4_add(a, b); }
  static CS_ALWAYS_INLINE V sub(V a, V b) { return wasm_f32x4_sub(a, b); }
  static CS_ALWAYS_INLINE V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
  static CS_ALWAYS_INLINE V div(V a, V b) { return wasm_f32x4_div(a, b); }
  static CS_ALWAYS_INLINE V min(V a, V b) { return wasm_f32x4_pmin(a, b); }
  static CS_ALWAYS_INLINE V max(V a, V b) { return wasm_f32x4_pmax(a, b); }
  static CS_ALWAYS_INLINE V neg(V a) { return wasm_f32x4_neg(a); }
  static CS_ALWAYS_INLINE V fmadd(V a, V b, V c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }   // a*b + c
  static CS_ALWAYS_INLINE V fnmadd(V a, V b, V c) { return wasm_f32x4_sub(c, wasm_f32x4_mul(a, b)); }  // c - a*b
  static CS_ALWAYS_INLINE V round(V a) { return wasm_f32x4_nearest(a); }
  // p * 2^n for integral n in [-126, 127]: (n + 127) << 23 is a normal float's exponent field.
  static CS_ALWAYS_INLINE V scale2(V p, V n) {
    const v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_f32x4_mul(p, e);
  }
  static CS_ALWAYS_INLINE V abs(V a) { return wasm_f32x4_abs(a); }
  // b (>= 0) with the sign of s (bit select: the sign bit from s, the rest from b)
  static CS_ALWAYS_INLINE V with_sign_of(V b, V s) { return wasm_v128_bitselect(s, b, wasm_i32x4_splat(INT32_MIN)); }
  // a < b ? t : f, lane by lane
  static CS_ALWAYS_INLINE V select_lt(V a, V b, V t, V f) { return wasm_v128_bitselect(t, f, wasm_f32x4_lt(a, b)); }

  // GEMM k step: splat the A element, acc + a * b
  static CS_ALWAYS_INLINE A bcast(const float* p) { return wasm_v128_load32_splat(p); }
  static CS_ALWAYS_INLINE V fma_a(A a, V b, V acc) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

  static CS_ALWAYS_INLINE Mask mask_first(int64_t n) { return n < kVw ? n : kVw; }
  static CS_ALWAYS_INLINE Mask mask_part(int64_t n) { return n; }
  static CS_ALWAYS_INLINE V load_mask(const float* p, Mask n) {
    if (n >= kVw) return wasm_v128_load(p);
    float t[kVw] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t l = 0; l < n; ++l) t[l] = p[l];
    return wasm_v128_load(t);
  }
  static CS_ALWAYS_INLINE void store_mask(float* p, Mask n, V x) {
    if (n >= kVw) {
      wasm_v128_store(p, x);
      return;
    }
    float t[kVw];
    wasm_v128_store(t, x);
    for (int64_t l = 0; l < n; ++l) p[l] = t[l];
  }
  // The other tiers' fusion barrier (a * b then + c, two roundings): simd128 has no FMA to fuse
  // into, and clang contracts only within one source expression, so x itself.
  static CS_ALWAYS_INLINE V keep(V x) { return x; }
  // GEMM edge tiles: whole vectors plain, only the last (partial) one through its lane count.
  using EdgeMaskArg = Mask;
  static constexpr bool kMaskEveryEdgeVector = false;
};

}  // namespace
}  // namespace cellstate
