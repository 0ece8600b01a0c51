// proc.cc — the goroutine scheduler.
//
// Goroutine scheduler
//
// ringo's scheduler follows Go's runtime/proc.go, and so do its names. Its
// job is to run many goroutines, each with its own stack, on a few threads.
// The three pieces:
//
//   G - a goroutine: a stack, a saved stack pointer, a status.
//   M - an OS thread ("machine"). Each M has a g0: the stack the scheduler
//       itself runs on (for the thread that calls Run, that thread's own
//       stack). Scheduler code runs on g0, never on a goroutine's stack.
//   P - a processor: the right to run goroutines, with a local run queue,
//       a runnext slot, a free list of dead Gs and a timer heap. An M must
//       hold a P to run a G. There are GOMAXPROCS Ps.
//
// A goroutine's life (the seeds in shared/seeds tell the Go version):
//
//   Go(fn)      -> newproc: gfget a dead G (or malg a new one with a stack),
//                  lay its stack out so that its first switch-in "returns"
//                  into gostart and gostart returns into goexit; runqput it
//                  in runnext, so it runs right after the current goroutine.
//   schedule()  -> findRunnable picks a G, execute switches g0 -> G (gogo).
//   park        -> gopark: mcall(park_m) switches G -> g0 and runs park_m
//                  there; the G is Gwaiting until someone calls goready.
//   fn returns  -> into goexit (asm_amd64.S) -> goexit1 -> mcall(goexit0):
//                  on g0, mark it Gdead, dropg, gfput it for reuse.
//   Goexit()    -> a forced unwind (panic.cc) runs every destructor and
//                  Defer on the way down, and stops at the goexit frame,
//                  where it calls goexit1 like a normal return.
//
// mcall and the g0 loop. In Go, mcall switches to g0 and calls fn(gp), which
// never returns: it ends in schedule(), which ends in gogo, and g0's stack is
// reset at every round. ringo keeps one loop frame on g0 instead: execute
// switches to the G and "returns" when the G comes back through mcall; the
// loop then runs the continuation the G left in M.mcallfn (park_m, goexit0,
// gosched_m) with the G as argument, and looks for the next one. The effect
// is Go's; the code has no stack-resetting assembly and g0 never grows.
// A continuation may return a G to run next (park_m does, when gopark's
// unlock function refuses to park).
//
// Where things wait. Everything that waits - a timer, a WaitGroup, later a
// channel or the network - goes through one pair: gopark (on the waiting G)
// and goready (from whoever completes the wait). gopark takes an unlock
// function that park_m calls on g0 after the G is marked Gwaiting, so a
// waker that takes the same lock cannot goready a G that is still running
// (Go's protocol; see WaitGroup::Wait and Sleep).
//
// Switching threads. A goroutine may resume on a different M after any park.
// Two things are per thread and must follow the goroutine instead: which G
// and M are current (tls.h reads them through an uncacheable load), and
// libstdc++'s exception globals (the caught-exception chain and the uncaught
// count), which gogo saves into the G and restores at every switch, so a
// goroutine parked inside a catch block can still `throw;` after resuming.
// errno, the address of any thread_local, a held std::mutex, and OpenSSL's
// error queue do not follow: users must not hold them across a park.
//
// Scheduling is cooperative: a goroutine runs until it parks, yields
// (Gosched), or ends. There is no asynchronous preemption; see the essay in
// README ("Scheduling") for why, and what long CPU loops should do.
//
// Rejected designs:
//  - ucontext (makecontext/swapcontext): a sigprocmask system call at every
//    switch, and no control over the bottom frame that unwinders see.
//  - Goexit as a C++ exception of a private type: `catch (...)` would
//    swallow it silently and typed catches of base classes could match it.
//    A forced unwind is what pthread_exit uses: typed catches never see it,
//    and a catch(...) that swallows it is caught by its cleanup hook.
//  - One heap-allocated std::function per goroutine: an allocation per
//    spawn. The closure is stored at the top of the new goroutine's stack,
//    as Go copies the arguments of a go statement into the new frame.
//
// This file still runs one P on the thread that called Run; the many-P
// machinery (stealing, spinning Ms, parking and waking Ms) builds on the same
// structures. findRunnable marks where the netpoller and stealing go.

#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <cxxabi.h>

#include "fatal.h"
#include "proc.h"
#include "ringo/go.h"
#include "ringo/run.h"
#include "ringo/runtime_stats.h"
#include "runq.h"
#include "runtime2.h"
#include "stack.h"
#include "tls.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#define RINGO_ASAN 1
#endif

