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
// (Gosched), or ends. Go preempts asynchronously with a signal that makes
// the goroutine call into the scheduler at any instruction. That is wrong
// for C++: the interrupted code may hold a lock inside libc (malloc's arena
// lock, stdio's FILE lock) or the unwinder's, which the next goroutine on
// that thread would take again and deadlock on; it may be half-way through
// a thread_local's update, which would then finish on another thread; and
// the compiler assumes no switch between two accesses of errno or a TLS
// address. Go owns its whole stack of code and can make every instruction
// a safe point; ringo runs code it did not compile. So the points where a
// goroutine can lose its thread are the calls that park (channels, locks,
// Sleep, I/O), Gosched and the end of a Blocking call; a long CPU loop
// calls Gosched now and then, and a call that blocks in the kernel goes in
// Blocking. sysmon (below) reports goroutines that do neither, naming them.
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
// Many Ps, and where Ms sleep
//
// There are GOMAXPROCS Ps and as many Ms as needed to run them (Ms are only
// created by startm when an idle P has work and no idle M exists, so there
// are at most GOMAXPROCS of them until blocking calls arrive). An M with
// nothing to run gives its P back (pidleput) and parks on its note (stopm);
// Ms never exit while Run runs, because io_uring rings will belong to them.
// Exactly one M at a time may instead block in the poller (netpoll.h) until
// the earliest timer of any P: that is how timers fire while every M is
// idle, and later how I/O completions arrive. Whoever adds an earlier timer
// breaks that poll (wakeNetPoller).
//
// Spinning. findRunnable looks, in Go's order: the P's runnext and ring
// (every 61st tick the global queue first), the global queue, a
// non-blocking poll, then other Ps: four rounds over the Ps in random
// order, stealing half a victim's ring, and on the last round its due
// timers and its runnext; with RINGO_POLLSPIN (not Go's), non-blocking polls
// for a few microseconds more with the P held (pollspin) before giving it
// up. An M stealing is "spinning"; at most half the busy
// Ps may have a spinning M (2*nmspinning < GOMAXPROCS - npidle), so idle Ms
// do not burn the CPUs the busy ones need; trySpin enforces it with a CAS.
//
// The problem spinning solves is the lost wakeup: work appears (newproc,
// goready, a timer) while every M is parked. The rule is that whoever makes
// work calls wakep, which starts a spinning M if there is an idle P and no M
// is spinning already; and a spinning M that finds work stops spinning and
// calls wakep itself (resetspinning), so the next piece of work has a
// spinner too. The delicate dance is the moment a spinning M gives up: it
// (1) puts its P on the idle list, (2) decrements nmspinning, and (3) checks
// every P's run queue once more, taking an idle P back if any has work. A
// producer does the reverse: (1) queues the work, (2) reads nmspinning in
// wakep. Both sides use sequentially consistent atomics, so one of them
// sees the other: either the producer sees nmspinning == 0 and starts an
// M, or the spinner's re-check sees the work.
//
// Exit. When main returns, goexit0 sets sched.exiting under sched.lock and
// wakes every idle M and the poller; each M's findRunnable then returns
// null and its thread ends, and Run (on m0) joins them. A goroutine running
// on another M at that moment keeps its M until it next parks or yields:
// Run cannot return before, because tearing down frees the goroutine's
// stack. Goroutines left over are dropped, not unwound, as after os.Exit.

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <cstring>
#include <stdexcept>
#include <cxxabi.h>

#include "fatal.h"
#include "netpoll.h"
#include "proc.h"
#include "race.h"
#include "ringo/blocking.h"
#include "ringo/foreign.h"
#include "ringo/go.h"
#include "ringo/run.h"
#include "ringo/runtime_stats.h"
#include "runq.h"
#include "runtime2.h"
#include "stack.h"
#include "tls.h"
#include "unwinder.h"

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
std::atomic<uint64_t> statSpinning{0};
std::atomic<int32_t> statMaxSpinning{0};
std::atomic<uint64_t> statSteals{0};
std::atomic<uint64_t> statPollspins{0};
std::atomic<uint64_t> statPollspinHits{0};
static int64_t pollspinNs;  // RINGO_POLLSPIN, read by schedinit (see pollspin)
std::atomic<uint64_t> statMs{0};

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
    case Gsyscall: return "syscall";
  }
  return "???";
}

const char* waitReasonString(waitReason r) noexcept {
  switch (r) {
    case waitReason::zero: return "";
    case waitReason::sleep: return "sleep";
    case waitReason::ioWait: return "IO wait";
    case waitReason::closeWait: return "close wait";
    case waitReason::waitGroupWait: return "sync.WaitGroup.Wait";
    case waitReason::chanSend: return "chan send";
    case waitReason::chanReceive: return "chan receive";
    case waitReason::chanSendNilChan: return "chan send (nil chan)";
    case waitReason::chanReceiveNilChan: return "chan receive (nil chan)";
    case waitReason::selectNoCases: return "select (no cases)";
    case waitReason::select: return "select";
    case waitReason::syncMutexLock: return "sync.Mutex.Lock";
    case waitReason::syncRWMutexRLock: return "sync.RWMutex.RLock";
    case waitReason::syncRWMutexLock: return "sync.RWMutex.Lock";
    case waitReason::syncCondWait: return "sync.Cond.Wait";
    case waitReason::count: break;
  }
  return "???";
}

// casgstatusFail reports a broken G status invariant (see casgstatus).
void casgstatusFail(G* gp, uint32_t cur, uint32_t oldval, uint32_t newval) {
  fatal("casgstatus: goroutine %llu is %s, want %s -> %s", (unsigned long long)gp->goid,
        gstatusString(cur), gstatusString(oldval), gstatusString(newval));
}

// gogo switches from the running context `from` to `to` on this M. It
// returns when something switches back to `from`, possibly on another M.
// fromDies: `from` will never run again (ASan may free its fake stack).
void gogo(G* from, G* to, bool fromDies) {
  if (stackCanaries.load(std::memory_order_relaxed) && !from->isg0 && !fromDies) stackcheck(from);
  ehGlobals* eh = getm()->ehglobals;
  from->eh = *eh;
  *eh = to->eh;
#ifdef RINGO_ASAN
  __sanitizer_start_switch_fiber(fromDies ? nullptr : &from->asanFakeStack, to->stk.lo,
                                 size_t(to->stk.hi - to->stk.lo));
#else
  (void)fromDies;
#endif
  racefiberswitch(to->racectx);
  ringo_swapcontext(&from->sched.sp, to->sched.sp);
#ifdef RINGO_ASAN
  __sanitizer_finish_switch_fiber(from->asanFakeStack, nullptr, nullptr);
#endif
  if (raceenabled && !from->isg0) {
    raceacquire(from);                // whoever readied us
    raceacquire(&getm()->raceTLS);    // the thread's TLS, set up before any G ran here
  }
}

static void afterSwitch(M* mp);

// gostart is the first frame of every goroutine: the first switch into a new
// G returns here, and its own return address is goexit+1. It has no
// catch-all, so an escaping exception finds no handler and terminates with
// the thrower's frames still on the stack (see onTerminate in panic.cc).
void gostart() {
#ifdef RINGO_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  M* mp = getm();
  afterSwitch(mp);
  G* gp = mp->curg;
  raceacquire(gp);  // the go statement happens before the goroutine starts
  raceacquire(&mp->raceTLS);
  gp->entry(gp->entryArg);
  // Keep this frame on the stack under the entry (no sibling call), so
  // tracebacks show gostart between the goroutine's function and goexit.
  asm volatile("" ::: "memory");
}

// mcall switches from the current goroutine to g0 and runs fn(gp) there
// (see "mcall and the g0 loop" above). It returns when gp is next executed.
void mcall(G* (*fn)(G*)) {
  M* mp = getm();
  G* gp = mp->curg;
  if (gp == nullptr || !onStack(gp)) fatal("mcall: called on g0");
  mp->mcallfn = fn;
  gogo(gp, mp->g0, fn == goexit0);
  afterSwitch(getm());
}

// dropg detaches the M's current G. On g0.
static void dropg(M* mp) {
  if (mp->curg) mp->curg->m = nullptr;
  mp->curg = nullptr;
}

// schedtickAdd counts a schedule (or a yield) on pp, and publishes the
// count for sysmon and thieves (schedtickPub).
static void schedtickAdd(P* pp) {
  pp->schedtick++;
  pp->schedtickPub.store(pp->schedtick, std::memory_order_relaxed);
}

// execute runs gp on mp until gp switches back through mcall. On g0.
static void execute(M* mp, G* gp) {
  mp->curg = gp;
  gp->m = mp;
  setgstatus(gp, Grunnable, Grunning);
  P* pp = mp->p;
  schedtickAdd(pp);
  pp->curgoid.store(gp->goid, std::memory_order_relaxed);
  gogo(mp->g0, gp, false);
}

