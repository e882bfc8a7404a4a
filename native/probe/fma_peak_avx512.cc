// fma_peak_avx512.cc - FP32 FMA throughput probe with 16-float vectors (AVX-512): 12 independent
// accumulator chains (enough to cover FMA latency x pipes), nothing else in the loop.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace cellstate {
namespace {

double fma_chains_avx512(int64_t iters) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.f + i * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 12 * 16 * static_cast<double>(iters);
}

}  // namespace

void fill_probe_kernels_avx512(KernelTable& t) { t.fma_chains = fma_chains_avx512; }

}  // namespace cellstate
#endif
