// internal.h — what the HTTP layer's files share: counters, the connection
// buffer pool, the Date header, and the log writer. Internal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringo::http::detail {

// ---- counters (stats.cc) ---------------------------------------------------
// Sharded by thread: each M adds to its own cache line (relaxed), readers
// sum the shards. A goroutine may start a request on one M and end it on
// another; the sums are still right.
enum counter : int {
  cRequests,
  cInFlight,
  cAborted,
  cFailed,
  cRejected,
  cConnsTotal,
  cConnsOpen,
  cBufInUse,
  cBufReused,
  cBufAllocated,
  cLogDropped,
  kCounters
};
void count(counter c, int64_t delta = 1) noexcept;
int64_t sum(counter c) noexcept;

// ---- buffers (pool.cc) -------------------------------------------------------
// bufget returns an empty string with at least kBufCap bytes reserved;
// bufput takes one back (its bytes are reused, not freed). A per-thread
// cache in front of a global free list keeps the lock off the fast path.
inline constexpr size_t kBufCap = 4096;
std::string bufget();
void bufput(std::string s) noexcept;

// ---- Date (server.cc) --------------------------------------------------------
// date returns the current "Date" value, formatted once a second per thread.
std::string_view date() noexcept;

// ---- logging (log.cc) ----------------------------------------------------------
// writeLine queues one line (with its newline) for stderr without waiting.
void writeLine(std::string line) noexcept;

}  // namespace ringo::http::detail