// malg allocates a G with a stack of stackSize bytes.
static G* malg(size_t stackSize) {
  G* gp = new G;
  gp->stk = stackalloc(stackSize);
  gp->racectx = racefibercreate();
  gp->stackColor = uint8_t(statGsAllocated.fetch_add(1, std::memory_order_relaxed) % kStackColors);
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

// newproc1g lays out dead G gp for a new goroutine and reserves `size`
// bytes at the top of its stack. The stack below is laid out as
// ringo_swapcontext expects (asm_amd64.S), so that the first switch returns
// into gostart, and gostart returns into goexit+1.
// goidget hands out the next goroutine id: from pp's batch (refilled 16 at
// a time from sched.goidgen), or straight from goidgen without a P.
constexpr uint64_t kGoidCacheBatch = 16;
static uint64_t goidget(P* pp) {
  if (pp == nullptr) return sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goidcache == pp->goidcacheend) {
    pp->goidcache = sched.goidgen.fetch_add(kGoidCacheBatch, std::memory_order_relaxed) + 1;
    pp->goidcacheend = pp->goidcache + kGoidCacheBatch;
  }
  return pp->goidcache++;
}

static G* newproc1g(P* pp, G* gp, size_t size, void** storage) {
  if (gp == nullptr) {
    gp = malg(sched.stackSize);
    casgstatus(gp, Gidle, Gdead);
  } else {
    raceacquire(gp);  // the dead goroutine's last use of the stack (see ringo_goexit1)
  }
#ifdef RINGO_ASAN
  // A reused stack may still carry the poison of frames that never returned.
  ASAN_UNPOISON_MEMORY_REGION(gp->stk.lo, size_t(gp->stk.hi - gp->stk.lo));
#endif
  size = (size + 15) & ~size_t(15);
  if (size > size_t(gp->stk.hi - gp->stk.lo) / 4) fatal("newproc1: closure of %zu bytes", size);
  gp->goid = goidget(pp);
  // Stack colouring: every stack's top is page-aligned, so the lines a new
  // goroutine touches first would all fall in the same few L1 sets, and a
  // thousand goroutines spawned together would evict each other's frames
  // before they run (spawn+exit of 1000 at 1 P: 138 -> 95 ns). So the
  // first frame starts stackColor lines below the top: a colour per G,
  // kept across reuse, so a reused G's frames land on lines it has
  // touched before (a colour per goroutine instead gave 120 ns).
  char* top = gp->stk.hi - size_t(gp->stackColor) * 64 - size;
  *storage = top;

  auto* sp = reinterpret_cast<uintptr_t*>(top);
  *--sp = reinterpret_cast<uintptr_t>(&goexit) + 1;  // gostart's return address; 8 mod 16
  *--sp = reinterpret_cast<uintptr_t>(&gostart);     // where the first switch returns
  for (int i = 0; i < 6; i++) *--sp = 0;             // rbp, rbx, r12-r15: a zero rbp ends fp chains
  *--sp = uint64_t(0x037F) << 32 | 0x1F80;           // x87 control word | MXCSR: the ABI defaults
  gp->sched.sp = sp;

  gp->eh = {};
  gp->goexiting = false;
  gp->waitreason = waitReason::zero;
  gp->asanFakeStack = nullptr;
  gp->param = nullptr;
  return gp;
}

static G* newproc1p(P* pp, size_t size, void** storage) { return newproc1g(pp, gfget(pp), size, storage); }

// gfgetGlobal takes a dead G from the global free list, for a thread
// without a P. Returns null if there is none.
static G* gfgetGlobal() {
  lockGuard g(&sched.gFreeLock);
  G* gp = sched.gFree;
  if (gp != nullptr) {
    sched.gFree = gp->schedlink;
    sched.gFreeN--;
    gp->schedlink = nullptr;
  }
  return gp;
}

G* newproc1(size_t size, void** storage) {
  M* mp = getm();
  if (mp != nullptr && mp->p != nullptr) return newproc1p(mp->p, size, storage);
  // A thread ringo did not start (see ringo/foreign.h).
  if (mp != nullptr) fatal("Go: called inside ringo::Blocking (fn must not call ringo)");
  if (!sched.running) throw std::logic_error("ringo::Go: no ringo::Run is running");
  return newproc1g(nullptr, gfgetGlobal(), size, storage);
}

// ---- Ms and Ps ----------------------------------------------------------

static void acquirep(M* mp, P* pp) {
  if (mp->p != nullptr || pp->m != nullptr) fatal("acquirep: already in use");
  mp->p = pp;
  pp->m = mp;
  pp->mtid.store(mp->tid, std::memory_order_relaxed);
  pp->status.store(Prunning, std::memory_order_relaxed);
}

static P* releasep(M* mp) {
  P* pp = mp->p;
  if (pp == nullptr || pp->m != mp) fatal("releasep: invalid p state");
  pp->m = nullptr;
  pp->status.store(Pidle, std::memory_order_relaxed);
  mp->p = nullptr;
  return pp;
}

// pidleput puts pp on the idle list. sched.lock held.
static void pidleput(P* pp) {
  if (!runqempty(pp)) fatal("pidleput: P has non-empty run queue");
  pp->link = sched.pidle;
  sched.pidle = pp;
  sched.npidle.fetch_add(1);
}

// pidleget takes an idle P, or null. sched.lock held.
static P* pidleget() {
  P* pp = sched.pidle;
  if (pp != nullptr) {
    sched.pidle = pp->link;
    pp->link = nullptr;
    sched.npidle.fetch_sub(1);
  }
  return pp;
}

// mget takes an idle M, or null. sched.lock held.
static M* mget() {
  M* mp = sched.midle;
  if (mp != nullptr) {
    sched.midle = mp->schedlink;
    mp->schedlink = nullptr;
    sched.nmidle.fetch_sub(1);
  }
  return mp;
}

static void checkdead();
static uint64_t fastrand(M* mp);
static void sysmonwake();
static bool stoplockedm(M* mp);
static void startlockedm(M* mp, G* gp);
static void wakelockedm(M* mp);
static int64_t earliestTimer();

// mput puts mp on the idle list. sched.lock held.
static void mput(M* mp) {
  mp->schedlink = sched.midle;
  sched.midle = mp;
  sched.nmidle.fetch_add(1);
  checkdead();
}

static void noteSpinning() {
  statSpinning.fetch_add(1, std::memory_order_relaxed);
  int32_t n = sched.nmspinning.load();
  int32_t max = statMaxSpinning.load(std::memory_order_relaxed);
  while (n > max && !statMaxSpinning.compare_exchange_weak(max, n)) {
  }
}

static M* allocmLocked();
static void newm(M* mp);

// trySpin counts the caller in nmspinning if the bound allows: fewer than
// half the busy Ps have a spinner. The CAS makes the bound exact; Go's plain
// check lets two Ms slip past it together.
static bool trySpin() {
  int32_t n = sched.nmspinning.load();
  for (;;) {
    if (2 * n >= sched.gomaxprocs - sched.npidle.load()) return false;
    if (sched.nmspinning.compare_exchange_weak(n, n + 1)) {
      noteSpinning();
      return true;
    }
  }
}

// startm runs some M with P pp (or an idle P if pp is null). spinning: the
// caller incremented nmspinning for it, and the M starts spinning. If there
// is no idle P, it undoes the caller's increment.
static void startm(P* pp, bool spinning) {
  lock(&sched.lock);
  if (sched.exiting.load()) {
    unlock(&sched.lock);
    if (spinning) sched.nmspinning.fetch_sub(1);
    return;
  }
  if (pp == nullptr) {
    pp = pidleget();
    if (pp == nullptr) {
      unlock(&sched.lock);
      if (spinning && sched.nmspinning.fetch_sub(1) < 1) fatal("startm: negative nmspinning");
      return;
    }
  }
  if (sched.sysmonwait.load(std::memory_order_relaxed)) sysmonwake();
  M* nmp = mget();
  if (nmp == nullptr) {
    // Recorded in allm under the lock that saw !exiting, so teardown joins it.
    nmp = allocmLocked();
    nmp->nextp = pp;
    nmp->spinning = spinning;
    unlock(&sched.lock);
    newm(nmp);
    return;
  }
  if (nmp->spinning) fatal("startm: m is spinning");
  if (nmp->nextp) fatal("startm: m has p");
  nmp->spinning = spinning;
  nmp->nextp = pp;
  unlock(&sched.lock);
  notewakeup(&nmp->park);
}

// wakep starts a spinning M for new work if there is an idle P and no M is
// spinning already (see "Spinning").
static void wakep() {
  if (sched.npidle.load() == 0) return;
  int32_t zero = 0;
  if (sched.nmspinning.load() != 0 || !sched.nmspinning.compare_exchange_strong(zero, 1)) return;
  noteSpinning();
  startm(nullptr, true);
}

// resetspinning: a spinning M found work. It stops spinning and, if it was
// the last spinner, wakes another so the next work has one.
static void resetspinning(M* mp) {
  mp->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1) - 1;
  if (n < 0) fatal("resetspinning: negative nmspinning");
  wakep();
}

// stopm parks mp until startm hands it a P. Returns false if Run is ending.
static bool stopm(M* mp) {
  if (mp->p) fatal("stopm: holding p");
  if (mp->spinning) fatal("stopm: spinning");
  // What this M queued for the poller must not sleep with it.
  if (netpollCurrent->flush) netpollCurrent->flush();
  lock(&sched.lock);
  if (sched.exiting.load()) {
    unlock(&sched.lock);
    return false;
  }
  mput(mp);
  unlock(&sched.lock);
  notesleep(&mp->park);
  noteclear(&mp->park);
  if (mp->nextp == nullptr) return false;  // woken for exit
  acquirep(mp, mp->nextp);
  mp->nextp = nullptr;
  if (netpollCurrent->resume) netpollCurrent->resume();
  return true;
}

