// netpoll.h — the poller behind a handful of functions, and the descriptor
// state the net API shares with it (Go's netpoll.go and internal/poll).
//
// The scheduler's side is runtime/netpoll.h: poll(delay) (< 0 blocks, 0
// polls, > 0 waits up to delay ns), breakPoll, anyWaiters, init, fini. This
// file adds the descriptor side, which the net API calls on a goroutine:
//
//   open(pd)              arm a new descriptor (epoll: register it)
//   recv/send/accept/     one operation; parks the goroutine until it has
//   connect(pd, ...)      completed and returns its result as -errno
//   cancel(pd, side)      a deadline passed or Close began: make the parked
//                         operations of that side return (pd->lock held)
//   close(pd)             (common code) cancel everything, wait until no
//                         goroutine is inside an operation, close the fd
//
// Two implementations: io_uring (netpoll_uring.cc), where the kernel does
// the operation and the completion readies the goroutine, and epoll
// (netpoll_epoll.cc), where readiness readies it and it does the system
// call itself. netpoll.cc chooses one at the first Run.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "../runtime/lock.h"
#include "../runtime/netpoll.h"
#include "../runtime/runtime2.h"
#include "../runtime/timers.h"
#include "ringo/netpoll.h"
#include "ringo/sync.h"

namespace ringo::netpoll {

using runtime::G;

// Results below -4095 are not errnos: the net API maps them to its errors.
constexpr int64_t kErrClosed = -100000;   // Close began (net::ErrClosed)
constexpr int64_t kErrTimeout = -100001;  // the side's deadline passed

enum { kRead = 0, kWrite = 1 };

// uop is one io_uring operation in flight, on the parked goroutine's stack
// (or, for a listener's multishot accept, in its pollDesc). Its address is
// the SQE's user_data. Written by its goroutine before submission, by the
// reaper (under the CQ lock) when its completion arrives.
struct uop {
  enum Kind : uint8_t { single, multishotAccept };
  Kind kind = single;
  G* g = nullptr;         // the parked goroutine (single)
  int32_t res = 0;        // the completion's result
  uint32_t cflags = 0;    // the completion's flags
  uop* next = nullptr;    // on its side's list (pd->lock)
  struct pollDesc* pd = nullptr;
  void* ring = nullptr;   // the ring it was submitted to (where a cancel must go)
};

// pollDesc is the poller's state for one descriptor. The memory is never
// freed, only reused (pdalloc/pdfree), so a late epoll event or timer
// firing for a closed descriptor touches a valid object (and is ignored).
// fdq is a listener's queue of accepted fds (or -errno), FIFO: a vector
// and a read index. Every connection has a pollDesc too and never accepts,
// so the queue must cost nothing until its first push (libstdc++'s
// std::deque allocates about 600 bytes when constructed: 0.6 KiB of every
// idle connection). Under lock, like the rest of the accept state.
struct fdq {
  std::vector<int> v;
  size_t head = 0;

  bool empty() const { return head == v.size(); }
  size_t size() const { return v.size() - head; }
  void push_back(int fd) { v.push_back(fd); }
  int pop_front() {
    int fd = v[head++];
    if (head == v.size()) {
      clear();
    } else if (head >= 64 && head * 2 >= v.size()) {
      // Never empty under a steady load: drop the consumed front now and
      // then, so the vector stays near the queue's length.
      v.erase(v.begin(), v.begin() + std::ptrdiff_t(head));
      head = 0;
    }
    return fd;
  }
  void clear() {
    v.clear();
    head = 0;
  }
  auto begin() const { return v.begin() + std::ptrdiff_t(head); }
  auto end() const { return v.end(); }
};

struct pollDesc {
  int fd = -1;
  runtime::mutex lock;

  // Close protocol: closing is set once (lock); refs counts goroutines
  // inside an operation (lock); the closer parks until refs == 0 and the
  // multishot accept (if any) has ended.
  bool closing = false;
  int32_t refs = 0;
  G* closer = nullptr;
  uint64_t run = 0;  // the Run it belongs to (written by reset)

  // Go's fdMutex, per side: Writes never interleave, and the epoll poller
  // has one waiter per side. Held across parks (a goroutine lock).
  ringo::Mutex serial[2];

  struct sideState {
    int64_t deadline = 0;  // nanotime; 0: none (lock)
    bool expired = false;  // the deadline has passed (lock)
    // t fires at `armed`, which is at or before deadline: a deadline moved
    // later leaves the timer where it is, and the firing re-arms it for
    // the deadline (see pdsetdeadline). 0: no firing pending (lock).
    int64_t armed = 0;
    runtime::timer t;  // its seq is never reset
    uop* ops = nullptr;    // io_uring: operations in flight (lock)
    // epoll: 0, kReady, or the parked G (Go's rg/wg); CAS only.
    std::atomic<uintptr_t> g{0};
  };
  sideState side[2];

  // A listener under io_uring: one multishot accept feeds acceptq; Accepts
  // that find it empty wait in acceptWaiters (all under lock).
  uop acceptOp;
  bool acceptArmed = false;
  bool acceptCancelled = false;  // a cancel of the armed accept is on its way
  fdq acceptq;               // fds, or -errno
  uop* acceptWaiters = nullptr;

  pollDesc* link = nullptr;  // on the free list (pdfree)

