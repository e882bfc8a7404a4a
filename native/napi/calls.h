// calls.h - the addon's exported functions, one file per group; registered in addon.cc.
#pragma once
#include <napi.h>

namespace cellstate {

// cell_calls.cc: the descriptor calls of scripts/addon-schema.js (cell*).
Napi::Value CellPrepare(const Napi::CallbackInfo& info);
Napi::Value CellRelease(const Napi::CallbackInfo& info);
Napi::Value CellCacheSize(const Napi::CallbackInfo& info);
Napi::Value CellForward(const Napi::CallbackInfo& info);
Napi::Value CellForwardAsync(const Napi::CallbackInfo& info);
Napi::Value CellBackward(const Napi::CallbackInfo& info);
Napi::Value CellBackwardAsync(const Napi::CallbackInfo& info);
Napi::Value CellForwardPair(const Napi::CallbackInfo& info);
Napi::Value CellForwardPairAsync(const Napi::CallbackInfo& info);
Napi::Value CellBackwardPair(const Napi::CallbackInfo& info);
Napi::Value CellBackwardPairAsync(const Napi::CallbackInfo& info);

// ../optim/optim_napi.cc: the fused optimizer updates (optim* of scripts/addon-schema.js).
Napi::Value OptimSgd(const Napi::CallbackInfo& info);
Napi::Value OptimAdam(const Napi::CallbackInfo& info);
Napi::Value OptimRmsprop(const Napi::CallbackInfo& info);

// scan.cc: the API's input check.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info);

// diagnostics.cc: what the addon runs on, the thread count, the big scratch blocks given back, the FMA probe, the GEMM test hook,
// and the schema tables as compiled in.
Napi::Value Info(const Napi::CallbackInfo& info);
Napi::Value SetThreads(const Napi::CallbackInfo& info);
Napi::Value TrimScratch(const Napi::CallbackInfo& info);
Napi::Value FmaPeak(const Napi::CallbackInfo& info);
Napi::Value Sgemm(const Napi::CallbackInfo& info);
Napi::Value Schema(const Napi::CallbackInfo& info);

}  // namespace cellstate