// ---- making goroutines runnable ------------------------------------------

// newprocStart makes gp runnable: runnext of the current P.
// From a thread without a P it goes to the global queue.
void newprocStart(G* gp, entryFn entry, void* arg) {
  gp->entry = entry;
  gp->entryArg = arg;
  racerelease(gp);
  // gp came off a free list and nobody else knows it yet: a plain store.
  setgstatus(gp, Gdead, Grunnable);
  M* mp = getm();
  if (mp != nullptr && mp->p != nullptr) {
    P* pp = mp->p;
    owneradd(pp->ngdelta, int64_t(1));
    owneradd(pp->nstarted, uint64_t(1));
    runqput(pp, gp, true);
  } else {
    sched.ngoroutines.fetch_add(1, std::memory_order_relaxed);
    statStarted.fetch_add(1, std::memory_order_relaxed);
    lockGuard g(&sched.lock);
    globrunqput(gp);
  }
  if (sched.mainStarted) wakep();
}

void abandonproc(G* gp) noexcept {
  M* mp = getm();
  if (mp != nullptr && mp->p != nullptr) {
    gfput(mp->p, gp);
    return;
  }
  lockGuard g(&sched.gFreeLock);
  gp->schedlink = sched.gFree;
  sched.gFree = gp;
  sched.gFreeN++;
}

// goready makes gp runnable: in the current P's runnext, or, from a thread
// without a P (a foreign thread), on the global queue.
void goready(G* gp) {
  M* mp = getm();
  racerelease(gp);  // what the readier did happens before gp goes on
  casgstatus(gp, Gwaiting, Grunnable);
  if (mp != nullptr && mp->p != nullptr) {
    runqput(mp->p, gp, true);
  } else {
    lockGuard g(&sched.lock);
    globrunqput(gp);
  }
  wakep();
}

uint32_t fastrandn(uint32_t n) {
  M* mp = getm();
  uint64_t r;
  if (mp != nullptr) {
    r = fastrand(mp);
  } else {
    thread_local uint64_t x = 0x9E3779B97F4A7C15ULL ^ uint64_t(reinterpret_cast<uintptr_t>(&x));
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r = x * 0x2545F4914F6CDD1DULL;
  }
  // Lemire's multiply-shift: uniform enough for small n, no division.
  return uint32_t(((r >> 32) * uint64_t(n)) >> 32);
}

// injectglist makes a list of Gwaiting Gs (from the poller) runnable. With a
// P they go to its queue; without, to the global queue, with an M started
// for each idle P they can keep busy.
static void injectglist(M* mp, G* list) {
  if (list == nullptr) return;
  int n = 0;
  for (G* gp = list; gp; gp = gp->schedlink) {
    casgstatus(gp, Gwaiting, Grunnable);
    n++;
  }
  if (mp == nullptr || mp->p == nullptr) {  // an M without a P, or sysmon
    lock(&sched.lock);
    globrunqputlist(list);
    unlock(&sched.lock);
    for (; n > 0 && sched.npidle.load() > 0; n--) startm(nullptr, false);
    return;
  }
  // As many as fit go to the local ring, the rest to the global queue, both
  // in list order (the order the I/O completed). Pushing past a full ring
  // would move its oldest half to the global queue (runqputslow), behind
  // the newer Gs still local: the first to complete would run last.
  P* pp = mp->p;
  uint32_t room = P::runqSize - (pp->runqtail.load(std::memory_order_relaxed) -
                                 pp->runqhead.load(std::memory_order_acquire));  // only grows: stealers take
  for (; list && room > 0; room--) {
    G* next = list->schedlink;
    list->schedlink = nullptr;
    runqput(pp, list, false);
    list = next;
  }
  if (list) {
    lock(&sched.lock);
    globrunqputlist(list);
    unlock(&sched.lock);
  }
  wakep();
}

// wakeNetPoller makes sure some M will look at timers by `when`: it breaks a
// blocked poll that would sleep past it, or wakes an M if none is polling.
void wakeNetPoller(int64_t when) {
  if (sched.lastpoll.load() == 0) {
    int64_t until = sched.pollUntil.load();
    if (until == 0 || until > when) netpollCurrent->breakPoll();
  } else {
    wakep();
  }
}

// ---- exit ----------------------------------------------------------------

// goexit0 is goexit's continuation on g0: gp's function returned or Goexit
// unwound it.
// gdestroy ends dead G gp: Gdead, counted out, reset, on the P's free list.
// On g0 (goexit0) or on the G switched to (exitCommit).
static void gdestroy(M* mp, G* gp) {
  setgstatus(gp, Grunning, Gdead);
  owneradd(mp->p->ngdelta, int64_t(-1));
  const bool goexited = gp->goexiting;
  gp->goexiting = false;
  gp->eh = {};
  gp->entry = nullptr;
  gp->entryArg = nullptr;
  gp->waitreason = waitReason::zero;
  if (gp->lockedm != nullptr) {
    // Still wired at exit. Go ends the thread; ringo's Ms live until Run
    // ends, so the wiring is just dropped.
    gp->lockedm->lockedg = nullptr;
    gp->lockedm->lockedCount = 0;
    gp->lockedm = nullptr;
    sched.nlocked.fetch_sub(1);
  }
  gfput(mp->p, gp);
  if (gp == sched.maing) {
    // Like Go's main returning into exit(0): Run ends now. After Goexit the
    // other goroutines go on; checkdead reports when none is left.
    if (goexited) {
      sched.mainGoexited.store(true);
    } else {
      lock(&sched.lock);
      sched.exiting.store(true);
      while (M* idle = mget()) notewakeup(&idle->park);
      for (M* m : sched.allm)
        if (m->lockedIdle) wakelockedm(m);
      unlock(&sched.lock);
      netpollCurrent->breakPoll();
    }
  }
}

G* goexit0(G* gp) {
  M* mp = getm();
  dropg(mp);
  gdestroy(mp, gp);
  return nullptr;
}

static bool exitCommit(G* gp, void*) {
  gdestroy(getm(), gp);
  return true;
}

static G* directNext(P* pp, bool* keepLock = nullptr, bool* alone = nullptr);
void switchDirect(M* mp, G* gp, G* next, bool gpDies);

extern "C" void ringo_goexit1() {
  M* mp = getm();
  G* gp = mp->curg;
  racerelease(&sched);  // Run's caller sees what every goroutine did
  racerelease(gp);      // and whoever reuses this G's stack
  if (gp != sched.maing) {
    if (G* next = directNext(mp->p)) {
      // Straight to the next G; it frees this one (exitCommit) once this
      // stack is no longer in use.
      mp->waitunlockf = exitCommit;
      mp->waitlock = nullptr;
      switchDirect(mp, gp, next, true);
      fatal("goexit1: dead goroutine resumed");
    }
  }
  mcall(goexit0);
  fatal("goexit1: dead goroutine resumed");
}

// ---- parking -------------------------------------------------------------

// park_m is gopark's continuation on g0.
G* park_m(G* gp) {
  M* mp = getm();
  setgstatus(gp, Grunning, Gwaiting);
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

// afterSwitch finishes a direct switch (see parkDirect): on the G that was
// switched to, it runs the unlock function of the G that parked, which can
// only be woken from then on. Called wherever a G resumes.
static void afterSwitch(M* mp) {
  G* gp = mp->waitg;
  if (gp == nullptr) return;
  auto fn = mp->waitunlockf;
  void* lk = mp->waitlock;
  mp->waitg = nullptr;
  mp->waitunlockf = nullptr;
  mp->waitlock = nullptr;
  if (fn && !fn(gp, lk)) {
    // Not parked after all: it runs next.
    casgstatus(gp, Gwaiting, Grunnable);
    runqput(mp->p, gp, true);
  }
}

// directNext is the G a goroutine that parks, yields or exits may switch
// to directly, without the round trip through g0 and findRunnable: the P's
// runnext or ring head, else the global queue's head, when findRunnable
// would pick the same (no fairness tick, no due timer, Run not ending).
// Null sends the switch the long way. The timer check reads the coarse
// clock (every park reads it; a server's P always has a deadline's timer):
// a timer it sees due is due, and one it misses by less than a tick runs
// at the next fairness tick (every 61 switches) or when the queue empties.
static bool directOK(P* pp) {
  if (pp == nullptr) fatal("ringo: a goroutine parked inside ringo::Blocking (fn must not call ringo)");
  if (pp->schedtick % 61 == 0 || sched.exiting.load(std::memory_order_relaxed) ||
      sched.nlocked.load(std::memory_order_relaxed) != 0)
    return false;
  const int64_t t = pp->timers.next.load(std::memory_order_relaxed);
  return t == 0 || t > nanotimeCoarse();
}

// With keepLock, a G taken from the global queue leaves sched.lock held and
// *keepLock true (Gosched puts itself there after the switch). *alone (if
// asked) is set when the switch was allowed but there is nothing to run.
static G* directNext(P* pp, bool* keepLock, bool* alone) {
  if (!directOK(pp)) return nullptr;
  if (G* gp = runqget(pp)) return gp;
  G* gp = nullptr;
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    lock(&sched.lock);
    gp = globrunqget(pp, 1);
    if (gp != nullptr && keepLock != nullptr) *keepLock = true;
    else unlock(&sched.lock);
  }
  if (gp == nullptr && alone != nullptr) *alone = true;
  return gp;
}

