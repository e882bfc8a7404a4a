// simd/amx.h - the quantized GEMM tiles on AMX (Advanced Matrix Extensions: Sapphire Rapids and
// later Xeons), on top of the AVX512-BF16 vocabulary for the epilogue. Include only from *_amx.cc
// files (compiled with the flags native/isa.json gives amx).
//
// One call = one tile C[m x n] (m <= 32 = mr, n <= nr = 64) over the whole K, as every tier's:
//   m <= 16: tmm0-3 C (m rows x 16 columns each: the panel's 64 columns; fp32 for bf16, int32 for
//            int8), tmm4 A (m rows x 64 bytes: 32 bf16 / 64 int8 k of each row), tmm5-6 B
//            alternately (16 k groups x 16 columns x 4 bytes), so a load overlaps a product;
//   m > 16:  per half of the columns, 2 row blocks x 2 column tiles: tmm0-3 C, tmm4-5 A, tmm6-7 B,
//            so each B tile loaded serves two row blocks (measured: L bf16 29 -> 23 ms, 1 thread).
// A panel row of k groups is nr x 4 = 256 bytes, so B's columns [16v, 16v + 16) are the 64 bytes
// at 64v of each row. K is padded to whole 64-byte blocks with zeros (kg_align 16: gemm/qpack.cc,
// gemm/qgemm.cc), so there is no k tail. The products land in a 32 x 64 buffer that the AVX-512
// epilogue of every tier (QTileCommon::store; int8's f32(acc) * f32(s_a * s_w)) finishes.
// The two-product calls (bf16_2, i8_2: the two one-product calls' results, bit for bit) run side
// work (TileSideWork) between their products: the tile unit executes its queue of TDPs while the
// core runs it (the fused LSTM's elementwise step of the previous tile: L bf16 2T 10.9 -> 8.9 ms).
//
// Numerics: TDPBSSD sums int8 x int8 into int32 exactly, so int8 matches every other tier bit
// for bit. TDPBF16PS, like vdpbf16ps, treats bf16 denormals as zero and rounds in its own
// order: within the contract's fp32 tolerance, not bit for bit (docs/equations.md).
//
// The tile configuration (LDTILECFG, which depends on m) is loaded only when m changes inside a
// QTileScope (gemm/qgemm.h) and released (TILERELEASE) when the thread's outermost scope closes;
// a call outside any scope loads and releases it itself. So no tile state outlives our work: an
// AMX user on the same thread (a oneDNN or ONNX Runtime kernel in this process) never sees ours,
// and a scope never trusts a configuration loaded before it opened. (Loading it on every call
// cost 13% of L bf16.)
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "avx512_bf16.h"
#include "qgemm_tiles.h"

