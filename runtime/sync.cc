// sync.cc — Mutex, RWMutex and Cond (Go's sync package) on the parking
// semaphore of sema.cc.
//
// Mutex.state packs four things: bit 0 locked, bit 1 woken (a waiter has
// been woken or is spinning, so Unlock need not wake another), bit 2
// starving, and the number of parked waiters above them. Normal mode lets
// a running goroutine that arrives take the lock ahead of a woken waiter
// (it is on a CPU already, which is why normal mode is fast); a waiter that
// waited more than 1 ms sets starving, and then Unlock hands the lock
// straight to the first waiter and newcomers queue behind. The last waiter,
// or one that waited under 1 ms, switches back to normal mode.
#include <chrono>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "race.h"
#include "ringo/sync.h"
#include "runtime2.h"
#include "tls.h"

namespace ringo {

namespace {

constexpr int32_t mutexLocked = 1;
constexpr int32_t mutexWoken = 2;
constexpr int32_t mutexStarving = 4;
constexpr int mutexWaiterShift = 3;
constexpr int64_t starvationThresholdNs = 1000000;  // 1 ms: Go's

}  // namespace

bool Mutex::TryLock() noexcept {
  int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (mutexLocked | mutexStarving)) return false;
  // Another goroutine may be waking to take it; racing it is fine.
  if (!state_.compare_exchange_strong(old, old | mutexLocked, std::memory_order_acquire)) return false;
  runtime::raceacquire(&state_);  // this file is not instrumented: tell TSan, as lockSlow does
  return true;
}

void Mutex::lockSlow() {
  int64_t waitStart = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while it is locked in normal mode and spinning may pay.
    if ((old & (mutexLocked | mutexStarving)) == mutexLocked && runtime::syncCanSpin(iter)) {
      // Set woken so Unlock does not wake a parked waiter while we spin.
      if (!awoke && (old & mutexWoken) == 0 && (old >> mutexWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | mutexWoken))
        awoke = true;
      runtime::syncDoSpin();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t next = old;
    if ((old & mutexStarving) == 0) next |= mutexLocked;  // in starvation mode, queue instead
    if (old & (mutexLocked | mutexStarving)) next += 1 << mutexWaiterShift;
    if (starving && (old & mutexLocked)) next |= mutexStarving;
    if (awoke) {
      if ((next & mutexWoken) == 0) runtime::fatal("sync: inconsistent mutex state");
      next &= ~mutexWoken;
    }
    if (!state_.compare_exchange_strong(old, next, std::memory_order_acquire)) continue;
    if ((old & (mutexLocked | mutexStarving)) == 0) {  // took it
      runtime::raceacquire(&state_);
      return;
    }
    // A waiter that waited before goes to the front of the queue.
    const bool lifo = waitStart != 0;
    if (waitStart == 0) waitStart = runtime::nanotime();
    runtime::semacquire(&sema_, lifo, runtime::waitReason::syncMutexLock);
    starving = starving || runtime::nanotime() - waitStart > starvationThresholdNs;
    old = state_.load(std::memory_order_relaxed);
    if (old & mutexStarving) {
      // Handed to us: locked and woken are clear, and we were counted.
      if ((old & (mutexLocked | mutexWoken)) != 0 || (old >> mutexWaiterShift) == 0)
        runtime::fatal("sync: inconsistent mutex state");
      int32_t delta = mutexLocked - (1 << mutexWaiterShift);
      if (!starving || (old >> mutexWaiterShift) == 1) delta -= mutexStarving;  // leave starvation mode
      state_.fetch_add(delta, std::memory_order_acquire);
      runtime::raceacquire(&state_);
      return;
    }
    awoke = true;
    iter = 0;
  }
}

void Mutex::unlockSlow(int32_t now) {
  if (((now + mutexLocked) & mutexLocked) == 0) runtime::fatal("sync: unlock of unlocked mutex");
  if ((now & mutexStarving) == 0) {
    int32_t old = now;
    for (;;) {
      // Nobody to wake, or someone is already woken, locked it, or it
      // went into starvation mode meanwhile.
      if ((old >> mutexWaiterShift) == 0 || (old & (mutexLocked | mutexWoken | mutexStarving)) != 0)
        return;
      const int32_t next = (old - (1 << mutexWaiterShift)) | mutexWoken;
      if (state_.compare_exchange_strong(old, next)) {
        runtime::semrelease(&sema_, false);
        return;
      }
    }
  }
  // Starvation mode: hand the lock to the first waiter.
  runtime::semrelease(&sema_, true);
}

// ---- RWMutex ----------------------------------------------------------------

