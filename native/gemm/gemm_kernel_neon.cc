// gemm_kernel_neon.cc - AArch64 Advanced SIMD (NEON) GEMM micro-kernels (mr = 6, nr = 16).
//
// The NEON instance of the shared micro-kernels (simd/gemm_tiles.h over simd/neon.h). NEON is part
// of the AArch64 base ISA, so this file needs no compiler flag; it is compiled only into AArch64
// builds (native/isa.json) and chosen at run time like the x86 tiers (CELLSTATE_MAX_ISA=scalar
// keeps the scalar kernels). A tile is 6 rows x 4 q-registers (16 columns = 4 gates x 4 units, the
// panel layout of the scalar tier): 24 accumulators, one B vector at a time and the 6 A values of
// the k step, within the 32 vector registers. Per k step: 4 B loads, 24 FMAs (fmla by element).
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include "../simd/gemm_tiles.h"
#include "../simd/neon.h"

namespace cellstate {
namespace {

struct GemmNeon : SimdNeon {
  static constexpr int kMr = 6;
  static constexpr int kUnrollK = 2;
  static constexpr bool kBFirst = false;
};

}  // namespace

void fill_kernels_neon(KernelTable& t) { GemmTiles<GemmNeon>::fill(t); }

}  // namespace cellstate

#endif  // AArch64
