// fma_peak_scalar.cc - FP32 multiply-add throughput probe, portable version (used by the
// benchmark to report "% of peak"). Independent accumulator chains so latency is hidden.
#include "../cpu/dispatch.h"

namespace cellstate {
namespace {

double fma_chains_scalar(int64_t iters) {
  float a[16];
  for (int i = 0; i < 16; ++i) a[i] = 1.f + i * 1e-3f;
  const float m = 0.999999f, c = 1e-6f;
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 16; ++i) a[i] = a[i] * m + c;
  }
  float s = 0;
  for (int i = 0; i < 16; ++i) s += a[i];
  volatile float sink = s;
  (void)sink;
  return 2.0 * 16 * static_cast<double>(iters);
}

}  // namespace

void fill_probe_kernels_scalar(KernelTable& t) { t.fma_chains = fma_chains_scalar; }

}  // namespace cellstate
