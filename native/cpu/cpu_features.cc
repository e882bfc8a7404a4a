// cpu_features.cc - CPUID + XGETBV probe behind detect_isa().
//
// Compiled WITHOUT ISA flags: CPUID comes from <cpuid.h> (GCC/Clang) or
// <intrin.h> (MSVC) and XGETBV is issued through inline asm / _xgetbv, so no
// AVX instruction can leak into this translation unit. A CPU flag alone is
// not enough: the OS must also have enabled saving of the wider register
// state in XCR0, otherwise executing AVX code faults. Nothing is cached here.
#include "cpu_features.h"

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#define CELLSTATE_X86_64 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif
#if defined(CELLSTATE_X86_64) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace cellstate {

const char* isa_name(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? kIsaNames[i] : "unknown";
}

uint32_t isa_bit(Isa isa) { return 1u << static_cast<int>(isa); }

int isa_rank(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? kIsaLevels[i] : 0;
}

#if defined(CELLSTATE_X86_64)

namespace {

struct CpuidRegs { uint32_t eax, ebx, ecx, edx; };

// regs = CPUID(leaf, subleaf); returns false if the leaf is not supported.
bool cpuid(uint32_t leaf, uint32_t subleaf, CpuidRegs* r) {
#if defined(_MSC_VER) && !defined(__clang__)
  int info[4];
  __cpuid(info, 0);
  if (static_cast<uint32_t>(info[0]) < leaf) return false;
  __cpuidex(info, static_cast<int>(leaf), static_cast<int>(subleaf));
  r->eax = static_cast<uint32_t>(info[0]); r->ebx = static_cast<uint32_t>(info[1]);
  r->ecx = static_cast<uint32_t>(info[2]); r->edx = static_cast<uint32_t>(info[3]);
  return true;
#else
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) return false;
  r->eax = a; r->ebx = b; r->ecx = c; r->edx = d;
  return true;
#endif
}

// XCR0: which register states the OS saves on context switch. Only call this
// after checking CPUID.1:ECX.OSXSAVE, otherwise XGETBV itself faults.
uint64_t read_xcr0() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

inline bool bit(uint32_t reg, int b) { return ((reg >> b) & 1u) != 0; }

// AMX: the CPU has AMX-TILE, AMX-BF16 and AMX-INT8 with the tile shape the kernels use (palette 1:
// 8 tiles of 16 rows x 64 bytes; TMUL K <= 16 groups, N <= 16 columns), and the OS saves the tile
// state (XCR0 bits 17, 18). Whether this process may use it is asked only when the tier is
// chosen (enable_isa).
bool amx_present(const CpuidRegs& l7, uint64_t xcr0) {
  const bool amx_bf16 = bit(l7.edx, 22), amx_tile = bit(l7.edx, 24), amx_int8 = bit(l7.edx, 25);
  const uint64_t kTileState = (uint64_t{1} << 17) | (uint64_t{1} << 18);  // XTILECFG, XTILEDATA
  if (!amx_bf16 || !amx_tile || !amx_int8 || (xcr0 & kTileState) != kTileState) return false;
  CpuidRegs d0{}, d1{}, e1{};
  if (!cpuid(0x1D, 0, &d0) || d0.eax < 1 || !cpuid(0x1D, 1, &d1) || !cpuid(0x1E, 0, &e1)) return false;
  const uint32_t bytes_per_row = d1.ebx & 0xFFFF, max_names = d1.ebx >> 16, max_rows = d1.ecx & 0xFFFF;
  const uint32_t tmul_maxk = e1.ebx & 0xFF, tmul_maxn = (e1.ebx >> 8) & 0xFFFF;
  return bytes_per_row >= 64 && max_names >= 8 && max_rows >= 16 && tmul_maxk >= 16 && tmul_maxn >= 64;
}

}  // namespace

