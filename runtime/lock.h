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

// lock acquires l. Under TSan a runtime lock is a real synchronisation
// point (race.h): acquire after taking it, release before dropping it.
// Outside TSan builds lock and unlock are inline for the uncontended case,
// a CAS and an exchange (a keep-alive request takes about a dozen runtime
// locks); lockSlow spins, then sleeps; unlockSlow wakes a sleeper. Under
// TSan they stay out of line, in the library, where RINGO_TSAN declares
// the synchronisation: a test compiled with -fsanitize=thread and
// without RINGO_TSAN must not get a body of its own.
#if defined(RINGO_TSAN) || defined(__SANITIZE_THREAD__)
void lock(mutex* l);
void unlock(mutex* l);
#else
void lockSlow(mutex* l);
void unlockSlow(mutex* l, uint32_t old);

inline void lock(mutex* l) {
  uint32_t c = 0;
  if (!l->key.compare_exchange_strong(c, 1, std::memory_order_acquire)) lockSlow(l);
}

inline void unlock(mutex* l) {
  const uint32_t old = l->key.exchange(0, std::memory_order_release);
  if (old != 1) unlockSlow(l, old);
}
#endif

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
// nanotimeCoarse is the same clock as of the kernel's last tick: never
// ahead of nanotime, up to a tick behind, and cheaper to read (no TSC and
// no scaling in the vDSO). A "not yet" from it may be a tick late; a "due"
// from it is exact.
int64_t nanotime();
int64_t nanotimeCoarse();

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