extern "C" {
__thread ringo::runtime::M* ringo_tls_m __attribute__((tls_model("initial-exec"))) = nullptr;
void ringo_swapcontext(void** save_sp, void* new_sp);
[[noreturn]] void ringo_goexit1();
}

namespace ringo::runtime {

schedt& sched = *new schedt;

void goexit();  // asm_amd64.S: the bottom frame of every goroutine
void installTerminateHandler();

namespace {

std::atomic<uint64_t> statGsAllocated{0};
std::atomic<uint64_t> statStarted{0};
std::atomic<uint64_t> statDropped{0};

// Free-list bounds: Go's numbers. A P keeps at most 64 dead Gs and spills
// down to 32 into the global list; gfget refills up to 32 from it.
constexpr int32_t kGFreeMax = 64;
constexpr int32_t kGFreeBatch = 32;

}  // namespace

const char* gstatusString(uint32_t s) noexcept {
  switch (s) {
    case Gidle: return "idle";
    case Grunnable: return "runnable";
    case Grunning: return "running";
    case Gwaiting: return "waiting";
    case Gdead: return "dead";
  }
  return "???";
}

const char* waitReasonString(waitReason r) noexcept {
  switch (r) {
    case waitReason::zero: return "";
    case waitReason::sleep: return "sleep";
    case waitReason::waitGroupWait: return "sync.WaitGroup.Wait";
    case waitReason::count: break;
  }
  return "???";
}

// casgstatus moves gp from oldval to newval; anything else is a broken
// invariant.
void casgstatus(G* gp, uint32_t oldval, uint32_t newval) {
  uint32_t cur = oldval;
  if (!gp->atomicstatus.compare_exchange_strong(cur, newval, std::memory_order_acq_rel))
    fatal("casgstatus: goroutine %llu is %s, want %s -> %s", (unsigned long long)gp->goid,
          gstatusString(cur), gstatusString(oldval), gstatusString(newval));
}

// gogo switches from the running context `from` to `to` on this M. It
// returns when something switches back to `from`, possibly on another M.
// fromDies: `from` will never run again (ASan may free its fake stack).
static void gogo(G* from, G* to, bool fromDies) {
  ehGlobals* eh = getm()->ehglobals;
  from->eh = *eh;
  *eh = to->eh;
#ifdef RINGO_ASAN
  __sanitizer_start_switch_fiber(fromDies ? nullptr : &from->asanFakeStack, to->stk.lo,
                                 size_t(to->stk.hi - to->stk.lo));
#else
  (void)fromDies;
#endif
  ringo_swapcontext(&from->sched.sp, to->sched.sp);
#ifdef RINGO_ASAN
  __sanitizer_finish_switch_fiber(from->asanFakeStack, nullptr, nullptr);
#endif
}

// gostart is the first frame of every goroutine: the first switch into a new
// G returns here, and its own return address is goexit+1. It has no
// catch-all, so an escaping exception finds no handler and terminates with
// the thrower's frames still on the stack (see onTerminate in panic.cc).
void gostart() {
#ifdef RINGO_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  G* gp = getm()->curg;
  gp->entry(gp->entryArg);
  // Keep this frame on the stack under the entry (no sibling call), so
  // tracebacks show gostart between the goroutine's function and goexit.
  asm volatile("" ::: "memory");
}

// mcall switches from the current goroutine to g0 and runs fn(gp) there
// (see "mcall and the g0 loop" above). It returns when gp is next executed.
static void mcall(G* (*fn)(G*)) {
  M* mp = getm();
  G* gp = mp->curg;
  if (gp == nullptr || !onStack(gp)) fatal("mcall: called on g0");
  mp->mcallfn = fn;
  gogo(gp, mp->g0, fn == goexit0);
}

// dropg detaches the M's current G. On g0.
static void dropg(M* mp) {
  if (mp->curg) mp->curg->m = nullptr;
  mp->curg = nullptr;
}

// execute runs gp on mp until gp switches back through mcall. On g0.
static void execute(M* mp, G* gp) {
  mp->curg = gp;
  gp->m = mp;
  casgstatus(gp, Grunnable, Grunning);
  mp->p->schedtick++;
  gogo(mp->g0, gp, false);
}

// malg allocates a G with a stack of stackSize bytes.
static G* malg(size_t stackSize) {
  G* gp = new G;
  gp->stk = stackalloc(stackSize);
  statGsAllocated.fetch_add(1, std::memory_order_relaxed);
  lockGuard g(&sched.allglock);
  sched.allgs.push_back(gp);
  return gp;
}

// gfput puts a dead G on pp's free list, spilling to the global list.
static void gfput(P* pp, G* gp) {
  if (gp->atomicstatus.load(std::memory_order_relaxed) != Gdead)
    fatal("gfput: bad status (%s)", gstatusString(gp->atomicstatus.load()));
  gp->schedlink = pp->gFree;
  pp->gFree = gp;
  pp->gFreeN++;
  if (pp->gFreeN >= kGFreeMax) {
    lockGuard g(&sched.gFreeLock);
    while (pp->gFreeN >= kGFreeBatch) {
      G* g1 = pp->gFree;
      pp->gFree = g1->schedlink;
      pp->gFreeN--;
      g1->schedlink = sched.gFree;
      sched.gFree = g1;
      sched.gFreeN++;
    }
  }
}

// gfget takes a dead G from pp's free list, refilling it from the global
// list first if it is empty. Returns null if there is none.
static G* gfget(P* pp) {
  if (pp->gFree == nullptr && sched.gFree != nullptr) {
    lockGuard g(&sched.gFreeLock);
    while (pp->gFreeN < kGFreeBatch && sched.gFree != nullptr) {
      G* g1 = sched.gFree;
      sched.gFree = g1->schedlink;
      sched.gFreeN--;
      g1->schedlink = pp->gFree;
      pp->gFree = g1;
      pp->gFreeN++;
    }
  }
  G* gp = pp->gFree;
  if (gp == nullptr) return nullptr;
  pp->gFree = gp->schedlink;
  pp->gFreeN--;
  gp->schedlink = nullptr;
  return gp;
}

// newproc1p readies a dead G on pp for a new goroutine and reserves `size`
// bytes at the top of its stack. The stack below is laid out as
// ringo_swapcontext expects (asm_amd64.S), so that the first switch returns
// into gostart, and gostart returns into goexit+1.
static G* newproc1p(P* pp, size_t size, void** storage) {
  G* gp = gfget(pp);
  if (gp == nullptr) {
    gp = malg(sched.stackSize);
    casgstatus(gp, Gidle, Gdead);
  }
#ifdef RINGO_ASAN
  // A reused stack may still carry the poison of frames that never returned.
  ASAN_UNPOISON_MEMORY_REGION(gp->stk.lo, size_t(gp->stk.hi - gp->stk.lo));
#endif
  size = (size + 15) & ~size_t(15);
  if (size > size_t(gp->stk.hi - gp->stk.lo) / 4) fatal("newproc1: closure of %zu bytes", size);
  char* top = gp->stk.hi - size;
  *storage = top;

  auto* sp = reinterpret_cast<uintptr_t*>(top);
  *--sp = reinterpret_cast<uintptr_t>(&goexit) + 1;  // gostart's return address; 8 mod 16
  *--sp = reinterpret_cast<uintptr_t>(&gostart);     // where the first switch returns
  for (int i = 0; i < 6; i++) *--sp = 0;             // rbp, rbx, r12-r15: a zero rbp ends fp chains
  *--sp = uint64_t(0x037F) << 32 | 0x1F80;           // x87 control word | MXCSR: the ABI defaults
  gp->sched.sp = sp;

  gp->goid = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  gp->eh = {};
  gp->goexiting = false;
  gp->waitreason = waitReason::zero;
  gp->asanFakeStack = nullptr;
  return gp;
}

G* newproc1(size_t size, void** storage) {
  M* mp = getm();
  if (mp == nullptr || getg() == nullptr) fatal("Go: called outside a goroutine (use ringo::Run)");
  return newproc1p(mp->p, size, storage);
}

// newprocStart makes gp runnable: runnext of the current P.
void newprocStart(G* gp, entryFn entry, void* arg) {
  gp->entry = entry;
  gp->entryArg = arg;
  sched.ngoroutines.fetch_add(1, std::memory_order_relaxed);
  statStarted.fetch_add(1, std::memory_order_relaxed);
  casgstatus(gp, Gdead, Grunnable);
  runqput(getm()->p, gp, true);
}

void abandonproc(G* gp) noexcept { gfput(getm()->p, gp); }

// goexit0 is goexit's continuation on g0: gp's function returned or Goexit
// unwound it.
G* goexit0(G* gp) {
  M* mp = getm();
  casgstatus(gp, Grunning, Gdead);
  sched.ngoroutines.fetch_sub(1, std::memory_order_relaxed);
  const bool goexited = gp->goexiting;
  if (gp == sched.maing) {
    // Like Go's main returning into exit(0): Run ends now. After Goexit the
    // other goroutines go on; checkdead reports when none is left.
    if (goexited)
      sched.mainGoexited.store(true);
    else
      sched.exiting.store(true);
  }
  dropg(mp);
  gp->goexiting = false;
  gp->eh = {};
  gp->entry = nullptr;
  gp->entryArg = nullptr;
  gp->waitreason = waitReason::zero;
  gfput(mp->p, gp);
  return nullptr;
}

extern "C" void ringo_goexit1() {
  mcall(goexit0);
  fatal("goexit1: dead goroutine resumed");
}

// park_m is gopark's continuation on g0.
static G* park_m(G* gp) {
  M* mp = getm();
  casgstatus(gp, Grunning, Gwaiting);
  dropg(mp);
  if (auto fn = mp->waitunlockf) {
    void* lk = mp->waitlock;
    mp->waitunlockf = nullptr;
    mp->waitlock = nullptr;
    if (!fn(gp, lk)) {
      casgstatus(gp, Gwaiting, Grunnable);
      return gp;  // not parked after all: run it again at once
    }
  }
  return nullptr;
}

void gopark(bool (*unlockf)(G*, void*), void* lk, waitReason reason) {
  M* mp = getm();
  G* gp = getg();
  if (gp == nullptr) fatal("gopark: not on a goroutine");
  mp->waitunlockf = unlockf;
  mp->waitlock = lk;
  gp->waitreason = reason;
  mcall(park_m);
}

void goready(G* gp) {
  M* mp = getm();
  if (mp == nullptr || mp->p == nullptr) fatal("goready: not on an M with a P");
  casgstatus(gp, Gwaiting, Grunnable);
  runqput(mp->p, gp, true);
}

// gosched_m is Gosched's continuation on g0: the G goes to the global queue.
static G* gosched_m(G* gp) {
  M* mp = getm();
  casgstatus(gp, Grunning, Grunnable);
  dropg(mp);
  lockGuard g(&sched.lock);
  globrunqput(gp);
  return nullptr;
}

// checkdead is called when no M can ever run a goroutine again: nothing
// runnable, no timer pending, and (with one M) this M about to sleep for
// good. As in Go, that is a deadlock and the program stops.
static void checkdead() {
  if (sched.ngoroutines.load() == 0 && sched.mainGoexited.load())
    fatal("no goroutines (main called Goexit) - deadlock!");
  std::fflush(stdout);
  char line[128];
  int n = std::snprintf(line, sizeof line, "fatal error: all goroutines are asleep - deadlock!\n");
  (void)!write(2, line, size_t(n));
  lockGuard g(&sched.allglock);
  for (G* gp : sched.allgs) {
    uint32_t s = gp->atomicstatus.load();
    if (s == Gdead || s == Gidle) continue;
    n = std::snprintf(line, sizeof line, "\ngoroutine %llu [%s]:\n", (unsigned long long)gp->goid,
                      s == Gwaiting ? waitReasonString(gp->waitreason) : gstatusString(s));
    (void)!write(2, line, size_t(n));
  }
  _exit(2);
}

// findRunnable finds a goroutine to run, sleeping the M until there is one.
// Returns null when Run is ending. On g0.
static G* findRunnable(M* mp) {
  P* pp = mp->p;
  for (;;) {
    if (sched.exiting.load(std::memory_order_relaxed)) return nullptr;
    const int64_t now = nanotime();
    const int64_t pollUntil = checkTimers(pp, now);

    // 61: Go's fairness tick. Now and then look at the global queue first,
    // so two goroutines that keep readying each other through runnext
    // cannot starve it.
    if (pp->schedtick % 61 == 0 && sched.runqsize.load(std::memory_order_relaxed) > 0) {
      lockGuard g(&sched.lock);
      if (G* gp = globrunqget(pp, 1)) return gp;
    }
    if (G* gp = runqget(pp)) return gp;
    if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
      lockGuard g(&sched.lock);
      if (G* gp = globrunqget(pp, 0)) return gp;
    }
    // Here the netpoller is polled without blocking, then other Ps' queues
    // and timers are stolen from, once those exist.

    // Nothing to run: sleep until the earliest timer.
    if (pollUntil == 0) checkdead();
    // A timer that fell due since checkTimers leaves no time to sleep (and a
    // negative delay would mean "forever" to notetsleep).
    if (const int64_t delay = pollUntil - nanotime(); delay > 0) {
      notetsleep(&mp->park, delay);
      noteclear(&mp->park);
    }
  }
}

