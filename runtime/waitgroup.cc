// waitgroup.cc — sync.WaitGroup on gopark/goready.
#include "ringo/waitgroup.h"

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
  if (delta < 0) runtime::racerelease(this);  // Done happens before Wait returns
  runtime::lock(&lock_);
  counter_ += delta;
  if (counter_ < 0) {
    counter_ -= delta;
    runtime::unlock(&lock_);
    throw std::logic_error("sync: negative WaitGroup counter");
  }
  runtime::G* ready = nullptr;
  if (counter_ == 0) {
    ready = waiters_.head;
    waiters_ = {};
  }
  runtime::unlock(&lock_);
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
  runtime::lock(&lock_);
  if (counter_ == 0) {
    runtime::unlock(&lock_);
    runtime::raceacquire(this);
    return;
  }
  gp->schedlink = nullptr;
  if (waiters_.tail)
    waiters_.tail->schedlink = gp;
  else
    waiters_.head = gp;
  waiters_.tail = gp;
  runtime::gopark(unlockWaitGroup, &lock_, runtime::waitReason::waitGroupWait);
  runtime::raceacquire(this);
  RINGO_KEEP_FRAME();
}

}  // namespace ringo
