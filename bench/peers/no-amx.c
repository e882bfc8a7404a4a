/* no-amx.c - the benchmark's --no-amx (bench/peers/no-amx.mjs builds it): loaded with LD_PRELOAD
 * into every row's process, it refuses Linux's request for the AMX tile state
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) through libc's syscall()), which the addon,
 * oneDNN (PyTorch) and ONNX Runtime's MLAS all make before they use AMX; refused, each falls back to
 * its AVX-512 kernels. So an AMX machine runs every row as a machine with the same AVX-512
 * instructions (AVX512-BF16, VNNI) but no AMX would: the instruction sets of such a CPU, not its
 * cores' speeds or caches. Every other syscall passes through unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

#define ARCH_REQ_XCOMP_PERM 0x1023

long syscall(long number, ...) {
  static long (*next)(long, ...) = 0;
  va_list ap;
  long a[6];
  va_start(ap, number);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_arch_prctl && a[0] == ARCH_REQ_XCOMP_PERM) {
    errno = EPERM;
    return -1;
  }
  if (!next) next = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
