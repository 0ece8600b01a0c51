// traceback.cc — goroutine dumps: every goroutine with its state and stack,
// as Go prints them on SIGQUIT or from runtime.Stack(buf, true).
//
// A running goroutine is traced with backtrace(). A parked or runnable one
// is not running anywhere, and its stack is still there: its saved stack
// pointer (G.sched.sp) points at the frame ringo_swapcontext pushed
// (asm_amd64.S), which holds the return address into the switch and the
// caller's frame pointer. From there the frame-pointer chain leads through
// the function that parked (a channel receive, a Mutex, Sleep) and the
// user's frames to gostart and goexit. ringo's code and its users' are
// compiled with frame pointers (the library's public compile flags), so the
// chain is whole in practice; every step is checked against the stack's
// bounds, so a torn chain ends the trace instead of faulting.
//
// Another M may resume a parked goroutine while its stack is read; its
// status is read again after the walk, and a trace that may have changed
// under the reader says so. SIGQUIT is handled on sysmon's thread, not in
// the signal handler: the handler only sets a flag and wakes sysmon, which
// dumps and exits with status 2, as Go does.
#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "ringo/debug.h"
#include "runtime2.h"
#include "tls.h"

namespace ringo::runtime {

void goexit();  // asm_amd64.S

namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, size_t(std::min(n, int(sizeof buf) - 1)));
}

// symbolize appends "function\n\tmodule +0xoff\n" for return address pc.
void symbolize(std::string& out, uintptr_t pc) {
  Dl_info info{};
  const uintptr_t call = pc - 1;  // the call instruction, not the one after it
  if (dladdr(reinterpret_cast<void*>(call), &info) && info.dli_sname) {
    int status = 0;
    char* name = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    appendf(out, "%s\n\t%s +0x%lx\n", name ? name : info.dli_sname, info.dli_fname ? info.dli_fname : "?",
            (unsigned long)(pc - reinterpret_cast<uintptr_t>(info.dli_saddr)));
    std::free(name);
  } else {
    appendf(out, "?\n\t%s pc=%#lx\n", info.dli_fname ? info.dli_fname : "?", (unsigned long)pc);
  }
}

constexpr int kMaxFrames = 64;

bool inStack(const G* gp, uintptr_t p) {
  return p >= uintptr_t(gp->stk.lo) && p + 16 <= uintptr_t(gp->stk.hi) && p % 8 == 0;
}

// walkParked appends the frames of gp, which is not running, from its saved
// context. Reads another goroutine's stack without synchronisation: see the
// top of this file.
__attribute__((no_sanitize("address", "thread"))) void walkParked(std::string& out, const G* gp) {
  auto sp = reinterpret_cast<uintptr_t>(gp->sched.sp);
  if (!inStack(gp, sp) || !inStack(gp, sp + 56)) {
    out += "\t(no saved context)\n";
    return;
  }
  const auto* words = reinterpret_cast<const uintptr_t*>(sp);
  uintptr_t pc = words[7];  // return address of ringo_swapcontext
  uintptr_t fp = words[6];  // the switching function's frame pointer
  const uintptr_t goexitPc = reinterpret_cast<uintptr_t>(&goexit) + 1;
  for (int n = 0; n < kMaxFrames; n++) {
    symbolize(out, pc);
    if (pc == goexitPc) return;
    if (fp == 0 || !inStack(gp, fp)) return;
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    pc = frame[1];
    const uintptr_t up = frame[0];
    if (up != 0 && up <= fp) return;  // frames only go up the stack
    fp = up;
  }
  out += "...additional frames elided...\n";
}

void walkSelf(std::string& out, int skip) {
  void* pcs[kMaxFrames];
  int n = backtrace(pcs, kMaxFrames);
  for (int i = skip + 1; i < n; i++) symbolize(out, reinterpret_cast<uintptr_t>(pcs[i]));
  if (n == kMaxFrames) out += "...additional frames elided...\n";
}

std::string stateOf(const G* gp, uint32_t s, int64_t now) {
  std::string st = s == Gwaiting ? waitReasonString(gp->waitreason) : gstatusString(s);
  if (s == Gwaiting && gp->waitsince != 0) {
    const int64_t minutes = (now - gp->waitsince) / 60'000'000'000;
    if (minutes >= 1) st += ", " + std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
  }
  if (gp->lockedm != nullptr) st += ", locked to thread";
  return st;
}

}  // namespace

std::string goroutineDump(bool all) {
  std::string out;
  G* self = getg();
  const int64_t now = nanotime();
  if (self != nullptr) {
    appendf(out, "goroutine %llu [running]:\n", (unsigned long long)self->goid);
    walkSelf(out, 2);
  }
  if (!all) return out;
  lockGuard g(&sched.allglock);
  for (G* gp : sched.allgs) {
    if (gp == self) continue;
    const uint32_t s = gp->atomicstatus.load();
    if (s == Gdead || s == Gidle) continue;
    if (!out.empty()) out += "\n";
    appendf(out, "goroutine %llu [%s]:\n", (unsigned long long)gp->goid, stateOf(gp, s, now).c_str());
    if (s == Grunning || s == Gsyscall) {
      out += "\t(running on another thread)\n";
      continue;
    }
    walkParked(out, gp);
    if (gp->atomicstatus.load() != s) out += "\t(the goroutine moved while it was traced)\n";
  }
  return out;
}

// ---- SIGQUIT -------------------------------------------------------------------

namespace {
std::atomic<bool> quitPending{false};
struct sigaction previousQuit {};
bool quitInstalled = false;

void onQuit(int) {
  quitPending.store(true);
  wakeSysmonFromSignal();
}
}  // namespace

void installQuitHandler() {
  if (quitInstalled) return;
  struct sigaction sa {};
  sa.sa_handler = onQuit;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGQUIT, &sa, &previousQuit);
  quitInstalled = true;
}

void uninstallQuitHandler() {
  if (!quitInstalled) return;
  sigaction(SIGQUIT, &previousQuit, nullptr);
  quitInstalled = false;
}

bool quitRequested() { return quitPending.load(std::memory_order_relaxed); }

void dumpAndExit() {
  std::string d = "SIGQUIT: quit\n\n" + goroutineDump(true);
  size_t off = 0;
  while (off < d.size()) {
    ssize_t n = write(2, d.data() + off, d.size() - off);
    if (n <= 0) break;
    off += size_t(n);
  }
  _exit(2);
}

}  // namespace ringo::runtime

namespace ringo {

std::string Stack(bool all) { return runtime::goroutineDump(all); }

}  // namespace ringo
