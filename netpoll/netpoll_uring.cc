// netpoll_uring.cc — the io_uring poller.
//
// Completions, not readiness: a goroutine that reads puts an IORING_OP_RECV
// on the submission queue and parks; the kernel does the receive and posts
// a completion; whoever reaps it readies the goroutine with the result. The
// data path makes no read, write, recv or send system call of its own.
//
// A ring per M, reaped by everyone. Ring ownership was decided by
// measurement. The first version had one ring for the process, like Go's
// one epoll instance: any M submitted to it and reaped it. On the echo
// benchmark (100 connections, 2 Ps) perf showed 38% of all CPU time in the
// kernel spinning on that ring's uring_lock (mutex_spin_on_owner under
// io_uring_enter): submission runs the sends inline, under the ring's lock,
// so two Ms submitting at once take turns on one kernel mutex. So:
//  - Each M submits to its own ring (made at its first operation): its
//    io_uring_enter contends with nobody, and the kernel runs the
//    completion work (task_work) on the thread that submitted, which is the
//    ring's owner.
//  - Reaping needs no system call (the CQ is shared memory), so poll(0)
//    reaps every ring, under a per-ring lock taken with try: a completion
//    is delivered by whichever M looks first, as with Go's one epoll.
//  - The one M that blocks in the poller (findRunnable's rule: at most one,
//    with no P) waits in ppoll on every ring's fd (readable when its CQ has
//    entries) and an eventfd that breakPoll writes; a ring made later
//    breaks the poll so it is waited on too.
//  - A per-P ring was the other candidate; it does not fit: Ps move between
//    Ms (handoff in Blocking, sysmon's retake), so a P's ring would be
//    entered from several threads, which SINGLE_ISSUER and DEFER_TASKRUN
//    forbid, and its completion work would run on whichever thread last
//    submitted.
//  - COOP_TASKRUN: without it, every completion the kernel finishes on
//    behalf of a running owner interrupts that thread (an IPI, then the
//    completion work, on its way back to user space). Under a wrk load on
//    the other CPU that was 7-8% of the server's time; with it the work
//    waits for the owner's next entry into the kernel, which a busy server
//    makes every scheduler round (submissions), and a sleeping owner is
//    woken for it as before. Measured (bench_http.sh, 6 alternated runs):
//    keep-alive at 256 connections 15.9 -> 13.9 us of server CPU per
//    request (medians), Connection: close 72.6 -> 56.0. What it costs: an
//    owner running one goroutine for long without a system call would hold
//    its ring's completions back. TASKRUN_FLAG shows that in the SQ ring's
//    flags, and sysmon's round (kick) sends such an owner SIGURG (a handler
//    that does nothing, installed while the poller runs, as Go's preemption
//    signal): the signal is an entry into the kernel, so the completions
//    come at most two sysmon periods late. The owner itself, polling, runs
//    its ring's pending work at once (IORING_ENTER_GETEVENTS).
// The kernel cancels a thread's requests when it exits: ringo's Ms never
// exit while Run runs, and an M parked on a futex is woken for its
// completion work (TWA_SIGNAL), so completions never wait on a sleeping M.
// Cancels (deadlines, Close) go to the ring the operation was submitted
// to, so each ring's SQ has a lock; it is nearly always its owner's.
//
// Batching. Operations are queued (SQE filled and published, or held: see
// "Receives last") in gopark's unlock function, on g0, after their goroutine is parked, and submitted
// by the next poll: findRunnable's poll(0) when the P's run queue is empty,
// the blocking poll, sysmon's every 10 ms, or before a Blocking call. N
// goroutines that each start an operation in one round of their P cost one
// io_uring_enter. Cancels are submitted at once, with the ring's held
// receives ahead of them (timers and Close; rare).
// A batch waits for short goroutines, not for long ones: an operation
// queued kLongRun or more after its M's previous operation, poll or
// resume (so the goroutines that ran in between took that long) is
// submitted at once, with whatever waits beside it (Stats::lateSubmits).
// Without the rule a TLS server's handshake flight waited until the P's
// queue was empty, behind other connections' handshakes (~100 us of
// crypto each). On the handshake-per-request benchmark (wrk -c16,
// Connection: close, TLS 1.3) the server then went idle 0.4 times per
// request with its clients unanswered, and each wake-up cost wrk a
// cross-CPU interrupt (0.6 per request in /proc/interrupts' CAL row):
// 15.0-15.6k requests in 4 s before, 16.8-17.3k after, nginx 16.8-17.5k.
// kLongRun is 100 us, from the time goroutines ran before an operation,
// measured per kind: a keep-alive goroutine runs 2-5 us; POST /echo with
// a 64 KiB body runs 50-100 us before its send; the handshake's reply
// comes 100-500 us after the ClientHello. At 20 us the echo benchmark sent
// nearly every operation early (29k of 30k enters), for a server CPU cost
// that moved between +12% and nothing from run to run; at 100 us 600 in
// 4 s go early, and the handshake benchmark keeps its gain (16.2-17.1k
// requests, Go 16.4-16.8k, in the same runs). The clock is the TSC
// (cputicks), read once per operation and once per submission; a
// submission restarts it when it returns, since its own time (the kernel
// runs the sends inline) is not the goroutines'.
// With more than one P a batch also stops waiting when it is old: an
// operation queued kBatchAge (20 us) or more after the oldest one the
// kernel has not taken yet submits them all (Stats::agedSubmits). Its
// sends feed receives that goroutines on other Ps wait for, and their
// completions come only when the kernel has the batch; a long round on
// one P starved the others. On the echo benchmark (100 connections in one
// process, 2 Ps) the Ms slept about 1,000 times a second each (blocking
// polls) and used 1.7 of the 2 CPUs; with the rule they sleep 20-40 times
// a second, and in 3 alternated runs ringo echoed 741-919 MB/s against
// 552-697 without it (Go 713-821). 10 us made twice the enters and less
// of a gain, 50 us kept most of the sleeps. With one P no other P waits,
// and the rule stays off: on keep-alive HTTP (1 P, 256 connections) it
// put the enters up from one per ~100 requests to one per ~7 and made the
// server's CPU per request swing between -2% and +40% from run to run.
//
// Receives last. A batch's receives go into the SQ after its sends: a
// receive is held in its ring (up to kHeld a batch) until the batch is
// submitted, and a cancel releases them before itself. The kernel runs a
// batch's SQEs in order, and a receive that finds no data arms a poll and
// finishes later as completion work. When both ends are goroutines of one
// process (a proxy, a service calling another, the benchmarks), the
// receive a send feeds is often in the same batch; behind the send it
// finds the data and completes inline. PingPong64 (1 P, 3 alternated
// runs): 5.84-6.09 -> 4.98-5.03 us per round trip; Echo100 (2 Ps):
// 883-997 -> 950-1092 MB/s. Keep-alive HTTP from wrk, whose requests come
// from outside, did not move (within the noise, 4 alternated runs).
//
// Receive without a buffer: Recv uses a provided-buffer ring (group 0 of
// each ring, kBufs buffers of net::Buffer::kSize), so a goroutine parked on
// an idle connection holds no buffer; the kernel picks one when data
// arrives. ENOBUFS (all buffers lent out) falls back to a heap block and a
// plain receive: slower, never a failure. Debian's liburing 2.3 has no
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
// Locked instructions per operation. Each operation takes pd->lock twice:
// submitPark (closed? expired? link the op, count it in: prepare's work)
// and on waking (unlink, count out: finish's), and its ring's sqlock once;
// its counters (queued by kind, reaped) are the ring's, written under the
// lock the writer holds anyway, so counting costs no locked add. Keep-alive
// at 256 connections went 5.23 -> 5.04 us of server CPU per request with
// this (from four pd->lock sections and six shared counters per
// operation; 5 alternated runs, medians).
//
// Registered (fixed) files were measured and left out: a connection
// registered in its ring's table at its 8th operation (one FILES_UPDATE
// SQE ahead of it; cleared before close(2)) took fget and fput out of the
// keep-alive profile (1.9%), and the server's CPU per request did not move
// (4.91 against 4.88 us, 5 alternated runs): the receive touches the
// socket's file anyway, so the cache miss only moved.
//
// user_data: an operation's uop address; 0 for results nobody waits for
// (cancels); kProbeTag for init's NOP.
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "../runtime/fatal.h"
#include "../runtime/proc.h"
#include "../runtime/race.h"
#include "../runtime/tls.h"
#include "netpoll.h"
#include "ringo/net.h"

