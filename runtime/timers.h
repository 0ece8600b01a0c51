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
  void (*f)(void* arg) = nullptr;  // runs on g0 with no runtime lock held
  void* arg = nullptr;
  int32_t heapIndex = -1;  // position in its heap, -1 when not queued
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
// checkTimers runs every timer of pp that is due at now (0: read the clock,
// only if pp has timers) and returns the earliest when still queued (0 if
// none).
int64_t checkTimers(P* pp, int64_t now);
// clearTimers drops every queued timer without running it (teardown).
void clearTimers(P* pp);

}  // namespace ringo::runtime
