// lstm_postgemm_avx2.cc - AVX2+FMA LSTM forward epilogue, BPTT step and activations (vw = 8 hidden
// units per vector): the avx2 instance of simd/lstm_postgemm.h over simd/avx2.h. The math, the
// polynomial constants and the accuracy notes are in simd/activations.h, once for every tier.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2.h"
#include "../simd/lstm_postgemm.h"

namespace cellstate {

void fill_lstm_kernels_avx2(KernelTable& t) { LstmPostgemm<SimdAvx2>::fill(t); }

}  // namespace cellstate

#endif