namespace {
constexpr int32_t kMaxReaders = 1 << 30;
}

void RWMutex::RLock() {
  if (readerCount_.fetch_add(1, std::memory_order_acquire) + 1 < 0)
    runtime::semacquire(&readerSem_, false, runtime::waitReason::syncRWMutexRLock);  // a writer holds or waits
  runtime::raceacquire(&w_);  // the last writer's Unlock
}

bool RWMutex::TryRLock() noexcept {
  int32_t c = readerCount_.load(std::memory_order_relaxed);
  while (c >= 0)
    if (readerCount_.compare_exchange_weak(c, c + 1, std::memory_order_acquire)) {
      runtime::raceacquire(&w_);
      return true;
    }
  return false;
}

void RWMutex::RUnlock() {
  runtime::racerelease(&readerWait_);  // to the next writer
  const int32_t r = readerCount_.fetch_sub(1, std::memory_order_release) - 1;
  if (r >= 0) return;
  if (r + 1 == 0 || r + 1 == -kMaxReaders) runtime::fatal("sync: RUnlock of unlocked RWMutex");
  // A writer waits: the last reader it waits for wakes it.
  if (readerWait_.fetch_sub(1) - 1 == 0) runtime::semrelease(&writerSem_, false);
}

void RWMutex::Lock() {
  w_.Lock();
  // Announce the writer; r is the number of readers inside.
  const int32_t r = readerCount_.fetch_add(-kMaxReaders, std::memory_order_acquire);
  if (r != 0 && readerWait_.fetch_add(r) + r != 0)
    runtime::semacquire(&writerSem_, false, runtime::waitReason::syncRWMutexLock);
  runtime::raceacquire(&w_);
  runtime::raceacquire(&readerWait_);
}

bool RWMutex::TryLock() noexcept {
  if (!w_.TryLock()) return false;
  int32_t zero = 0;
  if (!readerCount_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acquire)) {
    w_.Unlock();
    return false;
  }
  runtime::raceacquire(&w_);
  runtime::raceacquire(&readerWait_);
  return true;
}

void RWMutex::Unlock() {
  runtime::racerelease(&w_);
  const int32_t r = readerCount_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) runtime::fatal("sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) runtime::semrelease(&readerSem_, false);
  w_.Unlock();
}

// ---- Cond -----------------------------------------------------------------
//
// A waiter queues its sudog before it unlocks L, so a Signal after that
// unlock finds it. It parks only if no Signal has reached it meanwhile:
// ticket marks "signalled" and success "parked", both under nl_, and the
// signaller readies only a waiter that has parked (gopark drops nl_ after
// the G is Gwaiting).

namespace {
bool unlockNotify(runtime::G*, void* lk) {
  runtime::unlock(static_cast<runtime::mutex*>(lk));
  return true;
}
}  // namespace

void Cond::Wait() {
  runtime::G* gp = runtime::getg();
  if (gp == nullptr) runtime::fatal("sync: Cond.Wait outside a goroutine");
  runtime::sudog sg;
  sg.g = gp;
  runtime::lock(&nl_);
  sg.prev = tail_;
  if (tail_)
    tail_->next = &sg;
  else
    head_ = &sg;
  tail_ = &sg;
  runtime::unlock(&nl_);
  unlock_(l_);
  runtime::lock(&nl_);
  if (sg.ticket != 0) {
    runtime::unlock(&nl_);
  } else {
    sg.success = true;
    runtime::gopark(unlockNotify, &nl_, runtime::waitReason::syncCondWait);
  }
  lock_(l_);
}

void Cond::Signal() {
  runtime::lock(&nl_);
  runtime::sudog* sg = head_;
  runtime::G* ready = nullptr;
  if (sg) {
    head_ = sg->next;
    if (head_)
      head_->prev = nullptr;
    else
      tail_ = nullptr;
    sg->ticket = 1;
    if (sg->success) ready = sg->g;
  }
  runtime::unlock(&nl_);
  if (ready) runtime::goready(ready);
}

void Cond::Broadcast() {
  runtime::lock(&nl_);
  runtime::G* list = nullptr;
  for (runtime::sudog* sg = head_; sg != nullptr;) {
    runtime::sudog* next = sg->next;
    sg->ticket = 1;
    if (sg->success) {
      sg->g->schedlink = list;
      list = sg->g;
    }
    sg = next;
  }
  head_ = tail_ = nullptr;
  runtime::unlock(&nl_);
  while (list) {
    runtime::G* gp = list;
    list = gp->schedlink;
    gp->schedlink = nullptr;
    runtime::goready(gp);
  }
}

}  // namespace ringo
