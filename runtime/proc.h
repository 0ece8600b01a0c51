// proc.h — the scheduler's entry points for the rest of the runtime.
#pragma once

#include <string>

#include "runtime2.h"

namespace ringo::runtime {

// RINGO_KEEP_FRAME after a call that would otherwise be a tail call keeps
// the caller's frame on the stack, so dumps of parked goroutines show it.
#define RINGO_KEEP_FRAME() asm volatile("" ::: "memory")

[[noreturn, gnu::cold]] void casgstatusFail(G* gp, uint32_t cur, uint32_t oldval, uint32_t newval);

// casgstatus moves gp from oldval to newval; anything else is a broken
// invariant and stops the program.
inline void casgstatus(G* gp, uint32_t oldval, uint32_t newval) {
  uint32_t cur = oldval;
  if (!gp->atomicstatus.compare_exchange_strong(cur, newval, std::memory_order_acq_rel)) [[unlikely]]
    casgstatusFail(gp, cur, oldval, newval);
}

// setgstatus is casgstatus for a move only one thread can make: the M
// running gp takes it out of Grunning, the M that dequeued a Grunnable gp
// puts it in Grunning. Nobody else writes the status then, so a check and
// a store replace the locked compare-and-swap on the switch paths.
inline void setgstatus(G* gp, uint32_t oldval, uint32_t newval) {
  const uint32_t cur = gp->atomicstatus.load(std::memory_order_relaxed);
  if (cur != oldval) [[unlikely]]
    casgstatusFail(gp, cur, oldval, newval);
  gp->atomicstatus.store(newval, std::memory_order_release);
}

// gopark parks the calling goroutine. On g0, after the G is marked Gwaiting,
// unlockf(gp, lock) runs; if it returns false the G runs again at once
// instead of parking. Whoever ends the wait calls goready.
void gopark(bool (*unlockf)(G*, void*), void* lock, waitReason reason);

// goready makes a parked G runnable, in the current P's runnext. Callable
// from a goroutine, from g0 of an M, and from a thread ringo did not start
// (then through the global queue).
void goready(G* gp);

// goyield puts the calling goroutine at the tail of its P's run queue and
// runs the next one (Go's goyield: unlike Gosched, it stays on this P).
void goyield();

// syncCanSpin says whether sync.Mutex may spin on its i-th try: more than
// one P, others running, and nothing queued locally (Go's rules).
// syncDoSpin spins for a few dozen cycles.
bool syncCanSpin(int i);
void syncDoSpin();

struct sema;
// semacquire takes one unit of s, parking until there is one (lifo: at the
// front of the queue). semrelease adds one and wakes a waiter (handoff:
// gives the unit to the waiter directly and yields to it). See sema.cc.
void semacquire(sema* s, bool lifo, waitReason reason);
void semrelease(sema* s, bool handoff);

// Goroutine dumps and SIGQUIT (traceback.cc). sysmon installs the handler
// and, when quitRequested, calls dumpAndExit on its own thread.
std::string goroutineDump(bool all);
void installQuitHandler();
void uninstallQuitHandler();
bool quitRequested();
[[noreturn]] void dumpAndExit();
// wakeSysmonFromSignal wakes sysmon; async-signal-safe.
void wakeSysmonFromSignal();

// fastrandn returns a pseudo-random number in [0, n), from the M's state
// (or a thread-local one on a foreign thread).
uint32_t fastrandn(uint32_t n);

// wakeNetPoller makes sure some M looks at timers by `when` (called when a
// timer is added).
void wakeNetPoller(int64_t when);

// sigqueueinit blocks the notifiable signals and starts the thread that
// reads them (sigqueue.cc); Run calls it before any other thread starts.
// sigqueuefini undoes it once every M has exited.
void sigqueueinit();
void sigqueuefini();

// goexit0 is goexit's continuation on g0.
G* goexit0(G* gp);

}  // namespace ringo::runtime
