// wasm_abi.cc - the two C++ runtime hooks the wasm build needs and wasi-libc's libc++abi does not
// provide without wasm exception handling (clang 14 for wasm32-wasi has none).
//
// * A C++ `throw` (the kernels throw only std::bad_alloc, when an allocation fails) becomes a trap:
//   the engine raises a WebAssembly.RuntimeError in the caller, and lib/backend/wasm.ts rethrows it
//   as a RangeError naming the out-of-memory cause it finds in cs_last_error(). The instance is
//   then discarded by wasm.ts (its heap may hold half-built state), never reused.
// * thread_local objects with destructors register them through __cxa_thread_atexit; the module
//   has one thread that lives as long as the instance, so they are never run (nothing to free:
//   the whole linear memory goes with the instance).
#include <cstdlib>
#include <cstring>

extern "C" {

const char* cs_last_error();

void* __cxa_allocate_exception(size_t bytes) {
  void* p = std::malloc(bytes);
  if (!p) __builtin_trap();
  return p;
}

[[noreturn]] void __cxa_throw(void*, void*, void (*)(void*)) {
  std::strcpy(const_cast<char*>(cs_last_error()), "out of memory in the wasm heap (std::bad_alloc)");
  __builtin_trap();
}

int __cxa_thread_atexit(void (*)(void*), void*, void*) { return 0; }

}  // extern "C"
