// qgemm.cc - quantizes A's rows and runs the quantized tiles over row blocks x panels.
//
// Loop nest of one output block (rows [m0, m1) x panels [q0, q1)):
//   for row block (kMcTiles tiles of mr rows: the block's quantized rows stay in L2)
//     for panel q                (one panel, K x nr x 2 or 1 bytes, stays in L1/L2 over the block)
//       for row tile             tile over the whole K
// Threads get disjoint output blocks. Compiled without ISA flags: it only moves pointers and
// calls through kernels().qgemm.
#include "qgemm.h"

#include <cstring>

#include "../cpu/dispatch.h"
#include "../threadpool.h"

namespace cellstate {

namespace {

constexpr int64_t kMcTiles = 16;              // row tiles per row block
constexpr int64_t kMinMacPerThread = 200000;  // don't give a thread less work than this
constexpr int64_t kMinQuantPerThread = 32768; // values quantized per thread at least

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bytes of one quantized row of k values in format f, its k groups (pairs / quads) padded to a
// multiple of align: align 1 is what the quantizers write (simd/quantize.h).
int64_t row_bytes_of(QuantA f, int64_t k, int64_t align) {
  const int64_t g = f == QuantA::f32 || f == QuantA::bf16 ? 2 : 4;  // k values per group
  const int64_t values = ceil_div(ceil_div(k, g), align) * align * g;
  switch (f) {
    case QuantA::f32: return 4 * values;
    case QuantA::bf16:
    case QuantA::s16eo: return 2 * values;
    case QuantA::s8:
    case QuantA::u8: return values;
  }
  return 4 * values;
}

int64_t unit_bytes(QuantA f) { return f == QuantA::f32 ? 4 : f == QuantA::bf16 ? 2 : 1; }

}  // namespace

const float* QuantRows::scales() const {
  return reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(buf.get()) + m * row_bytes);
}

bool quant_rows_reserve(QuantRows& q, QFormat fmt, int64_t m, int64_t k) {
  const QGemmKernel& g = kernels().qgemm;
  const QuantA f = fmt == QFormat::bf16 ? g.a_bf16 : g.a_i8;
  // Row bytes stay multiples of 4 (every format pads k to 2 or 4), so the scales are aligned.
  const int64_t rb = row_bytes_of(f, k, fmt == QFormat::bf16 ? g.kg_align_bf16 : g.kg_align_i8);
  const int64_t need = ceil_div(m * rb, 4) + (fmt == QFormat::int8 ? m : 0);
  const int64_t have = q.buf ? ceil_div(q.m * q.row_bytes, 4) + (q.fmt == QFormat::int8 ? q.m : 0) : 0;
  if (!q.buf || have < need) {
    q.buf.reset(scratch_alloc(max64(need, 1)));
    if (!q.buf) return false;
  }
  q.fmt = fmt;
  q.m = m;
  q.k = k;
  q.row_bytes = rb;
  q.quant_bytes = row_bytes_of(f, k, 1);
  q.lda = rb / unit_bytes(f);
  return true;
}

void quant_rows_fill(QuantRows& q, int64_t m, const float* a, int64_t lda, ThreadPool* pool) {
  const QGemmKernel& g = kernels().qgemm;
  uint8_t* base = reinterpret_cast<uint8_t*>(q.buf.get());
  float* sa = const_cast<float*>(q.scales());
  const int64_t pad = q.row_bytes - q.quant_bytes;  // the tier's k padding: zeros
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      uint8_t* row = base + i * q.row_bytes;
      if (q.fmt == QFormat::bf16) g.quant_bf16(q.k, a + i * lda, row);
      else sa[i] = g.quant_i8(q.k, a + i * lda, row);
      if (pad > 0) std::memset(row + q.quant_bytes, 0, static_cast<size_t>(pad));
    }
  };
  const int64_t threads = pool != nullptr ? min64(pool->size(), max64(1, m * q.k / kMinQuantPerThread)) : 1;
  if (threads <= 1 || m < 2) {
    rows(0, m);
    return;
  }
  const int64_t parts = min64(m, threads);
  pool->parallel_for(parts, [&](int64_t t, int) { rows(m * t / parts, m * (t + 1) / parts); });
}

QTileScope::QTileScope() {
  if (kernels().qgemm.scope_begin != nullptr) kernels().qgemm.scope_begin();
}
QTileScope::~QTileScope() {
  if (kernels().qgemm.scope_end != nullptr) kernels().qgemm.scope_end();
}

void quant_row(QuantRows& q, int64_t i, const float* a) {
  const QGemmKernel& g = kernels().qgemm;
  uint8_t* row = reinterpret_cast<uint8_t*>(q.buf.get()) + i * q.row_bytes;
  if (q.fmt == QFormat::bf16) g.quant_bf16(q.k, a, row);
  else const_cast<float*>(q.scales())[i] = g.quant_i8(q.k, a, row);
  if (q.row_bytes > q.quant_bytes) std::memset(row + q.quant_bytes, 0, static_cast<size_t>(q.row_bytes - q.quant_bytes));
}

int qgemm_mr(QFormat fmt) {
  const QGemmKernel& g = kernels().qgemm;
  return fmt == QFormat::bf16 ? g.mr_bf16 : g.mr_i8;
}

