// waitgroup.cc — sync.WaitGroup, as Go's: one atomic word on the fast path.
//
// state holds the counter in its high 32 bits and the number of waiters in
// its low 32. Add is one atomic add; only the Add that takes the counter to
// zero while goroutines wait does more: it clears the word and wakes the
// waiters it counted. Wait counts itself in with a CAS (when the counter is
// not zero), then queues itself under lock and parks. The waiter count
// cannot grow once the counter is zero (Wait would return at once), so the
// Add that saw zero owns the waiters it read.
//
// Go releases its waiters through a semaphore keyed by the WaitGroup's
// address in a global table. Here the queue lives in the WaitGroup, which
// its last waiter may destroy as soon as Wait returns (the usual stack
// WaitGroup). So the waking Add hands its waiters a count (pending), takes
// the ones already queued, and touches the WaitGroup no more after its
// unlock: it readies the taken Gs from its own list. A waiter that counted
// itself in but was not queued yet finds its share in pending.
#include "ringo/waitgroup.h"

#include <climits>
#include <stdexcept>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "race.h"
#include "tls.h"

namespace ringo {
namespace {

// unlockWaitGroup is Wait's gopark unlock function: the waiter is queued and
// Gwaiting before the lock is released, so Add cannot miss it.
bool unlockWaitGroup(runtime::G*, void* lk) {
  runtime::unlock(static_cast<runtime::mutex*>(lk));
  return true;
}

}  // namespace

void WaitGroup::Add(int64_t delta) {
  if (delta < INT32_MIN || delta > INT32_MAX) throw std::logic_error("sync: WaitGroup delta out of range");
  if (delta < 0) runtime::racerelease(this);  // Done happens before Wait returns
  const uint64_t d = uint64_t(delta) << 32;
  const uint64_t v = state_.fetch_add(d, std::memory_order_acq_rel) + d;
  const int32_t c = int32_t(v >> 32);
  const uint32_t w = uint32_t(v);
  if (c < 0) {
    state_.fetch_sub(d, std::memory_order_relaxed);  // not applied: the WaitGroup stays usable
    throw std::logic_error("sync: negative WaitGroup counter");
  }
  if (c > 0 || w == 0) return;
  // The counter is zero and w goroutines wait: nobody may change the word
  // now but us (an Add racing with the last Done is a misuse, as in Go).
  if (state_.load(std::memory_order_relaxed) != v)
    runtime::fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
  state_.store(0, std::memory_order_release);  // a Wait that reads the 0 sees what the Dones did
  runtime::lock(&lock_);
  pending_ += w;
  runtime::G* ready = head_;
  runtime::G* last = nullptr;
  for (runtime::G* gp = head_; gp != nullptr && pending_ > 0; gp = gp->schedlink) {
    last = gp;
    pending_--;
  }
  if (last == nullptr) {
    ready = nullptr;
  } else {
    head_ = last->schedlink;
    if (head_ == nullptr) tail_ = nullptr;
    last->schedlink = nullptr;
  }
  runtime::unlock(&lock_);
  // From here on the WaitGroup may be gone.
  while (ready != nullptr) {
    runtime::G* next = ready->schedlink;
    ready->schedlink = nullptr;
    runtime::goready(ready);
    ready = next;
  }
}

void WaitGroup::Wait() {
  runtime::G* gp = runtime::getg();
  if (gp == nullptr) runtime::fatal("WaitGroup::Wait: not on a goroutine");
  uint64_t v = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((v >> 32) == 0) {
      runtime::raceacquire(this);
      return;
    }
    if (state_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) break;
  }
  runtime::lock(&lock_);
  if (pending_ > 0) {  // the last Done came before we were queued
    pending_--;
    runtime::unlock(&lock_);
    runtime::raceacquire(this);
    return;
  }
  gp->schedlink = nullptr;
  if (tail_)
    tail_->schedlink = gp;
  else
    head_ = gp;
  tail_ = gp;
  runtime::gopark(unlockWaitGroup, &lock_, runtime::waitReason::waitGroupWait);
  runtime::raceacquire(this);
  RINGO_KEEP_FRAME();
}

}  // namespace ringo