// switchDirect switches from gp to next on mp, without g0. mp->waitunlockf
// (set by the caller) runs on next once gp's registers are saved
// (afterSwitch): only then may anyone else resume gp. Returns when gp runs
// again.
void switchDirect(M* mp, G* gp, G* next, bool gpDies) {
  mp->waitg = gp;
  gp->m = nullptr;
  mp->curg = next;
  next->m = mp;
  setgstatus(next, Grunnable, Grunning);
  P* pp = mp->p;
  schedtickAdd(pp);
  pp->curgoid.store(next->goid, std::memory_order_relaxed);
  gogo(gp, next, gpDies);
  afterSwitch(getm());
}

void gopark(bool (*unlockf)(G*, void*), void* lk, waitReason reason) {
  M* mp = getm();
  G* gp = getg();
  if (gp == nullptr) fatal("gopark: not on a goroutine");
  gp->waitreason = reason;
  gp->waitsince = sched.sysmonNow.load(std::memory_order_relaxed);
  mp->waitunlockf = unlockf;
  mp->waitlock = lk;
  if (G* next = directNext(mp->p)) {
    // One context switch instead of two. gp is Gwaiting before the switch
    // and its unlock function runs after it, so whoever the unlock lets
    // wake gp finds it fully parked (Go's gopark protocol, without g0).
    setgstatus(gp, Grunning, Gwaiting);
    switchDirect(mp, gp, next, false);
    RINGO_KEEP_FRAME();
    return;
  }
  mcall(park_m);
  RINGO_KEEP_FRAME();
}

// goschedCommit puts a G that yielded by a direct switch on the global
// queue, now that its registers are saved. lk is sched.lock when the G
// took its successor from the global queue and kept the lock across the
// switch (one lock round instead of two); else null.
static bool goschedCommit(G* gp, void* lk) {
  if (lk == nullptr) lock(&sched.lock);
  globrunqput(gp);
  unlock(&sched.lock);
  wakep();
  return true;
}

// gosched_m is Gosched's continuation on g0: the G goes to the global queue.
static G* gosched_m(G* gp) {
  M* mp = getm();
  setgstatus(gp, Grunning, Grunnable);
  dropg(mp);
  lock(&sched.lock);
  globrunqput(gp);
  unlock(&sched.lock);
  wakep();
  return nullptr;
}

// goyield_m is goyield's continuation on g0: the G goes to its P's ring.
static G* goyield_m(G* gp) {
  M* mp = getm();
  setgstatus(gp, Grunning, Grunnable);
  dropg(mp);
  runqput(mp->p, gp, false);
  return nullptr;
}

void goyield() { mcall(goyield_m); }