// schedule is the M's loop on g0 (see "mcall and the g0 loop"). It returns
// only when Run is ending.
static void schedule(M* mp) {
  G* next = nullptr;
  for (;;) {
    G* gp = next ? next : findRunnable(mp);
    if (gp == nullptr) return;
    execute(mp, gp);
    auto fn = mp->mcallfn;
    mp->mcallfn = nullptr;
    if (fn == nullptr) fatal("schedule: goroutine %llu switched to g0 without mcall",
                             (unsigned long long)gp->goid);
    next = fn(gp);
  }
}

// newg0 describes the calling thread's own stack as the M's g0.
static G* newg0() {
  G* g0 = new G;
  g0->isg0 = true;
  g0->atomicstatus.store(Grunning);
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
  }
  g0->stk.lo = static_cast<char*>(addr);
  g0->stk.hi = static_cast<char*>(addr) + size;
  return g0;
}

static M* allocm(int64_t id) {
  M* mp = new M;
  mp->id = id;
  mp->g0 = newg0();
#ifdef RINGO_ASAN
  // While a goroutine runs, LeakSanitizer scans only its stack: keep the
  // thread's own stack (which holds Run's caller) a root for a std::exit
  // from a goroutine.
  __lsan_register_root_region(mp->g0->stk.lo, size_t(mp->g0->stk.hi - mp->g0->stk.lo));
#endif
  mp->ehglobals = reinterpret_cast<ehGlobals*>(abi::__cxa_get_globals());
  return mp;
}

