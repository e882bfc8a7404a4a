// simd/quantize.h - the activation quantizers of the low-precision contract (docs/equations.md,
// "Low precision"), written once as plain loops that each per-ISA file compiles with its own flags
// (the compiler vectorises them: integer bit operations, an integer max, nearbyint as vroundps /
// frintn). Every tier therefore quantizes bit-identically. (Not the 1.5 * 2^23 rounding trick:
// GCC contracts x * inv + 1.5 * 2^23 into an FMA in C++, which rounds the exact product.)
// Only the output format differs (QuantA in cpu/dispatch.h): what that tier's tile reads.
// It does not quantize weights: those arrive quantized from the TypeScript side.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../cpu/dispatch.h"
#include "common.h"

namespace cellstate {
namespace {

CS_ALWAYS_INLINE uint32_t f32_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
CS_ALWAYS_INLINE float bits_f32(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// fp32 -> bf16 round-to-nearest-even on the bit pattern; NaN stays a (quiet) NaN.
CS_ALWAYS_INLINE uint16_t bf16_rne_bits(uint32_t u) {
  const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x40u : r);
}

// out: round_up(k, 2) elements, bf16(x[kk]) for kk < k, then 0. F == QuantA::f32 writes floats,
// QuantA::bf16 the uint16 bit patterns.
template <QuantA F>
void quant_bf16_row(int64_t k, const float* x, void* out) {
  static_assert(F == QuantA::f32 || F == QuantA::bf16, "bf16 formats only");
  const int64_t kp = (k + 1) & ~int64_t{1};
  if constexpr (F == QuantA::f32) {
    float* o = static_cast<float*>(out);
    for (int64_t kk = 0; kk < k; ++kk) o[kk] = bits_f32(static_cast<uint32_t>(bf16_rne_bits(f32_bits(x[kk]))) << 16);
    for (int64_t kk = k; kk < kp; ++kk) o[kk] = 0.f;
  } else {
    uint16_t* o = static_cast<uint16_t*>(out);
    for (int64_t kk = 0; kk < k; ++kk) o[kk] = bf16_rne_bits(f32_bits(x[kk]));
    for (int64_t kk = k; kk < kp; ++kk) o[kk] = 0;
  }
}

// The contract's int8 rule for one row: amax = max |x|; s = f32(amax / 127), inv = f32(127 / amax),
// q = clamp(rne(f32(x * inv)), -127, 127); amax == 0: s = 1, q = 0. A row holding Inf or NaN gets
// s = NaN and q = 0, so every product it feeds is NaN (as its fp32 product would be Inf or NaN).
// out: round_up(k, 4) quads in format F, q = 0 past k.
template <QuantA F>
float quant_i8_row(int64_t k, const float* x, uint8_t* out) {
  static_assert(F == QuantA::s8 || F == QuantA::u8 || F == QuantA::s16eo, "int8 formats only");
  const int64_t kq = (k + 3) & ~int64_t{3};
  // |x| as bits: for non-negative floats the integer order is the float order, and Inf / NaN are
  // the largest patterns, so one integer max finds amax and flags a non-finite row.
  uint32_t mbits = 0;
  for (int64_t kk = 0; kk < k; ++kk) {
    const uint32_t a = f32_bits(x[kk]) & 0x7FFFFFFFu;
    mbits = a > mbits ? a : mbits;
  }
  const bool finite = mbits < 0x7F800000u;
  const float amax = bits_f32(mbits);
  const float inv = finite && mbits != 0 ? 127.f / amax : 0.f;
  const float scale = !finite ? bits_f32(0x7FC00000u) : mbits == 0 ? 1.f : amax / 127.f;
  // q for one value: a float -> int32 conversion of an integral |t| <= 127 is exact. When amax is
  // so small that 127 / amax overflows, 0 * Inf is NaN: q = 0 there (a separate, scalar path).
  const bool inv_finite = inv <= 3.4e38f;
  auto q_slow = [inv](float xv) -> int32_t {
    float t = std::nearbyint(xv * inv);
    t = t != t ? 0.f : t > 127.f ? 127.f : t < -127.f ? -127.f : t;
    return static_cast<int32_t>(t);
  };
  // Chunks of q as int32 (float -> int32 keeps the lane width, so it vectorises), then narrowed
  // into the format, zero (u8: 128) past k.
  constexpr int64_t kChunk = 256;
  int32_t buf[kChunk];
  for (int64_t c0 = 0; c0 < kq; c0 += kChunk) {
    const int64_t n = kq - c0 < kChunk ? kq - c0 : kChunk;      // a multiple of 4
    const int64_t nv = k - c0 < n ? (k > c0 ? k - c0 : 0) : n;  // values before the padding
    const float* xc = x + c0;
    if (inv_finite) {
      // nearbyint rounds half to even under the default rounding mode; GCC vectorises it
      // (vroundps / frintn), not __builtin_roundevenf (GCC 12).
      for (int64_t u = 0; u < nv; ++u) buf[u] = static_cast<int32_t>(std::nearbyint(xc[u] * inv));
      for (int64_t u = 0; u < nv; ++u) buf[u] = buf[u] > 127 ? 127 : buf[u] < -127 ? -127 : buf[u];
    } else {
      for (int64_t u = 0; u < nv; ++u) buf[u] = q_slow(xc[u]);
    }
    for (int64_t u = nv; u < n; ++u) buf[u] = 0;
    if constexpr (F == QuantA::s8) {
      int8_t* o = reinterpret_cast<int8_t*>(out) + c0;
      for (int64_t u = 0; u < n; ++u) o[u] = static_cast<int8_t>(buf[u]);
    } else if constexpr (F == QuantA::u8) {
      uint8_t* o = out + c0;
      for (int64_t u = 0; u < n; ++u) o[u] = static_cast<uint8_t>(buf[u] + 128);
    } else {  // s16eo: quad (q0, q1, q2, q3) -> int16 (q0, q2, q1, q3)
      int16_t* o = reinterpret_cast<int16_t*>(out) + c0;
      for (int64_t u = 0; u < n; u += 4) {
        o[u + 0] = static_cast<int16_t>(buf[u + 0]);
        o[u + 1] = static_cast<int16_t>(buf[u + 2]);
        o[u + 2] = static_cast<int16_t>(buf[u + 1]);
        o[u + 3] = static_cast<int16_t>(buf[u + 3]);
      }
    }
  }
  return scale;
}

}  // namespace
}  // namespace cellstate