namespace cellstate {
namespace {

constexpr int kAmxRows = 16;    // rows of one tile
constexpr int kAmxMr = 32;      // rows of one call: two row blocks
constexpr int kAmxCols = 64;    // panel columns (nr): 4 tiles of 16
constexpr int64_t kAmxPanelRowBytes = kAmxCols * 4;  // one k group of the panel's 64 columns

// The 64-byte LDTILECFG operand, palette 1.
struct alignas(64) AmxTileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Per thread: the m whose configuration this thread has loaded (0: none), and the depth of open
// tile scopes (QGemmKernel::scope_begin / scope_end). Inside a scope the configuration stays
// loaded from call to call (no foreign code runs on the thread there); a call outside any scope
// loads it and releases the tiles again itself.
thread_local int t_amx_m = 0;
thread_local int t_amx_depth = 0;

// m <= 16: tmm0-3 C (m rows; columns 16v..16v+15), tmm4 A (m rows), tmm5-6 B.
// m > 16, per half h of the columns: tmm0-1 C of rows 0-15 (columns 32h.., 32h+16..), tmm2-3 C of
// rows 16..m-1, tmm4 A rows 0-15, tmm5 A rows 16..m-1, tmm6-7 B.
CS_ALWAYS_INLINE void amx_enter(int m) {
  if (t_amx_m == m) return;
  AmxTileConfig cfg{};
  cfg.palette = 1;
  auto set = [&cfg](int t, int rows) {
    cfg.rows[t] = static_cast<uint8_t>(rows);
    cfg.colsb[t] = 64;
  };
  if (m <= kAmxRows) {
    for (int t = 0; t < 5; ++t) set(t, m);
    set(5, kAmxRows);
    set(6, kAmxRows);
  } else {
    set(0, kAmxRows);
    set(1, kAmxRows);
    set(2, m - kAmxRows);
    set(3, m - kAmxRows);
    set(4, kAmxRows);
    set(5, m - kAmxRows);
    set(6, kAmxRows);
    set(7, kAmxRows);
  }
  _tile_loadconfig(&cfg);
  t_amx_m = m;
}

CS_ALWAYS_INLINE void amx_leave() {
  if (t_amx_depth == 0) {
    _tile_release();
    t_amx_m = 0;
  }
}

// A scope opened on a thread forgets any configuration it may have had (foreign code may have
// loaded its own since); the outermost close releases the tiles.
void amx_scope_begin() {
  if (t_amx_depth++ == 0) t_amx_m = 0;
}
void amx_scope_end() {
  if (t_amx_depth > 0 && --t_amx_depth == 0 && t_amx_m != 0) {
    _tile_release();
    t_amx_m = 0;
  }
}

// tmm[c] += tmm[a] . tmm[b] (the intrinsics take literal tile numbers: they are spliced into asm).
#define CS_AMX_DOT(int8, c, a, b)         \
  do {                                    \
    if constexpr (int8) _tile_dpbssd(c, a, b); \
    else _tile_dpbf16ps(c, a, b);         \
  } while (0)

// One operand pair of a product: A rows (m of them, lda_bytes apart) and a B panel of kg k groups
// (a multiple of 16; rows of 256 bytes).
struct AmxOperand {
  const uint8_t* a;
  int64_t lda_bytes;
  const uint8_t* bp;
  int64_t kg;
};

// Side work (TileSideWork), pieces [q0, q1) of it: one every few k blocks, between the products,
// while the tile unit works through its queue of them; what is left runs before the last stores.
class AmxSide {
 public:
  AmxSide(const TileSideWork* side, int64_t q0, int64_t q1) : side_(side), done_(q0), end_(q1) {}
  // Spread over kblocks ticks: `per` pieces every `every` ticks.
  void start(int64_t kblocks) {
    const int64_t n = end_ - done_;
    if (side_ == nullptr || n <= 0 || kblocks <= 0) return;
    every_ = left_ = kblocks > n ? kblocks / n : 1;
    per_ = (n + kblocks - 1) / kblocks;
  }
  CS_ALWAYS_INLINE void tick() {
    if (left_ > 0 && --left_ == 0) {
      for (int64_t q = 0; q < per_ && done_ < end_; ++q) side_->run(side_->ctx, done_++);
      left_ = every_;
    }
  }
  void drain() {
    while (side_ != nullptr && done_ < end_) side_->run(side_->ctx, done_++);
  }

