// simd/qgemm_tiles.h - the quantized GEMM micro-kernels (QGemmKernel in cpu/dispatch.h), written
// once for every SIMD tier. A per-ISA file (gemm/qgemm_{bf16,i8}_<isa>.cc) gives K = its vocabulary
// (simd/<isa>.h, plus simd/<isa>_vnni.h / avx512_bf16.h for the dot-product instructions) and a
// row count K::kMr. A tile covers the whole K (no k blocking: see dispatch.h) and up to 4 vectors
// of kVw columns, nr = 4 * kVw as in the fp32 kernels, so the fused LSTM's panel layout holds.
//
//   Bf16Widen: bf16 weights widened in registers (a 16-bit shift / mask of each k pair) and one fp32
//              FMA per k, in k order: bit-identical to a sequential fp32 sum of the exact products.
//   Bf16Dot:   vdpbf16ps, two k per instruction (its own rounding order; within fp32 tolerance).
//   I8Tiles:   int32 sums of K::i8_dot (vpdpbusd, or a widening vpmaddwd / vmull path that
//              cannot saturate), then the contract's f32(acc) * f32(s_a * s_w) epilogue.
// Everything is in an anonymous namespace (see common.h). It does not quantize (simd/quantize.h)
// and does not block, pack or thread (gemm/qgemm.cc).
#pragma once

#include <cstring>

#include "../cpu/dispatch.h"
#include "common.h"

namespace cellstate {
namespace {

template <class K>
struct QTileCommon {
  using V = typename K::V;
  using Mask = typename K::Mask;
  using MaskArg = typename K::EdgeMaskArg;
  static constexpr int kVw = K::kVw;
  static constexpr int kNr = 4 * kVw;

  static CS_ALWAYS_INLINE Mask mask_of(MaskArg mask, int v) {
    if constexpr (K::kMaskEveryEdgeVector) return mask[v];
    else return (void)v, mask;
  }

  // c = (accumulate ? c : 0) + r (+ bias, last), as the fp32 tiles store: (C + A*B) + bias.
  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void store(V (&r)[M][NV], float* c, int64_t ldc, bool accumulate, const float* bias,
                                     MaskArg mask) {
    V bv[NV];
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      bv[v] = bias == nullptr ? K::zero()
              : EDGE && (K::kMaskEveryEdgeVector || v == NV - 1) ? K::load_mask(bias + v * kVw, mask_of(mask, v))
                                                                 : K::loadu(bias + v * kVw);
    }
    CS_UNROLL for (int i = 0; i < M; ++i) {
      float* crow = c + i * ldc;
      CS_UNROLL for (int v = 0; v < NV; ++v) {
        float* cp = crow + v * kVw;
        V x = r[i][v];
        if (EDGE && (K::kMaskEveryEdgeVector || v == NV - 1)) {
          const Mask mv = mask_of(mask, v);
          if (accumulate) x = K::add(x, K::load_mask(cp, mv));
          if (bias != nullptr) x = K::add(x, bv[v]);
          K::store_mask(cp, mv, x);
        } else {
          if (accumulate) x = K::add(x, K::loadu(cp));
          if (bias != nullptr) x = K::add(x, bv[v]);
          K::storeu(cp, x);
        }
      }
    }
  }

