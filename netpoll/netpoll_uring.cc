// netpoll_uring.cc — the io_uring poller.
//
// Completions, not readiness: a goroutine that reads puts an IORING_OP_RECV
// on the submission queue and parks; the kernel does the receive and posts
// a completion; whoever reaps it readies the goroutine with the result. The
// data path makes no read, write, recv or send system call of its own.
//
// One ring for the process. Ring ownership was decided by what the
// scheduler does to threads, then checked by measurement:
//  - A ring per P does not fit as is: Ps move between Ms (handoff in
//    Blocking, sysmon's retake), so a P's ring would be entered from
//    several threads, which SINGLE_ISSUER and DEFER_TASKRUN forbid; and the
//    M that blocks in the poller (one at a time, with no P) would need to
//    wait on every P's ring at once.
//  - A ring per M makes every idle M wait on its own ring (completions of
//    operations it submitted arrive only there), so the single-poller rule
//    of findRunnable, and the futex park of idle Ms, would both go.
//  - One ring, like Go's one epoll instance, keeps findRunnable's shape:
//    any M with a P may submit and reap (poll(0)), one M without a P blocks
//    in io_uring_enter until a completion or the earliest timer. Its cost
//    is two short locks, one for filling SQEs and one for reaping CQEs;
//    the loadtest figures in README (echo over 100 connections on 2 Ps)
//    show them uncontended enough that Go's shape is kept.
// The kernel runs a request's completion work (task_work) on the thread
// that submitted it, and cancels a thread's requests when it exits: ringo's
// Ms never exit while Run runs, and an M parked on a futex is woken for
// that work by the kernel (TWA_SIGNAL), so completions never wait for a
// particular M to be scheduled. COOP_TASKRUN would delay that work until
// the submitting M next enters the kernel, which under one shared ring can
// be the whole length of a goroutine's run: not used.
//
// Batching. Operations are queued (SQE filled and published) in gopark's
// unlock function, on g0, after their goroutine is parked, and submitted
// by the next poll: findRunnable's poll(0) when the P's run queue is empty,
// the blocking poll, or sysmon's every 10 ms. N goroutines that each start
// an operation in one round of their P cost one io_uring_enter. Cancels and
// poll breaks are submitted at once (they come from timers and Close, and
// are rare).
//
// Receive without a buffer: Recv uses a provided-buffer ring (group 0,
// kBufs buffers of net::Buffer::kSize), so a goroutine parked on an idle
// connection holds no buffer; the kernel picks one when data arrives.
// ENOBUFS (all buffers lent out) falls back to a heap block and a plain
// receive: slower, never a failure. Debian's liburing 2.3 has no
// io_uring_setup_buf_ring: the ring is mmapped here and registered with
// io_uring_register_buf_ring; a kernel that refuses (EINVAL) runs without
// it (heap blocks only).
//
// Accept is one multishot accept per listener, armed by the first Accept
// and kept while it delivers; its connections queue in the pollDesc for
// the next Accepts. Past kAcceptQueue unclaimed connections it is
// cancelled (the rest wait in the kernel's backlog) and re-armed when
// Accept drains the queue. EMFILE ends it: Accept returns the error, and
// the next Accept arms it again.
//
// user_data: an operation's uop address; 0 for results nobody waits for
// (cancels); kBreakTag for the NOP of breakPoll; kProbeTag for init's NOP.
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <utility>
#include <cstring>

#include "../runtime/fatal.h"
#include "../runtime/proc.h"
#include "../runtime/tls.h"
#include "netpoll.h"
#include "ringo/net.h"

namespace ringo::netpoll {
namespace {

using namespace ringo::runtime;

constexpr unsigned kEntries = 4096;       // SQ; CQ is 4x (picked; a burst of accepts fits)
constexpr unsigned kBufs = 1024;          // provided buffers: 16 MiB of address space, touched on use
constexpr size_t kAcceptQueue = 128;      // connections accepted and not yet claimed
constexpr uint64_t kBreakTag = 1, kProbeTag = 2;

// ringGuard holds one of the shared ring's locks, counting how often it was
// found taken: the measurement behind "one ring" (see above).
class ringGuard {
 public:
  explicit ringGuard(runtime::mutex* l) : l_(l) {
    count(stats.ringLocks);
    if (l->key.load(std::memory_order_relaxed) != 0) count(stats.ringLocksContended);
    lock(l);
  }
  ~ringGuard() { unlock(l_); }
  ringGuard(const ringGuard&) = delete;
  ringGuard& operator=(const ringGuard&) = delete;

