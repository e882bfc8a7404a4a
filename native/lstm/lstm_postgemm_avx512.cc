// lstm_postgemm_avx512.cc - AVX-512 LSTM forward epilogue, BPTT step and activations (vw = 16 hidden
// units per vector): the avx512 instance of simd/lstm_postgemm.h over simd/avx512.h. The math, the
// polynomial constants and the accuracy notes are in simd/activations.h, once for every tier.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512.h"
#include "../simd/lstm_postgemm.h"

namespace cellstate {

void fill_lstm_kernels_avx512(KernelTable& t) { LstmPostgemm<SimdAvx512>::fill(t); }

}  // namespace cellstate

#endif
