// lnlstm_kernels.h - the layer-normalised LSTM's entries of the dispatch table (cpu/dispatch.h):
// lnlstm_postgemm_scalar.cc (std::exp / std::tanh, the reference) and, for every SIMD tier,
// lnlstm_postgemm_<isa>.cc, an instance of the one template simd/lnlstm_postgemm.h. The row
// stages of lnlstm_cell.cc; equations: docs/equations.md ("Layer-normalised LSTM"). Declarations
// only: no inline code, so nothing compiled with AVX-512 flags can leak into a scalar caller.
#pragma once

#include <cstdint>

namespace cellstate {

struct LnLstmKernels {
  // x̂ = (z - mean z) / sqrt(var z + eps) over n floats (biased variance; the mean first, then the
  // centred squares); returns rs = 1 / sqrt(var z + eps).
  float (*normalise)(int64_t n, const float* z, float eps, float* xh);
  // A layer norm's backward over n floats: ∂z = rs * (∂y·γ - mean(∂y·γ) - x̂ * mean(∂y·γ * x̂)).
  void (*normalise_backward)(int64_t n, const float* dy, const float* gain, const float* xh, float rs, float* dz);
  // One row's gates: A = γ_ih x̂_ih + γ_hh x̂_hh + beta [4H] (beta = β_ih + β_hh + b_ih + b_hh),
  // copied to pre when pre is not null, bounded to ±clip when clip > 0, activated into a [4H]
  // (σ on i, f, o, tanh on g); then c̃ [H] = f * c + i * g.
  void (*gates_forward)(int64_t H, const float* g_ih, const float* xh_ih, const float* g_hh, const float* xh_hh,
                        const float* beta, float clip, float* pre, float* a, const float* c, float* ct);
  // c = γ_c x̂_c + β_c (written to c), h = o * tanh(c) (written to h and y), H floats each.
  void (*state_forward)(int64_t H, const float* g_c, const float* xh_c, const float* b_c, const float* o,
                        float* c, float* h, float* y);
  // Through h = o * tanh(c): with d = dh + dy (dy may be null),
  //   dA_o = d * tanh(c) * o (1 - o) * pass(pre_o),   dct = dc + d * o * (1 - tanh²(c));
  // pass(v) = 0 where clip > 0 and |v| > clip, else 1 (pre_o null: 1).
  void (*state_backward)(int64_t H, const float* dh, const float* dy, const float* o, const float* c, const float* dc,
                         const float* pre_o, float clip, float* dA_o, float* dct);
  // Through c̃ = f * c_prev + i * g and the activations (a [4H] activated): dA_i, dA_f, dA_g into
  // dA [3H] from ∂c̃ = dctilde, and dc_prev = ∂c̃ * f (may alias nothing else). pre as above.
  void (*gates_backward)(int64_t H, const float* dctilde, const float* a, const float* c_prev, const float* pre,
                         float clip, float* dA, float* dc_prev);
  // out[j] += a[j] * b[j], j < n (a layer norm's gain gradient, one row).
  void (*add_products)(int64_t n, const float* a, const float* b, float* out);
};

}  // namespace cellstate
