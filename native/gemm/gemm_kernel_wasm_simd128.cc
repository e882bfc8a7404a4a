// gemm_kernel_wasm_simd128.cc - WebAssembly SIMD128 GEMM micro-kernels (mr = 3, nr = 16).
//
// The wasm_simd128 instance of the shared micro-kernels (simd/gemm_tiles.h over
// simd/wasm_simd128.h), compiled with -msimd128 into the .wasm only (scripts/build-wasm.sh). The
// engine's register allocator decides what stays in registers; x86-64 engines have 16 xmm, so a
// tile is 3 rows x 4 vectors (16 columns = 4 gates x 4 units, the panel layout of the scalar
// tier): 12 accumulators, the 3 splatted A values and one B vector. Per k step: 4 B loads,
// 3 splats, 12 multiply-adds.
#include "../cpu/dispatch.h"

#if defined(__wasm_simd128__)

#include "../simd/gemm_tiles.h"
#include "../simd/wasm_simd128.h"

namespace cellstate {
namespace {

struct GemmWasm128 : SimdWasm128 {
  static constexpr int kMr = 3;
  static constexpr int kUnrollK = 2;
  static constexpr bool kBFirst = false;
};

}  // namespace

void fill_kernels_wasm_simd128(KernelTable& t) { GemmTiles<GemmWasm128>::fill(t); }

}  // namespace cellstate

#endif  // __wasm_simd128__
