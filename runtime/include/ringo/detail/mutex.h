// detail/mutex.h — the runtime's futex word, shared with public types that
// embed one (WaitGroup). Not part of the public API.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringo::runtime {

// mutex is Go's runtime lock (lock_futex.go): held for a few instructions,
// never across a park except as gopark's lock. See lock.h.
struct mutex {
  // 0 unlocked, 1 locked, 2 locked with possible sleepers.
  std::atomic<uint32_t> key{0};
};

}  // namespace ringo::runtime
