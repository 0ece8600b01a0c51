// chan.cc — channels and select (Go's runtime/chan.go and select.go).
//
// An hchan is a ring buffer of dataqsiz slots (none for an unbuffered
// channel) and two queues of waiting goroutines, recvq and sendq, all under
// one runtime lock. The element type is erased: elemType moves values in and
// out of slots, so the same code serves every Chan<T>.
//
// Invariants, with c.lock held:
//  - at most one of recvq and sendq is non-empty;
//  - sendq non-empty => the buffer is full; recvq non-empty => it is empty;
//  - once closed, both queues are empty and stay empty (close wakes them).
//
// A send first looks for a parked receiver: if there is one, the value moves
// straight from the sender's object into the receiver's storage (sendDirect)
// and the receiver is readied; the buffer is skipped. Else it goes into the
// buffer, else the sender parks on sendq with a sudog pointing at its value.
// A receive mirrors it; with a full buffer and a parked sender, it takes the
// head of the buffer and moves the sender's value to the tail, so FIFO order
// holds. Waiters are served first come, first served.
//
// Select is Go's three passes. The cases' channels are locked in address
// order (lockorder, no deadlock between two selects); pass 1 looks at the
// cases in a random order (pollorder) and takes the first that can proceed,
// which is a uniform choice among the ready ones. If none can and the select
// blocks, pass 2 queues a sudog (marked isSelect) on every channel and
// parks; the unlock function drops the locks only after the G is Gwaiting.
// A waker that dequeues an isSelect sudog must win the G's selectDone CAS,
// so exactly one case completes; the losers skip that sudog. Pass 3, after
// wake-up with all locks retaken, takes every other sudog off its queue.
// The sudogs live on the selecting G's stack; the G cannot leave selectgo
// before it has relocked every channel, so a waker or the parking M may
// read them while it holds any of those locks.
#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "race.h"
#include "ringo/chan.h"
#include "runtime2.h"
#include "tls.h"

namespace ringo::runtime {

// waitq is a FIFO of sudogs, doubly linked so that select can take its
// sudog out from the middle.
struct waitq {
  sudog* first = nullptr;
  sudog* last = nullptr;

  void enqueue(sudog* s) {
    s->next = nullptr;
    s->prev = last;
    if (last)
      last->next = s;
    else
      first = s;
    last = s;
  }

  // dequeue takes the first waiter that may be woken: a select waiter only
  // if this caller wins its G's selectDone.
  sudog* dequeue() {
    for (;;) {
      sudog* s = first;
      if (s == nullptr) return nullptr;
      first = s->next;
      if (first)
        first->prev = nullptr;
      else
        last = nullptr;
      s->next = nullptr;
      s->prev = nullptr;
      if (s->isSelect) {
        uint32_t zero = 0;
        if (!s->g->selectDone.compare_exchange_strong(zero, 1)) continue;  // another case won
      }
      return s;
    }
  }

  // remove takes s off the queue if it is on it.
  void remove(sudog* s) {
    sudog* x = s->prev;
    sudog* y = s->next;
    if (x) {
      x->next = y;
      if (y)
        y->prev = x;
      else
        last = x;
    } else if (y) {
      y->prev = nullptr;
      first = y;
    } else if (first == s) {
      first = last = nullptr;
    }
    s->next = s->prev = nullptr;
  }
};

struct hchan {
  std::atomic<int64_t> refs{1};
  const elemType* et = nullptr;
  size_t stride = 0;       // bytes per slot
  size_t allocAlign = 0;   // alignment the hchan was allocated with
  char* buf = nullptr;     // dataqsiz slots, right after the hchan
  uint32_t dataqsiz = 0;   // buffer size; fixed
  std::atomic<uint32_t> qcount{0};  // values in the buffer; written under lock
  std::atomic<bool> closed{false};  // written under lock
  uint32_t sendx = 0;      // next slot to send into; lock
  uint32_t recvx = 0;      // next slot to receive from; lock
  waitq recvq;             // parked receivers; lock
  waitq sendq;             // parked senders; lock
  mutex lock;