bool syncCanSpin(int i) {
  // 4: Go's active_spin. Spinning only pays when another M may be about to
  // release the lock: with one P, or with every other P idle, it cannot.
  if (i >= 4 || sched.gomaxprocs <= 1) return false;
  if (sched.gomaxprocs <= sched.npidle.load(std::memory_order_relaxed) +
                             sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  M* mp = getm();
  return mp != nullptr && mp->p != nullptr && runqempty(mp->p);
}

void syncDoSpin() {
  for (int i = 0; i < 30; i++) __builtin_ia32_pause();  // 30: Go's active_spin_cnt
}

// ---- finding work --------------------------------------------------------

// earliestTimer is the earliest timer of any P, 0 if none.
static int64_t earliestTimer() {
  int64_t first = 0;
  for (P* pp : sched.allp) {
    int64_t w = pp->timers.next.load(std::memory_order_relaxed);
    if (w != 0 && (first == 0 || w < first)) first = w;
  }
  return first;
}

// gcountLocked is the number of goroutines not dead (Go's gcount): the
// global count plus every P's. sched.lock, which keeps allp in place.
static int32_t gcountLocked() {
  int64_t n = sched.ngoroutines.load(std::memory_order_relaxed);
  for (P* pp : sched.allp) n += pp->ngdelta.load(std::memory_order_relaxed);
  return int32_t(n);
}

// checkdead is called with sched.lock held when an M goes idle. If no M is
// running or polling, no goroutine can ever run again unless a timer is
// pending: as in Go, that is a deadlock and the program stops.
static void checkdead() {
  const int32_t run = int32_t(sched.allm.size()) - sched.nmidle.load() - sched.nmidlelocked.load();
  if (run > 0) return;
  if (run < 0) fatal("checkdead: inconsistent counts: %d Ms, %d idle", int(sched.allm.size()),
                     int(sched.nmidle.load()));
  if (sched.exiting.load()) return;
  // A thread outside ringo that holds a ForeignThread may still ready a
  // goroutine, as a cgo callback can in Go: no deadlock can be proven.
  if (sched.nforeign.load() > 0) return;
  if (gcountLocked() == 0 && sched.mainGoexited.load())
    fatal("no goroutines (main called Goexit) - deadlock!");
  if (earliestTimer() != 0) return;  // the poller M (or the next wakep) handles it
  // Goroutines parked on I/O are not dead: the network may ready them. (An
  // M blocks in the poller while any exist, so run > 0 already; this is the
  // rule written down, not a second mechanism.)
  if (netpollCurrent->anyWaiters()) return;
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

static uint64_t fastrand(M* mp) {
  // xorshift64*: cheap, per M, good enough to spread victims.
  uint64_t x = mp->fastrand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  mp->fastrand = x;
  return x * 0x2545F4914F6CDD1DULL;
}

// stealWork tries to take work from other Ps: four rounds over them in
// random order; the last round also runs their due timers and steals their
// runnext. Returns a G, or null with *pollUntil lowered to the earliest
// timer seen and *newWork set if timers ran (and may have readied Gs).
static G* stealWork(M* mp, int64_t now, int64_t* pollUntil, bool* newWork) {
  P* pp = mp->p;
  const uint32_t n = uint32_t(sched.allp.size());
  constexpr int kStealTries = 4;  // Go's number
  for (int i = 0; i < kStealTries; i++) {
    const bool stealTimersOrRunNextG = i == kStealTries - 1;
    const uint32_t start = uint32_t(fastrand(mp) % n);
    for (uint32_t k = 0; k < n; k++) {
      P* p2 = sched.allp[(start + k) % n];
      if (p2 == pp) continue;
      if (stealTimersOrRunNextG) {
        int64_t w = p2->timers.next.load(std::memory_order_relaxed);
        if (w != 0 && w <= now) {
          int64_t next = checkTimers(p2, now);
          if (next != 0 && (*pollUntil == 0 || next < *pollUntil)) *pollUntil = next;
          if (G* gp = runqget(pp)) return gp;  // a timer readied it onto our P
          *newWork = true;
        } else if (w != 0 && (*pollUntil == 0 || w < *pollUntil)) {
          *pollUntil = w;
        }
      }
      if (p2->status.load(std::memory_order_relaxed) == Pidle) continue;  // idle Ps have empty queues
      if (G* gp = runqsteal(pp, p2, stealTimersOrRunNextG)) {
        statSteals.fetch_add(1, std::memory_order_relaxed);
        return gp;
      }
    }
  }
  return nullptr;
}

// netpollFirst takes the first goroutine of a poll's list for mp to run,
// and queues the rest (injectglist).
static G* netpollFirst(M* mp, G* list) {
  G* gp = list;
  list = list->schedlink;
  gp->schedlink = nullptr;
  injectglist(mp, list);
  casgstatus(gp, Gwaiting, Grunnable);
  return gp;
}

// pollspin (RINGO_POLLSPIN, off by default) keeps the P a little longer
// when findRunnable has found nothing but goroutines wait on I/O: it polls
// the network without blocking for up to pollspinNs, and never past the P's
// next timer. An M that gives its P up and sleeps must be woken when work
// comes, and every such wake-up costs twice: the waker's CPU sends an
// interrupt to an idle one (several microseconds in a VM, paid by the peer
// that completed the I/O, often another process), and the woken thread
// often lands behind a busy one while a CPU sits idle. An M that is still
// awake needs neither. What it costs is the spin itself, CPU time a server
// that is not saturated would leave idle: see README, "Spinning before the
// poller sleeps". The poll is the same poll(0) as above (io_uring: reading
// the shared completion queues, and one enter when the kernel flags this
// M's deferred completion work; epoll: an epoll_wait(0), skipped while
// another M blocks in the poller, whose finds then come through the global
// queue). Returns a goroutine the poll readied, or null with *retry set
// when findRunnable should look again (work queued meanwhile, a timer due).
static G* pollspin(M* mp, P* pp, int64_t pollUntil, bool* retry) {
  statPollspins.fetch_add(1, std::memory_order_relaxed);
  int64_t end = nanotime() + pollspinNs;
  if (pollUntil != 0 && pollUntil < end) end = pollUntil;
  do {
    for (int i = 0; i < 16; i++) {
      if (G* list = netpollCurrent->poll(0)) {
        statPollspinHits.fetch_add(1, std::memory_order_relaxed);
        return netpollFirst(mp, list);
      }
      if (sched.exiting.load(std::memory_order_relaxed) || !runqempty(pp) ||
          sched.runqsize.load(std::memory_order_relaxed) > 0) {
        *retry = true;
        return nullptr;
      }
      __builtin_ia32_pause();
    }
  } while (nanotime() < end);
  // A timer of this P is due: run it with the P held (findRunnable's top).
  *retry = pollUntil != 0 && nanotime() >= pollUntil;
  return nullptr;
}

// findRunnable finds a goroutine to run, parking the M until there is one.
// Returns null when Run is ending. On g0. See "Many Ps" and "Spinning" at
// the top of this file.
static G* findRunnable(M* mp) {
top:
  if (sched.exiting.load(std::memory_order_relaxed)) return nullptr;
  P* pp = mp->p;
  // The clock is read only when the P has timers: the common path
  // (runnext, the local ring) makes no clock call.
  int64_t pollUntil = 0;
  if (pp->timers.next.load(std::memory_order_relaxed) != 0) pollUntil = checkTimers(pp, 0);

  // 61: Go's fairness tick. Now and then look at the global queue first,
  // then the ring before runnext, so goroutines that keep readying each
  // other through runnext cannot starve either. (Go also relies on
  // preemption to end a runnext chain; ringo has none, so the tick does it.)
  const bool fairTick = pp->schedtick % 61 == 0;
  if (fairTick && sched.runqsize.load(std::memory_order_relaxed) > 0) {
    lockGuard g(&sched.lock);
    if (G* gp = globrunqget(pp, 1)) return gp;
  }
  if (G* gp = runqget(pp, fairTick)) return gp;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    lockGuard g(&sched.lock);
    if (G* gp = globrunqget(pp, 0)) return gp;
  }

  // Poll the network without blocking, if anyone waits on it. (Go skips
  // this while an M is blocked in the poller; ringo's io_uring poller
  // submits the round's operations here, so it must run. A poller whose
  // poll(0) is a system call skips it itself in that case.)
  if (netpollCurrent->anyWaiters()) {
    // No goroutine runs here: a slow submission is the poller's, and sysmon
    // must not blame the last goroutine for it.
    pp->curgoid.store(0, std::memory_order_relaxed);
    if (G* list = netpollCurrent->poll(0)) return netpollFirst(mp, list);
  }

  // Steal, if spinning is allowed (at most half the busy Ps have a spinner).
  if (!mp->spinning && trySpin()) mp->spinning = true;
  if (mp->spinning) {
    bool newWork = false;
    if (G* gp = stealWork(mp, nanotime(), &pollUntil, &newWork)) return gp;
    if (newWork) goto top;  // timers ran elsewhere and may have readied Gs
  }

  if (pollspinNs > 0 && netpollCurrent->anyWaiters()) {
    bool retry = false;
    if (G* gp = pollspin(mp, pp, pollUntil, &retry)) return gp;
    if (retry) goto top;
  }

  // Nothing found: give up the P.
  lock(&sched.lock);
  if (sched.exiting.load()) {
    unlock(&sched.lock);
    return nullptr;
  }
  if (sched.runqsize.load() > 0) {
    G* gp = globrunqget(pp, 0);
    unlock(&sched.lock);
    return gp;
  }
  releasep(mp);
  pidleput(pp);
  unlock(&sched.lock);

  // The delicate dance (see "Spinning"): stop spinning, then look at every
  // queue once more, so work queued by a producer that saw us spinning is
  // not left behind.
  const bool wasSpinning = mp->spinning;
  if (mp->spinning) {
    mp->spinning = false;
    if (sched.nmspinning.fetch_sub(1) < 1) fatal("findRunnable: negative nmspinning");
    for (P* p2 : sched.allp) {
      if (runqempty(p2)) continue;
      // If another M may spin, that one will find the work.
      if (!trySpin()) break;
      lock(&sched.lock);
      P* got = pidleget();
      unlock(&sched.lock);
      if (got != nullptr) {
        acquirep(mp, got);
        mp->spinning = true;
        goto top;
      }
      sched.nmspinning.fetch_sub(1);
      break;
    }
  }

  // Sleep in the poller until the earliest timer of any P (or I/O), if no
  // other M does; else park.
  pollUntil = earliestTimer();
  if ((netpollCurrent->anyWaiters() || pollUntil != 0) && sched.lastpoll.exchange(0) != 0) {
    sched.pollUntil.store(pollUntil);
    int64_t delay = -1;
    if (pollUntil != 0) {
      delay = pollUntil - nanotime();
      if (delay < 0) delay = 0;
    }
    G* list = sched.exiting.load() ? nullptr : netpollCurrent->poll(delay);
    sched.pollUntil.store(0);
    sched.lastpoll.store(nanotime());
    lock(&sched.lock);
    P* got = pidleget();
    unlock(&sched.lock);
    if (got == nullptr) {
      injectglist(mp, list);
    } else {
      acquirep(mp, got);
      if (list != nullptr) return netpollFirst(mp, list);
      if (wasSpinning && trySpin()) mp->spinning = true;
      goto top;
    }
  } else if (pollUntil != 0) {
    // Another M is blocked in the poller: make sure it wakes for our timer.
    int64_t until = sched.pollUntil.load();
    if (until == 0 || until > pollUntil) netpollCurrent->breakPoll();
  }
  if (!stopm(mp)) return nullptr;
  goto top;
}

// ---- LockOSThread ----------------------------------------------------------
//
// A wired G runs only on its M, and that M runs nothing else (Go's
// lockedg/lockedm). When the wired G is not running, its M hands its P on
// (handoffp) and sleeps in stoplockedm; an M whose findRunnable picks the
// wired G passes it its own P (startlockedm) and stops. Direct G-to-G
// switches are off while any G is wired, so every switch goes through
// schedule, where these rules live.

static void handoffp(P* pp);

// stoplockedm parks mp, whose wired G is not runnable here, until another M
// hands it a P with the G. Returns false if Run is ending.
static bool stoplockedm(M* mp) {
  if (netpollCurrent->flush) netpollCurrent->flush();  // as in stopm
  if (mp->p != nullptr) {
    P* pp = releasep(mp);
    handoffp(pp);
  }
  {
    lockGuard g(&sched.lock);
    if (sched.exiting.load()) return false;
    if (mp->nextp == nullptr) {  // else the G came back already: the note is set
      mp->lockedIdle = true;
      sched.nmidlelocked.fetch_add(1);
      checkdead();
    }
  }
  notesleep(&mp->park);  // the waker counted us out (wakelockedm)
  noteclear(&mp->park);
  if (mp->nextp == nullptr) return false;  // woken for exit
  acquirep(mp, mp->nextp);
  mp->nextp = nullptr;
  if (netpollCurrent->resume) netpollCurrent->resume();
  return true;
}

// incidlelocked moves the count of idle locked Ms by v; sysmon counts
// itself in it while it holds readied goroutines (Go's incidlelocked).
static void incidlelocked(int32_t v) {
  lockGuard g(&sched.lock);
  sched.nmidlelocked.fetch_add(v);
  if (v > 0) checkdead();
}

// wakelockedm wakes mp from stoplockedm and counts it running at once
// (sched.lock held): the waker may go idle next, and checkdead must not
// find every M idle while mp is on its way (Go's incidlelocked(-1) in
// startlockedm).
static void wakelockedm(M* mp) {
  mp->lockedIdle = false;
  sched.nmidlelocked.fetch_sub(1);
  notewakeup(&mp->park);
}

// startlockedm gives mp's P to gp's M, which runs gp (Grunnable, off every
// queue). mp is left without a P.
static void startlockedm(M* mp, G* gp) {
  M* lm = gp->lockedm;
  if (lm == mp) fatal("startlockedm: locked to me");
  P* pp = releasep(mp);
  lockGuard g(&sched.lock);
  if (sched.exiting.load()) {
    // Run is ending: the exit already woke lm if it slept (and it will
    // not sleep if it did not); a second wake-up would be one too many.
    // pp stays off every list (teardown frees all Ps).
    return;
  }
  lm->nextp = pp;
  if (lm->lockedIdle) {
    wakelockedm(lm);
  } else {
    // Not asleep yet: it is on its way into stoplockedm (a wired G never
    // leaves its M any other way), which sees nextp and does not count
    // itself idle.
    notewakeup(&lm->park);
  }
}

// ---- Blocking calls ----------------------------------------------------------
//
// entersyscall and exitsyscall bracket a ringo::Blocking call, as Go's do a
// system call. Entering costs a few stores: the P stays with the M in the
// Psyscall state, so a short call takes it straight back on exit. sysmon
// retakes a P that has sat in Psyscall for one of its ticks (20 us to
// 10 ms) when the P has work waiting or nobody else is looking for work, and
// hands it to another M; the returning M then looks for an idle P, or
// queues its G and sleeps.

static void sysmonwake();

void entersyscall() {
  M* mp = getm();
  G* gp = mp ? mp->curg : nullptr;
  if (gp == nullptr || !onStack(gp)) fatal("ringo::Blocking: not on a goroutine");
  if (mp->p == nullptr) fatal("ringo::Blocking: nested in another Blocking call");
  if (netpollCurrent->flush) netpollCurrent->flush();  // this M's queued I/O must not wait for fn
  casgstatus(gp, Grunning, Gsyscall);
  P* pp = mp->p;
  pp->syscalltick.fetch_add(1, std::memory_order_relaxed);
  mp->oldp = pp;
  mp->p = nullptr;
  pp->m = nullptr;
  pp->status.store(Psyscall);
  if (sched.sysmonwait.load()) sysmonwake();
}

// exitsyscall0 is exitsyscall's continuation on g0 when no P was free: the
// G goes to the global queue and the M sleeps until it is given a P.
static G* exitsyscall0(G* gp) {
  M* mp = getm();
  casgstatus(gp, Gsyscall, Grunnable);
  dropg(mp);
  P* pp;
  {
    lockGuard g(&sched.lock);
    pp = pidleget();
    if (pp == nullptr) globrunqput(gp);
  }
  if (pp != nullptr) {
    acquirep(mp, pp);
    return gp;
  }
  // A wired G's M waits for it in stoplockedm (schedule's first step),
  // never on the idle list: the M that picks gp up hands it this M's P
  // (startlockedm), and stopm's wake-up would give it any other work.
  if (mp->lockedg != nullptr) return nullptr;
  stopm(mp);  // findRunnable (or the exit) follows
  return nullptr;
}

void exitsyscall() {
  M* mp = getm();
  G* gp = mp->curg;
  P* oldp = mp->oldp;
  mp->oldp = nullptr;
  // Fast: the P is still ours.
  uint32_t want = Psyscall;
  if (oldp != nullptr && oldp->status.compare_exchange_strong(want, Prunning)) {
    mp->p = oldp;
    oldp->m = mp;
    oldp->mtid.store(mp->tid, std::memory_order_relaxed);
    casgstatus(gp, Gsyscall, Grunning);
    if (netpollCurrent->resume) netpollCurrent->resume();
    return;
  }
  // sysmon gave it away: any idle P will do.
  P* pp;
  {
    lockGuard g(&sched.lock);
    pp = pidleget();
  }
  if (pp != nullptr) {
    acquirep(mp, pp);
    casgstatus(gp, Gsyscall, Grunning);
    pp->curgoid.store(gp->goid, std::memory_order_relaxed);
    if (netpollCurrent->resume) netpollCurrent->resume();
    return;
  }
  mcall(exitsyscall0);
}

// handoffp finds an M for pp, which nobody holds (taken from a Blocking
// call, or left by a locked M): one is started if pp or the global queue has
// work, if no M is looking for work, or if pp is the last P and no M waits
// in the poller (else parked I/O would have nobody to complete it: the M
// that handed pp off sleeps in a Blocking call or in stoplockedm, and every
// other M sleeps in stopm); else pp goes idle.
static void handoffp(P* pp) {
  if (!runqempty(pp) || sched.runqsize.load() > 0) {
    startm(pp, false);
    return;
  }
  int32_t zero = 0;
  if (sched.nmspinning.load() + sched.npidle.load() == 0 &&
      sched.nmspinning.compare_exchange_strong(zero, 1)) {
    noteSpinning();
    startm(pp, true);
    return;
  }
  const int64_t when = pp->timers.next.load(std::memory_order_relaxed);
  lock(&sched.lock);
  // Both checked again under the lock: pidleput below publishes pp to the
  // Ms that look for work, and the poller's M takes its P under it too.
  if (sched.runqsize.load() > 0 ||
      (sched.npidle.load() == sched.gomaxprocs - 1 && sched.lastpoll.load() != 0)) {
    unlock(&sched.lock);
    startm(pp, false);
    return;
  }
  pidleput(pp);
  unlock(&sched.lock);
  if (when != 0) wakeNetPoller(when);
}

// ---- sysmon ----------------------------------------------------------------
//
// sysmon is a thread without a P, as Go's is. It wakes every 20 us while
// Blocking calls or goroutines may need it, backing off to 10 ms when
// nothing happens, and sleeps with no timeout when every P is idle (whoever
// starts an M or a Blocking call wakes it). Each round it:
//  - retakes Ps that have sat in a Blocking call (see above);
//  - reports a goroutine that has run longer than RINGO_SCHEDWARN ms
//    (default 100) without yielding, and one whose thread has slept in the
//    kernel for 10 ms outside Blocking (its P's goroutines wait);
//    RINGO_SCHEDWARN=0 turns both reports off;
//  - wakes an M for a timer that is overdue with nobody in the poller;
//  - prints the RINGO_SCHEDTRACE line when due.
// There is no preemption: see "Scheduling is cooperative" above.

namespace {
std::atomic<uint32_t> sysmonKick{0};  // futex word sysmon sleeps on
std::atomic<bool> sysmonStop{false};
// processExiting is set by an atexit handler: while static destructors and
// exit handlers run, goroutines are being abandoned, not scheduled, and
// sysmon has nothing useful to report.
std::atomic<bool> processExiting{false};
int64_t schedwarnNs = 100'000'000;
int64_t schedtraceNs = 0;
int64_t runStart = 0;
constexpr int64_t kStuckNs = 10'000'000;  // 10 ms in the kernel outside Blocking
}  // namespace

static void sysmonwake() {
  sysmonKick.store(1, std::memory_order_release);
  futexWakeup(&sysmonKick, 1);
}

void wakeSysmonFromSignal() { sysmonwake(); }

// threadState is the state letter of thread tid in /proc ('R' running, 'S'
// sleeping, 'D' disk wait), or 0.
static char threadState(int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* rp = std::strrchr(buf, ')');  // the name may hold spaces
  return rp && rp[1] == ' ' ? rp[2] : 0;
}

static void schedtrace(int64_t now);

static bool retake(int64_t now) {
  bool took = false;
  for (P* pp : sched.allp) {
    auto& pd = pp->sysmontick;
    const uint32_t s = pp->status.load();
    if (s == Prunning) {
      const uint32_t t = pp->schedtickPub.load(std::memory_order_relaxed);
      if (pd.schedtick != t || pd.schedwhen == 0) {
        pd.schedtick = t;
        pd.schedwhen = now;
        pd.reported = false;
        continue;
      }
      if (pd.reported) continue;
      const int64_t ran = now - pd.schedwhen;
      const unsigned long long goid = pp->curgoid.load(std::memory_order_relaxed);
      if (goid == 0) continue;  // in the scheduler (the poller), not in a goroutine
      if (schedwarnNs > 0 && ran >= kStuckNs) {
        const char st = threadState(pp->mtid.load(std::memory_order_relaxed));
        if (st == 'S' || st == 'D') {
          std::fprintf(stderr,
                       "ringo: goroutine %llu has been blocked in the kernel for %lld ms on P%d outside "
                       "ringo::Blocking; the goroutines queued on its P wait (wrap the call in ringo::Blocking)\n",
                       goid, (long long)(ran / 1000000), pp->id);
          pd.reported = true;
          continue;
        }
      }
      if (schedwarnNs > 0 && ran >= schedwarnNs) {
        std::fprintf(stderr,
                     "ringo: goroutine %llu has run for %lld ms on P%d without yielding (scheduling is "
                     "cooperative: call ringo::Gosched() in long loops)\n",
                     goid, (long long)(ran / 1000000), pp->id);
        pd.reported = true;
      }
    } else if (s == Psyscall) {
      const uint32_t t = pp->syscalltick.load(std::memory_order_relaxed);
      if (pd.syscalltick != t || pd.syscallwhen == 0) {
        pd.syscalltick = t;
        pd.syscallwhen = now;
        continue;
      }
      // Leave it if it has nothing queued, someone else is free to look for
      // work, and the call is young: the M will likely be back soon.
      if (runqempty(pp) && sched.nmspinning.load() + sched.npidle.load() > 0 &&
          now - pd.syscallwhen < 10'000'000)
        continue;
      uint32_t want = Psyscall;
      if (pp->status.compare_exchange_strong(want, Pidle)) {
        handoffp(pp);
        took = true;
      }
    }
  }
  return took;
}

static void* sysmon(void*) {
  int64_t delay = 20'000;
  int64_t lastSysmonPoll = 0;
  int idle = 0;
  int64_t lasttrace = nanotime();
  for (;;) {
    if (idle == 0)
      delay = 20'000;  // 20 us: Go's
    else if (idle > 50)
      delay = std::min<int64_t>(delay * 2, 10'000'000);  // up to 10 ms
    if (schedtraceNs > 0) delay = std::min(delay, schedtraceNs);
    futexSleep(&sysmonKick, 0, delay);
    sysmonKick.store(0, std::memory_order_relaxed);
    if (quitRequested()) dumpAndExit();
    if (sysmonStop.load()) break;
    sched.sysmonNow.store(nanotime(), std::memory_order_relaxed);
    if (processExiting.load()) continue;
    int64_t now = nanotime();
    if (schedtraceNs == 0 && sched.npidle.load() == sched.gomaxprocs) {
      // Idle: nothing to retake or watch. Sleep until an M starts.
      sched.sysmonwait.store(true);
      while (!sysmonStop.load() && !quitRequested() && sched.npidle.load() == sched.gomaxprocs) {
        futexSleep(&sysmonKick, 0, -1);
        sysmonKick.store(0, std::memory_order_relaxed);
      }
      sched.sysmonwait.store(false);
      idle = 0;
      continue;
    }
    const bool took = retake(now);
    idle = took ? 0 : idle + 1;
    if (netpollCurrent->kick) netpollCurrent->kick();
    // Poll the network if nobody has for 10 ms (Go's sysmon): the Ps may all
    // be busy with goroutines that never let their run queues drain.
    // (While an M is blocked in the poller, lastpoll is 0 but that M only
    // waits: queued operations of busy Ms still need a submitter.)
    const int64_t lastpoll = sched.lastpoll.load();
    if (std::max(lastpoll, lastSysmonPoll) + 10'000'000 < now) {
      lastSysmonPoll = now;
      if (lastpoll != 0) {
        int64_t expect = lastpoll;
        sched.lastpoll.compare_exchange_strong(expect, now);
      }
      // Counted as a running M from the poll to the injection, as Go's
      // sysmon is around its injectglist: the goroutines this poll readies
      // are no longer counted parked on I/O (anyWaiters), and an M that
      // goes idle meanwhile must not find a deadlock (checkdead).
      incidlelocked(-1);
      if (G* list = netpollCurrent->poll(0)) injectglist(nullptr, list);  // (Go: idle is not reset)
      incidlelocked(1);
    }
    // An overdue timer with nobody in the poller and a P free: wake an M.
    const int64_t t = earliestTimer();
    if (t != 0 && t < now - 1'000'000 && sched.lastpoll.load() != 0 && sched.npidle.load() > 0) wakep();
    if (schedtraceNs > 0 && now - lasttrace >= schedtraceNs) {
      lasttrace = now;
      schedtrace(now);
    }
  }
  return nullptr;
}

// schedtrace prints Go's GODEBUG=schedtrace line.
static void schedtrace(int64_t now) {
  std::string line = "SCHED " + std::to_string((now - runStart) / 1000000) + "ms: gomaxprocs=" +
                     std::to_string(sched.gomaxprocs) + " idleprocs=" + std::to_string(sched.npidle.load());
  int32_t nm;
  {
    lockGuard g(&sched.lock);
    nm = int32_t(sched.allm.size());
  }
  line += " threads=" + std::to_string(nm + 1) +  // + sysmon
          " spinningthreads=" + std::to_string(sched.nmspinning.load()) +
          " idlethreads=" + std::to_string(sched.nmidle.load() + sched.nmidlelocked.load()) +
          " runqueue=" + std::to_string(sched.runqsize.load()) + " [";
  for (size_t i = 0; i < sched.allp.size(); i++) {
    P* pp = sched.allp[i];
    uint32_t n = pp->runqtail.load(std::memory_order_relaxed) - pp->runqhead.load(std::memory_order_relaxed);
    if (n > P::runqSize) n = 0;  // torn read
    if (pp->runnext.load(std::memory_order_relaxed) != nullptr) n++;
    line += (i ? " " : "") + std::to_string(n);
  }
  line += "]\n";
  (void)!write(2, line.data(), line.size());
}

// envMicros reads a duration in microseconds, 0 (the default) to max.
static int64_t envMicros(const char* name, int64_t max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  long long us = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || us < 0 || us > max)
    fatal("%s=%s: want microseconds, 0 to %lld", name, v, (long long)max);
  return us * 1000;
}

