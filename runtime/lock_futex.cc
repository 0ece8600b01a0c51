// lock_futex.cc — mutex and note on Linux futexes (see lock.h).
#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "fatal.h"
#include "race.h"

namespace ringo::runtime {
namespace {

long futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op | FUTEX_PRIVATE_FLAG, val, ts,
                 nullptr, 0);
}

// Spins before sleeping: runtime locks are held for a handful of
// instructions, so a short spin usually wins. 100: picked; Go spins 4x30.
constexpr int kActiveSpin = 100;

}  // namespace

void lockSlow(mutex* l);  // (lock.h declares them too, outside TSan builds)
void unlockSlow(mutex* l, uint32_t old);

#if defined(RINGO_TSAN) || defined(__SANITIZE_THREAD__)
void lock(mutex* l) {
  uint32_t c = 0;
  if (!l->key.compare_exchange_strong(c, 1, std::memory_order_acquire)) lockSlow(l);
  raceacquire(l);
}

void unlock(mutex* l) {
  racerelease(l);
  const uint32_t old = l->key.exchange(0, std::memory_order_release);
  if (old != 1) unlockSlow(l, old);
}
#endif

void lockSlow(mutex* l) {
  for (int i = 0; i < kActiveSpin; i++) {
    uint32_t c = 0;
    if (l->key.load(std::memory_order_relaxed) == 0 &&
        l->key.compare_exchange_weak(c, 1, std::memory_order_acquire))
      return;
    __builtin_ia32_pause();
  }
  // Mark the lock contended (2) and sleep until it is released.
  while (l->key.exchange(2, std::memory_order_acquire) != 0) futex(&l->key, FUTEX_WAIT, 2, nullptr);
}

void unlockSlow(mutex* l, uint32_t old) {
  if (old == 0) fatal("unlock of unlocked lock");
  futex(&l->key, FUTEX_WAKE, 1, nullptr);  // 2: someone sleeps
}

void noteclear(note* n) { n->key.store(0, std::memory_order_relaxed); }

void notewakeup(note* n) {
  if (n->key.exchange(1, std::memory_order_release) != 0) fatal("notewakeup: double wakeup");
  futex(&n->key, FUTEX_WAKE, 1, nullptr);
}

void notesleep(note* n) {
  while (n->key.load(std::memory_order_acquire) == 0) futex(&n->key, FUTEX_WAIT, 0, nullptr);
}

bool notetsleep(note* n, int64_t ns) {
  if (ns < 0) {
    notesleep(n);
    return true;
  }
  int64_t deadline;  // saturating, for a timer at the end of time
  if (__builtin_add_overflow(nanotime(), ns, &deadline)) deadline = INT64_MAX;
  while (n->key.load(std::memory_order_acquire) == 0) {
    int64_t left = deadline - nanotime();
    if (left <= 0) return false;
    timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
    futex(&n->key, FUTEX_WAIT, 0, &ts);
  }
  return true;
}

void futexSleep(std::atomic<uint32_t>* addr, uint32_t val, int64_t ns) {
  if (ns < 0) {
    futex(addr, FUTEX_WAIT, val, nullptr);
    return;
  }
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  futex(addr, FUTEX_WAIT, val, &ts);
}

void futexWakeup(std::atomic<uint32_t>* addr, int cnt) { futex(addr, FUTEX_WAKE, uint32_t(cnt), nullptr); }

int64_t nanotime() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t nanotimeCoarse() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace ringo::runtime
