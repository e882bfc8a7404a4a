// lnlstm_postgemm_avx2.cc - AVX2+FMA (8 floats per vector) layer-normalised LSTM row stages: the avx2 instance
// of simd/lnlstm_postgemm.h over simd/avx2.h (the math once for every tier there).
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2.h"
#include "../simd/lnlstm_postgemm.h"

namespace cellstate {

void fill_lnlstm_kernels_avx2(KernelTable& t) { LnLstmPostgemm<SimdAvx2>::fill(t); }

}  // namespace cellstate

#endif