static int64_t envMillis(const char* name, int64_t dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return dflt * 1000000;
  char* end = nullptr;
  long long ms = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || ms < 0) fatal("%s: want milliseconds (a number >= 0), got \"%s\"", name, v);
  return ms * 1000000;
}

static void sysmonStart() {
  static bool atexitSet = false;
  if (!atexitSet) {
    std::atexit([] { processExiting.store(true); });
    atexitSet = true;
  }
  schedwarnNs = envMillis("RINGO_SCHEDWARN", 100);
  schedtraceNs = envMillis("RINGO_SCHEDTRACE", 0);
  runStart = nanotime();
  sysmonStop.store(false);
  sysmonKick.store(0);
  sched.sysmonNow.store(nanotime());
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  int rc = pthread_create(&sched.sysmonThread, &attr, sysmon, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("sysmon: pthread_create: %s", std::strerror(rc));
  sched.sysmonStarted = true;
  installQuitHandler();
}

static void sysmonJoin() {
  if (!sched.sysmonStarted) return;
  uninstallQuitHandler();
  sysmonStop.store(true);
  sysmonwake();
  pthread_join(sched.sysmonThread, nullptr);
  sched.sysmonStarted = false;
}

// schedule is the M's loop on g0 (see "mcall and the g0 loop"). It returns
// only when Run is ending.
static void schedule(M* mp) {
  G* next = nullptr;
  for (;;) {
    G* gp = next;
    next = nullptr;
    if (mp->lockedg != nullptr && gp != mp->lockedg) {
      // This M runs only its wired G: wait until it is runnable.
      if (gp != nullptr) fatal("schedule: locked M got another goroutine");
      if (!stoplockedm(mp)) return;
      gp = mp->lockedg;
    }
    if (gp == nullptr) {
      gp = findRunnable(mp);
      if (gp == nullptr) return;
      if (mp->spinning) resetspinning(mp);
      if (gp->lockedm != nullptr && gp->lockedm != mp) {
        // Wired to another M: give it our P, and wait for one ourselves.
        startlockedm(mp, gp);
        if (!stopm(mp)) return;
        continue;
      }
    }
    execute(mp, gp);
    // The G that comes back may not be gp: gopark switches between Gs
    // directly. It is the M's current G.
    G* cur = mp->curg;
    auto fn = mp->mcallfn;
    mp->mcallfn = nullptr;
    if (fn == nullptr || cur == nullptr)
      fatal("schedule: goroutine %llu switched to g0 without mcall", (unsigned long long)gp->goid);
    next = fn(cur);
  }
}

// ---- threads -------------------------------------------------------------

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
  g0->racectx = racefibercurrent();
  return g0;
}

