// fma_peak_avx2.cc - FP32 FMA throughput probe with 8-float vectors (-mavx2 -mfma): 12 independent
// accumulator chains (enough to cover FMA latency x pipes), nothing else in the loop.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace cellstate {
namespace {

double fma_chains_avx2(int64_t iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.f + i * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  alignas(64) float out[8];
  _mm256_store_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 12 * 8 * static_cast<double>(iters);
}

}  // namespace

void fill_probe_kernels_avx2(KernelTable& t) { t.fma_chains = fma_chains_avx2; }

}  // namespace cellstate
#endif
