// sync.h — Go's sync package: Mutex, RWMutex, Once, Cond.
//
//   ringo::Mutex mu;
//   {
//     std::lock_guard lock(mu);   // or std::unique_lock, std::scoped_lock
//     ...                         // may park (channel, Sleep, I/O) here
//   }
//
// These are the locks to hold across a park. A goroutine that waits for one
// parks and lets its thread run other goroutines; a std::mutex held across a
// park would block the thread (and every goroutine queued on its P), and a
// goroutine may resume on another thread, where unlocking a std::mutex it
// locked elsewhere is undefined behaviour. Use std::mutex only for short
// sections that never park.
//
// Misuse stops the program as in Go ("fatal error: sync: unlock of unlocked
// mutex"). Locking and unlocking must happen on goroutines, except that
// Unlock, RUnlock and Cond's Signal/Broadcast also work on a thread ringo
// did not start.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "ringo/detail/mutex.h"

namespace ringo {
namespace runtime {
struct sudog;

// sema is a counting semaphore that parks goroutines (Go's sema.go, one
// per address instead of a shared table). Not part of the public API.
struct sema {
  std::atomic<uint32_t> count{0};
  std::atomic<uint32_t> nwait{0};
  mutex lock;
  sudog* head = nullptr;
  sudog* tail = nullptr;
};
}  // namespace runtime

// Mutex is a mutual exclusion lock that parks waiters (Go's sync.Mutex).
// The zero value is unlocked. It spins briefly on a multi-P scheduler, then
// parks; a waiter that has waited more than 1 ms switches the mutex to
// starvation mode, where ownership is handed to waiters in arrival order
// so none starves. Lock and unlock may happen on different goroutines.
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() {
    int32_t unlocked = 0;
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire)) return;
    lockSlow();
  }
  bool TryLock() noexcept;
  void Unlock() {
    const int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) unlockSlow(now);
  }

  // BasicLockable / Lockable, for std::lock_guard and friends.
  void lock() { Lock(); }
  bool try_lock() noexcept { return TryLock(); }
  void unlock() { Unlock(); }

 private:
  static constexpr int32_t kLocked = 1;
  void lockSlow();
  void unlockSlow(int32_t now);

  std::atomic<int32_t> state_{0};
  runtime::sema sema_;
};

// RWMutex is a reader/writer lock (Go's sync.RWMutex): any number of
// readers or one writer. A waiting writer keeps new readers out, so writers
// do not starve. lock/unlock and lock_shared/unlock_shared make it usable
// with std::unique_lock and std::shared_lock.
class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  void RLock();
  bool TryRLock() noexcept;
  void RUnlock();
  void Lock();
  bool TryLock() noexcept;
  void Unlock();

  void lock() { Lock(); }
  bool try_lock() noexcept { return TryLock(); }
  void unlock() { Unlock(); }
  void lock_shared() { RLock(); }
  bool try_lock_shared() noexcept { return TryRLock(); }
  void unlock_shared() { RUnlock(); }

 private:
  Mutex w_;                       // held by writers, so only one waits for readers
  runtime::sema writerSem_;       // the writer waits here for readers to leave
  runtime::sema readerSem_;       // readers wait here for the writer to leave
  std::atomic<int32_t> readerCount_{0};  // readers; minus kMaxReaders while a writer holds or waits
  std::atomic<int32_t> readerWait_{0};   // readers the waiting writer still waits for
};

// Once runs a function exactly once (Go's sync.Once). Do returns after the
// function has returned, for every caller. If the function throws or calls
// Goexit, Once counts it as done, as Go's does.
class Once {
 public:
  template <class F>
  void Do(F&& f) {
    if (done_.load(std::memory_order_acquire)) return;
    doSlow(std::forward<F>(f));
  }

 private:
  template <class F>
  void doSlow(F&& f) {
    m_.Lock();
    struct unlocker {
      Once* o;
      ~unlocker() { o->m_.Unlock(); }
    } u{this};
    if (done_.load(std::memory_order_relaxed)) return;
    struct marker {
      Once* o;
      ~marker() { o->done_.store(true, std::memory_order_release); }
    } mark{this};
    std::forward<F>(f)();
  }

  std::atomic<bool> done_{false};
  Mutex m_;
};

// Cond is a condition variable for goroutines (Go's sync.Cond), over any
// lock with lock() and unlock() (Mutex, RWMutex, or an adapter). Wait
// unlocks it, parks, and relocks it before returning; as in Go, wait in a
// loop that rechecks the condition.
class Cond {
 public:
  template <class L>
  explicit Cond(L& l) noexcept
      : l_(&l),
        lock_([](void* p) { static_cast<L*>(p)->lock(); }),
        unlock_([](void* p) { static_cast<L*>(p)->unlock(); }) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  void Wait();
  // Signal wakes the longest-waiting goroutine, if any; Broadcast all.
  void Signal();
  void Broadcast();

 private:
  void* l_;
  void (*lock_)(void*);
  void (*unlock_)(void*);
  runtime::mutex nl_;  // guards the waiter list
  runtime::sudog* head_ = nullptr;
  runtime::sudog* tail_ = nullptr;
};

}  // namespace ringo
