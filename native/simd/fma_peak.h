// simd/fma_peak.h - the FP32 FMA throughput probe (the benchmark's "% of peak"), written once for
// every SIMD tier against its vocabulary S (simd/<isa>.h): 12 independent accumulator chains
// (enough to cover FMA latency x pipes), nothing else in the loop. Returns the flops done.
#pragma once

#include "common.h"

namespace cellstate {
namespace {

template <class S>
double fma_chains(int64_t iters) {
  using V = typename S::V;
  V a[12];
  for (int i = 0; i < 12; ++i) a[i] = S::set1(1.f + i * 1e-3f);
  const V m = S::set1(0.999999f), c = S::set1(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = S::fmadd(a[i], m, c);
  }
  V s = a[0];
  for (int i = 1; i < 12; ++i) s = S::add(s, a[i]);
  alignas(64) float out[S::kVw];
  S::store(out, s);
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 12 * S::kVw * static_cast<double>(iters);
}

}  // namespace
}  // namespace cellstate
