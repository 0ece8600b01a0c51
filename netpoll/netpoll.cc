// netpoll.cc — what both pollers share: choosing one, the descriptor pool,
// the close protocol, deadlines, and the heap buffers (see netpoll.h).
//
// Close, as Go's fdMutex does it in spirit: a goroutine inside an operation
// holds a reference (prepare/finish). Close marks the descriptor closing,
// stops its deadline timers, cancels what is in flight (io_uring: an
// ASYNC_CANCEL per operation; epoll: wakes the parked goroutines), and parks
// until the last reference is gone; only then is the fd closed. So no
// completion ever arrives for a buffer or a goroutine that has moved on, and
// the fd number is not reused while an operation may still name it.
//
// Deadlines are per side (read, write), as in Go: a runtime timer per side
// fires on g0 at the deadline (or before it, when the deadline moved later
// since: then it re-arms, see pdsetdeadline), marks the side expired and
// cancels the side's operations. A cancelled operation asks `cancelled`
// what happened: closed, expired, or neither (the deadline was moved after
// the cancel was sent), in which case it simply starts again.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "../runtime/fatal.h"
#include "../runtime/proc.h"
#include "../runtime/race.h"
#include "../runtime/tls.h"
#include "netpoll.h"
#include "ringo/net.h"
#include "ringo/netpoll.h"

