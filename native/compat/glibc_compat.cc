// glibc_compat.cc - lets the prebuilt Linux addon (scripts/prebuild.js) load on glibc 2.28
// (RHEL 8, Debian 10, Ubuntu 20.04) although it is built on Debian 12 (glibc 2.36, GCC 12).
//
// What the portable build does (binding.gyp, variable cellstate_portable, set by the prebuild):
//   - libstdc++ is linked statically (-static-libstdc++) and its symbols kept local
//     (--exclude-libs,ALL), so no GLIBCXX_/CXXABI_ version is needed and nothing clashes with
//     the libstdc++ Node itself loads; --gc-sections drops the parts we never call. libgcc_s stays
//     dynamic: GCC 12's static unwinder needs _dl_find_object (glibc 2.35).
//   - What remains newer than 2.28 is what glibc 2.34 moved from libpthread into libc under a new
//     version (pthread_create, pthread_join, pthread_mutex_trylock) and glibc 2.32's
//     __libc_single_threaded, referenced by libstdc++'s headers and archive. The linker's
//     --wrap=SYMBOL turns every reference to SYMBOL into __wrap_SYMBOL, defined below: the pthread
//     ones call the original version of the function (GLIBC_2.2.5 on x86-64, GLIBC_2.17 on
//     AArch64, which glibc 2.34+ still exports for old binaries and glibc < 2.34 has in
//     libpthread.so.0, added as a dependency by the build); __libc_single_threaded reads 0, "there
//     may be threads", which makes libstdc++ use atomic reference counts always (what it does
//     anyway once a second thread exists).
// test/prebuilt.test.mjs reads every versioned symbol of the prebuilt binaries and fails on any
// newer than GLIBC_2.28 or on any GLIBCXX_/CXXABI_ one. Without CELLSTATE_GLIBC_COMPAT (every
// other build) this file compiles to nothing.

#if defined(CELLSTATE_GLIBC_COMPAT)

#include <pthread.h>  // defines __GLIBC__ (through <features.h>) when the C library is glibc

#if !defined(__GLIBC__)
#error "CELLSTATE_GLIBC_COMPAT is for glibc builds only"
#endif

#if defined(__x86_64__)
#define CELLSTATE_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define CELLSTATE_GLIBC_BASE "GLIBC_2.17"
#else
#error "CELLSTATE_GLIBC_COMPAT: no baseline glibc version known for this architecture"
#endif

extern "C" {

// References to these names bind to the baseline version of the real function.
int cellstate_base_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int cellstate_base_pthread_join(pthread_t, void**);
int cellstate_base_pthread_mutex_trylock(pthread_mutex_t*);
__asm__(".symver cellstate_base_pthread_create, pthread_create@" CELLSTATE_GLIBC_BASE);
__asm__(".symver cellstate_base_pthread_join, pthread_join@" CELLSTATE_GLIBC_BASE);
__asm__(".symver cellstate_base_pthread_mutex_trylock, pthread_mutex_trylock@" CELLSTATE_GLIBC_BASE);

int __wrap_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  return cellstate_base_pthread_create(thread, attr, start, arg);
}
int __wrap_pthread_join(pthread_t thread, void** result) {
  return cellstate_base_pthread_join(thread, result);
}
int __wrap_pthread_mutex_trylock(pthread_mutex_t* mutex) {
  return cellstate_base_pthread_mutex_trylock(mutex);
}

// libstdc++ skips atomic operations while this is non-zero; 0 is always correct.
char __wrap___libc_single_threaded = 0;

}  // extern "C"

#endif