  void* slot(uint32_t i) { return buf + size_t(i) * stride; }
};

namespace {

bool unlockChan(G*, void* lk) {
  unlock(static_cast<mutex*>(lk));
  return true;
}

[[noreturn, gnu::cold, gnu::noinline]] void throwNotOnGoroutine(const char* what) {
  throw std::logic_error(std::string(what) +
                         ": would block on a thread ringo did not start (use TrySend / a Default case)");
}

// blockingG is the goroutine that is about to park in a channel operation;
// anywhere else a blocking operation is a misuse.
inline G* blockingG(const char* what) {
  G* gp = getg();
  if (gp == nullptr) [[unlikely]]
    throwNotOnGoroutine(what);
  return gp;
}

// sendDirect moves the value at ep into the parked receiver sg, and returns
// its G for the caller to ready once the locks are dropped.
G* sendDirect(hchan* c, sudog* sg, void* ep) {
  raceacquire(sg);  // the receiver's storage, last touched before it parked
  c->et->construct(sg->elem, ep);
  sg->success = true;
  G* gp = sg->g;
  gp->param = sg;
  return gp;
}

// recvDirect receives from the parked sender sg into ep: from the sender
// itself when unbuffered, else from the buffer's head, with the sender's
// value moving to the tail. Returns the sender's G.
G* recvDirect(hchan* c, sudog* sg, void* ep) {
  const elemType* et = c->et;
  raceacquire(sg);  // the parked sender's value
  if (c->dataqsiz == 0) {
    et->construct(ep, sg->elem);
  } else {
    void* qp = c->slot(c->recvx);
    raceacquire(qp);
    et->construct(ep, qp);
    et->destroy(qp);
    et->construct(qp, sg->elem);
    racerelease(qp);
    if (++c->recvx == c->dataqsiz) c->recvx = 0;
    c->sendx = c->recvx;  // the buffer stays full
  }
  sg->success = true;
  G* gp = sg->g;
  gp->param = sg;
  return gp;
}

void bufsend(hchan* c, void* ep) {
  void* qp = c->slot(c->sendx);
  raceacquire(qp);  // the receive that emptied the slot
  c->et->construct(qp, ep);
  racerelease(qp);
  if (++c->sendx == c->dataqsiz) c->sendx = 0;
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void bufrecv(hchan* c, void* ep) {
  void* qp = c->slot(c->recvx);
  raceacquire(qp);  // the send that filled it
  c->et->construct(ep, qp);
  c->et->destroy(qp);
  racerelease(qp);
  if (++c->recvx == c->dataqsiz) c->recvx = 0;
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) - 1, std::memory_order_release);
}

[[noreturn]] void parkForever(waitReason r) {
  blockingG("ringo::Chan");
  gopark(nullptr, nullptr, r);
  fatal("chan: goroutine parked forever was woken");
}

}  // namespace

hchan* makechan(const elemType* et, int64_t size) {
  const size_t stride = (et->size + et->align - 1) / et->align * et->align;
  // 1 << 31 slots (Len and Cap are ints; ring indices are 32-bit) or
  // 1 TiB: Go's maxAlloc-style bound, well past any real use.
  if (size < 0 || size > INT32_MAX ||
      (stride != 0 && uint64_t(size) > (uint64_t(1) << 40) / stride))
    throw std::invalid_argument("makechan: size out of range");
  const size_t align = std::max(alignof(hchan), et->align);
  const size_t head = (sizeof(hchan) + align - 1) / align * align;
  void* mem = ::operator new(head + size_t(size) * stride, std::align_val_t(align));
  auto* c = ::new (mem) hchan;
  c->et = et;
  c->stride = stride;
  c->allocAlign = align;
  c->buf = static_cast<char*>(mem) + head;
  c->dataqsiz = uint32_t(size);
  return c;
}