namespace ringo::netpoll {

using namespace ringo::runtime;

counters stats;
poller* current = nullptr;
uint64_t runGen = 0;
std::atomic<int> nclosers{0};

namespace {
const char* chosenName = "";  // for ReadStats, once a Run has chosen
bool logged = false;

// ---- choosing a poller ------------------------------------------------------

poller* choose() {
  const char* want = std::getenv("RINGO_POLLER");
  std::string why;
  if (want && *want && std::strcmp(want, "uring") != 0 && std::strcmp(want, "epoll") != 0)
    fatal("ringo: RINGO_POLLER=%s: want uring or epoll", want);
  if (!want || std::strcmp(want, "epoll") != 0) {
    poller* u = newUring();
    if (u->init()) {
      if (!logged) std::fprintf(stderr, "ringo: netpoll: io_uring%s\n", want ? " (RINGO_POLLER)" : "");
      logged = true;
      return u;
    }
    why = std::strerror(errno);
    delete u;
    if (want) fatal("ringo: RINGO_POLLER=uring, but io_uring cannot be set up: %s", why.c_str());
  }
  poller* e = newEpoll();
  if (!e->init()) fatal("ringo: netpoll: epoll_create1: %s", std::strerror(errno));
  if (!logged) {
    if (why.empty())
      std::fprintf(stderr, "ringo: netpoll: epoll (RINGO_POLLER)\n");
    else
      std::fprintf(stderr, "ringo: netpoll: epoll (io_uring unavailable: %s)\n", why.c_str());
  }
  logged = true;
  return e;
}

void rtInit() {
  runGen++;
  current = choose();
  chosenName = current->name();
}
void rtFini() {
  current->fini();
  delete current;
  current = nullptr;
}
G* rtPoll(int64_t delay) { return current->poll(delay); }
void rtBreak() { current->breakPoll(); }
bool rtAnyWaiters() { return current->anyWaiters(); }
void rtFlush() { current->flush(); }
void rtKick() { current->kick(); }
void rtResume() { current->resume(); }

const runtime::netpoller table{rtPoll, rtBreak, rtAnyWaiters, rtInit, rtFini, rtFlush, rtKick, rtResume};
// Linked in with the net API: a program that uses sockets gets a poller.
[[maybe_unused]] const bool registered = (netpollRegister(&table), true);

// ---- descriptors ------------------------------------------------------------

runtime::mutex pdlock;
pollDesc* pdfreelist = nullptr;  // linked through link (pdlock)

// arm queues sd's timer for when on this M's P; disarm stops it (a firing
// already taken off the heap finds its seq stale). Under the pd's lock.
void arm(pollDesc::sideState& sd, int64_t when) {
  M* mp = getm();
  if (mp == nullptr || mp->p == nullptr) fatal("SetDeadline: not called from a goroutine");
  sd.t.when = when;
  sd.armed = when;
  addtimer(mp->p, &sd.t);
}
void disarm(pollDesc::sideState& sd) {
  if (sd.armed == 0) return;
  timerModify(&sd.t);
  sd.armed = 0;
}

void deadlineFired(pollDesc* pd, int s, uint64_t seq) {
  lockGuard g(&pd->lock);
  auto& sd = pd->side[s];
  if (seq != sd.t.seq) return;  // re-armed or stopped meanwhile: that arming owns `armed`
  sd.armed = 0;
  if (sd.deadline == 0) return;
  if (sd.deadline > nanotime()) {
    // The deadline moved later while this timer waited: follow it.
    arm(sd, sd.deadline);
    return;
  }
  sd.expired = true;
  if (current) current->cancel(pd, s);
}
void readFired(void* arg, uint64_t seq) { deadlineFired(static_cast<pollDesc*>(arg), kRead, seq); }
void writeFired(void* arg, uint64_t seq) { deadlineFired(static_cast<pollDesc*>(arg), kWrite, seq); }


// ---- heap buffers -------------------------------------------------------------

runtime::mutex buflock;
// Never destroyed: blocks cached at exit are still reachable, not leaked.
std::vector<char*>& bufcache = *new std::vector<char*>;  // (buflock)
constexpr size_t kBufCache = 256;

}  // namespace

bool unlockPd(G*, void* arg) {
  unlock(&static_cast<pollDesc*>(arg)->lock);
  return true;
}

void pollDesc::reset(int newfd) {
  fd = newfd;
  run = runGen;
  closing = false;
  refs = 0;
  closer = nullptr;
  for (int s = 0; s < 2; s++) {
    side[s].deadline = 0;
    side[s].expired = false;
    side[s].armed = 0;
    side[s].ops = nullptr;
    side[s].g.store(0);
    side[s].t.f = s == kRead ? readFired : writeFired;
    side[s].t.arg = this;
    side[s].t.pp = nullptr;  // a P of an earlier Run is gone (the seq stays: see pollDesc)
    side[s].t.heapIndex = -1;
  }
  acceptOp = uop{};
  acceptOp.kind = uop::multishotAccept;
  acceptOp.pd = this;
  acceptArmed = false;
  acceptCancelled = false;
  acceptq = fdq{};  // a listener's queue gives its memory back
  acceptWaiters = nullptr;
}

pollDesc* pdalloc(int fd) {
  pollDesc* pd;
  {
    lockGuard g(&pdlock);
    pd = pdfreelist;
    if (pd) pdfreelist = pd->link;
  }
  if (pd == nullptr) pd = new pollDesc;  // never freed: see pollDesc
  pd->reset(fd);
  return pd;
}

void pdfree(pollDesc* pd) {
  lockGuard g(&pdlock);
  pd->fd = -1;
  pd->link = pdfreelist;
  pdfreelist = pd;
}

void glist::push(G* gp) {
  racerelease(gp);  // the completion happens before the goroutine goes on
  gp->schedlink = nullptr;
  if (tail) {
    tail->schedlink = gp;
  } else {
    head = gp;
  }
  tail = gp;
}

int64_t prepare(pollDesc* pd, int s) {
  lockGuard g(&pd->lock);
  if (pd->closing || pd->run != runGen) return kErrClosed;
  if (pd->side[s].expired) return kErrTimeout;
  pd->refs++;
  return 0;
}

void finish(pollDesc* pd) {
  G* wake = nullptr;
  {
    lockGuard g(&pd->lock);
    wake = unrefLocked(pd);
  }
  if (wake) goready(wake);
}

G* unrefLocked(pollDesc* pd) {
  if (--pd->refs < 0) fatal("netpoll unrefLocked: negative refs on fd %d", pd->fd);
  if (pd->refs == 0 && pd->closer && !pd->acceptArmed) return std::exchange(pd->closer, nullptr);
  return nullptr;
}

bool ref(pollDesc* pd) {
  lockGuard g(&pd->lock);
  if (pd->closing) return false;
  pd->refs++;
  return true;
}

void unref(pollDesc* pd) { finish(pd); }

int64_t cancelled(pollDesc* pd, int s) {
  lockGuard g(&pd->lock);
  if (pd->closing) return kErrClosed;
  if (pd->side[s].expired) return kErrTimeout;
  return 0;
}

void pdclose(pollDesc* pd) {
  lock(&pd->lock);
  if (pd->closing) fatal("pdclose: fd %d closed twice", pd->fd);
  pd->closing = true;
  if (!current || pd->run != runGen) {
    // Its Run has ended: the poller and the timers' Ps are gone, and
    // nothing can be in flight (the ring went with them).
    unlock(&pd->lock);
    close(pd->fd);
    return;
  }
  for (auto& sd : pd->side) disarm(sd);
  current->cancel(pd, kRead);
  current->cancel(pd, kWrite);
  if (pd->refs > 0 || pd->acceptArmed) {
    G* gp = getg();
    if (gp == nullptr || gp->isg0)
      fatal("Conn::Close: called outside a goroutine while goroutines still use the connection");
    pd->closer = gp;
    nclosers.fetch_add(1);
    gopark(unlockPd, pd, waitReason::closeWait);  // finish (or the accept's end) readies us
    nclosers.fetch_sub(1);
  } else {
    unlock(&pd->lock);
  }
  if (current) current->closing(pd);
  close(pd->fd);
}

// A server moves a connection's deadlines at every request, nearly always
// later. So a deadline that moves later leaves its timer where it is: the
// timer fires at the old time, finds the deadline ahead (deadlineFired)
// and re-arms for it. Never early, and a keep-alive request touches no
// timer heap: a timer moves once per timeout, not once per request. An
// earlier deadline, or none, moves or stops the timer at once.
void pdsetdeadline(pollDesc* pd, int s, int64_t when) {
  lockGuard g(&pd->lock);
  if (pd->closing || pd->run != runGen) return;
  auto& sd = pd->side[s];
  sd.deadline = when;
  sd.expired = false;
  if (when == 0) {
    disarm(sd);
    return;
  }
  // The armed timer fires first and follows, unless `when` has passed
  // already: the armed timer may be overdue (its P busy), and until it
  // runs a Read would go on as if there were no deadline. The coarse clock
  // (a few ns, at most a tick behind) settles the usual case, a deadline
  // seconds away, without the precise one.
  constexpr int64_t kCoarseSlack = 20'000'000;  // more than a tick at HZ=100
  if (sd.armed != 0 && sd.armed <= when && (when > nanotimeCoarse() + kCoarseSlack || when > nanotime())) return;
  if (when <= nanotime()) {
    disarm(sd);
    sd.expired = true;
    if (current) current->cancel(pd, s);
    return;
  }
  disarm(sd);
  arm(sd, when);
}

char* heapBufGet() {
  {
    lockGuard g(&buflock);
    if (!bufcache.empty()) {
      char* p = bufcache.back();
      bufcache.pop_back();
      return p;
    }
  }
  return static_cast<char*>(std::malloc(net::Buffer::kSize));
}

void heapBufPut(char* p) {
  {
    lockGuard g(&buflock);
    if (bufcache.size() < kBufCache) {
      bufcache.push_back(p);
      return;
    }
  }
  std::free(p);
}

Stats ReadStats() {
  Stats s;
  s.backend = chosenName;
  auto r = [](std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  s.recv = r(stats.recv);
  s.recvBuf = r(stats.recvBuf);
  s.send = r(stats.send);
  s.accept = r(stats.accept);
  s.connect = r(stats.connect);
  s.cancel = r(stats.cancel);
  s.nop = r(stats.nop);
  s.enters = r(stats.enters);
  s.submits = r(stats.submits);
  s.cqes = r(stats.cqes);
  s.rings = r(stats.rings);
  s.ringLocksContended = r(stats.ringLocksContended);
  s.waits = r(stats.waits);
  s.polls = r(stats.polls);
  s.blockingPolls = r(stats.blockingPolls);
  s.sysmonPolls = r(stats.sysmonPolls);
  s.kicks = r(stats.kicks);
  s.lateSubmits = r(stats.lateSubmits);
  s.agedSubmits = r(stats.agedSubmits);
  s.recvNoBufs = r(stats.recvNoBufs);
  s.epollWaits = r(stats.epollWaits);
  if (current) {
    s.parked = current->parked();
    current->addCounts(s);
  }
  return s;
}

}  // namespace ringo::netpoll

namespace ringo::net {

void Buffer::release() noexcept {
  if (data_ == nullptr) return;
  if (id_ >= 0) {
    if (netpoll::current) netpoll::current->releaseBuf(data_, id_);
  } else {
    netpoll::heapBufPut(data_);
  }
  data_ = nullptr;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    len_ = o.len_;
    id_ = o.id_;
  }
  return *this;
}

}  // namespace ringo::net
