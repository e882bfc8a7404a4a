// addon.cc - the N-API module of the native backend: registration only. The calls live in
// cell_calls.cc (cells), ../optim/optim_napi.cc (optimizers), scan.cc (the input check) and
// diagnostics.cc (info, threads, trimming scratch, the FMA probe, the GEMM test hook, the schema); their arguments
// are read by args.h (descriptor calls, scripts/addon-schema.js); the thread pool is pool.cc.
// lib/backend/native.ts (interface NativeAddon) is the one typed loader of these exports.
#include <napi.h>

#include "../cpu/dispatch.h"
#include "calls.h"
#include "pool.h"

namespace cellstate {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kernels();  // fill the dispatch table once, at load
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
