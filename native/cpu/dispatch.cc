// dispatch.cc - builds the process-wide KernelTable once.
//
// Compiled without ISA flags. The table is a function-local static (C++11
// guarantees thread-safe one-time initialisation). Order: scalar entries
// first, then each tier of the chosen tier's base chain (kIsaBase) overwrites its entries, so a
// tier that lacks some kernel inherits its base's. It does not probe the CPU
// itself (cpu_features.cc does) and never prints or aborts: a bad
// CELLSTATE_MAX_ISA value is reported through dispatch_warning().
#include "dispatch.h"

#include <atomic>
#include <initializer_list>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cellstate {

namespace {

// Programmatic cap from set_max_isa(), as a level (isa_rank); the highest level means "no cap".
constexpr int kNoCap = kMaxIsaLevel;
std::atomic<int> g_cap{kNoCap};
std::atomic<bool> g_filled{false};
// Constant-initialised (no constructor), so kernels() may run during other
// translation units' static initialisation. Written once, inside build_table().
char g_warning[192];

// Parses CELLSTATE_MAX_ISA. Returns the cap's level (kNoCap when unset/empty); on an unknown
// value returns kNoCap and writes the message into g_warning.
int env_cap() {
  const char* env = std::getenv("CELLSTATE_MAX_ISA");
  if (env == nullptr || env[0] == '\0') return kNoCap;
  char v[16] = {0};  // lower-cased copy; longer values cannot match anyway
  const size_t len = std::strlen(env);
  if (len < sizeof(v)) {
    for (size_t i = 0; i < len; ++i) v[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(env[i])));
    for (int i = 0; i < kIsaCount; ++i) {
      if (std::strcmp(v, kIsaNames[i]) == 0) return kIsaLevels[i];
    }
  }
  std::snprintf(g_warning, sizeof(g_warning),
                "CELLSTATE_MAX_ISA='%.48s' is not one of " CELLSTATE_ISA_NAMES "; ignored (using CPU detection)",
                env);
  return kNoCap;
}

// Installs all kernels of exactly one tier (entries of other families that a
// tier does not implement are left as they are).
void fill_tier(KernelTable& t, Isa tier) {
  switch (tier) {
    case Isa::scalar:
      fill_kernels_scalar(t);
      fill_lstm_kernels_scalar(t);
      fill_lnlstm_kernels_scalar(t);
      fill_probe_kernels_scalar(t);
      fill_qgemm_bf16_scalar(t);
      fill_qgemm_i8_scalar(t);
      break;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::avx2:
      fill_kernels_avx2(t);
      fill_lstm_kernels_avx2(t);
      fill_lnlstm_kernels_avx2(t);
      fill_probe_kernels_avx2(t);
      fill_qgemm_bf16_avx2(t);
      fill_qgemm_i8_avx2(t);
      break;
    case Isa::avx2_vnni:  // fp32 and bf16 as avx2
      fill_qgemm_i8_avx2_vnni(t);
      break;
    case Isa::avx512:
      fill_kernels_avx512(t);
      fill_lstm_kernels_avx512(t);
      fill_lnlstm_kernels_avx512(t);
      fill_probe_kernels_avx512(t);
      fill_qgemm_bf16_avx512(t);
      fill_qgemm_i8_avx512(t);
      break;
    case Isa::avx512_vnni:  // fp32 and bf16 as avx512
      fill_qgemm_i8_avx512_vnni(t);
      break;
    case Isa::avx512_bf16:  // fp32 as avx512, int8 as avx512_vnni
      fill_qgemm_bf16_avx512_bf16(t);
      break;
    case Isa::amx:  // fp32 as avx512; bf16 and int8 on the tile unit
      fill_qgemm_amx(t);
      break;
#elif defined(__aarch64__) || defined(_M_ARM64)
    case Isa::neon:
      fill_kernels_neon(t);
      fill_lstm_kernels_neon(t);
      fill_lnlstm_kernels_neon(t);
      fill_qgemm_bf16_neon(t);
      fill_qgemm_i8_neon(t);
      break;  // the FMA probe stays scalar (it only measures a peak)
#elif defined(__wasm32__)
    case Isa::wasm_simd128:
      fill_kernels_wasm_simd128(t);
      fill_lstm_kernels_wasm_simd128(t);
      break;  // no FMA in wasm SIMD: the probe stays scalar
#endif
    default:
      break;
  }
  t.isa = tier;
}

KernelTable build_table() {
  KernelTable t{};
  const int env = env_cap();
  const int prog = g_cap.load();
  const int cap = env < prog ? env : prog;
  uint32_t have = supported_isas();

  // The highest-level tier of this architecture that the CPU has, the cap allows and the OS
  // grants (enable_isa: asked for the chosen tier only; a refused one is dropped)...
  Isa best = Isa::scalar;
  for (;;) {
    best = Isa::scalar;
    for (Isa tier : kArchTiers) {  // this architecture's tiers above scalar, lowest level first (isa.gen.h)
      if ((have & isa_bit(tier)) != 0 && isa_rank(tier) <= cap && isa_rank(tier) > isa_rank(best)) best = tier;
    }
    if (best == Isa::scalar || enable_isa(best)) break;
    have &= ~isa_bit(best);
  }
  // ...filled with its base chain, lowest first (scalar, avx2, avx512, avx512_vnni for the last).
  Isa chain[kIsaCount];
  int n = 0;
  for (int i = static_cast<int>(best); i >= 0 && n < kIsaCount; i = kIsaBase[i]) chain[n++] = static_cast<Isa>(i);
  while (n > 0) fill_tier(t, chain[--n]);
#if defined(__x86_64__) || defined(_M_X64)
  if (t.isa == Isa::avx512_bf16 && !choose_bf16_avx512_bf16(t) && g_warning[0] == '\0') {
    std::snprintf(g_warning, sizeof(g_warning), "CELLSTATE_BF16_KERNEL='%.48s' is not vdpbf16ps or widen; ignored",
                  std::getenv("CELLSTATE_BF16_KERNEL"));
  }
#endif

  g_filled.store(true);
  return t;
}

}  // namespace

const KernelTable& kernels() {
  static const KernelTable table = build_table();
  return table;
}

void set_max_isa(Isa cap) {
  if (g_filled.load()) return;  // too late: the table is immutable once built
  g_cap.store(isa_rank(cap));
}

const char* dispatch_warning() {
  kernels();  // g_warning is final once the table exists
  return g_warning;
}

}  // namespace cellstate