namespace ringo::netpoll {
namespace {

using namespace ringo::runtime;

constexpr unsigned kEntries = 1024;   // SQ per ring; CQ is 4x (picked; a burst of accepts fits)
constexpr unsigned kBufs = 1024;      // provided buffers per ring: 16 MiB of address space, touched on use
constexpr size_t kAcceptQueue = 128;  // connections accepted and not yet claimed
constexpr int kMaxRings = 1024;       // Ms that do I/O
constexpr uint64_t kProbeTag = 2;
constexpr int64_t kLongRun = 100'000;  // ns; see "Batching"
constexpr int64_t kBatchAge = 20'000;  // ns; see "Batching"
constexpr unsigned kHeld = 256;        // receives a ring holds back per batch (see "Receives last")

// cputicks is the CPU's time-stamp counter (Go's cputicks): a clock at
// half clock_gettime's cost, calibrated against nanotime once (ticksPerNs).
inline uint64_t cputicks() { return __builtin_ia32_rdtsc(); }

// ticksPerNs is cputicks' rate. Two (nanotime, cputicks) pairs 200 us
// apart, each taken between two nanotime reads less than 2 us apart (a
// thread preempted in between would skew it: it retries), once per process.
double ticksPerNs() {
  static const double perNs = [] {
    auto pair = [](int64_t* ns, uint64_t* t) {
      for (int i = 0;; i++) {
        const int64_t a = nanotime();
        *t = cputicks();
        const int64_t b = nanotime();
        *ns = a + (b - a) / 2;
        if (b - a < 2'000 || i == 100) return;
      }
    };
    int64_t n0, n1;
    uint64_t t0, t1;
    pair(&n0, &t0);
    while (nanotime() - n0 < 200'000) {
    }
    pair(&n1, &t1);
    const double r = double(t1 - t0) / double(n1 - n0);
    return std::clamp(r, 0.1, 100.0);  // a TSC between 100 MHz and 100 GHz
  }();
  return perNs;
}
inline uint64_t nsToTicks(int64_t ns) { return uint64_t(double(ns) * ticksPerNs()); }

// ringGuard holds one of a ring's locks, counting the acquisitions that
// found it taken by another thread (a load, and an atomic add only then).
class ringGuard {
 public:
  explicit ringGuard(runtime::mutex* l) : l_(l) {
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
  enum Kind : uint8_t { recv, recvBuf, send, sendMore, connect } kind;
  int fd;
  void* p;
  size_t n;
  const sockaddr* sa;
  socklen_t salen;
};
constexpr int kOpKinds = opArgs::connect + 1;

// ring is one M's io_uring and its provided buffers.
struct ring {
  io_uring u{};
  int index = 0;           // in uring::rings_; a Buffer's id says which ring lent it
  runtime::mutex sqlock;   // filling and publishing SQEs (the owner; a cancel from elsewhere)
  runtime::mutex cqlock;   // reaping CQEs (any M)
  runtime::mutex brlock;   // returning provided buffers (any thread)
  io_uring_buf_ring* br = nullptr;
  char* bufs = nullptr;
  pid_t tid = 0;            // the owner thread (the completion work runs there)
  // cputicks at the owner's last operation queued, flush or resume. Atomic:
  // Ms that could not make a ring share ring 0 (mine).
  std::atomic<uint64_t> lastQueued{0};
  uint64_t batchStart = 0;  // cputicks at the oldest SQE (or held receive) the kernel has not taken (sqlock)
  // Receives queued and not yet in the SQ (sqlock; nheld is read without
  // it, to skip the lock when there are none).
  io_uring_sqe held[kHeld];
  std::atomic<uint32_t> nheld{0};
  bool sawTaskrun = false;  // sysmon's last look found completion work waiting (sysmon only)
  // Operations queued, by kind (sqlock), and their completions reaped
  // (cqlock): one writer at a time, so a load and a store count, without
  // the locked add a shared counter costs on every operation. queued -
  // reaped is the goroutines parked on this ring's operations.
  std::atomic<uint64_t> queued[kOpKinds] = {};
  std::atomic<uint64_t> queuedAll{0};
  std::atomic<uint64_t> reaped{0};
};

// bump adds n to a counter only the caller writes now (its lock held).
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

// noop is SIGURG's handler while the poller runs: the signal only makes a
// busy owner enter the kernel (see kick).
void noop(int) {}

// Which ring this thread owns, for the poller of which Run (a thread can
// live through several Runs: m0 is the caller's thread).
thread_local ring* myRing = nullptr;
thread_local uint64_t myRingGen = 0;
std::atomic<uint64_t> ringGen{0};

class uring final : public poller {
 public:
  const char* name() const override { return "io_uring"; }
  bool blockingSockets() const override { return true; }

  bool init() override {
    gen_ = ringGen.fetch_add(1) + 1;
    struct sigaction cur {};
    sigaction(SIGURG, nullptr, &cur);
    if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN)) {
      struct sigaction sa {};
      sa.sa_handler = noop;
      sa.sa_flags = SA_RESTART | SA_ONSTACK;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGURG, &sa, &oldurg_);
      urgInstalled_ = true;
    }
    evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd_ < 0) return false;
    longTicks_ = nsToTicks(kLongRun);
    agedTicks_ = nsToTicks(kBatchAge);
    int err = 0;
    ring* r = newRing(&err);  // m0's ring, and the probe
    if (r == nullptr) {
      errno = err;
      return false;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&r->u);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, kProbeTag);
    publishLocked(r);
    int rc = enter(r, 1, 1, IORING_ENTER_GETEVENTS);
    io_uring_cqe* cqe = nullptr;
    if (rc < 0 || io_uring_peek_cqe(&r->u, &cqe) != 0 || cqe->user_data != kProbeTag || cqe->res != 0) {
      errno = rc < 0 ? -rc : EIO;
      return false;
    }
    io_uring_cqe_seen(&r->u, cqe);
    // Multishot accept and provided-buffer rings came in Linux 5.19; a
    // kernel without the latter lacks the former too: use epoll there.
    if (r->br == nullptr) {
      errno = ENOSYS;
      return false;
    }
    return true;
  }

  void fini() override {
    const int n = nrings_.load();
    for (int i = 0; i < n; i++) {
      ring* r = rings_[i].load();
      Stats s;  // the ring's counts outlive it in the shared ones
      addCounts(s, r);
      count(stats.recv, s.recv);
      count(stats.recvBuf, s.recvBuf);
      count(stats.send, s.send);
      count(stats.connect, s.connect);
      count(stats.waits, s.waits);
      io_uring_queue_exit(&r->u);  // cancels whatever is still in flight
      if (r->br) munmap(r->br, brSize());
      if (r->bufs) munmap(r->bufs, size_t(kBufs) * net::Buffer::kSize);
      delete r;
    }
    nrings_.store(0);
    if (evfd_ >= 0) close(evfd_);
    if (urgInstalled_) sigaction(SIGURG, &oldurg_, nullptr);
    urgInstalled_ = false;
  }

  ~uring() override {
    if (nrings_.load() != 0) fini();  // init failed half-way
  }

  // ---- the scheduler's side --------------------------------------------------

  G* poll(int64_t delay) override {
    glist list;
    const bool sysmon = getm() == nullptr;
    if (sysmon) count(stats.sysmonPolls);
    if (delay == 0) {
      if (sysmon) {
        submitAll();  // an M whose queue never drained has not submitted
      } else {
        flush();
      }
      reapAll(list);
      if (list.head) count(stats.polls);
      flush();  // accepts re-armed by the reap
      return list.head;
    }
    count(stats.blockingPolls);
    submitAll();  // an M that went to sleep (or is busy) may have left operations queued
    reapAll(list);
    if (list.head == nullptr) {
      waitAll(delay);
      reapAll(list);
    }
    flush();
    return list.head;
  }

  void breakPoll() override {
    if (wakeSig_.exchange(1) != 0) return;  // one pending break is enough
    count(stats.nop);
    uint64_t one = 1;
    (void)!write(evfd_, &one, sizeof one);
  }

  int64_t parked() const override { return nwait_.load(std::memory_order_relaxed) + opsParked(); }

  bool anyWaiters() override {
    return nwait_.load(std::memory_order_relaxed) > 0 || nclosers.load(std::memory_order_relaxed) > 0 ||
           opsParked() > 0;
  }

  // opsParked: goroutines parked on an operation, from the rings' counts.
  // reaped is read first: an operation it counts was queued before, so the
  // difference never misses one still in flight.
  int64_t opsParked() const {
    int64_t n = 0;
    const int k = nrings_.load();
    for (int i = 0; i < k; i++) {
      const ring* r = rings_[i].load();
      const uint64_t done = r->reaped.load(std::memory_order_acquire);
      n += int64_t(r->queuedAll.load(std::memory_order_acquire) - done);
    }
    return n;
  }

  void addCounts(Stats& s) const override {
    const int k = nrings_.load();
    for (int i = 0; i < k; i++) addCounts(s, rings_[i].load());
  }
  static void addCounts(Stats& s, const ring* r) {
    auto q = [r](opArgs::Kind k) { return r->queued[k].load(std::memory_order_relaxed); };
    s.recv += q(opArgs::recv);
    s.recvBuf += q(opArgs::recvBuf);
    s.send += q(opArgs::send);
    s.connect += q(opArgs::connect);
    s.waits += r->queuedAll.load(std::memory_order_relaxed);  // every queued operation parked its goroutine
  }

  void flush() override {
    if (myRingGen != gen_ || myRing == nullptr) return;
    if (!submit(myRing) && taskrun(myRing))
      enter(myRing, 0, 0, IORING_ENTER_GETEVENTS);  // post our waiting completions
    restartBatch(myRing);
  }

  // resume: the M runs goroutines again after sleeping or a Blocking call;
  // that time was not theirs (see "Batching").
  void resume() override {
    if (myRingGen == gen_ && myRing != nullptr) restartBatch(myRing);
  }

  // restartBatch starts the clock of r's next batch: what ran before (a
  // submission, which runs the sends in the kernel, a sleep) is not the
  // goroutines' time.
  static void restartBatch(ring* r) { r->lastQueued.store(cputicks(), std::memory_order_relaxed); }

  // kick (sysmon): an owner whose ring has had completion work waiting for
  // a whole sysmon round is busy in user space; SIGURG makes it enter the
  // kernel, which runs the work.
  void kick() override {
    if (!urgInstalled_) return;
    const int n = nrings_.load();
    for (int i = 0; i < n; i++) {
      ring* r = rings_[i].load();
      const bool now = taskrun(r);
      if (now && r->sawTaskrun && r->tid != 0) {
        count(stats.kicks);
        syscall(SYS_tgkill, getpid(), r->tid, SIGURG);
      }
      r->sawTaskrun = now;
    }
  }

  // ---- the descriptor side ---------------------------------------------------

  int open(pollDesc*) override { return 0; }
  void closing(pollDesc*) override {}

  // An SQE's length is 32 bits: one operation moves at most kMaxIO bytes
  // (Write loops; Read returns what it got, as read(2) may).
  static constexpr size_t kMaxIO = size_t(1) << 30;

  int64_t recv(pollDesc* pd, void* p, size_t n) override {
    return doOp(pd, kRead, {opArgs::recv, pd->fd, p, std::min(n, kMaxIO), nullptr, 0}, nullptr, nullptr);
  }

  int64_t recvBuf(pollDesc* pd, char** data, int32_t* id) override {
    uint32_t cflags = 0;
    ring* r = nullptr;
    int64_t res = doOp(pd, kRead, {opArgs::recvBuf, pd->fd, nullptr, net::Buffer::kSize, nullptr, 0}, &cflags, &r);
    if (r && (cflags & IORING_CQE_F_BUFFER)) {
      const int32_t bid = int32_t(cflags >> IORING_CQE_BUFFER_SHIFT);
      char* buf = r->bufs + size_t(bid) * net::Buffer::kSize;
      const int32_t bufid = (r->index << 16) | bid;
      if (res > 0) {
        *data = buf;
        *id = bufid;
        return res;
      }
      releaseBuf(buf, bufid);
    }
    if (res != -ENOBUFS && res != kNoBufRing) return res;
    if (res == -ENOBUFS) count(stats.recvNoBufs);
    char* h = heapBufGet();
    res = recv(pd, h, net::Buffer::kSize);
    if (res <= 0) {
      heapBufPut(h);
      return res;
    }
    *data = h;
    *id = -1;
    return res;
  }

  void releaseBuf(char* data, int32_t id) override {
    ring* r = rings_[id >> 16].load();
    ringGuard g(&r->brlock);
    io_uring_buf_ring_add(r->br, data, net::Buffer::kSize, uint16_t(id & 0xffff), io_uring_buf_ring_mask(kBufs), 0);
    io_uring_buf_ring_advance(r->br, 1);
  }

  int64_t send(pollDesc* pd, const void* p, size_t n, bool more) override {
    return doOp(pd, kWrite,
                {more ? opArgs::sendMore : opArgs::send, pd->fd, const_cast<void*>(p), std::min(n, kMaxIO), nullptr, 0},
                nullptr, nullptr);
  }

  int64_t connect(pollDesc* pd, const sockaddr* sa, socklen_t salen) override {
    return doOp(pd, kWrite, {opArgs::connect, pd->fd, nullptr, 0, sa, salen}, nullptr, nullptr);
  }

  int64_t accept(pollDesc* pd, sockaddr_storage*, socklen_t*) override {
    if (int64_t e = prepare(pd, kRead)) return e;
    held h{pd};
    lock(&pd->lock);
    for (;;) {
      if (pd->closing) {
        unlock(&pd->lock);
        return kErrClosed;
      }
      if (!pd->acceptq.empty()) {
        int fd = pd->acceptq.pop_front();
        const bool rearm = !pd->acceptArmed && pd->acceptq.size() < kAcceptQueue / 2;
        if (rearm) armAcceptLocked(pd);
        unlock(&pd->lock);
        if (rearm) flush();  // no goroutine parks here: submit it now
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
    for (uop* op = pd->side[s].ops; op; op = op->next) cancelOp(op);
    if (s != kRead) return;
    if (pd->acceptArmed && !pd->acceptCancelled) {
      pd->acceptCancelled = true;
      cancelOp(&pd->acceptOp);
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

 private:
  static constexpr int64_t kNoBufRing = -100002;  // recvBuf on a ring without buffers

  uint64_t gen_ = 0;
  uint64_t longTicks_ = 0;  // kLongRun in cputicks
  uint64_t agedTicks_ = 0;  // kBatchAge in cputicks
  int evfd_ = -1;
  struct sigaction oldurg_ {};  // SIGURG before init (restored by fini)
  bool urgInstalled_ = false;
  std::atomic<ring*> rings_[kMaxRings] = {};
  std::atomic<int> nrings_{0};
  runtime::mutex ringslock_;         // making a ring
  std::atomic<int> nwait_{0};        // goroutines parked in Accept (operations: opsParked)
  std::atomic<uint32_t> wakeSig_{0}; // the eventfd has been written

  static size_t brSize() { return (sizeof(io_uring_buf) * kBufs + 4095) & ~size_t(4095); }

  // ---- rings ---------------------------------------------------------------

  // mine returns this thread's ring, making it at the thread's first
  // operation.
  ring* mine() {
    if (myRingGen == gen_ && myRing != nullptr) return myRing;
    int err = 0;
    if (ring* r = newRing(&err)) return r;
    // No ring for this M (EMFILE, ENOMEM): share m0's. Its locks make that
    // correct; only the contention the own ring avoids comes back.
    myRing = rings_[0].load();
    myRingGen = gen_;
    return myRing;
  }

  ring* newRing(int* err) {
    auto* r = new ring;
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = kEntries * 4;
    int rc = io_uring_queue_init_params(kEntries, &r->u, &p);
    if (rc == -EINVAL) {  // an older kernel: fewer flags
      p = {};
      rc = io_uring_queue_init_params(kEntries, &r->u, &p);
    }
    if (rc < 0) {
      *err = -rc;
      delete r;
      return nullptr;
    }
    // NODROP: completions are never lost when the CQ is full.
    if (!(p.features & IORING_FEAT_NODROP)) {
      io_uring_queue_exit(&r->u);
      *err = ENOSYS;
      delete r;
      return nullptr;
    }
    for (unsigned i = 0; i < r->u.sq.ring_entries; i++) r->u.sq.array[i] = i;
    r->tid = pid_t(syscall(SYS_gettid));
    {
      lockGuard g(&ringslock_);
      r->index = nrings_.load();
      if (r->index >= kMaxRings) fatal("netpoll: more than %d Ms doing I/O", kMaxRings);
      setupBufRing(r);
      rings_[r->index].store(r);
      nrings_.store(r->index + 1);
    }
    stats.rings.store(uint64_t(r->index + 1), std::memory_order_relaxed);
    myRing = r;
    myRingGen = gen_;
    breakPoll();  // a blocked poller must wait on this ring too
    return r;
  }

  void setupBufRing(ring* r) {
    void* m = mmap(nullptr, brSize(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* b = mmap(nullptr, size_t(kBufs) * net::Buffer::kSize, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED || b == MAP_FAILED) {
      if (m != MAP_FAILED) munmap(m, brSize());
      if (b != MAP_FAILED) munmap(b, size_t(kBufs) * net::Buffer::kSize);
      return;
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(m);
    reg.ring_entries = kBufs;
    reg.bgid = 0;
    if (io_uring_register_buf_ring(&r->u, &reg, 0) != 0) {  // EINVAL: kernel without buffer rings
      munmap(m, brSize());
      munmap(b, size_t(kBufs) * net::Buffer::kSize);
      return;
    }
    r->br = static_cast<io_uring_buf_ring*>(m);
    r->bufs = static_cast<char*>(b);
    io_uring_buf_ring_init(r->br);
    for (unsigned i = 0; i < kBufs; i++)
      io_uring_buf_ring_add(r->br, r->bufs + size_t(i) * net::Buffer::kSize, net::Buffer::kSize, uint16_t(i),
                            io_uring_buf_ring_mask(kBufs), int(i));
    io_uring_buf_ring_advance(r->br, int(kBufs));
  }

  int enter(ring* r, unsigned toSubmit, unsigned minComplete, unsigned flags) {
    count(stats.enters);
    if (toSubmit) count(stats.submits);
    int rc = io_uring_enter(r->u.ring_fd, toSubmit, minComplete, flags, nullptr);
    // -EINTR (a signal), -EBUSY/-EAGAIN (the CQ is backed up: the next reap
    // makes room) just end this attempt.
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
      fatal("netpoll: io_uring_enter: %s", std::strerror(-rc));
    return rc;
  }

  // Published SQEs the kernel has not consumed yet.
  static unsigned pending(ring* r) {
    return __atomic_load_n(r->u.sq.ktail, __ATOMIC_RELAXED) - __atomic_load_n(r->u.sq.khead, __ATOMIC_ACQUIRE);
  }
  static bool cqEmpty(ring* r) {
    return __atomic_load_n(r->u.cq.ktail, __ATOMIC_ACQUIRE) == __atomic_load_n(r->u.cq.khead, __ATOMIC_RELAXED);
  }
  static bool taskrun(ring* r) {
    return __atomic_load_n(r->u.sq.kflags, __ATOMIC_RELAXED) & IORING_SQ_TASKRUN;
  }
  static bool overflowed(ring* r) {
    return __atomic_load_n(r->u.sq.kflags, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW;
  }

  void submitAll() {
    const int n = nrings_.load();
    for (int i = 0; i < n; i++) submit(rings_[i].load());
  }

  // The SQ is full only when more operations start in one round than it
  // holds: submit what is there and take the slot it frees.
  io_uring_sqe* getsqeLocked(ring* r) {
    for (;;) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&r->u)) return sqe;
      publishLocked(r);
      if (enter(r, pending(r), 0, 0) < 0) sched_yield();
    }
  }

  // startBatchLocked: an SQE about to be queued on r at t starts a new
  // batch if nothing waits for the kernel there (see "Batching"); true if so.
  static bool startBatchLocked(ring* r, uint64_t t) {
    if (pending(r) != 0 || r->nheld.load(std::memory_order_relaxed) != 0) return false;
    r->batchStart = t;
    return true;
  }

  // submit sends r's batch to the kernel, its held receives behind the
  // rest; false if there was nothing to send.
  bool submit(ring* r) {
    releaseHeld(r);
    const unsigned n = pending(r);
    if (n) enter(r, n, 0, 0);
    return n != 0;
  }

  // releaseHeld puts r's held receives into its SQ, behind what is there.
  void releaseHeld(ring* r) {
    if (r->nheld.load(std::memory_order_relaxed) == 0) return;
    ringGuard g(&r->sqlock);
    releaseHeldLocked(r);
  }
  void releaseHeldLocked(ring* r) {
    const uint32_t n = r->nheld.load(std::memory_order_relaxed);
    if (n == 0) return;
    for (uint32_t i = 0; i < n; i++) *getsqeLocked(r) = r->held[i];
    publishLocked(r);
    r->nheld.store(0, std::memory_order_relaxed);
  }
  static void publishLocked(ring* r) { __atomic_store_n(r->u.sq.ktail, r->u.sq.sqe_tail, __ATOMIC_RELEASE); }

  // cancelOp cancels op on the ring it went to, at once.
  void cancelOp(uop* op) {
    ring* r = static_cast<ring*>(op->ring);
    {
      ringGuard g(&r->sqlock);
      releaseHeldLocked(r);  // op may be one: the cancel must come after it
      startBatchLocked(r, cputicks());
      io_uring_sqe* sqe = getsqeLocked(r);
      io_uring_prep_cancel(sqe, op, 0);
      io_uring_sqe_set_data64(sqe, 0);
      publishLocked(r);
    }
    count(stats.cancel);
    enter(r, pending(r), 0, 0);
  }

  void armAcceptLocked(pollDesc* pd) {  // pd->lock held
    ring* r = mine();
    pd->acceptArmed = true;
    pd->acceptCancelled = false;
    pd->acceptOp.ring = r;
    ringGuard g(&r->sqlock);
    startBatchLocked(r, cputicks());
    io_uring_sqe* sqe = getsqeLocked(r);
    io_uring_prep_multishot_accept(sqe, pd->fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, &pd->acceptOp);
    publishLocked(r);
    count(stats.accept);
  }

  struct parkArgs {
    uring* u;
    pollDesc* pd;
    int s;
    uop* op;
    const opArgs* a;
  };

  // submitPark is gopark's unlock function for an operation: on g0, with
  // the goroutine parked, it queues the SQE on this M's ring (or refuses to
  // park if the side is closed or expired). It is prepare as well: the
  // operation counts itself in (refs) here and out when it wakes (doOp's
  // unrefLocked), in the two pd->lock sections an operation needs anyway.
  static bool submitPark(G*, void* arg) {
    auto* pa = static_cast<parkArgs*>(arg);
    pollDesc* pd = pa->pd;
    uring* u = pa->u;
    ring* r;
    batch now;
    {
      lockGuard g(&pd->lock);
      if (pd->closing || pd->run != runGen) {
        pa->op->res = int32_t(kErrClosed);
        return false;
      }
      if (pd->side[pa->s].expired) {
        pa->op->res = int32_t(kErrTimeout);
        return false;
      }
      r = u->mine();
      if (pa->a->kind == opArgs::recvBuf && r->br == nullptr) {
        pa->op->res = int32_t(kNoBufRing);
        return false;
      }
      pa->op->next = pd->side[pa->s].ops;
      pd->side[pa->s].ops = pa->op;
      pa->op->ring = r;
      pd->refs++;
      now = u->queueOp(r, pa->op, *pa->a);
    }
    // Once published or held, the op may be submitted by another thread (a
    // cancel, sysmon) and its goroutine run on: pa, on that stack, is not
    // touched.
    if (now != batch::wait) {
      count(now == batch::late ? stats.lateSubmits : stats.agedSubmits);
      u->submit(r);
      restartBatch(r);
    }
    return true;
  }

  // queueOp fills op's SQE on the owner's ring and publishes it (a
  // receive: holds it until the batch goes, see "Receives last"), and says
  // whether the batch goes to the kernel now (see "Batching").
  enum class batch { wait, late, aged };
  batch queueOp(ring* r, uop* op, const opArgs& a) {
    ringGuard g(&r->sqlock);
    const uint64_t t = cputicks();
    batch now = batch::wait;
    if (int64_t(t - r->lastQueued.load(std::memory_order_relaxed)) >= int64_t(longTicks_)) now = batch::late;
    r->lastQueued.store(t, std::memory_order_relaxed);
    if (!startBatchLocked(r, t) && now == batch::wait && sched.gomaxprocs > 1 &&
        int64_t(t - r->batchStart) >= int64_t(agedTicks_))
      now = batch::aged;
    const uint32_t nheld = r->nheld.load(std::memory_order_relaxed);
    const bool hold = (a.kind == opArgs::recv || a.kind == opArgs::recvBuf) && nheld < kHeld;
    io_uring_sqe* sqe;
    if (hold) {
      sqe = &r->held[nheld];
      std::memset(sqe, 0, sizeof *sqe);
    } else {
      sqe = getsqeLocked(r);
    }
    switch (a.kind) {
      case opArgs::recv:
        io_uring_prep_recv(sqe, a.fd, a.p, a.n, 0);
        break;
      case opArgs::recvBuf:
        io_uring_prep_recv(sqe, a.fd, nullptr, a.n, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 0;
        break;
      case opArgs::send:
      case opArgs::sendMore:
        io_uring_prep_send(sqe, a.fd, a.p, a.n, MSG_NOSIGNAL | (a.kind == opArgs::sendMore ? MSG_MORE : 0));
        break;
      case opArgs::connect:
        io_uring_prep_connect(sqe, a.fd, a.sa, a.salen);
        break;
    }
    bump(r->queued[a.kind == opArgs::sendMore ? opArgs::send : a.kind]);
    bump(r->queuedAll);  // before the SQE is published (opsParked)
    io_uring_sqe_set_data(sqe, op);
    if (hold)
      r->nheld.store(nheld + 1, std::memory_order_relaxed);
    else
      publishLocked(r);
    return now;
  }

  // doOp runs one operation on side s: parks until its completion, and
  // starts it again after a cancel that turned out stale (deadline moved).
  // *ringOut (if asked) is the ring it completed on.
  int64_t doOp(pollDesc* pd, int s, const opArgs& a, uint32_t* cflags, ring** ringOut) {
    for (;;) {
      uop op;
      op.g = getg();
      op.pd = pd;
      parkArgs pa{this, pd, s, &op, &a};
      gopark(submitPark, &pa, waitReason::ioWait);
      if (op.res == int32_t(kErrClosed) || op.res == int32_t(kErrTimeout) || op.res == int32_t(kNoBufRing))
        return op.res;  // never parked
      int64_t res = op.res;
      G* closer = nullptr;
      {
        lockGuard g(&pd->lock);
        uop** pp = &pd->side[s].ops;
        while (*pp != &op) pp = &(*pp)->next;
        *pp = op.next;
        if (res == -ECANCELED) {
          if (pd->closing) res = kErrClosed;
          else if (pd->side[s].expired) res = kErrTimeout;
        }
        closer = unrefLocked(pd);  // finish
      }
      if (closer) goready(closer);
      if (cflags) *cflags = op.cflags;
      if (ringOut) *ringOut = static_cast<ring*>(op.ring);
      if (res != -ECANCELED) return res;
      // A stale cancel: nothing was transferred (a cancelled receive or
      // send moved no data), so the operation simply starts again.
    }
  }

  // ---- reaping and waiting -------------------------------------------------------

  void reapAll(glist& list) {
    const int n = nrings_.load();
    for (int i = 0; i < n; i++) {
      ring* r = rings_[i].load();
      if (overflowed(r)) enter(r, 0, 0, IORING_ENTER_GETEVENTS);  // flush the kernel's backlog
      if (!cqEmpty(r)) reap(r, list);
    }
  }

  // reap takes every completion in r's CQ; the goroutines they finish go on
  // list. Another M already reaping r will take them: skip it.
  void reap(ring* r, glist& list) {
    uint32_t expect = 0;
    if (!r->cqlock.key.compare_exchange_strong(expect, 1, std::memory_order_acquire)) {
      count(stats.ringLocksContended);
      return;
    }
    raceacquire(&r->cqlock);
    // Copy a batch out and give the slots back before handling it: handling
    // may submit (a re-armed accept), and a full CQ must not wait on us.
    struct done {
      uint64_t tag;
      int32_t res;
      uint32_t flags;
    } batch[256];
    for (;;) {
      unsigned head = *r->u.cq.khead;
      const unsigned tail = __atomic_load_n(r->u.cq.ktail, __ATOMIC_ACQUIRE);
      unsigned n = 0;
      for (; head != tail && n < 256; head++, n++) {
        const io_uring_cqe* cqe = &r->u.cq.cqes[head & r->u.cq.ring_mask];
        batch[n] = {cqe->user_data, cqe->res, cqe->flags};
      }
      if (n == 0) break;
      __atomic_store_n(r->u.cq.khead, head, __ATOMIC_RELEASE);
      count(stats.cqes, n);
      uint64_t ops = 0;
      for (unsigned i = 0; i < n; i++) {
        const done& d = batch[i];
        if (d.tag == 0 || d.tag == kProbeTag) continue;
        uop* op = reinterpret_cast<uop*>(d.tag);
        if (op->kind == uop::multishotAccept) {
          acceptDone(op->pd, d.res, d.flags, list);
          continue;
        }
        op->res = d.res;
        op->cflags = d.flags;
        list.push(op->g);  // op lives on g's stack: not touched after this
        ops++;
      }
      bump(r->reaped, ops);
    }
    unlock(&r->cqlock);
  }

  // waitAll blocks until some ring has completions, breakPoll, or delay
  // (< 0: no limit) passes.
  void waitAll(int64_t delay) {
    pollfd fds[kMaxRings + 1];
    const int n = nrings_.load();
    for (int i = 0; i < n; i++) fds[i] = {rings_[i].load()->u.ring_fd, POLLIN, 0};
    fds[n] = {evfd_, POLLIN, 0};
    timespec ts{};
    if (delay > 0) {
      ts.tv_sec = delay / 1'000'000'000;
      ts.tv_nsec = delay % 1'000'000'000;
    }
    int rc = ppoll(fds, nfds_t(n + 1), delay > 0 ? &ts : nullptr, nullptr);
    if (rc < 0 && errno != EINTR) fatal("netpoll: ppoll: %s", std::strerror(errno));
    if (rc > 0 && fds[n].revents) {
      uint64_t v;
      (void)!read(evfd_, &v, sizeof v);
      wakeSig_.store(0);
    }
  }

  // acceptDone handles one completion of pd's multishot accept (a CQ lock
  // held): a connection (or error) goes to the first waiting Accept, else
  // to the queue.
  void acceptDone(pollDesc* pd, int32_t res, uint32_t flags, glist& list) {
    lockGuard g(&pd->lock);
    if (!(flags & IORING_CQE_F_MORE)) pd->acceptArmed = false;
    if (res == -ECANCELED) {
      // Ours: Close, or a full queue.
    } else if (res == -ECONNABORTED) {
      // A connection reset before it was taken: not the listener's error
      // (Go's accept loop and the epoll poller skip it too).
    } else if (pd->closing) {
      if (res >= 0) ::close(res);
    } else if (uop* w = pd->acceptWaiters) {
      pd->acceptWaiters = w->next;
      w->res = res;
      list.push(w->g);
    } else {
      pd->acceptq.push_back(res);
      if (pd->acceptArmed && !pd->acceptCancelled && pd->acceptq.size() >= kAcceptQueue) {
        pd->acceptCancelled = true;
        cancelOp(&pd->acceptOp);
      }
    }
    if (pd->acceptArmed) return;
    if (pd->closing) {
      if (pd->refs == 0 && pd->closer) list.push(std::exchange(pd->closer, nullptr));
    } else if (pd->acceptWaiters) {
      // Each waiter takes at most one error (EMFILE), so this cannot spin.
      armAcceptLocked(pd);  // submitted at the end of this poll (sysmon: the next)
    }
  }
};

}  // namespace

poller* newUring() { return new uring; }

}  // namespace ringo::netpoll
