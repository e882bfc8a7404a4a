// addon.cc - the N-API module of the native backend: registration only. The calls live in
// cell_calls.cc (cells), ../optim/optim_napi.cc (optimizers), scan.cc (the input check) and
// diagnostics.cc (info, threads, trimming scratch, the FMA probe, the GEMM test hook, the schema); their arguments
// are read by args.h (descriptor calls, scripts/addon-schema.js); the thread pool is pool.cc.
// lib/backend/native.ts (interface NativeAddon) is the one typed loader of these exports.
#include <napi.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../cpu/dispatch.h"
#include "calls.h"
#include "pool.h"

namespace cellstate {
namespace {

// glibc maps every block above its mmap threshold afresh and unmaps it on free, so a JS output
// buffer of a few MB (an M forward's y is 1.6 MB) can cost a page fault per 4 KB on every call:
// measured on M, int8, 2 threads, 7.4 ms a call with 513 faults, 2.3 ms with 3 once blocks up
// to 32 MB come from the heap (glibc otherwise raises its threshold only as mmapped blocks are
// freed, and not always: fp32 and bf16 saw 55 faults a call). So the addon fixes the threshold at
// 32 MB (glibc's largest) when it loads, and its trim threshold at 64 MB, unless GLIBC_TUNABLES
// sets any glibc.malloc tunable or CELLSTATE_MALLOC_TUNING=0 (docs/performance.md, "Page faults
// and GLIBC_TUNABLES").
void tune_malloc() {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
  const char* off = std::getenv("CELLSTATE_MALLOC_TUNING");
  if (off != nullptr && std::strcmp(off, "0") == 0) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;  // the user's choice
  // As glibc's own dynamic threshold does, the heap's free top is trimmed only above twice that.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kernels();  // fill the dispatch table once, at load
  tune_malloc();
  set_threads(hardware_threads());
  using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
  const std::pair<const char*, Fn> fns[] = {
      {"info", Info}, {"setThreads", SetThreads}, {"trimScratch", TrimScratch}, {"fmaPeak", FmaPeak}, {"sgemm", Sgemm}, {"schema", Schema},
      {"firstNonFinite", FirstNonFinite},
      {"cellPrepare", CellPrepare}, {"cellRelease", CellRelease}, {"cellCacheSize", CellCacheSize},
      {"cellForward", CellForward}, {"cellForwardAsync", CellForwardAsync},
      {"cellBackward", CellBackward}, {"cellBackwardAsync", CellBackwardAsync},
      {"cellForwardPair", CellForwardPair}, {"cellForwardPairAsync", CellForwardPairAsync},
      {"cellBackwardPair", CellBackwardPair}, {"cellBackwardPairAsync", CellBackwardPairAsync},
      {"optimSgd", OptimSgd}, {"optimAdam", OptimAdam}, {"optimRmsprop", OptimRmsprop},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace
}  // namespace cellstate

static Napi::Object InitCellstate(Napi::Env env, Napi::Object exports) { return cellstate::Init(env, exports); }
NODE_API_MODULE(cellstate, InitCellstate)