static void schedinit(const ringo::Options& opts) {
  sched.stackSize = stackSizeFor(opts.stack_size);
  sched.goidgen.store(0);
  sched.ngoroutines.store(0);
  sched.mainGoexited.store(false);
  sched.exiting.store(false);
  statGsAllocated.store(0);
  statStarted.store(0);
  installTerminateHandler();
  P* pp = new P;
  pp->id = 0;
  sched.allp.push_back(pp);
  sched.running = true;
}

// teardown frees everything Run made. Goroutines still alive are dropped
// without unwinding, as os.Exit drops them.
static void teardown(M* m0) {
  uint64_t dropped = 0;
  for (P* pp : sched.allp) {
    clearTimers(pp);
    delete pp;
  }
  sched.allp.clear();
  {
    lockGuard g(&sched.allglock);
    for (G* gp : sched.allgs) {
      uint32_t s = gp->atomicstatus.load();
      if (s != Gdead && s != Gidle) dropped++;
      stackfree(gp->stk);
      delete gp;
    }
    sched.allgs.clear();
  }
  sched.gFree = nullptr;
  sched.gFreeN = 0;
  sched.runqhead = sched.runqtail = nullptr;
  sched.runqsize.store(0);
  sched.maing = nullptr;
  sched.allm.clear();
  sched.running = false;
  statDropped.store(dropped);
  setm(nullptr);
#ifdef RINGO_ASAN
  __lsan_unregister_root_region(m0->g0->stk.lo, size_t(m0->g0->stk.hi - m0->g0->stk.lo));
#endif
  delete m0->g0;
  delete m0;
}

