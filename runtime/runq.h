// runq.h — run queues: the P's local ring and the global queue.
//
// The local queue is a fixed ring of P::runqSize slots with two free-running
// counters, runqhead and runqtail (slot = counter % size):
//  - only the owner P puts (runqput), so only it writes runqtail, with a
//    release store that publishes the slot it just filled;
//  - the owner and, in the many-P scheduler, stealers take from the head by
//    CAS on runqhead, so each G is taken exactly once;
//  - tail - head is always in [0, runqSize]; the owner reads head with
//    acquire so a slot is never reused before its taker has read it.
// runnext holds one G ahead of the ring: the one just made runnable by the
// running goroutine (it inherits the rest of the time slice, Go's rule for
// producer/consumer pairs). Only the owner stores a non-null runnext; others
// may CAS it to null.
//
// When the ring is full, runqputslow moves half of it plus the new G to the
// global queue, a FIFO under sched.lock.
#pragma once

#include "runtime2.h"

namespace ringo::runtime {

// runqput puts gp on pp's local queue; with next, into runnext (kicking the
// old runnext to the tail). Owner only.
void runqput(P* pp, G* gp, bool next);
// runqget takes the next G of pp: runnext first, then the ring head; with
// skipNext, the ring head first.
G* runqget(P* pp, bool skipNext = false);
// runqempty reports whether pp has nothing queued.
bool runqempty(P* pp);
// runqlen is how many Gs pp has queued, runnext included: a snapshot that
// may be stale by the time it returns (for statistics, never decisions).
uint32_t runqlen(P* pp);
// runqsteal moves half of p2's ring to pp's (and, with stealRunNext, p2's
// runnext when the ring is empty) and returns one of the stolen Gs to run,
// or null. Called by pp's owner.
G* runqsteal(P* pp, P* p2, bool stealRunNext);

// globrunqput appends gp to the global queue; globrunqputlist appends a
// list linked through schedlink, in its order. sched.lock held.
void globrunqput(G* gp);
void globrunqputlist(G* list);
// globrunqget takes a batch from the global queue into pp's ring (at most
// max if max > 0) and returns one G to run. sched.lock held. With max != 1
// pp's ring must be empty, so the batch fits without runqputslow (which
// takes sched.lock itself).
G* globrunqget(P* pp, int32_t max);

}  // namespace ringo::runtime
