// internal.h — what the HTTP layer's files share: counters, the connection
// buffer pool, the Date header, and the log writer. Internal.
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "../runtime/race.h"

namespace ringo::http::detail {

// mLocal declares a use of per-thread (per-M) state that goroutines share
// in turn: goroutines on one M never run at once, but under TSan each is
// its own fiber and a switch carries no happens-before, so the hand-over
// is declared on mKey, the thread's own address (acquire on entry, release
// on exit). Construct it before touching the state: a thread_local with a
// dynamic initialiser or a destructor is reached through a guard that its
// first touch writes, and that guard must be inside the hand-over too
// (CI's TSan run saw two fibers race on stats.cc's). Nothing may park
// while one is alive. No cost outside TSan builds.
inline thread_local char mKey;  // constant-initialised: no guard of its own
class mLocal {
 public:
  mLocal() noexcept { runtime::raceacquire(&mKey); }
  ~mLocal() { runtime::racerelease(&mKey); }
  mLocal(const mLocal&) = delete;
  mLocal& operator=(const mLocal&) = delete;
};

// mSlot is the calling thread's T (per-M state, used inside an mLocal),
// made by make() at the thread's first use and handed to drop() when the
// thread exits, after the goroutines that used it there: the hand-back
// takes the last one's hand-over first (raceacquire on mKey). get() reads
// a plain thread_local pointer, which needs no guard (a thread_local
// object with a destructor is reached through __tls_init at every use).
// After the hand-back get() returns null: a destructor that runs later at
// thread exit does without. make() may return null; get() then tries again.
template <class T, T* (*make)(), void (*drop)(T*)>
class mSlot {
 public:
  static T* get() noexcept {
    if (T* p = p_) return p;
    if (gone_) return nullptr;
    static thread_local end e;  // registers the hand-back at thread exit
    (void)e;
    return p_ = make();
  }

 private:
  struct end {
    ~end() {
      runtime::raceacquire(&mKey);
      if (T* p = std::exchange(p_, nullptr)) drop(p);
      gone_ = true;
    }
  };
  static inline thread_local T* p_ = nullptr;  // constant-initialised: no guard
  static inline thread_local bool gone_ = false;
};

// appendInt and appendHex write a number's digits (a Content-Length, a
// chunk size) to out.
template <class Out>  // std::string, or anything with append(const char*, size_t)
inline void appendInt(Out& out, int64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, size_t(r.ptr - b));
}
template <class Out>
inline void appendHex(Out& out, size_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v, 16);
  out.append(b, size_t(r.ptr - b));
}

// isTokenByte: RFC 9110's tchar, the bytes of a method and of a header or
// cookie name. A table: the server checks every response header name.
inline constexpr auto kTokenBytes = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; c++) t[size_t(c)] = true;
  for (char c : std::string_view("()<>@,;:\\\"/[]?={} \t")) t[static_cast<unsigned char>(c)] = false;
  return t;
}();
inline bool isTokenByte(unsigned char c) noexcept { return kTokenBytes[c]; }

// hasToken: the comma-separated list v holds token, in any case ("close"
// in "Keep-Alive, Close"), as Go's hasToken for Connection.
bool hasToken(std::string_view v, std::string_view token) noexcept;

// ---- counters (stats.cc) ---------------------------------------------------
// Sharded by thread: each thread adds to its own shard (one writer, no
// locked instruction), readers sum the shards. A goroutine may start a
// request on one M and end it on another; the sums are still right.
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
  cTLSHandshakeErrors,
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
// dateValue copies the current "Date" value, formatted once a second per
// thread, into out and returns its length. (A copy, made inside the
// thread's mLocal: a view of the per-thread buffer would be read after the
// hand-over, and the next goroutine on the M may rewrite it.)
size_t dateValue(char (&out)[32]);

// ---- logging (log.cc) ----------------------------------------------------------
// writeLine queues one line (with its newline) for stderr without waiting.
void writeLine(std::string line) noexcept;

}  // namespace ringo::http::detail