void minitSignals(M* mp);
void unminitSignals(M* mp);
void installSignalHandlers();

// minit runs on the M's own thread: everything that is per thread.
static void minit(M* mp) {
  mp->g0 = newg0();
  minitSignals(mp);
  mp->tid = int(gettid());
  // A goroutine uses the TLS of whatever thread it runs on (libstdc++'s
  // call_once state, errno): order the thread's setup of it before every
  // goroutine that will run here. Released once, before this M takes any
  // lock, so it carries nothing else.
  racerelease(&mp->raceTLS);
  mp->ehglobals = reinterpret_cast<ehGlobals*>(abi::__cxa_get_globals());
  mp->fastrand = 0x9E3779B97F4A7C15ULL * uint64_t(mp->id + 1) | 1;
#ifdef RINGO_ASAN
  // While a goroutine runs, LeakSanitizer scans only its stack: keep the
  // thread's own stack (which holds Run's caller) a root, for a std::exit
  // from a goroutine.
  __lsan_register_root_region(mp->g0->stk.lo, size_t(mp->g0->stk.hi - mp->g0->stk.lo));
#endif
  setm(mp);
}

static void mexit(M* mp) {
  unminitSignals(mp);
#ifdef RINGO_ASAN
  __lsan_unregister_root_region(mp->g0->stk.lo, size_t(mp->g0->stk.hi - mp->g0->stk.lo));
#endif
  setm(nullptr);
}

// allocmLocked makes an M record. sched.lock held.
static M* allocmLocked() {
  M* mp = new M;
  mp->id = int64_t(sched.allm.size());
  sched.allm.push_back(mp);
  statMs.fetch_add(1, std::memory_order_relaxed);
  return mp;
}

static void* mstart(void* arg) {
  M* mp = static_cast<M*>(arg);
  minit(mp);
  acquirep(mp, mp->nextp);
  mp->nextp = nullptr;
  schedule(mp);
  if (mp->p) releasep(mp);
  mexit(mp);
  return nullptr;
}

// newm starts the thread of mp (from allocmLocked), which will run mp->nextp.
static void newm(M* mp) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  // g0 stacks only run the scheduler and C++ unwinding; 1 MiB is plenty.
  pthread_attr_setstacksize(&attr, 1 << 20);
  int rc = pthread_create(&mp->thread, &attr, mstart, mp);
  pthread_attr_destroy(&attr);
  if (rc != 0) fatal("newm: pthread_create: %s", std::strerror(rc));
  mp->started.store(true, std::memory_order_release);
}

// ---- GOMAXPROCS ----------------------------------------------------------

// cgroupCPULimit reads the cgroup v2 cpu.max quota of this process, rounded
// up to whole CPUs; 0 when there is none.
static int cgroupCPULimit() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return 0;
  std::ifstream max("/sys/fs/cgroup" + path + "/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(max >> quota >> period) || quota == "max" || period <= 0) return 0;
  long long q = std::atoll(quota.c_str());
  if (q <= 0) return 0;
  return int((q + period - 1) / period);
}

static int parseMaxprocs(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 1024)
    fatal("RINGO_MAXPROCS: want a number from 1 to 1024, got \"%s\"", s);
  return int(v);
}

// defaultMaxprocs: the CPUs this process may run on (affinity mask, then
// the cgroup quota), unless RINGO_MAXPROCS says otherwise.
static int defaultMaxprocs() {
  if (const char* env = std::getenv("RINGO_MAXPROCS"); env && *env) return parseMaxprocs(env);
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, CPU_COUNT(&set));
  if (int limit = cgroupCPULimit(); limit > 0) n = std::min(n, limit);
  return n;
}

