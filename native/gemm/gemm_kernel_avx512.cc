// gemm_kernel_avx512.cc - AVX-512 GEMM micro-kernels (mr = 6, nr = 64).
//
// The AVX-512 instance of the shared micro-kernels (simd/gemm_tiles.h over simd/avx512.h),
// compiled with avx512's flags (native/isa.json). A tile is 6 rows x 4 zmm vectors (64 columns):
// 24 zmm accumulators, 4 zmm for one row of the packed B panel and 1 for the broadcast A element
// (29 of 32 registers). Per k step: 4 aligned B loads, 6 broadcasts, 24 FMAs. Edge tiles mask
// every C vector (opmasks).
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512.h"
#include "../simd/gemm_tiles.h"

namespace cellstate {
namespace {

struct GemmAvx512 : SimdAvx512 {
  static constexpr int kMr = 6;
  static constexpr int kUnrollK = 4;
  static constexpr bool kBFirst = true;  // the 4 B vectors of a k step stay in registers
};

}  // namespace

void fill_kernels_avx512(KernelTable& t) { GemmTiles<GemmAvx512>::fill(t); }

}  // namespace cellstate

#endif  // x86-64