  // Body::template run<M, NV, EDGE>(mask, args...) for the m x n tile: one switch on m and one on
  // the vector count, so an edge tile runs code compiled for exactly its shape.
  template <class Body>
  struct Dispatch {
    template <int M, bool EDGE>
    struct Nv {
      template <int NV, class... Args>
      static CS_ALWAYS_INLINE void run(MaskArg mask, Args... args) {
        Body::template run<M, NV, EDGE>(mask, args...);
      }
    };
    struct Rows {
      template <int M, class... Args>
      static CS_ALWAYS_INLINE void run(int64_t n, Args... args) {
        const int64_t nv = (n + kVw - 1) / kVw;
        if constexpr (K::kMaskEveryEdgeVector) {
          Mask mask[4];
          K::edge_masks(n, mask);
          switch_n<4, Nv<M, true>>(nv, static_cast<const Mask*>(mask), args...);
        } else {
          if (n <= 0) return;
          const int rem = static_cast<int>(n - (nv - 1) * kVw);  // valid lanes of the last vector
          const Mask last = K::mask_part(rem);
          if (rem == kVw) switch_n<4, Nv<M, false>>(nv, last, args...);
          else switch_n<4, Nv<M, true>>(nv, last, args...);
        }
      }
    };
    template <class... Args>
    static CS_ALWAYS_INLINE void go(int64_t m, int64_t n, Args... args) {
      if (m == K::kMr && n == kNr) Body::template run<K::kMr, 4, false>(MaskArg{}, args...);
      else switch_n<K::kMr, Rows>(m, n, args...);
    }
  };
};

// bf16 weights widened to fp32 in registers; A rows are floats holding bf16 values (QuantA::f32).
// K::widen_bf16_even(p) / _odd(p): of the 2*kVw uint16 at p (kVw columns x a k pair), the kVw
// columns' first / second k as fp32.
template <class K>
struct Bf16Widen : QTileCommon<K> {
  using C = QTileCommon<K>;
  using V = typename K::V;
  using MaskArg = typename C::MaskArg;
  static constexpr int kVw = K::kVw, kNr = C::kNr;

  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void run(MaskArg mask, int64_t kp, const float* a, int64_t lda, const uint16_t* bp,
                                   float* c, int64_t ldc, bool accumulate, const float* bias) {
    V acc[M][NV];
    CS_UNROLL for (int i = 0; i < M; ++i) {
      CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::zero();
    }
    // Per k pair, the even k for every accumulator, then the odd one (each accumulator's sum in k
    // order). Live: M * NV accumulators, M A broadcasts, 1 widened B vector - 31 registers on
    // AVX-512 (M = 6) and 16 on AVX2 (M = 3), if the odd half's loads wait for the even half's
    // products (CS_LOAD_FENCE): widening both halves at once, or GCC hoisting the odd half's
    // broadcasts, needed more and spilled accumulators in the k loop.
    for (int64_t p = 0; p < kp; ++p, bp += 2 * kNr) {
      CS_UNROLL for (int h = 0; h < 2; ++h) {
        typename K::A ai[M];
        CS_UNROLL for (int i = 0; i < M; ++i) ai[i] = K::bcast(a + i * lda + 2 * p + h);
        CS_UNROLL for (int v = 0; v < NV; ++v) {
          const V w = h == 0 ? K::widen_bf16_even(bp + v * 2 * kVw) : K::widen_bf16_odd(bp + v * 2 * kVw);
          CS_UNROLL for (int i = 0; i < M; ++i) acc[i][v] = K::fma_a(ai[i], w, acc[i][v]);
        }
        CS_LOAD_FENCE();
      }
    }
    C::template store<M, NV, EDGE>(acc, c, ldc, accumulate, bias, mask);
  }

  static void tile(int64_t m, int64_t n, int64_t kp, const void* a, int64_t lda, const uint16_t* bp, float* c,
                   int64_t ldc, bool accumulate, const float* bias) {
    C::template Dispatch<Bf16Widen>::go(m, n, kp, static_cast<const float*>(a), lda, bp, c, ldc, accumulate, bias);
  }
};

// vdpbf16ps: K::bf16_pair(p) broadcasts the pair (a[k], a[k+1]) at p, K::bf16_load(p) loads kVw
// columns x a k pair, K::bf16_dot(acc, a, b) = acc + a.even * b.even + a.odd * b.odd per column.
template <class K>
struct Bf16Dot : QTileCommon<K> {
  using C = QTileCommon<K>;
  using V = typename K::V;
  using MaskArg = typename C::MaskArg;
  static constexpr int kVw = K::kVw, kNr = C::kNr;

  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void run(MaskArg mask, int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* bp,
                                   float* c, int64_t ldc, bool accumulate, const float* bias) {
    V acc[M][NV];
    CS_UNROLL for (int i = 0; i < M; ++i) {
      CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::zero();
    }
    for (int64_t p = 0; p < kp; ++p, bp += 2 * kNr) {
      typename K::BfB b[NV];  // all of the k pair's B vectors first: 24 + 4 + 1 of 32 registers at M = 6
      CS_UNROLL for (int v = 0; v < NV; ++v) b[v] = K::bf16_load(bp + v * 2 * kVw);
      CS_UNROLL for (int i = 0; i < M; ++i) {
        const typename K::BfB ai = K::bf16_pair(a + i * lda + 2 * p);
        CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::bf16_dot(acc[i][v], ai, b[v]);
      }
    }
    C::template store<M, NV, EDGE>(acc, c, ldc, accumulate, bias, mask);
  }

