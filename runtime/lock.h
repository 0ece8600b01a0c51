// lock.h — the runtime's own locks and one-shot wakeups, on futexes.
//
// mutex is Go's lock_futex: tiny, never parks a goroutine, and is held only
// for a few instructions. It may be held across a switch to g0 only as
// gopark's lock, which park_m releases on the same thread. It is not the
// user-facing ringo::Mutex (that one parks goroutines).
//
// note is a one-shot event an M sleeps on when it has nothing to do:
// notesleep/notetsleep wait, notewakeup wakes, noteclear re-arms.
#pragma once

#include <atomic>
#include <cstdint>

#include "ringo/detail/mutex.h"

namespace ringo::runtime {

void lock(mutex* l);
void unlock(mutex* l);

struct note {
  // 0 armed, 1 woken.
  std::atomic<uint32_t> key{0};
};

void noteclear(note* n);
void notewakeup(note* n);
// notesleep blocks the thread until notewakeup.
void notesleep(note* n);
// notetsleep blocks for at most ns nanoseconds; returns whether it was woken.
bool notetsleep(note* n, int64_t ns);

// futexSleep sleeps while *addr == val, for at most ns (< 0: no limit);
// spurious returns are allowed. futexWakeup wakes up to cnt sleepers.
void futexSleep(std::atomic<uint32_t>* addr, uint32_t val, int64_t ns);
void futexWakeup(std::atomic<uint32_t>* addr, int cnt);

// nanotime is CLOCK_MONOTONIC in nanoseconds, the clock of every timer.
int64_t nanotime();

// lockGuard is for runtime code that holds a mutex for a scope.
class lockGuard {
 public:
  explicit lockGuard(mutex* l) : l_(l) { lock(l_); }
  ~lockGuard() { unlock(l_); }
  lockGuard(const lockGuard&) = delete;
  lockGuard& operator=(const lockGuard&) = delete;

 private:
  mutex* l_;
};

}  // namespace ringo::runtime
