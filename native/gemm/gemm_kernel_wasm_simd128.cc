// gemm_kernel_wasm_simd128.cc - WebAssembly SIMD128 GEMM micro-kernels (mr = 5, nr = 16).
//
// The wasm_simd128 instance of the shared micro-kernels (simd/gemm_tiles.h over
// simd/wasm_simd128.h), compiled with -msimd128 into the .wasm only (scripts/build-wasm.sh). A tile
// is kMr rows x 4 vectors (16 columns = 4 gates x 4 units, the panel layout of the scalar tier).
// The engine's register allocator, not this file, decides what stays in registers, so kMr was
// measured rather than derived (Node 22 / V8 on Zen 5, LSTM forward, min of 7): kMr = 3 (12
// accumulators, which would fit x86-64's 16 xmm) M 59-63 ms, L 456-473 ms; kMr = 5 M 53-54 ms,
// L 395-427 ms; kMr = 6 M 54-64 ms, L 406-408 ms. Per k step: 4 B loads, kMr splats, 4*kMr
// multiply-adds.
#include "../cpu/dispatch.h"

#if defined(__wasm_simd128__)

#include "../simd/gemm_tiles.h"
#include "../simd/wasm_simd128.h"

namespace cellstate {
namespace {

struct GemmWasm128 : SimdWasm128 {
  static constexpr int kMr = 5;
  static constexpr int kUnrollK = 2;
  static constexpr bool kBFirst = false;
};

}  // namespace

void fill_kernels_wasm_simd128(KernelTable& t) { GemmTiles<GemmWasm128>::fill(t); }

}  // namespace cellstate

#endif  // __wasm_simd128__