  void reset(int newfd);
};

constexpr uintptr_t kReady = 1;

pollDesc* pdalloc(int fd);
void pdfree(pollDesc* pd);

// The poller of this Run. Every operation returns its result the kernel's
// way (>= 0, or -errno), or kErrClosed/kErrTimeout.
class poller {
 public:
  virtual ~poller() = default;
  virtual const char* name() const = 0;
  virtual bool init() = 0;  // false: fall back (errno says why)
  virtual void fini() = 0;
  virtual runtime::G* poll(int64_t delay) = 0;
  virtual void breakPoll() = 0;
  virtual bool anyWaiters() = 0;
  // parked counts the goroutines parked on an operation now (Stats).
  virtual int64_t parked() const = 0;
  // addCounts adds the counters the poller keeps itself (io_uring: per
  // ring) to those of the shared counters (ReadStats).
  virtual void addCounts(Stats&) const {}
  // flush submits what this thread has queued; called before the thread
  // blocks outside the scheduler (ringo::Blocking).
  virtual void flush() {}
  // kick: sysmon's round; resume: the thread runs goroutines again
  // (runtime/netpoll.h).
  virtual void kick() {}
  virtual void resume() {}

  virtual bool blockingSockets() const = 0;  // io_uring wants them blocking
  virtual int open(pollDesc* pd) = 0;        // returns -errno on failure
  virtual void closing(pollDesc* pd) = 0;    // before close(2): epoll deregisters
  virtual int64_t recv(pollDesc* pd, void* p, size_t n) = 0;
  // recvBuf receives into a buffer of the shared pool: *data and *id tell
  // which (id -1: a heap block, see net::Buffer).
  virtual int64_t recvBuf(pollDesc* pd, char** data, int32_t* id) = 0;
  virtual void releaseBuf(char* data, int32_t id) = 0;
  // send with more: MSG_MORE, TCP holds a last partial segment back for
  // what this side sends next (Conn::WriteMore; WriteLast's FIN).
  virtual int64_t send(pollDesc* pd, const void* p, size_t n, bool more) = 0;
  virtual int64_t accept(pollDesc* pd, sockaddr_storage* sa, socklen_t* salen) = 0;
  virtual int64_t connect(pollDesc* pd, const sockaddr* sa, socklen_t salen) = 0;
  // cancel makes the operations of side s return (pd->lock held).
  virtual void cancel(pollDesc* pd, int s) = 0;
};

poller* newUring();
poller* newEpoll();

// The poller of the current Run (null outside Run).
extern poller* current;

// ---- common code for both pollers (netpoll.cc) ------------------------------

// prepare checks side s of pd before an operation (closed? deadline
// passed?) and counts the caller in; finish counts it out. An operation runs
// between the two. Both take pd->lock. The pollers' operation methods do
// this themselves (epoll around its system calls; io_uring inside the two
// pd->lock sections an operation takes anyway): the net API does not.
// unrefLocked is finish's body with pd->lock held: the closer to ready
// (after unlocking), if this was the last reference it waited for.
int64_t prepare(pollDesc* pd, int s);
void finish(pollDesc* pd);
G* unrefLocked(pollDesc* pd);
// held finishes at the end of its scope, after a prepare that succeeded.
struct held {
  explicit held(pollDesc* p) : pd(p) {}
  ~held() { finish(pd); }
  pollDesc* pd;
  held(const held&) = delete;
  held& operator=(const held&) = delete;
};

// Whether an operation on side s that was cancelled should give up, and
// with which error (0: it was a stale cancel; retry). pd->lock not held.
int64_t cancelled(pollDesc* pd, int s);

// ref and unref hold pd open (not closed, fd not reused) for a call that
// does not wait: shutdown(2), getsockname(2). ref fails once closed.
bool ref(pollDesc* pd);
void unref(pollDesc* pd);

// runGen is the current Run's number: a descriptor from an earlier Run is
// closed as far as this one is concerned.
extern uint64_t runGen;

// unlockPd is gopark's unlock function for a goroutine that parks holding
// pd->lock (the pollDesc is the argument).
bool unlockPd(runtime::G*, void* arg);

// pdclose runs the close protocol and closes the fd. Parks.
void pdclose(pollDesc* pd);
// Goroutines parked in pdclose: they wait on I/O too (a cancelled
// multishot accept must still be reaped), so the pollers count them in
// anyWaiters.
extern std::atomic<int> nclosers;
// pdsetdeadline sets side s's deadline (0: none). From a goroutine.
void pdsetdeadline(pollDesc* pd, int s, int64_t when);

// Buffers for Recv when the kernel does not provide one (epoll, ENOBUFS).
char* heapBufGet();
void heapBufPut(char* p);

// Counters (public: ringo/netpoll.h).
struct counters {
  std::atomic<uint64_t> recv, recvBuf, send, accept, connect, cancel, nop, enters, submits, cqes;
  std::atomic<uint64_t> ringLocksContended, rings;
  std::atomic<uint64_t> waits, polls, blockingPolls, sysmonPolls, recvNoBufs, epollWaits, kicks, lateSubmits, agedSubmits;
};
extern counters stats;
inline void count(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

// The G list the pollers return: linked through schedlink.
struct glist {
  G* head = nullptr;
  G* tail = nullptr;
  // push appends: the goroutines of a poll run in the order their
  // operations completed. (Prepending, as Go's gList does, ran a round's
  // completions last-first: the first to complete waited for all the
  // others. At 256 keep-alive connections wrk's p99 went 7.8 -> 5.4 ms
  // with appending, medians of 4 alternated runs.)
  void push(G* gp);
};

}  // namespace ringo::netpoll