 private:
  const TileSideWork* side_;
  int64_t done_, end_;
  int64_t every_ = 0, left_ = 0, per_ = 0;
};

// The four C tiles (tmm0-3) to zero, before an operand pair's products.
CS_ALWAYS_INLINE void amx_zero_c() {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}

// outs[q][i * 64 + j] (i < m <= 32, j < 64; columns >= 32 only if n > 32) = A row i . B column j
// of operand pair q over its kg k groups, q < nops: fp32 (bf16 operands, TDPBF16PS) or int32
// (int8, TDPBSSD). The pairs' products run back to back, each from zeroed tiles into its own out.
// side (or nullptr): side work to run between the products (AmxSide).
template <bool kInt8>
CS_ALWAYS_INLINE void amx_products(int m, int64_t n, const AmxOperand* ops, int nops, void* const* outs,
                                   AmxSide* side = nullptr) {
  amx_enter(m);
  int64_t kblocks = 0;
  for (int q = 0; q < nops; ++q) kblocks += ops[q].kg / kAmxRows;
  const int halves = m <= kAmxRows ? 1 : (n > 32 ? 2 : 1);
  AmxSide none(nullptr, 0, 0);
  AmxSide& work = side != nullptr ? *side : none;
  work.start(kblocks * halves);
  if (m <= kAmxRows) {  // one row block, all four column tiles: A loaded once per k block
    for (int q = 0; q < nops; ++q) {
      const AmxOperand& op = ops[q];
      amx_zero_c();
      const uint8_t* a = op.a;
      const uint8_t* b = op.bp;
      for (int64_t g = 0; g < op.kg; g += kAmxRows, a += 64, b += kAmxRows * kAmxPanelRowBytes) {
        _tile_loadd(4, a, op.lda_bytes);
        _tile_loadd(5, b, kAmxPanelRowBytes);
        _tile_loadd(6, b + 64, kAmxPanelRowBytes);
        CS_AMX_DOT(kInt8, 0, 4, 5);
        CS_AMX_DOT(kInt8, 1, 4, 6);
        _tile_loadd(5, b + 128, kAmxPanelRowBytes);
        _tile_loadd(6, b + 192, kAmxPanelRowBytes);
        CS_AMX_DOT(kInt8, 2, 4, 5);
        CS_AMX_DOT(kInt8, 3, 4, 6);
        work.tick();
      }
      if (q + 1 == nops) work.drain();
      char* o = static_cast<char*>(outs[q]);
      _tile_stored(0, o, kAmxPanelRowBytes);
      _tile_stored(1, o + 64, kAmxPanelRowBytes);
      _tile_stored(2, o + 128, kAmxPanelRowBytes);
      _tile_stored(3, o + 192, kAmxPanelRowBytes);
    }
  } else {  // two row blocks x two column tiles per pass: each B tile serves 2 row blocks
    for (int h = 0; h < halves; ++h) {
      for (int q = 0; q < nops; ++q) {
        const AmxOperand& op = ops[q];
        amx_zero_c();
        const uint8_t* ar = op.a;
        const uint8_t* b = op.bp + 128 * h;
        for (int64_t g = 0; g < op.kg; g += kAmxRows, ar += 64, b += kAmxRows * kAmxPanelRowBytes) {
          _tile_loadd(4, ar, op.lda_bytes);
          _tile_loadd(6, b, kAmxPanelRowBytes);
          CS_AMX_DOT(kInt8, 0, 4, 6);
          _tile_loadd(7, b + 64, kAmxPanelRowBytes);
          CS_AMX_DOT(kInt8, 1, 4, 7);
          _tile_loadd(5, ar + kAmxRows * op.lda_bytes, op.lda_bytes);
          CS_AMX_DOT(kInt8, 2, 5, 6);
          CS_AMX_DOT(kInt8, 3, 5, 7);
          work.tick();
        }
        if (h + 1 == halves && q + 1 == nops) work.drain();
        char* oh = static_cast<char*>(outs[q]) + 128 * h;
        _tile_stored(0, oh, kAmxPanelRowBytes);
        _tile_stored(1, oh + 64, kAmxPanelRowBytes);
        _tile_stored(2, oh + kAmxRows * kAmxPanelRowBytes, kAmxPanelRowBytes);
        _tile_stored(3, oh + kAmxRows * kAmxPanelRowBytes + 64, kAmxPanelRowBytes);
      }
    }
  }
  amx_leave();
}

// f(i, rows) over m rows: whole 16-row blocks (rows = 16), then an edge block row by row (rows =
// 1), as std::integral_constant - code for M = 16 and M = 1 only (every M from 1 to 16 took clang's
// ASan+UBSan+fuzzer build 8 minutes for this file).
template <class F>
CS_ALWAYS_INLINE void amx_epilogue_rows(int64_t m, F&& f) {
  int64_t i = 0;
  for (; i + kAmxRows <= m; i += kAmxRows) f(i, std::integral_constant<int, kAmxRows>{});
  for (; i < m; ++i) f(i, std::integral_constant<int, 1>{});
}

// Both formats' tiles and epilogues, per row block of up to 16 rows through QTileCommon's
// dispatch (K::kMr == 16): run() for fp32 sums (bf16) and for int32 sums (int8).
template <class K>
struct AmxTiles : QTileCommon<K> {
  using C = QTileCommon<K>;
  using V = typename K::V;
  using MaskArg = typename C::MaskArg;
  static_assert(C::kNr == kAmxCols && K::kMr == kAmxRows, "AMX tiles: 16-row blocks of 64-column panels");
  using Rows = typename C::template Dispatch<AmxTiles>::Rows;

  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void run(MaskArg mask, const float* out, float* c, int64_t ldc, bool accumulate,
                                   const float* bias) {
    V r[M][NV];
    CS_UNROLL for (int i = 0; i < M; ++i) {
      CS_UNROLL for (int v = 0; v < NV; ++v) r[i][v] = K::load(out + i * kAmxCols + v * K::kVw);
    }
    C::template store<M, NV, EDGE>(r, c, ldc, accumulate, bias, mask);
  }

