// runq.cc — run queues; the invariants are in runq.h.
#include "runq.h"

#include <unistd.h>

#include "fatal.h"

namespace ringo::runtime {
namespace {

// runqsizeAdd changes the global queue's length, with sched.lock held:
// the lock orders the writers, so a load and a store do (no locked
// read-modify-write); readers without the lock take it as a hint.
inline void runqsizeAdd(int32_t d) {
  sched.runqsize.store(sched.runqsize.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

constexpr uint32_t kSize = P::runqSize;

// runqputslow moves half of pp's ring and gp to the global queue, in one
// batch under sched.lock. Fails if a taker moved the head meanwhile.
bool runqputslow(P* pp, G* gp, uint32_t h, uint32_t t) {
  G* batch[kSize / 2 + 1];
  uint32_t n = t - h;
  n = n / 2;
  if (n != kSize / 2) fatal("runqputslow: queue is not full");
  for (uint32_t i = 0; i < n; i++) batch[i] = pp->runq[(h + i) % kSize].load(std::memory_order_relaxed);
  // Claim the slots; a concurrent taker makes us retry the fast path.
  if (!pp->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release)) return false;
  batch[n] = gp;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  batch[n]->schedlink = nullptr;
  lockGuard g(&sched.lock);
  if (sched.runqtail)
    sched.runqtail->schedlink = batch[0];
  else
    sched.runqhead = batch[0];
  sched.runqtail = batch[n];
  runqsizeAdd(int32_t(n + 1));
  return true;
}

}  // namespace

void runqput(P* pp, G* gp, bool next) {
  if (next) {
    G* old = pp->runnext.load(std::memory_order_relaxed);
    while (!pp->runnext.compare_exchange_weak(old, gp, std::memory_order_acq_rel)) {
    }
    if (old == nullptr) return;
    gp = old;  // the old runnext goes to the tail of the ring
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);  // pairs with takers' CAS
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t - h < kSize) {
      pp->runq[t % kSize].store(gp, std::memory_order_relaxed);
      pp->runqtail.store(t + 1, std::memory_order_release);  // publishes the slot
      return;
    }
    if (runqputslow(pp, gp, h, t)) return;
  }
}

static G* runqgetnext(P* pp) {
  G* next = pp->runnext.load(std::memory_order_relaxed);
  // Only the owner sets runnext non-null, so a failed CAS means a stealer
  // took it and there is no point retrying.
  if (next != nullptr && pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
    return next;
  return nullptr;
}

static G* runqgethead(P* pp) {
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    G* gp = pp->runq[h % kSize].load(std::memory_order_relaxed);
    if (pp->runqhead.compare_exchange_weak(h, h + 1, std::memory_order_release)) return gp;
  }
}

G* runqget(P* pp, bool skipNext) {
  if (skipNext) {
    if (G* gp = runqgethead(pp)) return gp;
    return runqgetnext(pp);
  }
  if (G* gp = runqgetnext(pp)) return gp;
  return runqgethead(pp);
}

bool runqempty(P* pp) {
  return pp->runqhead.load(std::memory_order_acquire) == pp->runqtail.load(std::memory_order_acquire) &&
         pp->runnext.load(std::memory_order_acquire) == nullptr;
}

uint32_t runqlen(P* pp) {
  // Head before tail: a taker only moves head forward, so t - h never
  // underflows; it may count a G that was just taken.
  uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  uint32_t t = pp->runqtail.load(std::memory_order_acquire);
  return (t - h) + (pp->runnext.load(std::memory_order_acquire) != nullptr ? 1 : 0);
}

// runqgrab copies up to half of p2's ring into pp's ring starting at slot
// `at` (pp's tail, not yet published) and claims them from p2 by CAS.
// Returns how many it took.
static uint32_t runqgrab(P* p2, P* pp, uint32_t at, bool stealRunNext) {
  for (;;) {
    uint32_t h = p2->runqhead.load(std::memory_order_acquire);  // pairs with other takers
    uint32_t t = p2->runqtail.load(std::memory_order_acquire);  // pairs with the owner's put
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (!stealRunNext) return 0;
      G* next = p2->runnext.load(std::memory_order_acquire);
      if (next == nullptr) return 0;
      if (p2->status.load(std::memory_order_relaxed) == Prunning) {
        // The owner is probably about to run its runnext: the running G
        // readied it just now and is about to park (a channel hand-off).
        // Taking it would split the pair across two Ps, each hand-off a
        // futex wake from then on. Back off as Go does, with a sleep, not a
        // spin: the owner may still be inside wakep's futex call, which
        // takes microseconds here, and a sleeping thief leaves the CPU to
        // it. (usleep(3) sleeps for the timer slack: about 100 us on this
        // kernel, as Go's does.) If the owner switched meanwhile, the
        // runnext we see is a fresh hand-off, not the one we waited on:
        // leave it.
        const uint32_t tick = p2->schedtickPub.load(std::memory_order_relaxed);
        usleep(3);
        if (p2->schedtickPub.load(std::memory_order_relaxed) != tick) return 0;
      }
      // A runnext that changed meanwhile was run, and its successor is
      // the same kind of hand-off: leave the owner to it.
      if (!p2->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) return 0;
      pp->runq[at % kSize].store(next, std::memory_order_relaxed);
      return 1;
    }
    if (n > kSize / 2) continue;  // h and t read at different times; retry
    for (uint32_t i = 0; i < n; i++)
      pp->runq[(at + i) % kSize].store(p2->runq[(h + i) % kSize].load(std::memory_order_relaxed),
                                       std::memory_order_relaxed);
    if (p2->runqhead.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

G* runqsteal(P* pp, P* p2, bool stealRunNext) {
  uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
  uint32_t n = runqgrab(p2, pp, t, stealRunNext);
  if (n == 0) return nullptr;
  n--;
  G* gp = pp->runq[(t + n) % kSize].load(std::memory_order_relaxed);
  if (n == 0) return gp;
  uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  if (t - h + n >= kSize) fatal("runqsteal: runq overflow");
  pp->runqtail.store(t + n, std::memory_order_release);  // publishes the stolen slots
  return gp;
}

void globrunqput(G* gp) {
  gp->schedlink = nullptr;
  if (sched.runqtail)
    sched.runqtail->schedlink = gp;
  else
    sched.runqhead = gp;
  sched.runqtail = gp;
  runqsizeAdd(1);
}

void globrunqputlist(G* list) {
  while (list) {
    G* next = list->schedlink;
    globrunqput(list);
    list = next;
  }
}

static G* globrunqpop() {
  G* gp = sched.runqhead;
  sched.runqhead = gp->schedlink;
  if (sched.runqhead == nullptr) sched.runqtail = nullptr;
  gp->schedlink = nullptr;
  return gp;
}

G* globrunqget(P* pp, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  // Take a fair share: the queue split over the Ps, at most half a ring.
  // (One G is the common case, Gosched's: no division for it.)
  int32_t n = 1;
  if (size > 1 && max != 1) {
    n = size / int32_t(sched.allp.size()) + 1;
    if (n > size) n = size;
    if (max > 0 && n > max) n = max;
    if (n > int32_t(kSize / 2)) n = int32_t(kSize / 2);
  }
  runqsizeAdd(-n);
  G* gp = globrunqpop();
  for (n--; n > 0; n--) runqput(pp, globrunqpop(), false);
  return gp;
}

}  // namespace ringo::runtime
