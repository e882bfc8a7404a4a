// cellstate_wasm.cc - the C ABI of the WebAssembly build (lib/backend/wasm.ts is its only caller):
// plain functions over linear memory, each a thin shell around the same entry points the addon's
// N-API layer calls (cell/cell.h). No N-API, no threads (the pool is null: every stage runs on the
// calling thread), no exceptions crossing out.
//
// Pointers are byte offsets into the module's memory, allocated by the caller through cs_malloc.
// The JS side validates every argument (the layer code, then wasm.ts sizes each buffer from the
// same dims it passes here); this file re-checks only what the cell code would otherwise read out
// of bounds of its own structures (kind, dims, the parameter count). A bad call returns 0/-1 and
// leaves a message for cs_last_error(); an allocation failure inside the kernels (bad_alloc) traps,
// which the engine raises in JS as a WebAssembly.RuntimeError (wasm_abi.cc).
//
// Sequence header (double[8], the sizes of lib/backend/types.ts): T, B, rowT, rowB, reverse,
// ldx, ldy (forward) or the three strides ldx, lddy, lddx (backward) - see each function.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../cell/cell.h"
#include "../cell/cell_codes.gen.h"
#include "../cpu/dispatch.h"

#define CS_EXPORT(name) extern "C" __attribute__((export_name(#name))) 

namespace cellstate {
namespace {

char g_error[256];

int fail(const char* msg) {
  std::strncpy(g_error, msg, sizeof(g_error) - 1);
  return -1;
}

SeqDesc seq_of(const double* h, const int32_t* lengths) {
  SeqDesc s;
  s.T = static_cast<int64_t>(h[0]);
  s.B = static_cast<int64_t>(h[1]);
  s.rowT = static_cast<int64_t>(h[2]);
  s.rowB = static_cast<int64_t>(h[3]);
  s.reverse = h[4] != 0;
  s.lengths = lengths;
  return s;
}

bool seq_ok(const SeqDesc& s) {
  if (s.T < 1 || s.B < 1) return false;
  const bool time_major = s.rowT == s.B && s.rowB == 1, batch_first = s.rowT == 1 && s.rowB == s.T;
  if (!time_major && !batch_first) return false;
  if (s.lengths) {
    for (int64_t b = 0; b < s.B; ++b) if (s.lengths[b] < 1 || s.lengths[b] > s.T) return false;
  }
  return true;
}

}  // namespace
}  // namespace cellstate

using namespace cellstate;

CS_EXPORT(cs_malloc) void* cs_malloc(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) & ~size_t{63}); }
CS_EXPORT(cs_free) void cs_free(void* p) { std::free(p); }
CS_EXPORT(cs_last_error) const char* cs_last_error() { return g_error; }

// The kernel tier is capped by CELLSTATE_MAX_ISA as in the addon (dispatch.cc reads it through
// getenv: wasm.ts hands the module the CELLSTATE_* variables as its wasi environment).
// "" or the message about an unknown CELLSTATE_MAX_ISA value.
CS_EXPORT(cs_dispatch_warning) const char* cs_dispatch_warning() { return dispatch_warning(); }

// The tier the kernel table runs (fills it on the first call).
CS_EXPORT(cs_isa) const char* cs_isa() { return isa_name(kernels().isa); }