uint32_t supported_isas() {
  uint32_t set = isa_bit(Isa::scalar);
  CpuidRegs l1{}, l7{}, l71{};
  if (!cpuid(1, 0, &l1)) return set;
  const bool osxsave = bit(l1.ecx, 27);
  const bool avx = bit(l1.ecx, 28);
  const bool fma = bit(l1.ecx, 12);
  if (!osxsave || !avx || !fma) return set;

  const uint64_t xcr0 = read_xcr0();
  const uint64_t kYmmState = (1u << 1) | (1u << 2);              // SSE + AVX
  const uint64_t kZmmState = kYmmState | (1u << 5) | (1u << 6) | (1u << 7);  // + opmask, ZMM_Hi256, Hi16_ZMM
  if ((xcr0 & kYmmState) != kYmmState) return set;

  if (!cpuid(7, 0, &l7)) return set;
  const bool avx2 = bit(l7.ebx, 5);
  if (!avx2) return set;
  set |= isa_bit(Isa::avx2);
  // Leaf 7 sub-leaf 1 exists when leaf 7 sub-leaf 0 reports EAX >= 1.
  const bool has71 = l7.eax >= 1 && cpuid(7, 1, &l71);
  const bool avx_vnni = has71 && bit(l71.eax, 4);      // VEX vpdpbusd (Alder Lake, Zen 5, SPR)
  const bool avx512_bf16 = has71 && bit(l71.eax, 5);   // vdpbf16ps / vcvtne2ps2bf16
  if (avx_vnni) set |= isa_bit(Isa::avx2_vnni);

  const bool avx512f = bit(l7.ebx, 16);
  const bool avx512dq = bit(l7.ebx, 17);
  const bool avx512bw = bit(l7.ebx, 30);
  const bool avx512vl = bit(l7.ebx, 31);
  const bool avx512_vnni = bit(l7.ecx, 11);
  if (avx512f && avx512dq && avx512bw && avx512vl && (xcr0 & kZmmState) == kZmmState) {
    set |= isa_bit(Isa::avx512);
    if (avx512_vnni) {
      set |= isa_bit(Isa::avx512_vnni);
      if (avx512_bf16) {  // every AVX512-BF16 CPU has AVX512-VNNI too
        set |= isa_bit(Isa::avx512_bf16);
        if (amx_present(l7, xcr0)) set |= isa_bit(Isa::amx);  // every AMX CPU has AVX512-BF16 too
      }
    }
  }
  return set;
}

#elif defined(__aarch64__) && defined(__linux__)

uint32_t supported_isas() {
  return isa_bit(Isa::scalar) | ((getauxval(AT_HWCAP) & HWCAP_ASIMD) ? isa_bit(Isa::neon) : 0u);
}

#elif defined(__aarch64__) || defined(_M_ARM64)

// Advanced SIMD is part of every AArch64 ABI.
uint32_t supported_isas() { return isa_bit(Isa::scalar) | isa_bit(Isa::neon); }

#elif defined(__wasm32__)

// The .wasm is one module with the SIMD128 tier in it (scripts/build-wasm.sh): an engine without
// SIMD128 cannot compile it at all, so running here means the tier is usable. The JS loader
// checks WebAssembly.validate first and falls back to the ts backend.
uint32_t supported_isas() { return isa_bit(Isa::scalar) | isa_bit(Isa::wasm_simd128); }

#else  // neither x86-64, AArch64 nor wasm32

uint32_t supported_isas() { return isa_bit(Isa::scalar); }

#endif

bool enable_isa(Isa isa) {
#if defined(CELLSTATE_X86_64) && defined(__linux__)
  if (isa == Isa::amx) {
    // Linux (5.16+) hands a process the 8 KB tile state only on request; asking again is a no-op.
    // A refusal (an older kernel, a seccomp filter, a sigaltstack too small for the bigger signal
    // frame) means no AMX tier.
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }
#endif
  (void)isa;
  return true;  // elsewhere the OS's XCR0 (checked by supported_isas) is the whole permission
}

Isa detect_isa() {
  const uint32_t set = supported_isas();
  Isa best = Isa::scalar;
  for (int i = 0; i < kIsaCount; ++i) {
    if ((set >> i) & 1u && kIsaLevels[i] > isa_rank(best)) best = static_cast<Isa>(i);
  }
  return best;
}

}  // namespace cellstate
