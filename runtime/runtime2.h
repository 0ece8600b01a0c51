// runtime2.h — the scheduler's data: G, M, P and sched.
//
// Names and shapes follow Go's runtime/runtime2.go. Each field says who may
// write it. "owner M" is the M that holds the P (or runs the G) at the time.
// proc.cc opens with the essay that explains how the pieces move.
#pragma once

#include <unwind.h>

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lock.h"
#include "timers.h"

namespace ringo::runtime {

struct G;
struct M;
struct P;

// G status. Who owns the G's stack in each state:
enum Gstatus : uint32_t {
  // Gidle: just allocated by malg, not yet initialised. Owned by newproc.
  Gidle = 0,
  // Grunnable: on a run queue (runnext, a P's ring, or the global queue),
  // not executing. Its stack is owned by nobody; the queue owns the G.
  Grunnable = 1,
  // Grunning: executing user code on an M, which owns the stack. G.m is set.
  Grunning = 2,
  // Gwaiting: parked by gopark. Not on a run queue; whatever it waits for (a
  // timer, a WaitGroup) holds the only reference and calls goready.
  Gwaiting = 3,
  // Gdead: finished (or on a free list, stack kept for reuse). Owned by the
  // free list that holds it; gfget hands it to newproc.
  Gdead = 4,
  // Gsyscall: in a ringo::Blocking call on an M that gave up its P (M.oldp
  // remembers it). The M owns the stack; no queue holds the G.
  Gsyscall = 5,
};

const char* gstatusString(uint32_t s) noexcept;

// waitReason says why a G is parked, for tracebacks and the deadlock report.
enum class waitReason : uint8_t {
  zero = 0,
  sleep,
  waitGroupWait,
  chanSend,
  chanReceive,
  chanSendNilChan,
  chanReceiveNilChan,
  selectNoCases,
  select,
  syncMutexLock,
  syncRWMutexRLock,
  syncRWMutexLock,
  syncCondWait,
  ioWait,      // a network operation (netpoll)
  closeWait,   // Close waiting for a descriptor's operations to finish
  count,
};

const char* waitReasonString(waitReason r) noexcept;

struct hchan;

// sudog is a G waiting on something: a channel, a select case, a semaphore,
// a Cond. A G may wait on many things at once (select), so the wait is not
// the G itself. Sudogs live on the waiting G's stack for the length of the
// wait (the G cannot return while parked); the queue that holds one is
// guarded by the lock of what it waits on (hchan.lock, sema.lock).
struct sudog {
  G* g = nullptr;
  sudog* next = nullptr;
  sudog* prev = nullptr;
  // The value to send, or the storage to receive into (uninitialised).
  void* elem = nullptr;
  hchan* c = nullptr;  // the channel, for select's clean-up
  // isSelect: g waits in a select, and whoever wakes it must first win
  // g->selectDone. success: woken by a completed send or receive (false:
  // by close). ticket: the semaphore was handed to this waiter directly.
  bool isSelect = false;
  bool success = false;
  uint32_t ticket = 0;
};

// gobuf is what a switch saves: everything else sits on the G's own stack
// (see asm_amd64.S for the layout).
struct gobuf {
  void* sp = nullptr;
};

// stack is [lo, hi), plus the mapping that holds it and its guard page.
struct stack {
  char* lo = nullptr;
  char* hi = nullptr;
  char* mapping = nullptr;
  size_t mappingSize = 0;
  unsigned valgrindId = 0;  // VALGRIND_STACK_REGISTER's id, when built with valgrind.h
};

// ehGlobals mirrors libstdc++'s __cxa_eh_globals on x86-64: the chain of
// caught exceptions and the count of uncaught ones. It is per thread in
// libstdc++ and per goroutine in ringo, so gogo swaps it at every switch.
struct ehGlobals {
  void* caughtExceptions = nullptr;
  unsigned int uncaughtExceptions = 0;
};

using entryFn = void (*)(void*);

inline constexpr unsigned kStackColors = 16;  // G.stackColor < this: at most 960 bytes of the first page

// The fields a goroutine's start, switches and exit touch come first, in
// the G's first two cache lines (a G is 64-byte aligned): a program that
// spawns goroutines by the thousand keeps thousands of Gs in cache, and
// every line fewer is a miss fewer per goroutine. Colder fields follow.
struct alignas(64) G {
  gobuf sched;  // written by gogo as the G switches out; read as it switches in
  std::atomic<uint32_t> atomicstatus{Gidle};  // changed only through casgstatus
  bool isg0 = false;        // the M's scheduler stack, never on a queue
  // Goexit state: goexiting is set by Goexit on the G itself; exc (below)
  // is the foreign exception that carries the forced unwind.
  bool goexiting = false;
  waitReason waitreason{};  // written by gopark before the G parks
  uint8_t stackColor = 0;   // lines between the stack's top and its first frame (malg; see newproc1g)
  uint64_t goid = 0;        // set by newproc
  M* m = nullptr;           // the M running it; written by execute and dropg
  G* schedlink = nullptr;   // next G on a queue or free list; written by its owner

