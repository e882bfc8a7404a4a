// lstm_postgemm_wasm_simd128.cc - WebAssembly SIMD128 LSTM forward epilogue, BPTT step and
// activations (vw = 4 hidden units per vector): the wasm_simd128 instance of simd/lstm_postgemm.h
// over simd/wasm_simd128.h. The math, the polynomial constants and the accuracy notes are in
// simd/activations.h, once for every tier.
#include "../cpu/dispatch.h"

#if defined(__wasm_simd128__)

#include "../simd/lstm_postgemm.h"
#include "../simd/wasm_simd128.h"

namespace cellstate {

void fill_lstm_kernels_wasm_simd128(KernelTable& t) { LstmPostgemm<SimdWasm128>::fill(t); }

}  // namespace cellstate

#endif  // __wasm_simd128__
