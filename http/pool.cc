// pool.cc — the connection buffer pool: response and body buffers go back
// here when a connection goes idle, so an idle connection holds none.

#include <new>
#include <utility>
#include <vector>

#include "../runtime/lock.h"
#include "internal.h"

namespace ringo::http::detail {

namespace {

// 32 per thread, 4096 overall: picked. A thread moves them to and from the
// global list 16 at a time (as gfput/gfget move dead Gs), so a burst of
// connections that each hold a buffer across a parked send (256 of them
// at once under wrk) costs a lock per 16 buffers, not per buffer; the
// global list bounds what an idle server keeps (16 MiB).
constexpr size_t kLocalCache = 32;
constexpr size_t kBatch = 16;
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
};

// A thread's pool, made at its first use and freed when the thread exits
// (mSlot). A bufget or bufput from a destructor that runs after that finds
// it gone and does without.
localPool* newLocal() { return new (std::nothrow) localPool; }
void freeLocal(localPool* p) { delete p; }
localPool* mine() noexcept { return mSlot<localPool, newLocal, freeLocal>::get(); }

}  // namespace

std::string bufget() {
  count(cBufInUse);
  mLocal m;
  if (localPool* lp = mine()) {
    localPool& local = *lp;
    if (local.n == 0) {
      auto& g = global();
      runtime::lockGuard lg(&g.lock);
      while (local.n < kBatch && !g.free.empty()) {
        local.s[local.n++] = std::move(g.free.back());
        g.free.pop_back();
      }
    }
    if (local.n > 0) {
      count(cBufReused);
      return std::move(local.s[--local.n]);
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
  mLocal m;
  localPool* lp = mine();
  if (lp == nullptr) return;  // freed here
  localPool& local = *lp;
  if (local.n == kLocalCache) {
    auto& g = global();
    runtime::lockGuard lg(&g.lock);
    while (local.n > kLocalCache - kBatch) {
      std::string& b = local.s[--local.n];
      if (g.free.size() < kGlobalCache) g.free.push_back(std::move(b));
      else std::string().swap(b);  // over the bound: freed
    }
  }
  local.s[local.n++] = std::move(s);
}

}  // namespace ringo::http::detail
