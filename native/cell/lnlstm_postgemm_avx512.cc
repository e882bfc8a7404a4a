// lnlstm_postgemm_avx512.cc - AVX-512 (16 floats per vector) layer-normalised LSTM row stages: the avx512 instance
// of simd/lnlstm_postgemm.h over simd/avx512.h (the math once for every tier there).
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512.h"
#include "../simd/lnlstm_postgemm.h"

namespace cellstate {

void fill_lnlstm_kernels_avx512(KernelTable& t) { LnLstmPostgemm<SimdAvx512>::fill(t); }

}  // namespace cellstate

#endif