 private:
  runtime::mutex* l_;
};

struct opArgs {
  enum Kind : uint8_t { recv, recvBuf, send, connect } kind;
  int fd;
  void* p;
  size_t n;
  const sockaddr* sa;
  socklen_t salen;
};

class uring final : public poller {
 public:
  const char* name() const override { return "io_uring"; }
  bool blockingSockets() const override { return true; }

  bool init() override {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CLAMP;
    p.cq_entries = kEntries * 4;
    int rc = io_uring_queue_init_params(kEntries, &ring_, &p);
    if (rc == -EINVAL) {  // an older kernel: fewer flags
      p = {};
      rc = io_uring_queue_init_params(kEntries, &ring_, &p);
    }
    if (rc < 0) {
      errno = -rc;
      return false;
    }
    // NODROP: completions are never lost when the CQ is full; EXT_ARG: the
    // blocking poll's timeout needs no SQE.
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_EXT_ARG)) {
      io_uring_queue_exit(&ring_);
      errno = ENOSYS;
      return false;
    }
    for (unsigned i = 0; i < ring_.sq.ring_entries; i++) ring_.sq.array[i] = i;
    // The probe: a NOP must come back.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, kProbeTag);
    publishLocked();
    rc = enter(1, 1, IORING_ENTER_GETEVENTS, nullptr);
    io_uring_cqe* cqe = nullptr;
    if (rc < 0 || io_uring_peek_cqe(&ring_, &cqe) != 0 || cqe->user_data != kProbeTag || cqe->res != 0) {
      io_uring_queue_exit(&ring_);
      errno = rc < 0 ? -rc : EIO;
      return false;
    }
    io_uring_cqe_seen(&ring_, cqe);
    setupBufRing();
    return true;
  }

  void fini() override {
    io_uring_queue_exit(&ring_);  // cancels whatever is still in flight
    if (br_) munmap(br_, brSize());
    if (bufs_) munmap(bufs_, size_t(kBufs) * net::Buffer::kSize);
    br_ = nullptr;
    bufs_ = nullptr;
  }

  // ---- the scheduler's side --------------------------------------------------

  G* poll(int64_t delay) override {
    glist list;
    if (getm() == nullptr) count(stats.sysmonPolls);
    if (delay == 0) {
      const unsigned n = pending();
      if (n == 0 && cqEmpty() && !overflowed()) return nullptr;
      if (n != 0) enter(n, 0, 0, nullptr);
      if (overflowed()) enter(0, 0, IORING_ENTER_GETEVENTS, nullptr);
      reap(list);
      if (list.head) count(stats.polls);
      submitQueued();  // re-armed accepts
      return list.head;
    }
    count(stats.blockingPolls);
    if (cqEmpty()) {
      __kernel_timespec ts{};
      if (delay > 0) {
        ts.tv_sec = delay / 1'000'000'000;
        ts.tv_nsec = delay % 1'000'000'000;
      }
      enter(pending(), 1, IORING_ENTER_GETEVENTS, delay > 0 ? &ts : nullptr);
    }
    reap(list);
    submitQueued();
    return list.head;
  }

