// gemm_kernel_avx2.cc - AVX2 + FMA GEMM micro-kernels (mr = 3, nr = 32).
//
// The AVX2 instance of the shared micro-kernels (simd/gemm_tiles.h over simd/avx2.h), compiled
// with avx2's flags (native/isa.json). A tile is 3 rows x 4 ymm vectors (32 columns): 12 ymm
// accumulators + 3 broadcast A values + 1 B vector = all 16 ymm registers. Per k step: 3
// broadcasts, 4 B loads, 12 FMAs. Edge tiles mask only a partial last vector (vmaskmov).
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2.h"
#include "../simd/gemm_tiles.h"

namespace cellstate {
namespace {

struct GemmAvx2 : SimdAvx2 {
  static constexpr int kMr = 3;
  static constexpr int kUnrollK = 4;
  static constexpr bool kBFirst = false;  // B vectors one at a time (register budget: 12 + 3 + 1 = 16)
};

}  // namespace

void fill_kernels_avx2(KernelTable& t) { GemmTiles<GemmAvx2>::fill(t); }

}  // namespace cellstate

#endif  // x86-64
