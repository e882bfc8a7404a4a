// lnlstm_postgemm_neon.cc - AArch64 NEON (4 floats per vector) layer-normalised LSTM row stages: the neon instance
// of simd/lnlstm_postgemm.h over simd/neon.h (the math once for every tier there).
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include "../simd/neon.h"
#include "../simd/lnlstm_postgemm.h"

namespace cellstate {

void fill_lnlstm_kernels_neon(KernelTable& t) { LnLstmPostgemm<SimdNeon>::fill(t); }

}  // namespace cellstate

#endif