// ---- Run -----------------------------------------------------------------

static void schedinit(const ringo::Options& opts) {
  sched.stackSize = stackSizeFor(opts.stack_size);
  if (opts.maxprocs < 0 || opts.maxprocs > 1024) fatal("Run: Options::maxprocs %d out of range", opts.maxprocs);
  sched.gomaxprocs = opts.maxprocs > 0 ? opts.maxprocs : defaultMaxprocs();
  sched.goidgen.store(0);
  sched.ngoroutines.store(0);
  sched.mainGoexited.store(false);
  sched.exiting.store(false);
  sched.mainStarted = false;
  sched.lastpoll.store(nanotime());
  sched.pollUntil.store(0);
  sched.nmspinning.store(0);
  statGsAllocated.store(0);
  statStarted.store(0);
  statSpinning.store(0);
  statMaxSpinning.store(0);
  statSteals.store(0);
  statPollspins.store(0);
  statPollspinHits.store(0);
  pollspinNs = envMicros("RINGO_POLLSPIN", 10000);
  statMs.store(0);
  installTerminateHandler();
  unwindinit();
  installSignalHandlers();
  // Before any thread starts: the Ms and sysmon inherit the signal mask.
  sigqueueinit();
  if (netpollCurrent->init) netpollCurrent->init();
  for (int i = 0; i < sched.gomaxprocs; i++) {
    P* pp = new P;
    pp->id = i;
    sched.allp.push_back(pp);
  }
  // All but P0 start idle; P0 goes to m0.
  for (int i = sched.gomaxprocs - 1; i > 0; i--) pidleput(sched.allp[size_t(i)]);
  sched.running = true;
}

// teardown frees everything Run made, once every other M has exited.
// Goroutines still alive are dropped without unwinding, as os.Exit drops them.
static void teardown(M* m0) {
  sysmonJoin();
  std::vector<M*> ms;
  {
    lockGuard g(&sched.lock);
    ms = sched.allm;
    for (M* mp : ms)
      if (mp->lockedIdle) wakelockedm(mp);
  }
  for (M* mp : ms) {
    if (mp == m0) continue;
    while (!mp->started.load(std::memory_order_acquire)) sched_yield();  // newm still in pthread_create
    pthread_join(mp->thread, nullptr);
  }

  if (netpollCurrent->fini) netpollCurrent->fini();
  sigqueuefini();
  uint64_t dropped = 0;
  std::vector<P*> ps;
  {
    // Out of allp under sched.lock, so gcount and ReadRuntimeStats never see
    // a P being freed; its counts go to the global ones.
    lockGuard g(&sched.lock);
    ps.swap(sched.allp);
    for (P* pp : ps) {
      sched.ngoroutines.fetch_add(int32_t(pp->ngdelta.load()));
      statStarted.fetch_add(pp->nstarted.load());
    }
  }
  for (P* pp : ps) {
    clearTimers(pp);
    delete pp;
  }
  {
    lockGuard g(&sched.allglock);
    for (G* gp : sched.allgs) {
      uint32_t s = gp->atomicstatus.load();
      if (s != Gdead && s != Gidle) {
        dropped++;
        if (raceenabled && gp->racectx) {
          // A dropped goroutine never reached goexit: release for it, on its
          // own TSan fiber, so Run's caller is ordered after what it did.
          racefiberswitch(gp->racectx);
          racerelease(&sched);
          racefiberswitch(m0->g0->racectx);
        }
      }
      stackforget(gp->stk);
      if (gp->racectx) racefiberdestroy(gp->racectx);
      delete gp;
    }
    sched.allgs.clear();
  }
  stackfreeall();
  sched.gFree = nullptr;
  sched.gFreeN = 0;
  sched.runqhead = sched.runqtail = nullptr;
  sched.runqsize.store(0);
  sched.maing = nullptr;
  sched.midle = nullptr;
  sched.nmidle.store(0);
  sched.pidle = nullptr;
  sched.npidle.store(0);
  statDropped.store(dropped);
  mexit(m0);
  for (M* mp : ms) {
    unwindcachefree(mp);
    delete mp->g0;
    delete mp;
  }
  sched.allm.clear();
  sched.running = false;
}

int runMain(entryFn entry, void* arg, const ringo::Options& opts) {
  if (getm() != nullptr || sched.running) fatal("Run: called while ringo is running (Run does not nest)");
  schedinit(opts);
  M* m0;
  {
    lockGuard g(&sched.lock);
    m0 = allocmLocked();
  }
  minit(m0);
  P* pp = sched.allp[0];
  acquirep(m0, pp);

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
  sched.mainStarted = true;
  racerelease(maing);  // the caller of Run happens before main starts

  sysmonStart();
  schedule(m0);
  if (m0->p) releasep(m0);
  teardown(m0);
  raceacquire(&sched);  // after what every goroutine did (race.h)
  return 0;
}

}  // namespace ringo::runtime

namespace ringo {

void Gosched() {
  using namespace runtime;
  G* gp = getg();
  if (gp == nullptr) fatal("Gosched: not on a goroutine");
  M* mp = getm();
  P* pp = mp->p;
  bool held = false, alone = false;
  if (G* next = directNext(pp, &held, &alone)) {
    setgstatus(gp, Grunning, Grunnable);
    mp->waitunlockf = goschedCommit;
    mp->waitlock = held ? &sched.lock : nullptr;
    switchDirect(mp, gp, next, false);
    return;
  }
  if (alone) {
    // Nothing else could run here: no goroutine on this P or the global
    // queue, no timer due, no fairness tick. Go would queue gp globally
    // and find it there again at once (and wake an idle P that may take
    // it: two goroutines yielding on two Ps then meet on the global
    // queue's lock at every call). Going on is the same outcome without
    // the switches and the lock. It still counts as a yield for sysmon
    // (schedtick), and checks the stack canary as a switch away would.
    if (stackCanaries.load(std::memory_order_relaxed)) stackcheck(gp);
    schedtickAdd(pp);
    return;
  }
  mcall(gosched_m);
}

int NumGoroutine() {
  runtime::lockGuard g(&runtime::sched.lock);
  return runtime::gcountLocked();
}

int GOMAXPROCS() { return runtime::sched.running ? runtime::sched.gomaxprocs : 0; }

void LockOSThread() {
  using namespace runtime;
  G* gp = getg();
  if (gp == nullptr) fatal("LockOSThread: not on a goroutine");
  M* mp = getm();
  if (mp->lockedCount++ == 0) {
    mp->lockedg = gp;
    gp->lockedm = mp;
    sched.nlocked.fetch_add(1);
  }
}

void UnlockOSThread() {
  using namespace runtime;
  G* gp = getg();
  if (gp == nullptr) fatal("UnlockOSThread: not on a goroutine");
  M* mp = getm();
  if (mp->lockedCount == 0) return;  // as Go: unlocking an unlocked thread is a no-op
  if (--mp->lockedCount == 0) {
    mp->lockedg = nullptr;
    gp->lockedm = nullptr;
    sched.nlocked.fetch_sub(1);
  }
}

ForeignThread::ForeignThread() { runtime::sched.nforeign.fetch_add(1); }

ForeignThread::~ForeignThread() {
  using namespace runtime;
  if (sched.nforeign.fetch_sub(1) != 1) return;
  // The last one went away: if every M is idle already, nobody else will
  // ask whether the program is dead, so ask now.
  lockGuard g(&sched.lock);
  if (sched.running) checkdead();  // (it counts the idle Ms, wired ones too)
}

RuntimeStats ReadRuntimeStats() {
  RuntimeStats s;
  s.gs_allocated = runtime::statGsAllocated.load(std::memory_order_relaxed);
  {
    runtime::lockGuard g(&runtime::sched.lock);
    s.goroutines_started = runtime::statStarted.load(std::memory_order_relaxed);
    for (runtime::P* pp : runtime::sched.allp) s.goroutines_started += pp->nstarted.load(std::memory_order_relaxed);
  }
  s.dropped = runtime::statDropped.load(std::memory_order_relaxed);
  s.ms = runtime::statMs.load(std::memory_order_relaxed);
  s.spinning_transitions = runtime::statSpinning.load(std::memory_order_relaxed);
  s.max_spinning = uint64_t(runtime::statMaxSpinning.load(std::memory_order_relaxed));
  s.steals = runtime::statSteals.load(std::memory_order_relaxed);
  s.pollspins = runtime::statPollspins.load(std::memory_order_relaxed);
  s.pollspin_hits = runtime::statPollspinHits.load(std::memory_order_relaxed);
  // From a goroutine, Run is running and allp stays put until it returns.
  if (runtime::getg() != nullptr) {
    using runtime::sched;
    s.runq_global = sched.runqsize.load(std::memory_order_relaxed);
    s.runq.reserve(sched.allp.size());
    for (runtime::P* pp : sched.allp) {
      s.runq.push_back(runtime::runqlen(pp));
      s.goexits_fast += pp->goexitFast.load(std::memory_order_relaxed);
      s.goexits_libgcc += pp->goexitLibgcc.load(std::memory_order_relaxed);
    }
    s.idle_ps = sched.npidle.load(std::memory_order_relaxed);
    s.spinning_ms = sched.nmspinning.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace ringo