// Packs one layer-direction. params: kCellParamCount + the kind's own pointers (null = absent),
// each as long as the kind declares (cell_codes.gen.h). Returns the handle, or 0 (cs_last_error).
// acts: 9 doubles, the three gate activation slots' (code, alpha, beta) (cellPrepare's act0..beta2).
CS_EXPORT(cs_cell_prepare) CellPacked* cs_cell_prepare(int kind, double I, double H, double P, double flags, double clip,
                                                       const double* acts, const float* const* params, int n_params) {
  if (kind < 0 || kind >= kCellKinds) return fail("kind: not a cell kind code"), nullptr;
  const CellKindSpec& k = cell_kind_spec(static_cast<CellKind>(kind));
  if (n_params != kCellParamCount + k.n_params) return fail("params: wrong count for this cell kind"), nullptr;
  if (!(I >= 1 && H >= 1 && P >= 0 && P < (k.projection ? H : 1))) return fail("I, H or P out of range"), nullptr;
  if (!params[0] || !params[1]) return fail("params: weight_ih and weight_hh are required"), nullptr;
  CellConfig c;
  c.kind = static_cast<CellKind>(kind);
  c.I = static_cast<int64_t>(I);
  c.H = static_cast<int64_t>(H);
  c.P = P > 0 ? static_cast<int64_t>(P) : c.H;
  c.flags = static_cast<int64_t>(flags) & k.flags_all;
  c.clip = static_cast<float>(clip);
  c.G = cell_gates(c.kind) * c.H;
  const double codes[3] = {acts[0], acts[3], acts[6]}, alphas[3] = {acts[1], acts[4], acts[7]}, betas[3] = {acts[2], acts[5], acts[8]};
  if (const char* e = cell_set_acts(c, codes, alphas, betas)) return fail(e), nullptr;
  CellWeights in{params[0], params[1], params[2], params[3],
                 std::vector<const float*>(params + kCellParamCount, params + n_params)};
  return cell_prepare(c, in).release();
}

CS_EXPORT(cs_cell_release) void cs_cell_release(CellPacked* w) { delete w; }

// Floats of the training cache of one forward over T x B rows.
CS_EXPORT(cs_cell_cache_floats) double cs_cell_cache_floats(const CellPacked* w, double T, double B) {
  return static_cast<double>(cell_cache_floats(w->cfg, static_cast<int64_t>(T), static_cast<int64_t>(B)));
}

// h: T, B, rowT, rowB, reverse, ldx, ldy. x/y point at row 0 (offsets applied by the caller);
// h0, c0, cache may be null; cN null unless the kind has a cell state. 0, or -1 (cs_last_error).
CS_EXPORT(cs_cell_forward) int cs_cell_forward(const CellPacked* w, const double* h, const int32_t* lengths,
                                               const float* x, float* y, const float* h0, const float* c0,
                                               float* hN, float* cN, float* cache) {
  const SeqDesc s = seq_of(h, lengths);
  if (!seq_ok(s)) return fail("sequence layout or lengths out of range");
  if (cell_kind_spec(w->cfg.kind).cell_state != (cN != nullptr)) return fail("cN: given exactly for a kind with a cell state");
  FwdIO io{x, static_cast<int64_t>(h[5]), y, static_cast<int64_t>(h[6]), h0, c0, hN, cN, cache};
  cell_forward(*w, s, io, nullptr);
  return 0;
}

// h: T, B, rowT, rowB, reverse, ldx, lddy, lddx. grads: as cs_cell_prepare's params (accumulated).
CS_EXPORT(cs_cell_backward) int cs_cell_backward(const CellPacked* w, const double* h, const int32_t* lengths,
                                                 const float* x, float* cache, const float* dy, const float* dhN,
                                                 const float* dcN, float* dx, float* dh0, float* dc0,
                                                 float* const* grads, int n_grads) {
  const SeqDesc s = seq_of(h, lengths);
  if (!seq_ok(s)) return fail("sequence layout or lengths out of range");
  const CellKindSpec& k = cell_kind_spec(w->cfg.kind);
  if (n_grads != kCellParamCount + k.n_params) return fail("grads: wrong count for this cell kind");
  if (k.cell_state != (dc0 != nullptr)) return fail("dc0: given exactly for a kind with a cell state");
  BwdIO g{};
  g.x = x; g.ldx = static_cast<int64_t>(h[5]);
  g.cache = cache;
  g.dy = dy; g.lddy = static_cast<int64_t>(h[6]);
  g.dhN = dhN; g.dcN = dcN;
  g.dx = dx; g.lddx = static_cast<int64_t>(h[7]);
  g.dh0 = dh0; g.dc0 = dc0;
  g.dw_ih = grads[0]; g.dw_hh = grads[1]; g.db_ih = grads[2]; g.db_hh = grads[3];
  g.dextra.assign(grads + kCellParamCount, grads + n_grads);
  cell_backward(*w, s, g, nullptr);
  return 0;
}