  void breakPoll() override {
    if (wakeSig_.exchange(1) != 0) return;  // one NOP in flight is enough
    {
      ringGuard g(&sqlock_);
      io_uring_sqe* sqe = getsqeLocked();
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, kBreakTag);
      publishLocked();
    }
    count(stats.nop);
    submitQueued();
  }

  bool anyWaiters() override {
    return nwait_.load(std::memory_order_relaxed) > 0 || nclosers.load(std::memory_order_relaxed) > 0 || pending() != 0; }

  // ---- the descriptor side ---------------------------------------------------

  int open(pollDesc*) override { return 0; }
  void closing(pollDesc*) override {}

  int64_t recv(pollDesc* pd, void* p, size_t n) override {
    return doOp(pd, kRead, {opArgs::recv, pd->fd, p, n, nullptr, 0}, nullptr);
  }

  int64_t recvBuf(pollDesc* pd, char** data, int32_t* id) override {
    if (br_ != nullptr) {
      uint32_t cflags = 0;
      int64_t r = doOp(pd, kRead, {opArgs::recvBuf, pd->fd, nullptr, net::Buffer::kSize, nullptr, 0}, &cflags);
      if (cflags & IORING_CQE_F_BUFFER) {
        const int32_t bid = int32_t(cflags >> IORING_CQE_BUFFER_SHIFT);
        char* buf = bufs_ + size_t(bid) * net::Buffer::kSize;
        if (r > 0) {
          *data = buf;
          *id = bid;
          return r;
        }
        releaseBuf(buf, bid);
      }
      if (r != -ENOBUFS) return r;
      count(stats.recvNoBufs);
    }
    char* h = heapBufGet();
    int64_t r = recv(pd, h, net::Buffer::kSize);
    if (r <= 0) {
      heapBufPut(h);
      return r;
    }
    *data = h;
    *id = -1;
    return r;
  }

  void releaseBuf(char* data, int32_t id) override {
    lockGuard g(&brlock_);
    io_uring_buf_ring_add(br_, data, net::Buffer::kSize, uint16_t(id), io_uring_buf_ring_mask(kBufs), 0);
    io_uring_buf_ring_advance(br_, 1);
  }

  int64_t send(pollDesc* pd, const void* p, size_t n) override {
    return doOp(pd, kWrite, {opArgs::send, pd->fd, const_cast<void*>(p), n, nullptr, 0}, nullptr);
  }

  int64_t connect(pollDesc* pd, const sockaddr* sa, socklen_t salen) override {
    return doOp(pd, kWrite, {opArgs::connect, pd->fd, nullptr, 0, sa, salen}, nullptr);
  }

  int64_t accept(pollDesc* pd, sockaddr_storage*, socklen_t*) override {
    lock(&pd->lock);
    for (;;) {
      if (pd->closing) {
        unlock(&pd->lock);
        return kErrClosed;
      }
      if (!pd->acceptq.empty()) {
        int fd = pd->acceptq.front();
        pd->acceptq.pop_front();
        if (!pd->acceptArmed && pd->acceptq.size() < kAcceptQueue / 2) armAcceptLocked(pd);
        unlock(&pd->lock);
        return fd;
      }
      if (!pd->acceptArmed) armAcceptLocked(pd);
      uop w;
      w.g = getg();
      w.res = INT32_MIN;
      // FIFO: Accepts are served in the order they came.
      uop** tail = &pd->acceptWaiters;
      while (*tail) tail = &(*tail)->next;
      *tail = &w;
      nwait_.fetch_add(1, std::memory_order_relaxed);
      count(stats.waits);
      gopark(unlockPd, pd, waitReason::ioWait);  // the reaper (or Close) hands us a result
      nwait_.fetch_sub(1, std::memory_order_relaxed);
      if (w.res != INT32_MIN) return w.res;
      lock(&pd->lock);
    }
  }

  void cancel(pollDesc* pd, int s) override {
    bool any = false;
    for (uop* op = pd->side[s].ops; op; op = op->next) {
      queueCancel(op);
      any = true;
    }
    if (s == kRead) {
      if (pd->acceptArmed) {
        queueCancel(&pd->acceptOp);
        any = true;
      }
      if (pd->closing) {
        // Parked Accepts end now; connections nobody claimed are closed.
        while (uop* w = pd->acceptWaiters) {
          pd->acceptWaiters = w->next;
          w->res = int32_t(kErrClosed);
          goready(w->g);
        }
        for (int fd : pd->acceptq)
          if (fd >= 0) ::close(fd);
        pd->acceptq.clear();
      }
    }
    if (any) submitQueued();
  }

 private:
  io_uring ring_{};
  runtime::mutex sqlock_;  // filling and publishing SQEs
  runtime::mutex cqlock_;  // reaping CQEs
  runtime::mutex brlock_;  // returning provided buffers
  std::atomic<int> nwait_{0};          // goroutines parked on an operation
  std::atomic<uint32_t> wakeSig_{0};   // a break NOP is in flight
  io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;

  static size_t brSize() { return (sizeof(io_uring_buf) * kBufs + 4095) & ~size_t(4095); }

  void setupBufRing() {
    void* r = mmap(nullptr, brSize(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* b = mmap(nullptr, size_t(kBufs) * net::Buffer::kSize, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED || b == MAP_FAILED) {
      if (r != MAP_FAILED) munmap(r, brSize());
      if (b != MAP_FAILED) munmap(b, size_t(kBufs) * net::Buffer::kSize);
      return;
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(r);
    reg.ring_entries = kBufs;
    reg.bgid = 0;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {  // EINVAL: kernel without buffer rings
      munmap(r, brSize());
      munmap(b, size_t(kBufs) * net::Buffer::kSize);
      return;
    }
    br_ = static_cast<io_uring_buf_ring*>(r);
    bufs_ = static_cast<char*>(b);
    io_uring_buf_ring_init(br_);
    for (unsigned i = 0; i < kBufs; i++)
      io_uring_buf_ring_add(br_, bufs_ + size_t(i) * net::Buffer::kSize, net::Buffer::kSize, uint16_t(i),
                            io_uring_buf_ring_mask(kBufs), int(i));
    io_uring_buf_ring_advance(br_, int(kBufs));
  }

  int enter(unsigned toSubmit, unsigned minComplete, unsigned flags, __kernel_timespec* ts) {
    count(stats.enters);
    if (toSubmit) count(stats.submits);
    int rc;
    if (ts) {
      io_uring_getevents_arg arg{};
      arg.sigmask_sz = _NSIG / 8;
      arg.ts = reinterpret_cast<uint64_t>(ts);
      rc = io_uring_enter2(ring_.ring_fd, toSubmit, minComplete, flags | IORING_ENTER_EXT_ARG,
                           reinterpret_cast<sigset_t*>(&arg), sizeof arg);
    } else {
      rc = io_uring_enter(ring_.ring_fd, toSubmit, minComplete, flags, nullptr);
    }
    // -ETIME (timeout), -EINTR (a signal), -EBUSY/-EAGAIN (the CQ is backed
    // up: the next reap makes room) all just end this attempt.
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
      fatal("netpoll: io_uring_enter: %s", std::strerror(-rc));
    return rc;
  }

  // Published SQEs the kernel has not consumed yet.
  unsigned pending() {
    return __atomic_load_n(ring_.sq.ktail, __ATOMIC_RELAXED) - __atomic_load_n(ring_.sq.khead, __ATOMIC_ACQUIRE);
  }
  bool cqEmpty() {
    return __atomic_load_n(ring_.cq.ktail, __ATOMIC_ACQUIRE) == __atomic_load_n(ring_.cq.khead, __ATOMIC_RELAXED);
  }
  bool overflowed() { return __atomic_load_n(ring_.sq.kflags, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW; }

  void submitQueued() {
    if (unsigned n = pending()) enter(n, 0, 0, nullptr);
  }

  // The SQ is full only when more operations start in one round than it
  // holds: submit what is there and take the slot it frees.
  io_uring_sqe* getsqeLocked() {
    for (;;) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
      publishLocked();
      if (enter(pending(), 0, 0, nullptr) < 0) sched_yield();
    }
  }
  void publishLocked() { __atomic_store_n(ring_.sq.ktail, ring_.sq.sqe_tail, __ATOMIC_RELEASE); }

  void queueCancel(uop* op) {
    ringGuard g(&sqlock_);
    io_uring_sqe* sqe = getsqeLocked();
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data64(sqe, 0);
    publishLocked();
    count(stats.cancel);
  }

  void armAcceptLocked(pollDesc* pd) {  // pd->lock held
    pd->acceptArmed = true;
    ringGuard g(&sqlock_);
    io_uring_sqe* sqe = getsqeLocked();
    io_uring_prep_multishot_accept(sqe, pd->fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, &pd->acceptOp);
    publishLocked();
    count(stats.accept);
  }

  static bool unlockPd(G*, void* arg) {
    unlock(&static_cast<pollDesc*>(arg)->lock);
    return true;
  }

  struct parkArgs {
    uring* u;
    pollDesc* pd;
    int s;
    uop* op;
    const opArgs* a;
  };

  // submitPark is gopark's unlock function for an operation: on g0, with
  // the goroutine parked, it queues the SQE (or refuses to park if the side
  // is closed or expired).
  static bool submitPark(G*, void* arg) {
    auto* pa = static_cast<parkArgs*>(arg);
    pollDesc* pd = pa->pd;
    lockGuard g(&pd->lock);
    if (pd->closing) {
      pa->op->res = int32_t(kErrClosed);
      return false;
    }
    if (pd->side[pa->s].expired) {
      pa->op->res = int32_t(kErrTimeout);
      return false;
    }
    pa->op->next = pd->side[pa->s].ops;
    pd->side[pa->s].ops = pa->op;
    pa->u->queueOp(pa->op, *pa->a);
    pa->u->nwait_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void queueOp(uop* op, const opArgs& a) {
    ringGuard g(&sqlock_);
    io_uring_sqe* sqe = getsqeLocked();
    switch (a.kind) {
      case opArgs::recv:
        io_uring_prep_recv(sqe, a.fd, a.p, a.n, 0);
        count(stats.recv);
        break;
      case opArgs::recvBuf:
        io_uring_prep_recv(sqe, a.fd, nullptr, a.n, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 0;
        count(stats.recvBuf);
        break;
      case opArgs::send:
        io_uring_prep_send(sqe, a.fd, a.p, a.n, MSG_NOSIGNAL);
        count(stats.send);
        break;
      case opArgs::connect:
        io_uring_prep_connect(sqe, a.fd, a.sa, a.salen);
        count(stats.connect);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    publishLocked();
  }

  // doOp runs one operation on side s: parks until its completion, and
  // starts it again after a cancel that turned out stale (deadline moved).
  int64_t doOp(pollDesc* pd, int s, const opArgs& a, uint32_t* cflags) {
    for (;;) {
      uop op;
      op.g = getg();
      op.pd = pd;
      parkArgs pa{this, pd, s, &op, &a};
      count(stats.waits);
      gopark(submitPark, &pa, waitReason::ioWait);
      if (op.res == int32_t(kErrClosed) || op.res == int32_t(kErrTimeout)) return op.res;  // never parked
      nwait_.fetch_sub(1, std::memory_order_relaxed);
      int64_t res = op.res;
      {
        lockGuard g(&pd->lock);
        uop** pp = &pd->side[s].ops;
        while (*pp != &op) pp = &(*pp)->next;
        *pp = op.next;
        if (res == -ECANCELED) {
          if (pd->closing) res = kErrClosed;
          else if (pd->side[s].expired) res = kErrTimeout;
        }
      }
      if (cflags) *cflags = op.cflags;
      if (res != -ECANCELED) return res;
      // A stale cancel: nothing was transferred (a cancelled receive or
      // send moved no data), so the operation simply starts again.
    }
  }

  // reap takes every completion in the CQ; the goroutines they finish go
  // on list.
  void reap(glist& list) {
    ringGuard g(&cqlock_);
    unsigned head = *ring_.cq.khead;
    const unsigned tail = __atomic_load_n(ring_.cq.ktail, __ATOMIC_ACQUIRE);
    if (head == tail) return;
    count(stats.cqes, tail - head);
    for (; head != tail; head++) {
      io_uring_cqe* cqe = &ring_.cq.cqes[head & ring_.cq.ring_mask];
      const uint64_t tag = cqe->user_data;
      if (tag == 0 || tag == kProbeTag) continue;
      if (tag == kBreakTag) {
        wakeSig_.store(0);
        continue;
      }
      uop* op = reinterpret_cast<uop*>(tag);
      if (op->kind == uop::multishotAccept) {
        acceptDone(op->pd, cqe->res, cqe->flags, list);
        continue;
      }
      op->res = cqe->res;
      op->cflags = cqe->flags;
      list.push(op->g);  // op lives on g's stack: not touched after this
    }
    __atomic_store_n(ring_.cq.khead, head, __ATOMIC_RELEASE);
  }

  // acceptDone handles one completion of pd's multishot accept (CQ lock
  // held): a connection (or error) goes to the first waiting Accept, else
  // to the queue.
  void acceptDone(pollDesc* pd, int32_t res, uint32_t flags, glist& list) {
    lockGuard g(&pd->lock);
    if (!(flags & IORING_CQE_F_MORE)) pd->acceptArmed = false;
    if (res == -ECANCELED) {
      // Ours: Close, or a full queue.
    } else if (pd->closing) {
      if (res >= 0) ::close(res);
    } else if (uop* w = pd->acceptWaiters) {
      pd->acceptWaiters = w->next;
      w->res = res;
      list.push(w->g);
    } else {
      pd->acceptq.push_back(res);
      if (pd->acceptArmed && pd->acceptq.size() >= kAcceptQueue) queueCancel(&pd->acceptOp);
    }
    if (pd->acceptArmed) return;
    if (pd->closing) {
      if (pd->refs == 0 && pd->closer) list.push(std::exchange(pd->closer, nullptr));
    } else if (pd->acceptWaiters) {
      // Each waiter takes at most one error (EMFILE), so this cannot spin.
      armAcceptLocked(pd);  // submitted at the end of this poll
    }
  }
};

}  // namespace

poller* newUring() { return new uring; }

}  // namespace ringo::netpoll
