// qgemm_bf16_avx512_bf16.cc - bf16 GEMM tiles for AVX512-BF16: vdpbf16ps, two k per instruction (mr = 6, nr = 64).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with avx512_bf16's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512_bf16.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QBf16Avx512Dot : SimdAvx512Bf16 {
  static constexpr int kMr = 6;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_bf16_avx512_bf16(KernelTable& t) {
  t.qgemm.mr_bf16 = QBf16Avx512Dot::kMr;
  t.qgemm.a_bf16 = QuantA::bf16;
  t.qgemm.bf16 = &Bf16Dot<QBf16Avx512Dot>::tile;
  t.qgemm.quant_bf16 = &quant_bf16_row_cvt;
  t.qgemm.bf16_kernel = "vdpbf16ps";
}

namespace {

// Seconds for `calls` calls of g's bf16 tile on one 6 x 64 tile over K = 256 (in L1): A and B hold
// bf16 1.0 in the kernel's own A format.
double time_tile(const QGemmKernel& g, int calls) {
  constexpr int64_t kRows = 6, kK = 256, kNr = 64;
  alignas(64) static float a[kRows * kK];
  alignas(64) static uint16_t b[kK * kNr];
  alignas(64) static float c[kRows * kNr];
  static float ones[kK];
  std::fill(ones, ones + kK, 1.f);
  for (int64_t i = 0; i < kRows; ++i) g.quant_bf16(kK, ones, reinterpret_cast<uint8_t*>(a) + i * kK * 4);
  std::fill(b, b + kK * kNr, static_cast<uint16_t>(0x3F80));
  const int64_t lda = g.a_bf16 == QuantA::f32 ? kK : 2 * kK;  // in the format's units, rows kK * 4 bytes apart
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) g.bf16(kRows, kNr, kK / 2, a, lda, b, c, kNr, false, nullptr);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// vdpbf16ps does two k per instruction, but CPUs differ in how often they issue it: the AMX Xeon
// this was written on (with AMX denied) about once every two cycles, a fifth of its FMA rate, so
// the base tier's widening kernels ran the batched LSTM rows 1.3-1.5x faster (L bf16 2T 65.6 ->
// 46.7 ms); the AMD EPYC of earlier runs did twice its FMAs' multiply-adds with it. So the two are timed on one
// tile, interleaved, best of 5 rounds (about 0.4 ms, once per process), and vdpbf16ps is kept
// unless widening takes under 0.8 of its time (0.64 there). Both read the same packed weights.
bool choose_bf16_avx512_bf16(KernelTable& t) {
  KernelTable widen = t;
  fill_qgemm_bf16_avx512(widen);
  bool use_widen = false, ok = true;
  const char* env = std::getenv("CELLSTATE_BF16_KERNEL");
  if (env != nullptr && std::strcmp(env, "widen") == 0) {
    use_widen = true;
  } else if (env != nullptr && std::strcmp(env, "vdpbf16ps") == 0) {
    use_widen = false;
  } else {
    ok = env == nullptr || env[0] == '\0';
    time_tile(t.qgemm, 40), time_tile(widen.qgemm, 40);  // warm up (AVX-512 power-up, caches)
    double dot = 1e30, wid = 1e30;
    for (int r = 0; r < 5; ++r) {
      dot = std::min(dot, time_tile(t.qgemm, 20));
      wid = std::min(wid, time_tile(widen.qgemm, 20));
    }
    use_widen = wid < 0.8 * dot;
  }
  if (use_widen) fill_qgemm_bf16_avx512(t);  // the base tier's bf16 entries again, as it filled them
  return ok;
}

}  // namespace cellstate

#endif  // x86-64
