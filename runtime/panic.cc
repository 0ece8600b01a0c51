// panic.cc — Goexit, panics and fatal errors.
//
// Goexit is a forced unwind, the mechanism glibc uses for pthread_exit and
// thread cancellation: libgcc walks the goroutine's frames and runs every
// cleanup (destructors, Defer guards) but no handler of a typed catch, then
// calls our stop function for each frame. When the stop function reaches the
// goexit frame at the bottom of the stack (asm_amd64.S), every frame above
// has been cleaned up, and it leaves through goexit1 exactly as a normal
// return into goexit would.
//
// What can go wrong, and how each case is reported:
//  - a catch(...) that does not rethrow: __cxa_end_catch deletes our foreign
//    exception, which calls goexitCleanup -> "Goexit swallowed by catch(...)";
//  - a noexcept frame (or destructor, or Defer body) on the way: the C++
//    personality calls std::terminate -> onTerminate sees G.goexiting ->
//    "Goexit through noexcept frame";
//  - a frame without unwind information: the walk ends early -> goexitStop
//    sees the end of the stack without goexit.
//
// The unwind itself is usually not libgcc's: unwind.cc walks the same frames
// with a per-M cache and hands any frame it does not decode back to
// libgcc, which finishes the walk with goexitStop as below.
//
// A panic is an exception nothing catches. gostart has no catch-all, so the
// unwinder's search phase finds no handler, __cxa_throw calls
// std::terminate while the thrower's frames are still on the stack, and
// onTerminate prints Go's panic report with them.

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>
#include <unwind.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <typeinfo>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "fatal.h"
#include "ringo/goexit.h"
#include "runtime2.h"
#include "tls.h"
#include "unwinder.h"

extern "C" {
[[noreturn]] void ringo_goexit1();
}

namespace ringo::runtime {

namespace {

// "RNGOEXIT": marks the exception as foreign to C++, so no typed catch
// matches it.
constexpr _Unwind_Exception_Class kGoexitClass = 0x524e474f45584954ULL;

void writeAll(const char* s, size_t n) noexcept {
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}

[[gnu::format(printf, 1, 2)]] void errorf(const char* fmt, ...) noexcept {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  writeAll(buf, size_t(n) < sizeof buf ? size_t(n) : sizeof buf - 1);
}

// dieWithTrace ends the program as Go's throw does: user output first, then
// the report, then exit status 2 without running anything else.
[[noreturn]] void dieWithTrace(int skip) noexcept {
  errorf("\n");
  printGoroutineHeader();
  printTraceback(skip + 1);
  _exit(2);
}

void goexitCleanup(_Unwind_Reason_Code, _Unwind_Exception*) {
  G* gp = getg();
  fatal("Goexit swallowed by catch(...) in goroutine %llu (a catch(...) must rethrow with `throw;`)",
        gp ? (unsigned long long)gp->goid : 0ULL);
}

std::terminate_handler previousTerminate = nullptr;

// onTerminate turns std::terminate on a goroutine into Go's reports.
[[noreturn]] void onTerminate() {
  G* gp = getg();
  if (gp == nullptr) {
    if (previousTerminate) previousTerminate();
    std::abort();
  }
  if (gp->goexiting)
    fatal("Goexit through noexcept frame (a destructor, a Defer body or a noexcept function) in goroutine %llu",
          (unsigned long long)gp->goid);
  std::fflush(stdout);
  if (std::exception_ptr ep = std::current_exception()) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    int status = 0;
    char* name = type ? abi::__cxa_demangle(type->name(), nullptr, nullptr, &status) : nullptr;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      errorf("panic: %s [%s]\n", e.what(), name ? name : "?");
    } catch (...) {
      errorf("panic: exception of type %s\n", name ? name : "?");
    }
    std::free(name);
  } else {
    errorf("fatal error: std::terminate called\n");
  }
  dieWithTrace(1);
}

}  // namespace

_Unwind_Reason_Code goexitStop(int, _Unwind_Action actions, _Unwind_Exception_Class, _Unwind_Exception*,
                               _Unwind_Context* ctx, void*) {
  if (isgoexitpc(_Unwind_GetIP(ctx))) {
    if (P* pp = getm() ? getm()->p : nullptr) owneradd(pp->goexitLibgcc, uint64_t(1));
    ringo_goexit1();
  }
  if (actions & _UA_END_OF_STACK)
    fatal("Goexit: reached the end of the stack before goexit (C code without unwind tables in the way?)");
  return _URC_NO_REASON;
}

void installTerminateHandler() {
  std::terminate_handler old = std::set_terminate(onTerminate);
  if (old != onTerminate) previousTerminate = old;
}

void fatal(const char* fmt, ...) noexcept {
  std::fflush(stdout);
  char buf[768];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  errorf("fatal error: %s\n", buf);
  dieWithTrace(1);
}

void printGoroutineHeader() noexcept {
  M* mp = getm();
  if (G* gp = getg())
    errorf("goroutine %llu [running]:\n", (unsigned long long)gp->goid);
  else if (mp)
    errorf("runtime: on the scheduler stack (g0) of m%lld:\n", (long long)mp->id);
  else
    errorf("runtime: on a thread ringo did not start:\n");
}

void printTraceback(int skip, bool demangle) noexcept {
  void* pcs[64];
  int n = backtrace(pcs, 64);
  for (int i = skip + 1; i < n; i++) {
    Dl_info info{};
    // Return addresses point after the call; look up the call itself.
    uintptr_t pc = reinterpret_cast<uintptr_t>(pcs[i]) - 1;
    if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_sname) {
      int status = 0;
      char* name = demangle ? abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status) : nullptr;
      errorf("%s\n\t%s +0x%lx\n", name ? name : info.dli_sname, info.dli_fname ? info.dli_fname : "?",
             (unsigned long)(pc + 1 - reinterpret_cast<uintptr_t>(info.dli_saddr)));
      std::free(name);
    } else {
      errorf("?\n\t%s pc=%p\n", info.dli_fname ? info.dli_fname : "?", pcs[i]);
    }
  }
  if (n == 64) errorf("...additional frames elided...\n");
}

}  // namespace ringo::runtime

namespace ringo {

void Goexit() {
  using namespace runtime;
  G* gp = getg();
  if (gp == nullptr) fatal("Goexit: not on a goroutine");
  if (gp->goexiting)
    fatal("Goexit: called while goroutine %llu is already exiting (from a destructor or catch(...) run by Goexit)",
          (unsigned long long)gp->goid);
  gp->goexiting = true;
  gp->exc = _Unwind_Exception{};
  gp->exc.exception_class = kGoexitClass;
  gp->exc.exception_cleanup = goexitCleanup;
#if defined(__SANITIZE_ADDRESS__)
  // ASan unpoisons the stack for C++ throws (it intercepts __cxa_throw) but
  // not for a forced unwind: without this, the unwinder's frames leave
  // use-after-scope poison under the landing pads that run next.
  __asan_handle_no_return();
#endif
  unwindFast(&gp->exc);  // returns only if it leaves the unwind to libgcc
  _Unwind_Reason_Code rc = _Unwind_ForcedUnwind(&gp->exc, goexitStop, unwindStopArg());
  fatal("Goexit: _Unwind_ForcedUnwind failed (%d)", int(rc));
}

}  // namespace ringo
