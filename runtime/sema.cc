// sema.cc — the parking semaphore under Mutex and RWMutex, and Cond's
// waiter list (Go's runtime/sema.go).
//
// semacquire takes one unit of a sema's count, parking the goroutine in a
// FIFO (or at the front, lifo, for a Mutex waiter that has waited before)
// while it is zero. semrelease adds a unit and wakes the first waiter; with
// handoff it gives the unit straight to that waiter (ticket = 1) and yields
// so the waiter runs now: Mutex's starvation mode, where a newcomer must not
// take the lock first.
//
// The waiter's sudog is on its stack; the queue is guarded by sema.lock.
// nwait lets semrelease skip the lock when nobody waits: a waiter counts
// itself in nwait before its last check of count, under the lock, and a
// releaser adds to count before it reads nwait, so one of them sees the
// other.
#include <stdexcept>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "ringo/sync.h"
#include "runtime2.h"
#include "tls.h"

namespace ringo::runtime {

namespace {

// The load is seq_cst: a waiter's nwait increment then count load, against
// semrelease's count increment then nwait load, is a store-load pair on
// each side, which only sequential consistency orders (a plain load on
// x86 either way).
bool cansemacquire(sema* s) {
  uint32_t v = s->count.load(std::memory_order_seq_cst);
  while (v != 0)
    if (s->count.compare_exchange_weak(v, v - 1, std::memory_order_acquire)) return true;
  return false;
}

bool unlockSema(G*, void* lk) {
  unlock(static_cast<mutex*>(lk));
  return true;
}

}  // namespace

void semacquire(sema* s, bool lifo, waitReason reason) {
  if (cansemacquire(s)) return;
  G* gp = getg();
  // Misuse, and fatal as ringo/sync.h says: the caller's lock has counted
  // itself in already (a waiter, a reader), so an exception would leave
  // the lock's state wrong for everyone after.
  if (gp == nullptr) fatal("sync: a lock was waited for outside a goroutine");
  sudog sg;
  sg.g = gp;
  for (;;) {
    lock(&s->lock);
    s->nwait.fetch_add(1);
    if (cansemacquire(s)) {
      s->nwait.fetch_sub(1);
      unlock(&s->lock);
      return;
    }
    sg.ticket = 0;
    sg.next = sg.prev = nullptr;
    if (lifo && s->head) {
      sg.next = s->head;
      s->head->prev = &sg;
      s->head = &sg;
    } else {
      sg.prev = s->tail;
      if (s->tail)
        s->tail->next = &sg;
      else
        s->head = &sg;
      s->tail = &sg;
    }
    gopark(unlockSema, &s->lock, reason);
    if (sg.ticket != 0 || cansemacquire(s)) return;
  }
}

void semrelease(sema* s, bool handoff) {
  s->count.fetch_add(1);
  if (s->nwait.load() == 0) return;
  lock(&s->lock);
  if (s->nwait.load() == 0) {
    unlock(&s->lock);
    return;
  }
  sudog* sg = s->head;
  if (sg != nullptr) {
    s->head = sg->next;
    if (s->head)
      s->head->prev = nullptr;
    else
      s->tail = nullptr;
    sg->next = sg->prev = nullptr;
    s->nwait.fetch_sub(1);
  }
  unlock(&s->lock);
  if (sg == nullptr) return;
  const bool handed = handoff && cansemacquire(s);
  if (handed) sg->ticket = 1;
  G* gp = sg->g;
  goready(gp);
  // Let the waiter run now, ahead of us (it is in runnext).
  if (handed && getg() != nullptr) goyield();
}

}  // namespace ringo::runtime
