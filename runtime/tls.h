// tls.h — finding the current M and G.
//
// A goroutine can resume on a different thread after any park, and the
// compiler may keep the address of a thread_local in a register across a
// call. So the runtime never reads its per-thread state through a C++
// thread_local: getm reads the thread pointer (%fs) with an asm volatile load
// that the compiler must redo at every call.
#pragma once

#include "runtime2.h"

extern "C" {
// The M running on this thread, or null on threads ringo did not start.
// Written once per thread by the M itself (initial-exec TLS).
extern __thread ringo::runtime::M* ringo_tls_m __attribute__((tls_model("initial-exec")));
}

namespace ringo::runtime {

inline M* getm() {
  M* mp;
  asm volatile(
      "movq ringo_tls_m@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(mp));
  return mp;
}

inline void setm(M* mp) { ringo_tls_m = mp; }

// onStack reports whether the caller is running on gp's stack.
inline bool onStack(const G* gp) {
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  return gp && sp >= gp->stk.lo && sp < gp->stk.hi;
}

// getg returns the goroutine the caller runs on, or null on g0 and on
// threads that are not Ms.
inline G* getg() {
  M* mp = getm();
  if (mp == nullptr || mp->curg == nullptr) return nullptr;
  return onStack(mp->curg) ? mp->curg : nullptr;
}

}  // namespace ringo::runtime
