// dispatch.cc - builds the process-wide KernelTable once.
//
// Compiled without ISA flags. The table is a function-local static (C++11
// guarantees thread-safe one-time initialisation). Order: scalar entries
// first, then each allowed higher tier overwrites its entries, so a tier that
// lacks some kernel inherits the next lower one. It does not probe the CPU
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
      fill_probe_kernels_scalar(t);
      break;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::avx2:
      fill_kernels_avx2(t);
      fill_lstm_kernels_avx2(t);
      fill_probe_kernels_avx2(t);
      break;
    case Isa::avx512:
      fill_kernels_avx512(t);
      fill_lstm_kernels_avx512(t);
      fill_probe_kernels_avx512(t);
      break;
#elif defined(__aarch64__) || defined(_M_ARM64)
    case Isa::neon:
      fill_kernels_neon(t);
      fill_lstm_kernels_neon(t);
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
  const int hw = isa_rank(detect_isa());
  int best = hw;
  if (env < best) best = env;
  if (prog < best) best = prog;

  fill_tier(t, Isa::scalar);
  for (Isa tier : kArchTiers) {  // this architecture's tiers above scalar (isa.gen.h)
    if (isa_rank(tier) <= best && isa_rank(tier) <= hw) fill_tier(t, tier);
  }

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
