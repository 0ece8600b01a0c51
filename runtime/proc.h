// proc.h — the scheduler's entry points for the rest of the runtime.
#pragma once

#include "runtime2.h"

namespace ringo::runtime {

// casgstatus moves gp from oldval to newval, or stops the program.
void casgstatus(G* gp, uint32_t oldval, uint32_t newval);

// gopark parks the calling goroutine. On g0, after the G is marked Gwaiting,
// unlockf(gp, lock) runs; if it returns false the G runs again at once
// instead of parking. Whoever ends the wait calls goready.
void gopark(bool (*unlockf)(G*, void*), void* lock, waitReason reason);

// goready makes a parked G runnable, in the current P's runnext. Callable
// from a goroutine or from g0 of an M that holds a P.
void goready(G* gp);

// wakeNetPoller makes sure some M looks at timers by `when` (called when a
// timer is added).
void wakeNetPoller(int64_t when);

// goexit0 is goexit's continuation on g0.
G* goexit0(G* gp);

}  // namespace ringo::runtime