  static void tile(int64_t m, int64_t n, int64_t kp, const void* a, int64_t lda, const uint16_t* bp, float* c,
                   int64_t ldc, bool accumulate, const float* bias) {
    C::template Dispatch<Bf16Dot>::go(m, n, kp, static_cast<const uint16_t*>(a), lda, bp, c, ldc, accumulate, bias);
  }
};

// int8: K::I accumulates kVw columns (K::i_finish makes it one int32 per column, VI), K::i8_bcast(p)
// reads one k quad of an A row (K::kAQuadBytes bytes in format K::kA), K::i8_load(p) one k quad of
// kVw columns (4*kVw int8), K::i8_dot(acc, a, b) adds the quad's 4 products per column, exactly.
// K::kU8: A holds q + 128 (vpdpbusd), so 128 * sum_k q_w is subtracted (mod 2^32: exact, since the
// true sum fits in int32 while the biased one may wrap).
template <class K>
struct I8Tiles : QTileCommon<K> {
  using C = QTileCommon<K>;
  using V = typename K::V;
  using MaskArg = typename C::MaskArg;
  static constexpr int kVw = K::kVw, kNr = C::kNr;

  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void run(MaskArg mask, int64_t kq, const uint8_t* a, int64_t lda, const float* sa,
                                   const int8_t* bp, const float* sw, const int32_t* sumw, float* c, int64_t ldc,
                                   bool accumulate, const float* bias) {
    typename K::I acc[M][NV];
    CS_UNROLL for (int i = 0; i < M; ++i) {
      CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::i_zero();
    }
    for (int64_t q = 0; q < kq; ++q, bp += 4 * kNr) {
      if constexpr (K::kI8BFirst) {
        typename K::IB b[NV];
        CS_UNROLL for (int v = 0; v < NV; ++v) b[v] = K::i8_load(bp + v * 4 * kVw);
        CS_UNROLL for (int i = 0; i < M; ++i) {
          const typename K::IA ai = K::i8_bcast(a + i * lda + q * K::kAQuadBytes);
          CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::i8_dot(acc[i][v], ai, b[v]);
        }
      } else {
        typename K::IA ai[M];
        CS_UNROLL for (int i = 0; i < M; ++i) ai[i] = K::i8_bcast(a + i * lda + q * K::kAQuadBytes);
        CS_UNROLL for (int v = 0; v < NV; ++v) {
          const typename K::IB b = K::i8_load(bp + v * 4 * kVw);
          CS_UNROLL for (int i = 0; i < M; ++i) acc[i][v] = K::i8_dot(acc[i][v], ai[i], b);
        }
      }
    }
    V r[M][NV];
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      const V swv = K::loadu(sw + v * kVw);
      typename K::VI corr{};
      if constexpr (K::kU8) corr = K::i_shl7(K::i_loadu(sumw + v * kVw));
      (void)sumw;
      CS_UNROLL for (int i = 0; i < M; ++i) {
        typename K::VI t = K::i_finish(acc[i][v]);
        if constexpr (K::kU8) t = K::i_sub(t, corr);
        r[i][v] = K::keep(K::mul(K::i_cvt(t), K::keep(K::mul(K::set1(sa[i]), swv))));  // f32(acc) * f32(s_a * s_w)
      }
    }
    C::template store<M, NV, EDGE>(r, c, ldc, accumulate, bias, mask);
  }

  static void tile(int64_t m, int64_t n, int64_t kq, const uint8_t* a, int64_t lda, const float* sa,
                   const int8_t* bp, const float* sw, const int32_t* sumw, float* c, int64_t ldc, bool accumulate,
                   const float* bias) {
    C::template Dispatch<I8Tiles>::go(m, n, kq, a, lda, sa, bp, sw, sumw, c, ldc, accumulate, bias);
  }
};

}  // namespace
}  // namespace cellstate
