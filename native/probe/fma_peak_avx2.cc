// fma_peak_avx2.cc - FP32 FMA throughput probe with 8-float vectors: the avx2 instance of
// simd/fma_peak.h over simd/avx2.h.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2.h"
#include "../simd/fma_peak.h"

namespace cellstate {

void fill_probe_kernels_avx2(KernelTable& t) { t.fma_chains = fma_chains<SimdAvx2>; }

}  // namespace cellstate

#endif