  template <int M, int NV, bool EDGE>
  static CS_ALWAYS_INLINE void run(MaskArg mask, const int32_t* out, const float* sa, const float* sw, float* c,
                                   int64_t ldc, bool accumulate, const float* bias) {
    V r[M][NV];
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      const V swv = K::loadu(sw + v * K::kVw);
      CS_UNROLL for (int i = 0; i < M; ++i) {
        const typename K::VI t = K::i_loadu(out + i * kAmxCols + v * K::kVw);
        r[i][v] = K::keep(K::mul(K::i_cvt(t), K::keep(K::mul(K::set1(sa[i]), swv))));  // f32(acc) * f32(s_a * s_w)
      }
    }
    C::template store<M, NV, EDGE>(r, c, ldc, accumulate, bias, mask);
  }

  // The epilogues over m rows (amx_epilogue_rows).
  static void finish(int64_t m, int64_t n, const float* out, float* c, int64_t ldc, bool accumulate,
                     const float* bias) {
    amx_epilogue_rows(m, [&](int64_t i, auto rows) {
      Rows::template run<decltype(rows)::value>(n, out + i * kAmxCols, c + i * ldc, ldc, accumulate, bias);
    });
  }
  static void finish(int64_t m, int64_t n, const int32_t* out, const float* sa, const float* sw, float* c, int64_t ldc,
                     bool accumulate, const float* bias) {
    amx_epilogue_rows(m, [&](int64_t i, auto rows) {
      Rows::template run<decltype(rows)::value>(n, out + i * kAmxCols, sa + i, sw, c + i * ldc, ldc, accumulate, bias);
    });
  }

  // QGemmKernel::bf16: A rows are bf16 bit patterns (QuantA::bf16), lda in uint16.
  static void bf16(int64_t m, int64_t n, int64_t kp, const void* a, int64_t lda, const uint16_t* bp, float* c,
                   int64_t ldc, bool accumulate, const float* bias) {
    alignas(64) float out[kAmxMr * kAmxCols];
    const AmxOperand op{static_cast<const uint8_t*>(a), lda * 2, reinterpret_cast<const uint8_t*>(bp), kp};
    void* const outs[1] = {out};
    amx_products<false>(static_cast<int>(m), n, &op, 1, outs);
    finish(m, n, out, c, ldc, accumulate, bias);
  }

