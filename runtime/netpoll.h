// netpoll.h — the scheduler's side of the network poller (Go's netpoll.go).
//
// The runtime knows nothing of sockets. A poller registers itself with
// netpollRegister and offers the scheduler three calls:
//
//   poll(delay)   delay < 0 blocks, 0 polls, > 0 waits up to delay ns.
//                 Returns the goroutines whose I/O completed, still
//                 Gwaiting, linked through G.schedlink (null if none).
//   breakPoll()   makes a blocked poll return now, or the next one return
//                 at once if none is blocked.
//   anyWaiters()  whether any goroutine is parked on I/O.
//   init(), fini() set the poller up when Run starts (before any M) and
//                 tear it down when Run ends (after every M is joined).
//
// findRunnable calls poll in exactly two places: poll(0) before stealing
// when anyWaiters() (even while another M is blocked in the poller: poll(0)
// is also where a poller that batches submissions submits them), and a blocking poll until the earliest timer once the M
// has dropped its P (at most one M at a time, see sched.lastpoll). Until a
// real poller registers, netpoll_stub.cc sleeps on a futex there, which is
// how an idle M waits for the next timer.
#pragma once

#include <cstdint>

#include "runtime2.h"

namespace ringo::runtime {

struct netpoller {
  G* (*poll)(int64_t delay);
  void (*breakPoll)();
  bool (*anyWaiters)();
  void (*init)() = nullptr;
  void (*fini)() = nullptr;
  // flush submits what the calling M has queued, before it blocks in a
  // Blocking call (a poller that batches per thread would otherwise hold
  // those operations until the call returns).
  void (*flush)() = nullptr;
  // kick runs on sysmon's thread every round while goroutines run: a poller
  // whose completion work waits for the submitting thread to enter the
  // kernel (io_uring's COOP_TASKRUN) makes a thread that has let it wait a
  // whole round do so.
  void (*kick)() = nullptr;
  // resume: the calling M is about to run goroutines again, after sleeping
  // in stopm or returning from a Blocking call (a poller that batches by
  // how long goroutines ran must not count that time).
  void (*resume)() = nullptr;
};

// sysmon polls too, with poll(0) from its own thread (no M), when no M has
// polled for 10 ms; the poller can tell by getm() == nullptr.

// netpollRegister installs p; null restores the stub. Call it only while
// no Run is active.
void netpollRegister(const netpoller* p);

// netpollStub is the poller used when none is registered.
const netpoller* netpollStub();

// The registered poller (never null).
extern const netpoller* netpollCurrent;

}  // namespace ringo::runtime