  // The goroutine's function, run by gostart. Written by newproc.
  entryFn entry = nullptr;
  void* entryArg = nullptr;

  // Per-goroutine libstdc++ exception state; saved and restored by gogo.
  ehGlobals eh;

  // param passes a value to a G that is woken: the sudog that completed a
  // channel operation (read by select to find its case). Written by the
  // waker before goready, read by the G after it resumes.
  void* param = nullptr;
  M* lockedm = nullptr;  // LockOSThread: the only M that may run it; the G itself
  // AddressSanitizer's fake stack handle, saved across switches.
  void* asanFakeStack = nullptr;

  stack stk;  // set by malg; never changes for a G's lifetime (lo and hi are read by newproc)

  int64_t waitsince = 0;  // sysmon's clock when it last parked (dumps show long waits)
  _Unwind_Exception exc{};

  // ThreadSanitizer's fiber for this G (race.h); kept across reuse.
  void* racectx = nullptr;

  // selectDone: 0 while a select of this G waits, set to 1 by the single
  // waker that wins the race between its cases.
  std::atomic<uint32_t> selectDone{0};

  // The timer Sleep parks on (Go's gp.timer). Owned by the G while running,
  // by the P's timer heap while queued there.
  timer sleepTimer;
};
static_assert(offsetof(G, sched) == 0, "ringo_swapcontext saves the stack pointer at the G's start");

// M is an OS thread. Only the thread itself writes its M's fields unless a
// field says otherwise.
struct M {
  int64_t id = 0;
  G* g0 = nullptr;    // the scheduler's stack: the thread's own stack
  G* curg = nullptr;  // the user G it runs, or null; written by execute and dropg
  P* p = nullptr;     // the P it holds, or null

  // mcall's continuation: run on g0 with the G that switched out. It returns
  // the G to run next, or null to look for one in findRunnable.
  G* (*mcallfn)(G*) = nullptr;

  // gopark's unlock function and its argument, consumed by park_m, or,
  // after a direct switch (waitg set), by the G switched to (afterSwitch).
  bool (*waitunlockf)(G*, void*) = nullptr;
  void* waitlock = nullptr;
  G* waitg = nullptr;

  note park;  // where the M sleeps in stopm; woken by startm or at exit

  ehGlobals* ehglobals = nullptr;  // this thread's libstdc++ state (fixed per thread)
  void* unwindcache = nullptr;     // Goexit's frame rules (unwind.cc); the M itself, freed with it