void qgemm_tile(const QuantRows& qa, int64_t i0, int64_t rows, const PackedQ& B, int64_t p, int64_t cols, float* c,
                int64_t ldc, bool accumulate, const float* bias) {
  const QGemmKernel& g = kernels().qgemm;
  if (B.fmt == QFormat::bf16) {
    g.bf16(rows, cols, B.kg, qa.row(i0), qa.lda, B.bf16_panel(p), c, ldc, accumulate, bias);
  } else {
    g.i8(rows, cols, B.kg, qa.row(i0), qa.lda, qa.scales() + i0, B.i8_panel(p), B.scale(p), B.sumw(p), c, ldc,
         accumulate, bias);
  }
}

void qgemm_tile2(const QuantRows& qa1, const PackedQ& B1, const QuantRows& qa2, const PackedQ& B2, int64_t i0,
                 int64_t rows, int64_t p, int64_t cols, float* c, int64_t ldc, const float* bias,
                 const TileSideWork* side) {
  const QGemmKernel& g = kernels().qgemm;
  if (B1.fmt == QFormat::bf16 && B2.fmt == QFormat::bf16 && g.bf16_2 != nullptr) {
    g.bf16_2(rows, cols, B1.kg, qa1.row(i0), qa1.lda, B1.bf16_panel(p), B2.kg, qa2.row(i0), qa2.lda, B2.bf16_panel(p),
             c, ldc, false, bias, side);
    return;
  }
  if (B1.fmt == QFormat::int8 && B2.fmt == QFormat::int8 && g.i8_2 != nullptr) {
    const QGemmKernel::I8Operand op1{B1.kg, qa1.row(i0), qa1.lda, qa1.scales() + i0, B1.i8_panel(p), B1.scale(p), B1.sumw(p)};
    const QGemmKernel::I8Operand op2{B2.kg, qa2.row(i0), qa2.lda, qa2.scales() + i0, B2.i8_panel(p), B2.scale(p), B2.sumw(p)};
    g.i8_2(rows, cols, op1, op2, c, ldc, bias, side);
    return;
  }
  qgemm_tile(qa1, i0, rows, B1, p, cols, c, ldc, false, bias);
  qgemm_tile(qa2, i0, rows, B2, p, cols, c, ldc, true, nullptr);
  for (int64_t q = 0; side != nullptr && q < side->pieces; ++q) side->run(side->ctx, q);
}

void qgemm_rows(const QuantRows& qa, int64_t M, const PackedQ& B, int64_t q0, int64_t q1, float beta, float* C,
                int64_t ldc, const float* bias, ThreadPool* pool) {
  if (M <= 0 || q0 >= q1) return;
  const int64_t nr = B.nr, mr = qgemm_mr(B.fmt);
  if (beta != 0.f && beta != 1.f) {
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = q0 * nr; j < min64(B.n, q1 * nr); ++j) C[i * ldc + j] *= beta;
    }
  }
  const bool accumulate = beta != 0.f;
  auto block = [&](int64_t m0, int64_t m1, int64_t p0, int64_t p1) {
    const QTileScope scope;
    for (int64_t ib = m0; ib < m1; ib += kMcTiles * mr) {
      const int64_t ie = min64(ib + kMcTiles * mr, m1);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t j0 = p * nr, cols = min64(nr, B.n - j0);
        for (int64_t i0 = ib; i0 < ie; i0 += mr) {
          qgemm_tile(qa, i0, min64(mr, ie - i0), B, p, cols, C + i0 * ldc + j0, ldc, accumulate,
                     bias != nullptr ? bias + j0 : nullptr);
        }
      }
    }
  };
  const int64_t mt = ceil_div(M, mr), nt = q1 - q0;
  const int64_t macs = M * min64(B.n - q0 * nr, nt * nr) * max64(B.k, 1);
  const int64_t threads = pool != nullptr ? min64(pool->size(), max64(1, macs / kMinMacPerThread)) : 1;
  if (threads <= 1 || mt * nt <= 1) {
    block(0, M, q0, q1);
    return;
  }
  // Columns first (each thread keeps its panels in its own L2), rows when there are too few panels.
  const int64_t gn = min64(nt, threads), gm = min64(mt, ceil_div(threads, gn));
  pool->parallel_for(gm * gn, [&](int64_t task, int) {
    const int64_t bi = task % gm, bj = task / gm;
    const int64_t m0 = (bi * mt / gm) * mr, m1 = min64(M, ((bi + 1) * mt / gm) * mr);
    const int64_t p0 = q0 + bj * nt / gn, p1 = q0 + (bj + 1) * nt / gn;
    if (m0 < m1 && p0 < p1) block(m0, m1, p0, p1);
  });
}

bool qgemm_packed_panels(int64_t M, int64_t K, const float* A, int64_t lda, const PackedQ& B, int64_t q0,
                         int64_t q1, float beta, float* C, int64_t ldc, const float* bias, ThreadPool* pool) {
  if (B.k != K || B.nr != kernels().gemm.nr || !B.ok() || q0 < 0 || q1 > B.num_panels()) return false;
  if (M <= 0 || q0 >= q1) return true;
  thread_local QuantRows qa;  // reused: a recurrent caller quantizes small row sets every step
  if (!quant_rows_reserve(qa, B.fmt, M, K)) return false;
  quant_rows_fill(qa, M, A, lda, pool);
  qgemm_rows(qa, M, B, q0, q1, beta, C, ldc, bias, pool);
  return true;
}

bool qgemm_packed(int64_t M, int64_t K, const float* A, int64_t lda, const PackedQ& B, float beta, float* C,
                  int64_t ldc, const float* bias, ThreadPool* pool) {
  return qgemm_packed_panels(M, K, A, lda, B, 0, B.num_panels(), beta, C, ldc, bias, pool);
}

}  // namespace cellstate
