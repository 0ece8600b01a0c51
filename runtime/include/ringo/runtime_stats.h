// runtime_stats.h — counters a test or a dashboard reads.
//
//   auto s = ringo::ReadRuntimeStats();
//   std::printf("%llu G objects\n", (unsigned long long)s.gs_allocated);
#pragma once

#include <cstdint>
#include <vector>

namespace ringo {

struct RuntimeStats {
  // G objects (each with its stack) allocated by the current or last Run.
  // Dead goroutines are recycled, so this stays near the peak number of
  // goroutines alive at once, not the number ever started.
  uint64_t gs_allocated = 0;
  // Goroutines started by the current or last Run, main included.
  uint64_t goroutines_started = 0;
  // Goroutines still alive when the last Run's main goroutine returned:
  // dropped without unwinding.
  uint64_t dropped = 0;
  // Ms (OS threads) the current or last Run started, m0 included.
  uint64_t ms = 0;
  // How often an M started spinning (looking for work to steal), and the
  // most Ms seen spinning at once: at most half the busy Ps.
  uint64_t spinning_transitions = 0;
  uint64_t max_spinning = 0;
  // Successful steals from another P's run queue.
  uint64_t steals = 0;
  // Spins (RINGO_POLLSPIN) started, and those whose non-blocking polls
  // found finished I/O before the M gave its P up.
  uint64_t pollspins = 0;
  uint64_t pollspin_hits = 0;

  // Goexits of the current Run whose unwind ringo's own unwinder finished,
  // and those libgcc's forced unwind finished (a frame ringo's does not
  // decode, RINGO_GOEXIT_UNWIND=libgcc, or a sanitizer build). Read from a
  // goroutine only, zero otherwise.
  uint64_t goexits_fast = 0;
  uint64_t goexits_libgcc = 0;

  // The scheduler now (read from a goroutine only; zero and empty
  // otherwise): Gs waiting on the global run queue, on each P's local
  // queue (runq[i] is P i's, runnext included), Ps idle and Ms spinning.
  // Lock-free reads of moving queues: each number was true at some instant
  // of the call, not all at the same one.
  int64_t runq_global = 0;
  std::vector<uint32_t> runq;
  int32_t idle_ps = 0;
  int32_t spinning_ms = 0;
};

// ReadRuntimeStats returns a snapshot; it may be called from any thread, in or
// out of Run (the scheduler's queues only from a goroutine: elsewhere Run
// may be tearing them down).
RuntimeStats ReadRuntimeStats();

}  // namespace ringo