int runMain(entryFn entry, void* arg, const ringo::Options& opts) {
  if (getm() != nullptr || sched.running) fatal("Run: called while ringo is running (Run does not nest)");
  schedinit(opts);
  M* m0 = allocm(0);
  sched.allm.push_back(m0);
  setm(m0);
  P* pp = sched.allp[0];
  m0->p = pp;
  pp->m = m0;

  // The main goroutine comes from the same newproc as every other one.
  void* unused = nullptr;
  G* maing = newproc1p(pp, 0, &unused);
  maing->entry = entry;
  maing->entryArg = arg;
  sched.maing = maing;
  sched.ngoroutines.fetch_add(1);
  statStarted.fetch_add(1);
  casgstatus(maing, Gdead, Grunnable);
  runqput(pp, maing, false);

  schedule(m0);
  teardown(m0);
  return 0;
}

}  // namespace ringo::runtime

namespace ringo {

void Gosched() {
  if (runtime::getg() == nullptr) runtime::fatal("Gosched: not on a goroutine");
  runtime::mcall(runtime::gosched_m);
}

int NumGoroutine() { return runtime::sched.ngoroutines.load(std::memory_order_relaxed); }

RuntimeStats ReadRuntimeStats() {
  RuntimeStats s;
  s.gs_allocated = runtime::statGsAllocated.load(std::memory_order_relaxed);
  s.goroutines_started = runtime::statStarted.load(std::memory_order_relaxed);
  s.dropped = runtime::statDropped.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ringo
