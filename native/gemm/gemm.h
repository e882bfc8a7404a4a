// gemm.h - single-precision GEMM driver: C = beta*C + op(A)*op(B) (+ bias).
//
// Row-major throughout. The driver blocks K (kc) and N (groups of panels
// that stay in L2), packs B into the active kernel's panel layout (unless it
// is already packed), packs A into mr-row tiles when transA, and runs the
// dispatched micro-kernel (kernels().gemm) over mr x nr tiles. Large problems
// are split over output blocks with a ThreadPool; small ones run on the
// caller. It never throws, prints or aborts; if an internal scratch buffer
// cannot be allocated it falls back to a slow but correct loop. beta is meant
// to be 0 or 1 (any other value works but costs one extra pass over C). It
// has no int8/fp16/double paths and does not pack A when A is not transposed.
#pragma once

#include <cstdint>

#include "pack.h"

namespace cellstate {

class ThreadPool;

// C[M x N] = beta*C + op(A) * op(B) (+ bias[j] added to every row if bias != nullptr).
//   op(A)(i, kk) = transA ? A[kk*lda + i] : A[i*lda + kk]      (M x K)
//   op(B)(kk, j) = transB ? B[j*ldb + kk] : B[kk*ldb + j]      (K x N)
//   C(i, j)      = C[i*ldc + j]; only the M x N region is read or written.
// beta == 0 overwrites C without reading it (NaN garbage is fine); beta == 1
// accumulates. K == 0 gives C = beta*C (+ bias). M or N == 0 does nothing.
// pool may be nullptr (single-threaded).
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
           const float* A, int64_t lda, const float* B, int64_t ldb,
           float beta, float* C, int64_t ldc, const float* bias, ThreadPool* pool);

// Same with a pre-packed B (pack_b(), made in this process) and A not
// transposed. Requires B.k == K, B.n == N, B.nr == kernels().gemm.nr and
// B.ok(); otherwise C is left untouched.
void sgemm_packed(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B,
                  float beta, float* C, int64_t ldc, const float* bias, ThreadPool* pool);

// The columns of panels [q0, q1) of a pre-packed B only: C[:, q0*nr .. min(B.n, q1*nr)), C and
// bias indexed by absolute column (C(i, j) = C[i*ldc + j], bias[j]). Other columns of C are not
// touched. Same preconditions, plus 0 <= q0 and q1 <= B.num_panels().
void sgemm_packed_panels(int64_t M, int64_t K, const float* A, int64_t lda, const PackedB& B,
                         int64_t q0, int64_t q1, float beta, float* C, int64_t ldc, const float* bias,
                         ThreadPool* pool);

}  // namespace cellstate
