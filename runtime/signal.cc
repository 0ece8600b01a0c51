// signal.cc — turning a stack overflow into a clear fatal error.
//
// A goroutine that runs off the end of its stack touches the guard page
// below it (stack.h) and takes SIGSEGV. The fault cannot be handled on the
// goroutine's stack (it is full), so every M has an alternate signal stack
// (sigaltstack, set up in minit) and the handler runs there with
// SA_ONSTACK. If the faulting address lies in the guard page of the M's
// current goroutine - or just below it, for a frame that skipped past it -
// the handler prints "fatal error: stack overflow in goroutine N" and the
// goroutine's frames, and exits with status 2. Any other fault goes to the
// handler that was installed before ringo's (a sanitizer's, or the default
// action, which dumps core as usual).
#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fatal.h"
#include "race.h"
#include "runtime2.h"
#include "stack.h"
#include "tls.h"

namespace ringo::runtime {

namespace {

struct sigaction previous {};
bool installed = false;

// 64 KiB: the handler formats a trace with dladdr and the unwinder.
constexpr size_t kSignalStack = 64 * 1024;

void sigsegv(int sig, siginfo_t* info, void* ctx) {
  M* mp = getm();
  G* gp = mp ? mp->curg : nullptr;
  const char* addr = static_cast<const char*>(info->si_addr);
  // The guard page, or up to 64 KiB below the stack for a frame that jumped
  // it (-fstack-clash-protection makes big frames probe page by page).
  if (gp != nullptr && !gp->isg0 && addr < gp->stk.lo && addr >= gp->stk.lo - 64 * 1024) {
    char line[160];
    int n = std::snprintf(line, sizeof line,
                          "fatal error: stack overflow in goroutine %llu (stack of %zu bytes, fault at %p)\n\n"
                          "goroutine %llu [running]:\n",
                          (unsigned long long)gp->goid, size_t(gp->stk.hi - gp->stk.lo), info->si_addr,
                          (unsigned long long)gp->goid);
    (void)!write(2, line, size_t(n));
    // Skip this handler and the kernel's signal frame. Under TSan, which
    // reports any allocation inside a signal handler, print raw frames
    // (backtrace_symbols_fd does not allocate; backtrace was warmed up).
    if (raceenabled) {
      void* pcs[64];
      int n = backtrace(pcs, 64);
      if (n > 3) backtrace_symbols_fd(pcs + 3, n - 3, 2);
    } else {
      printTraceback(2);
    }
    _exit(2);
  }
  // Not ours.
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // Default action: restore it; returning re-runs the faulting instruction.
  signal(SIGSEGV, SIG_DFL);
}

}  // namespace

void installSignalHandlers() {
  if (installed) return;
  void* warm[1];
  backtrace(warm, 1);  // loads the unwinder now, not inside the handler
  struct sigaction sa {};
  sa.sa_sigaction = sigsegv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &previous) != 0) fatal("installSignalHandlers: sigaction: %s", std::strerror(errno));
  installed = true;
}

void minitSignals(M* mp) {
  stack_t old{};
  if (sigaltstack(nullptr, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return;  // the thread has its own
  void* p = mmap(nullptr, kSignalStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fatal("minitSignals: mmap: %s", std::strerror(errno));
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = kSignalStack;
  if (sigaltstack(&ss, nullptr) != 0) fatal("minitSignals: sigaltstack: %s", std::strerror(errno));
  mp->gsignal = p;
}

void unminitSignals(M* mp) {
  if (mp->gsignal == nullptr) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(mp->gsignal, kSignalStack);
  mp->gsignal = nullptr;
}

}  // namespace ringo::runtime
