// netpoll.h — which poller ringo uses, and what it has done.
//
//   auto s = ringo::netpoll::ReadStats();
//   std::printf("%s: %llu enters for %llu operations\n", s.backend,
//               (unsigned long long)s.enters, (unsigned long long)s.sqes());
//
// ringo waits for the network through io_uring, or through epoll where
// io_uring cannot be set up (no kernel support, a seccomp filter that
// refuses io_uring_setup as Docker's default profile does,
// kernel.io_uring_disabled). RINGO_POLLER=uring or RINGO_POLLER=epoll
// chooses; the choice is logged once on stderr at the first Run. The probe
// is real: it sets a ring up and submits a NOP.
#pragma once

#include <cstdint>

namespace ringo::netpoll {

// Counters since the process started, for benchmarks, tests and /metrics.
// Read them from anywhere; each is exact, the set is not one snapshot.
struct Stats {
  const char* backend = "";  // "io_uring", "epoll", or "" before the first Run

  // io_uring: submission queue entries by operation
  uint64_t recv = 0;       // Read
  uint64_t recvBuf = 0;    // Recv (a provided buffer)
  uint64_t send = 0;       // Write
  uint64_t accept = 0;     // multishot accepts armed
  uint64_t connect = 0;
  uint64_t cancel = 0;     // deadlines and Close
  uint64_t nop = 0;        // poll breaks (an eventfd write, not an SQE)
  uint64_t enters = 0;     // io_uring_enter calls (submitting or waiting)
  uint64_t submits = 0;    // ... of which submitted at least one entry
  uint64_t lateSubmits = 0; // batches submitted at once after a goroutine ran long (netpoll_uring.cc, "Batching")
  uint64_t agedSubmits = 0; // batches submitted when their oldest operation had waited 20 us (more than one P; "Batching")
  uint64_t cqes = 0;       // completions reaped
  uint64_t rings = 0;      // io_uring instances of the current (or last) Run: one per M that did I/O
  uint64_t ringLocksContended = 0;  // ring SQ/CQ lock acquisitions that found it held by another thread

  // both backends
  uint64_t waits = 0;        // operations that parked their goroutine
  uint64_t polls = 0;        // non-blocking polls that found work
  uint64_t blockingPolls = 0;
  uint64_t sysmonPolls = 0;  // polls by sysmon, when no M had polled for 10 ms
  uint64_t kicks = 0;        // SIGURGs sysmon sent a busy ring owner to run its completion work (io_uring)
  uint64_t recvNoBufs = 0;   // Recv that found the shared buffers used up
  uint64_t epollWaits = 0;   // epoll_wait calls
  int64_t parked = 0;        // goroutines parked on an operation now (in-flight I/O)

  uint64_t sqes() const { return recv + recvBuf + send + accept + connect + cancel; }
};

Stats ReadStats();

}  // namespace ringo::netpoll
