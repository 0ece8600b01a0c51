// timers.h — per-P timer heaps.
//
// A timer fires f(arg) on g0 of whichever M runs its P's timers, never before
// `when` (CLOCK_MONOTONIC nanoseconds, see nanotime). Each P keeps a binary
// min-heap ordered by when; the scheduler runs due timers in findRunnable and
// sleeps until the earliest one when there is nothing else to do.
//
// Ownership: a timer is owned by its creator until addtimer, then by the
// heap (guarded by timerHeap.lock) until it fires or deltimer removes it.
#pragma once

#include <cstdint>
#include <vector>

#include "lock.h"

namespace ringo::runtime {

struct P;

struct timer {
  int64_t when = 0;
  // f runs on g0 with a P and no runtime lock held, with the seq the timer
  // had when it was taken off the heap: a timer that was reset or stopped
  // meanwhile has a newer seq, and f can tell the firing is stale.
  void (*f)(void* arg, uint64_t seq) = nullptr;
  void* arg = nullptr;
  // drop, if set, is called instead of f for a timer still queued when Run
  // ends (to release what the queued timer holds).
  void (*drop)(void* arg) = nullptr;
  int32_t heapIndex = -1;  // position in its heap, -1 when not queued; heap lock
  uint64_t seq = 0;        // changed only under the lock of the heap that holds it (timerModify)
  P* pp = nullptr;         // the heap it was last added to; written by addtimer
};

struct timerHeap {
  mutex lock;
  std::vector<timer*> heap;
  // The earliest when, or 0 when empty; read without the lock by the
  // scheduler to decide how long it may sleep.
  std::atomic<int64_t> next{0};
};

// addtimer queues t on pp's heap.
void addtimer(P* pp, timer* t);
// deltimer removes t if it is still queued; returns whether it was.
bool deltimer(P* pp, timer* t);
// timerModify bumps t's seq, so a firing already taken off the heap is
// stale, and removes t from the heap it was last added to (if queued
// there); returns whether it was queued. The caller serialises calls for t.
bool timerModify(timer* t);
// checkTimers runs every timer of pp that is due at now (0: read the clock,
// only if pp has timers) and returns the earliest when still queued (0 if
// none).
int64_t checkTimers(P* pp, int64_t now);
// clearTimers drops every queued timer without running it (teardown).
void clearTimers(P* pp);

}  // namespace ringo::runtime
