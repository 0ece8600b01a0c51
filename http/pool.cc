// pool.cc — the connection buffer pool: response and body buffers go back
// here when a connection goes idle, so an idle connection holds none.

#include <vector>

#include "../runtime/lock.h"
#include "internal.h"

namespace ringo::http::detail {

namespace {

// 8 per thread, 4096 overall: picked; a thread serving a burst keeps a few
// at hand, and the global list bounds what an idle server keeps (16 MiB).
constexpr size_t kLocalCache = 8;
constexpr size_t kGlobalCache = 4096;

struct globalPool {
  runtime::mutex lock;
  std::vector<std::string> free;
};
globalPool& global() {
  static globalPool* g = new globalPool;  // never destroyed: threads may outlive statics
  return *g;
}

struct localPool {
  std::string s[kLocalCache];
  size_t n = 0;
  // Destroyed when the M's thread exits: after the goroutines that used it
  // (the last bufput released it; see mLocal).
  ~localPool() { runtime::raceacquire(&mKey); }
};
thread_local localPool local;

}  // namespace

std::string bufget() {
  count(cBufInUse);
  {
    mLocal g;
    if (local.n > 0) {
      count(cBufReused);
      return std::move(local.s[--local.n]);
    }
  }
  {
    auto& g = global();
    runtime::lockGuard lg(&g.lock);
    if (!g.free.empty()) {
      std::string s = std::move(g.free.back());
      g.free.pop_back();
      count(cBufReused);
      return s;
    }
  }
  count(cBufAllocated);
  std::string s;
  s.reserve(kBufCap);
  return s;
}

void bufput(std::string s) noexcept {
  count(cBufInUse, -1);
  if (s.capacity() < kBufCap || s.capacity() > 16 * kBufCap) return;  // grown big: let it go
  s.clear();
  {
    mLocal g;
    if (local.n < kLocalCache) {
      local.s[local.n++] = std::move(s);
      return;
    }
  }
  auto& g = global();
  runtime::lockGuard lg(&g.lock);
  if (g.free.size() < kGlobalCache) g.free.push_back(std::move(s));
}

}  // namespace ringo::http::detail
