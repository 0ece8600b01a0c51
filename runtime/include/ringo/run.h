// run.h — starting and ending the runtime.
//
//   int main() {
//     return ringo::Run([] {
//       ringo::Go([] { std::puts("1"); });
//       ringo::Sleep(std::chrono::milliseconds(10));
//       return 0;
//     });
//   }
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "ringo/detail/newproc.h"

namespace ringo {

struct Options {
  // Number of Ps: goroutines running at once on separate threads. 0 means
  // RINGO_MAXPROCS from the environment, else the CPUs this process may use
  // (its affinity mask, capped by a cgroup v2 cpu.max quota).
  int maxprocs = 0;

  // Size of every goroutine's stack in bytes (reserved, not committed: only
  // the pages a goroutine touches use memory). 0 means RINGO_STACK_SIZE from
  // the environment, else 256 KiB. Rounded up to the page size.
  size_t stack_size = 0;
};

namespace runtime {
// runMain is Run: schedinit, newproc of the main goroutine, the scheduler
// loop on the calling thread, then teardown.
int runMain(entryFn entry, void* arg, const Options& opts);
}

// Run starts the scheduler on the calling thread and runs main_fn as the main
// goroutine. It returns when main_fn returns, with main_fn's result if it
// returns an int (0 otherwise).
//
// As in Go, Run does not wait for other goroutines: the ones still alive when
// main_fn returns are dropped without unwinding (their destructors and
// deferred calls do not run, as after os.Exit; anything they own on the heap
// is leaked) and counted in RuntimeStats::dropped. The scheduler is then torn
// down, so Run may be called again in the same process, but not from inside
// a goroutine. An exception escaping main_fn is a panic (see goexit.h).
template <class F>
int Run(F&& main_fn, const Options& opts = {}) {
  int result = 0;
  auto body = [&]() {
    if constexpr (std::is_convertible_v<std::invoke_result_t<F&>, int>) {
      result = main_fn();
    } else {
      main_fn();
    }
  };
  using B = decltype(body);
  runtime::runMain([](void* p) { (*static_cast<B*>(p))(); }, &body, opts);
  return result;
}

}  // namespace ringo
