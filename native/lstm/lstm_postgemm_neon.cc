// lstm_postgemm_neon.cc - AArch64 NEON LSTM forward epilogue, BPTT step and activations (vw = 4 hidden
// units per vector): the neon instance of simd/lstm_postgemm.h over simd/neon.h. The math, the
// polynomial constants and the accuracy notes are in simd/activations.h, once for every tier.
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include "../simd/neon.h"
#include "../simd/lstm_postgemm.h"

namespace cellstate {

void fill_lstm_kernels_neon(KernelTable& t) { LstmPostgemm<SimdNeon>::fill(t); }

}  // namespace cellstate

#endif