  // spinning: looking for work without having found any (see "Spinning" in
  // proc.cc). Written by the M itself, and by startm before it wakes the M.
  bool spinning = false;
  P* nextp = nullptr;      // the P to acquire on wakeup; written by startm under sched.lock
  M* schedlink = nullptr;  // next idle M on sched.midle; sched.lock
  pthread_t thread{};      // for the join at teardown (not for m0)
  std::atomic<bool> started{false};  // thread is set; written by newm
  uint64_t fastrand = 0;   // victim order for stealing; the M itself
  P* oldp = nullptr;       // the P it left for a Blocking call
  int tid = 0;             // the thread's id, for sysmon's look at /proc
  void* gsignal = nullptr;  // the alternate signal stack (signal.cc)
  char raceTLS = 0;         // TSan: released once at minit, acquired by every G that runs here (race.h)

  // LockOSThread: the G wired to this M, and how many Locks it holds.
  G* lockedg = nullptr;    // the M itself
  uint32_t lockedCount = 0;
  bool lockedIdle = false;  // asleep in stoplockedm; sched.lock
};

// P status. Who owns the P:
enum Pstatus : uint32_t {
  // Pidle: on sched.pidle, no M. Its run queue is empty; its timers stay
  // and are run by whoever steals them or acquires the P.
  Pidle = 0,
  // Prunning: held by an M (P.m), which alone runs its queue's owner side.
  Prunning = 1,
  // Psyscall: its M is in a Blocking call. Nobody runs it; the M takes it
  // back on return (CAS to Prunning) unless sysmon retook it first (CAS to
  // Pidle, then handoffp).
  Psyscall = 2,
};

// P is a processor: the right to run Go code, with its own queues.
struct P {
  int32_t id = 0;
  std::atomic<uint32_t> status{Pidle};  // written by acquirep/releasep
  P* link = nullptr;                    // next idle P on sched.pidle; sched.lock
  M* m = nullptr;          // the M holding it; written by acquirep/releasep
  uint32_t schedtick = 0;  // incremented on every schedule; owner M only

  // The local run queue: a ring that only the owner M puts to and that
  // other Ms may steal from (see runq.h for its invariants).
  std::atomic<uint32_t> runqhead{0};
  std::atomic<uint32_t> runqtail{0};
  // 256: Go's size. The stress build shrinks it (RINGO_RUNQ_SIZE) so tests
  // reach the overflow and steal edges.
#ifndef RINGO_RUNQ_SIZE
#define RINGO_RUNQ_SIZE 256
#endif
  static constexpr uint32_t runqSize = RINGO_RUNQ_SIZE;
  std::atomic<G*> runq[runqSize] = {};
  // runnext is the G to run next, ahead of runq: a goroutine just made
  // runnable by the running one. Only the owner stores a non-null value.
  std::atomic<G*> runnext{nullptr};

  // Dead Gs with stacks, ready for newproc; owner M only.
  G* gFree = nullptr;
  int32_t gFreeN = 0;

  // The P's timers, ordered by when; guarded by timers.lock.
  timerHeap timers;

  // Blocking calls: incremented by entersyscall (owner), read by sysmon.
  std::atomic<uint32_t> syscalltick{0};
  // Mirrors of schedtick and the running G, for sysmon (written by the
  // owner at every switch, read without a lock).
  std::atomic<uint32_t> schedtickPub{0};
  std::atomic<uint64_t> curgoid{0};
  std::atomic<int> mtid{0};

  // Goroutine accounting, per P so that a spawn and an exit write no shared
  // cache line (Go keeps goids and counts per P for the same reason):
  // goids come from a batch taken from sched.goidgen (owner only);
  // ngdelta counts goroutines started here minus those that ended here,
  // nstarted those started here (written by the owner with a plain load
  // and store; summed under sched.lock by gcount and ReadRuntimeStats).
  uint64_t goidcache = 0;
  uint64_t goidcacheend = 0;
  std::atomic<int64_t> ngdelta{0};
  std::atomic<uint64_t> nstarted{0};

