// time.cc — per-P timer heaps and Sleep (see timers.h).
#include <chrono>
#include <limits>

#include "fatal.h"
#include "proc.h"
#include "ringo/time.h"
#include "runtime2.h"
#include "timers.h"
#include "tls.h"

namespace ringo::runtime {
namespace {

bool before(const timer* a, const timer* b) { return a->when < b->when; }

void siftUp(std::vector<timer*>& h, size_t i) {
  timer* t = h[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(t, h[parent])) break;
    h[i] = h[parent];
    h[i]->heapIndex = int32_t(i);
    i = parent;
  }
  h[i] = t;
  t->heapIndex = int32_t(i);
}

void siftDown(std::vector<timer*>& h, size_t i) {
  timer* t = h[i];
  const size_t n = h.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(h[c + 1], h[c])) c++;
    if (!before(h[c], t)) break;
    h[i] = h[c];
    h[i]->heapIndex = int32_t(i);
    i = c;
  }
  h[i] = t;
  t->heapIndex = int32_t(i);
}

// removeAt takes the timer at index i out of the heap. Lock held.
void removeAt(timerHeap& th, size_t i) {
  auto& h = th.heap;
  h[i]->heapIndex = -1;
  timer* last = h.back();
  h.pop_back();
  if (i < h.size()) {
    h[i] = last;
    last->heapIndex = int32_t(i);
    siftDown(h, i);
    siftUp(h, size_t(last->heapIndex));
  }
}

void updateNext(timerHeap& th) {
  th.next.store(th.heap.empty() ? 0 : th.heap[0]->when, std::memory_order_relaxed);
}

}  // namespace

void addtimer(P* pp, timer* t) {
  if (t->heapIndex != -1) fatal("addtimer: timer already queued");
  if (t->when <= 0) fatal("addtimer: bad when %lld", (long long)t->when);
  timerHeap& th = pp->timers;
  {
    lockGuard g(&th.lock);
    t->pp = pp;
    th.heap.push_back(t);
    siftUp(th.heap, th.heap.size() - 1);
    updateNext(th);
  }
  wakeNetPoller(t->when);
}

bool deltimer(P* pp, timer* t) {
  timerHeap& th = pp->timers;
  lockGuard g(&th.lock);
  if (t->heapIndex < 0) return false;
  removeAt(th, size_t(t->heapIndex));
  updateNext(th);
  return true;
}

bool timerModify(timer* t) {
  P* pp = t->pp;
  if (pp == nullptr) {
    t->seq++;
    return false;
  }
  timerHeap& th = pp->timers;
  lockGuard g(&th.lock);
  t->seq++;
  if (t->heapIndex < 0) return false;
  removeAt(th, size_t(t->heapIndex));
  updateNext(th);
  return true;
}

int64_t checkTimers(P* pp, int64_t now) {
  timerHeap& th = pp->timers;
  int64_t next = th.next.load(std::memory_order_relaxed);
  if (next == 0) return 0;
  if (now == 0) now = nanotime();
  if (next > now) return next;
  lock(&th.lock);
  while (!th.heap.empty() && th.heap[0]->when <= now) {
    timer* t = th.heap[0];
    removeAt(th, 0);
    updateNext(th);
    const uint64_t seq = t->seq;
    // Run it unlocked: f may add timers (to this heap, too).
    unlock(&th.lock);
    t->f(t->arg, seq);
    lock(&th.lock);
  }
  updateNext(th);
  next = th.next.load(std::memory_order_relaxed);
  unlock(&th.lock);
  return next;
}

void clearTimers(P* pp) {
  timerHeap& th = pp->timers;
  std::vector<timer*> dropped;
  {
    lockGuard g(&th.lock);
    for (timer* t : th.heap) t->heapIndex = -1;
    dropped.swap(th.heap);
    updateNext(th);
  }
  for (timer* t : dropped)
    if (t->drop) t->drop(t->arg);
}

namespace {

void goroutineReady(void* arg, uint64_t) { goready(static_cast<G*>(arg)); }

// resetForSleep queues the sleep timer on g0, after the G is Gwaiting, so the
// timer cannot fire for a G that is still running.
bool resetForSleep(G* gp, void*) {
  addtimer(getm()->p, &gp->sleepTimer);
  return true;
}

}  // namespace

}  // namespace ringo::runtime

namespace ringo {

void Sleep(std::chrono::nanoseconds d) {
  using namespace runtime;
  if (d.count() <= 0) return;
  G* gp = getg();
  if (gp == nullptr) fatal("Sleep: not on a goroutine");
  // Saturating, as Go's when(): a signed overflow is undefined, and the
  // compiler drops an after-the-fact check for it.
  int64_t when;
  if (__builtin_add_overflow(nanotime(), d.count(), &when)) when = std::numeric_limits<int64_t>::max();
  gp->sleepTimer.when = when;
  gp->sleepTimer.f = goroutineReady;
  gp->sleepTimer.arg = gp;
  gopark(resetForSleep, nullptr, waitReason::sleep);
  RINGO_KEEP_FRAME();
}

}  // namespace ringo
