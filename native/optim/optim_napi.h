// optim_napi.h - registers the fused optimizer updates (optimSgd, optimAdam, optimRmsprop) on the
// addon's exports; called once from Init() in native/addon.cc.
#pragma once
#include <napi.h>

namespace cellstate {
void register_optim(Napi::Env env, Napi::Object exports);
}