  // Goexits whose unwind ringo's walker finished (unwind.cc) and those
  // libgcc's forced unwind finished (panic.cc): written by the owner with a
  // plain load and store, read by ReadRuntimeStats.
  std::atomic<uint64_t> goexitFast{0};
  std::atomic<uint64_t> goexitLibgcc{0};

  // sysmon's own record of this P (sysmon only).
  struct {
    uint32_t schedtick = 0;
    int64_t schedwhen = 0;
    uint32_t syscalltick = 0;
    int64_t syscallwhen = 0;
    bool reported = false;
  } sysmontick;
};

// owneradd adds d to a counter only its owner writes (a P's, by the M that
// holds it): a plain load and store, no locked instruction; readers on other
// threads load it relaxed.
template <typename T>
inline void owneradd(std::atomic<T>& v, T d) {
  v.store(v.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

// sched is the global state; everything below is guarded by sched.lock
// unless it is atomic.
struct schedt {
  mutex lock;

  std::atomic<uint64_t> goidgen{0};

  // The global run queue, FIFO, linked through G.schedlink.
  G* runqhead = nullptr;
  G* runqtail = nullptr;
  std::atomic<int32_t> runqsize{0};  // written under lock; read without it as a hint

  // Dead Gs spilled from the Ps' free lists. Guarded by gFreeLock.
  mutex gFreeLock;
  G* gFree = nullptr;
  int32_t gFreeN = 0;

  // Every G ever allocated in this Run, for teardown and tracebacks.
  // Guarded by allglock.
  mutex allglock;
  std::vector<G*> allgs;

  // Gs not dead, main included: this plus every P's ngdelta (gcount).
  // Written here by spawns without a P and at teardown.
  std::atomic<int32_t> ngoroutines{0};

  std::vector<P*> allp;  // fixed between schedinit and teardown
  std::vector<M*> allm;  // sched.lock; appended by newm
  int32_t gomaxprocs = 1;

  // Idle Ms and Ps, under sched.lock; the counts are read without it.
  M* midle = nullptr;
  std::atomic<int32_t> nmidle{0};
  P* pidle = nullptr;
  std::atomic<int32_t> npidle{0};
  std::atomic<int32_t> nmspinning{0};  // Ms with M.spinning set
  std::atomic<int32_t> nforeign{0};    // live ringo::ForeignThread objects (checkdead)

  // The poller: lastpoll is 0 while an M is blocked in poll (so at most one
  // is), else the time of the last poll. pollUntil is when that blocked
  // poll will return by itself (0: never), so a new earlier timer knows to
  // break it.
  std::atomic<int64_t> lastpoll{0};
  std::atomic<int64_t> pollUntil{0};

  bool mainStarted = false;  // wakep only once main runs; set before Ms exist

  // sysmon (see proc.cc): its thread; sysmonwait is set while it sleeps
  // with no timeout because every P is idle (startm and entersyscall wake it).
  pthread_t sysmonThread{};
  bool sysmonStarted = false;
  std::atomic<bool> sysmonwait{false};
  std::atomic<int32_t> nlocked{0};       // Gs wired by LockOSThread (direct switches off)
  // sysmon's clock, refreshed every round (at most 10 ms old while any P
  // is busy): what gopark stamps waitsince with, for free.
  std::atomic<int64_t> sysmonNow{0};
  std::atomic<int32_t> nmidlelocked{0};  // Ms asleep in stoplockedm (checkdead)

  G* maing = nullptr;                     // the main goroutine
  std::atomic<bool> mainGoexited{false};  // main called Goexit
  std::atomic<bool> exiting{false};       // main returned: Run is ending; set under sched.lock

  size_t stackSize = 0;  // of every goroutine's stack, set by schedinit
  bool running = false;  // between schedinit and teardown
};

// sched is never destroyed: a goroutine that calls std::exit runs static
// destructors while the scheduler still stands.
extern schedt& sched;

}  // namespace ringo::runtime