  // QGemmKernel::bf16_2: bf16 of op1 (accumulate, bias), then bf16 of op2 accumulated onto it, bit
  // for bit as those two calls (so the fused LSTM's pre-activations do not depend on whether it
  // multiplies x per tile or reads it from its chunked Gx, i.e. on the batch size: summing both
  // products in one accumulation rounded differently, and a batched request's rows differed from
  // the same request alone). Both products run back to back on the tile unit, the side work
  // spread over them, then both epilogues.
  static void bf16_2(int64_t m, int64_t n, int64_t kp1, const void* a1, int64_t lda1, const uint16_t* bp1,
                     int64_t kp2, const void* a2, int64_t lda2, const uint16_t* bp2, float* c, int64_t ldc,
                     bool accumulate, const float* bias, const TileSideWork* side) {
    alignas(64) float out1[kAmxMr * kAmxCols];
    alignas(64) float out2[kAmxMr * kAmxCols];
    const AmxOperand ops[2] = {{static_cast<const uint8_t*>(a1), lda1 * 2, reinterpret_cast<const uint8_t*>(bp1), kp1},
                               {static_cast<const uint8_t*>(a2), lda2 * 2, reinterpret_cast<const uint8_t*>(bp2), kp2}};
    void* const outs[2] = {out1, out2};
    AmxSide work(side, 0, side != nullptr ? side->pieces : 0);
    amx_products<false>(static_cast<int>(m), n, ops, 2, outs, &work);
    amx_epilogue_rows(m, [&](int64_t i, auto rows) {  // per row block, the two calls' stores
      Rows::template run<decltype(rows)::value>(n, out1 + i * kAmxCols, c + i * ldc, ldc, accumulate, bias);
      Rows::template run<decltype(rows)::value>(n, out2 + i * kAmxCols, c + i * ldc, ldc, true, nullptr);
    });
  }

  // QGemmKernel::i8: A rows are int8 q (QuantA::s8), so no u8 offset correction (sumw unused).
  static void i8(int64_t m, int64_t n, int64_t kq, const uint8_t* a, int64_t lda, const float* sa, const int8_t* bp,
                 const float* sw, const int32_t* /*sumw*/, float* c, int64_t ldc, bool accumulate,
                 const float* bias) {
    alignas(64) int32_t out[kAmxMr * kAmxCols];
    const AmxOperand op{a, lda, reinterpret_cast<const uint8_t*>(bp), kq};
    void* const outs[1] = {out};
    amx_products<true>(static_cast<int>(m), n, &op, 1, outs);
    finish(m, n, out, sa, sw, c, ldc, accumulate, bias);
  }

  // QGemmKernel::i8_2: i8 of op1 (accumulate = false, bias), then i8 of op2 accumulated onto it, bit
  // for bit as those two calls; both products back to back on the tile unit (the side work spread
  // over them), then both epilogues.
  static void i8_2(int64_t m, int64_t n, const QGemmKernel::I8Operand& op1, const QGemmKernel::I8Operand& op2,
                   float* c, int64_t ldc, const float* bias, const TileSideWork* side) {
    alignas(64) int32_t out1[kAmxMr * kAmxCols];
    alignas(64) int32_t out2[kAmxMr * kAmxCols];
    const AmxOperand ops[2] = {{op1.a, op1.lda, reinterpret_cast<const uint8_t*>(op1.bp), op1.kq},
                               {op2.a, op2.lda, reinterpret_cast<const uint8_t*>(op2.bp), op2.kq}};
    void* const outs[2] = {out1, out2};
    AmxSide work(side, 0, side != nullptr ? side->pieces : 0);
    amx_products<true>(static_cast<int>(m), n, ops, 2, outs, &work);
    amx_epilogue_rows(m, [&](int64_t i, auto rows) {  // per row block, the two calls' stores
      Rows::template run<decltype(rows)::value>(n, out1 + i * kAmxCols, op1.sa + i, op1.sw, c + i * ldc, ldc, false,
                                                bias);
      Rows::template run<decltype(rows)::value>(n, out2 + i * kAmxCols, op2.sa + i, op2.sw, c + i * ldc, ldc, true,
                                                nullptr);
    });
  }
};

}  // namespace
}  // namespace cellstate