void chanAcquire(hchan* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chanRelease(hchan* c) noexcept {
  racerelease(c);
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  raceacquire(c);  // every handle's last use happens before the free
  // Nobody can be parked on it: a parked goroutine holds a handle.
  for (uint32_t i = 0, n = c->qcount.load(); i < n; i++) c->et->destroy(c->slot((c->recvx + i) % c->dataqsiz));
  const size_t align = c->allocAlign;
  c->~hchan();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

bool chansend(hchan* c, void* ep, bool block) {
  if (c == nullptr) {
    if (!block) return false;
    parkForever(waitReason::chanSendNilChan);
  }
  // Fast path for a failing non-blocking send on a full buffer, lock-free
  // as in Go: closed is monotonic, so "not closed, then full" was true at
  // the moment of the first load.
  if (!block && c->dataqsiz > 0 && !c->closed.load(std::memory_order_acquire) &&
      c->qcount.load(std::memory_order_acquire) == c->dataqsiz)
    return false;
  G* gp = block ? blockingG("ringo::Chan::Send") : nullptr;

  lock(&c->lock);
  if (c->closed.load(std::memory_order_relaxed)) {
    unlock(&c->lock);
    throw ChanClosedError("send on closed channel");
  }
  if (sudog* sg = c->recvq.dequeue()) {
    G* rg = sendDirect(c, sg, ep);
    unlock(&c->lock);
    goready(rg);
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
    bufsend(c, ep);
    unlock(&c->lock);
    return true;
  }
  if (!block) {
    unlock(&c->lock);
    return false;
  }
  sudog mysg;
  mysg.g = gp;
  mysg.elem = ep;
  mysg.c = c;
  gp->param = nullptr;
  c->sendq.enqueue(&mysg);
  racerelease(&mysg);
  gopark(unlockChan, &c->lock, waitReason::chanSend);
  // A receiver took the value, or close woke us.
  gp->param = nullptr;
  if (!mysg.success) throw ChanClosedError("send on closed channel");
  return true;
}

recvResult chanrecv(hchan* c, void* ep, bool block) {
  if (c == nullptr) {
    if (!block) return {false, false};
    parkForever(waitReason::chanReceiveNilChan);
  }
  // Fast path for a failing non-blocking receive on an empty buffer: empty
  // first, then not closed (closed is monotonic), as in Go.
  if (!block && c->dataqsiz > 0 && c->qcount.load(std::memory_order_acquire) == 0 &&
      !c->closed.load(std::memory_order_acquire))
    return {false, false};
  G* gp = block ? blockingG("ringo::Chan::Recv") : nullptr;

  lock(&c->lock);
  if (c->closed.load(std::memory_order_relaxed) && c->qcount.load(std::memory_order_relaxed) == 0) {
    unlock(&c->lock);
    raceacquire(c);  // the close
    return {true, false};
  }
  if (sudog* sg = c->sendq.dequeue()) {
    G* sgp = recvDirect(c, sg, ep);
    unlock(&c->lock);
    goready(sgp);
    return {true, true};
  }
  if (c->qcount.load(std::memory_order_relaxed) > 0) {
    bufrecv(c, ep);
    unlock(&c->lock);
    return {true, true};
  }
  if (!block) {
    unlock(&c->lock);
    return {false, false};
  }
  sudog mysg;
  mysg.g = gp;
  mysg.elem = ep;
  mysg.c = c;
  gp->param = nullptr;
  c->recvq.enqueue(&mysg);
  racerelease(&mysg);
  gopark(unlockChan, &c->lock, waitReason::chanReceive);
  gp->param = nullptr;
  return {true, mysg.success};
}

void closechan(hchan* c) {
  if (c == nullptr) throw ChanClosedError("close of nil channel");
  lock(&c->lock);
  if (c->closed.load(std::memory_order_relaxed)) {
    unlock(&c->lock);
    throw ChanClosedError("close of closed channel");
  }
  c->closed.store(true, std::memory_order_release);
  racerelease(c);
  // Collect every waiter, then ready them with the lock dropped. Receivers
  // get nothing (success false); senders will throw.
  G* list = nullptr;
  G** tail = &list;
  for (waitq* q : {&c->recvq, &c->sendq}) {
    while (sudog* sg = q->dequeue()) {
      sg->success = false;
      G* gp = sg->g;
      gp->param = sg;
      gp->schedlink = nullptr;
      *tail = gp;
      tail = &gp->schedlink;
    }
  }
  unlock(&c->lock);
  while (list) {
    G* gp = list;
    list = gp->schedlink;
    gp->schedlink = nullptr;
    goready(gp);
  }
}

int chanlen(hchan* c) noexcept {
  return c ? int(c->qcount.load(std::memory_order_relaxed)) : 0;
}

int chancap(hchan* c) noexcept { return c ? int(c->dataqsiz) : 0; }

// ---- select ----------------------------------------------------------------

namespace {

// selectState is what selectgo's unlock function needs; it lives on the
// selecting G's stack (see the top of this file for why that is safe).
struct selectState {
  scase* cases;
  uint16_t* lockorder;
  int nlock;
};

void sellock(const selectState& s) {
  hchan* last = nullptr;
  for (int i = 0; i < s.nlock; i++) {
    hchan* c = s.cases[s.lockorder[i]].c;
    if (c != last) lock(&c->lock);
    last = c;
  }
}

void selunlock(const selectState& s) {
  // Reverse order. After the last unlock the state may be gone (the G may
  // have been woken and moved on), so the loop reads nothing after it.
  for (int i = s.nlock - 1; i >= 0; i--) {
    hchan* c = s.cases[s.lockorder[i]].c;
    if (i > 0 && s.cases[s.lockorder[i - 1]].c == c) continue;  // locked once
    unlock(&c->lock);
  }
}

bool selparkcommit(G*, void* arg) {
  selunlock(*static_cast<selectState*>(arg));
  return true;
}

// smallArray is scratch memory for selectgo: on the stack for the usual
// handful of cases, on the heap for huge selects (a goroutine's stack is
// small).
template <class X>
class smallArray {
 public:
  explicit smallArray(int n) {
    if (n <= kInline) {
      p_ = inline_;
    } else {
      heap_ = std::make_unique<X[]>(size_t(n));
      p_ = heap_.get();
    }
  }
  X& operator[](int i) { return p_[i]; }
  X* data() { return p_; }

 private:
  static constexpr int kInline = 8;
  X inline_[kInline];
  std::unique_ptr<X[]> heap_;
  X* p_;
};

}  // namespace

int selectgo(scase* cases, int ncases, bool block, bool* recvOK) {
  *recvOK = false;
  if (ncases > 65536) throw std::invalid_argument("select: too many cases");
  G* gp = block ? blockingG("ringo::Select") : nullptr;
  if (ncases == 0) {
    if (!block) return -1;
    gopark(nullptr, nullptr, waitReason::selectNoCases);
    fatal("selectgo: select with no cases was woken");
  }

  // pollorder: a random permutation of the non-nil cases (inside-out
  // Fisher-Yates). lockorder: the same cases sorted by channel address.
  smallArray<uint16_t> pollorder(ncases), lockorder(ncases);
  int norder = 0;
  for (int i = 0; i < ncases; i++) {
    if (cases[i].c == nullptr) continue;  // a nil channel is never ready
    const uint32_t j = fastrandn(uint32_t(norder + 1));
    pollorder[norder] = pollorder[int(j)];
    pollorder[int(j)] = uint16_t(i);
    lockorder[norder] = uint16_t(i);
    norder++;
  }
  std::sort(lockorder.data(), lockorder.data() + norder,
            [cases](uint16_t a, uint16_t b) { return cases[a].c < cases[b].c; });

  selectState st{cases, lockorder.data(), norder};
  sellock(st);

  // Pass 1: the first case, in poll order, that can proceed now.
  for (int k = 0; k < norder; k++) {
    const int i = pollorder[k];
    scase& cas = cases[i];
    hchan* c = cas.c;
    if (cas.send) {
      if (c->closed.load(std::memory_order_relaxed)) {
        selunlock(st);
        throw ChanClosedError("send on closed channel");
      }
      if (sudog* sg = c->recvq.dequeue()) {
        G* rg = sendDirect(c, sg, cas.elem);
        selunlock(st);
        goready(rg);
        return i;
      }
      if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
        bufsend(c, cas.elem);
        selunlock(st);
        return i;
      }
    } else {
      if (sudog* sg = c->sendq.dequeue()) {
        G* sgp = recvDirect(c, sg, cas.elem);
        selunlock(st);
        goready(sgp);
        *recvOK = true;
        return i;
      }
      if (c->qcount.load(std::memory_order_relaxed) > 0) {
        bufrecv(c, cas.elem);
        selunlock(st);
        *recvOK = true;
        return i;
      }
      if (c->closed.load(std::memory_order_relaxed)) {
        selunlock(st);
        raceacquire(c);  // the close
        return i;
      }
    }
  }
  if (!block) {
    selunlock(st);
    return -1;
  }

  // Pass 2: wait on every case.
  smallArray<sudog> sgs(ncases);
  for (int k = 0; k < norder; k++) {
    const int i = lockorder[k];
    sudog* sg = &sgs[i];
    *sg = sudog{};
    sg->g = gp;
    sg->isSelect = true;
    sg->elem = cases[i].elem;
    sg->c = cases[i].c;
    if (cases[i].send)
      cases[i].c->sendq.enqueue(sg);
    else
      cases[i].c->recvq.enqueue(sg);
    racerelease(sg);
  }
  gp->param = nullptr;
  gp->selectDone.store(0);
  gopark(selparkcommit, &st, waitReason::select);

  // Pass 3: one case completed (gp->param is its sudog); take the others
  // off their queues.
  sellock(st);
  gp->selectDone.store(0);
  auto* won = static_cast<sudog*>(gp->param);
  gp->param = nullptr;
  int casi = -1;
  for (int k = 0; k < norder; k++) {
    const int i = lockorder[k];
    sudog* sg = &sgs[i];
    if (sg == won) {
      casi = i;
      continue;
    }
    if (cases[i].send)
      cases[i].c->sendq.remove(sg);
    else
      cases[i].c->recvq.remove(sg);
  }
  if (casi < 0) fatal("selectgo: woken without a case");
  selunlock(st);
  if (cases[casi].send && !won->success) throw ChanClosedError("send on closed channel");
  *recvOK = won->success;
  return casi;
}

}  // namespace ringo::runtime
