// fma_peak_avx512.cc - FP32 FMA throughput probe with 16-float vectors: the avx512 instance of
// simd/fma_peak.h over simd/avx512.h.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512.h"
#include "../simd/fma_peak.h"

namespace cellstate {

void fill_probe_kernels_avx512(KernelTable& t) { t.fma_chains = fma_chains<SimdAvx512>; }

}  // namespace cellstate

#endif
