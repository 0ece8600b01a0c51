// waitgroup.h — waiting for a collection of goroutines: Go's sync.WaitGroup.
//
//   ringo::WaitGroup wg;
//   for (int i = 0; i < n; i++) {
//     wg.Add(1);
//     ringo::Go([&wg, i] { work(i); wg.Done(); });
//   }
//   wg.Wait();
#pragma once

#include <atomic>
#include <cstdint>

#include "ringo/detail/mutex.h"

namespace ringo {
namespace runtime {
struct G;
}

// A WaitGroup counts outstanding work. Add before starting the work, Done when
// it finishes, Wait to park until the count is zero. It must not be copied or
// moved once in use, and must outlive every goroutine that uses it.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Add adds delta (which may be negative) to the counter. When it reaches
  // zero, every waiter is made runnable. A counter below zero is a misuse and
  // throws std::logic_error ("sync: negative WaitGroup counter"), which
  // stops the program as a Go panic does unless the caller catches it; so
  // does a delta outside the int32 range (the counter is 32 bits, as Go's).
  // As in Go, an Add that races with the Done taking the counter to zero
  // while goroutines wait is a fatal error.
  void Add(int64_t delta);

  // Done is Add(-1).
  void Done() { Add(-1); }

  // Wait parks the calling goroutine until the counter is zero; it returns
  // at once if it already is.
  void Wait();

 private:
  std::atomic<uint64_t> state_{0};  // counter << 32 | waiters (waitgroup.cc)
  runtime::mutex lock_;             // guards the rest: Wait's slow path only
  runtime::G* head_ = nullptr;      // parked waiters, through G.schedlink
  runtime::G* tail_ = nullptr;
  uint32_t pending_ = 0;            // wake-ups for waiters not queued yet
};

}  // namespace ringo
