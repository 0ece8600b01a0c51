// stack.cc — goroutine stacks carved from arenas (see stack.h).
#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fatal.h"
#include "lock.h"
#include "tls.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
// Under valgrind, a switch to another stack looks like a huge stack-pointer
// jump unless valgrind knows the stacks (Debian's valgrind package has the
// header; without it the calls compile away).
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define RINGO_VALGRIND 1
#endif

// glibc 2.36's headers predate these (Linux 6.13).
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace ringo::runtime {
namespace {

// 16 KiB: below this a handler that formats a string can overflow.
constexpr size_t kMinStackSize = 16 * 1024;
constexpr size_t kMaxStackSize = size_t(1) << 30;
// 256 MiB arenas: about 4,000 arenas for a million 256 KiB stacks, far
// below vm.max_map_count, and little waste for small programs (reserved
// address space only).
constexpr size_t kArenaBytes = size_t(256) << 20;

struct arena {
  char* base;
  size_t size;
};

// All guarded by arenaLock.
mutex arenaLock;
std::vector<arena> arenas;
char* next = nullptr;  // next free slot in the newest arena
char* end = nullptr;
stackGuard guardMode = stackGuard::none;

}  // namespace

std::atomic<bool> stackCanaries{false};

void stacktrim(size_t keep) {
  G* gp = getg();
  if (gp == nullptr || gp->stk.lo == nullptr) return;  // g0: a thread's own stack
  const uintptr_t ps = pageSize();
  char here;
  const uintptr_t sp = reinterpret_cast<uintptr_t>(&here);
  uintptr_t lo = reinterpret_cast<uintptr_t>(gp->stk.lo);
  if (stackCanaries.load(std::memory_order_relaxed)) lo += ps;  // the canary lives in the lowest page
  lo = (lo + ps - 1) & ~(ps - 1);
  if (sp < lo + keep) return;
  const uintptr_t top = (sp - keep) & ~(ps - 1);
  if (top <= lo) return;
  (void)madvise(reinterpret_cast<void*>(lo), top - lo, MADV_DONTNEED);
}

size_t pageSize() {
  static const size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return ps;
}

size_t stackSizeFor(size_t requested) {
  size_t size = requested;
  if (size == 0) {
    if (const char* env = std::getenv("RINGO_STACK_SIZE"); env && *env) {
      char* e = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(env, &e, 10);
      if (errno != 0 || e == env) fatal("RINGO_STACK_SIZE: not a number: \"%s\"", env);
      if (*e == 'k' || *e == 'K') v *= 1024, e++;
      else if (*e == 'm' || *e == 'M') v *= 1024 * 1024, e++;
      if (*e != '\0') fatal("RINGO_STACK_SIZE: bad suffix in \"%s\" (use bytes, K or M)", env);
      size = size_t(v);
    } else {
      size = kDefaultStackSize;
    }
  }
  if (size < kMinStackSize || size > kMaxStackSize)
    fatal("stack size %zu out of range [%zu, %zu]", size, kMinStackSize, kMaxStackSize);
  const size_t ps = pageSize();
  return (size + ps - 1) / ps * ps;
}

stack stackalloc(size_t size) {
  const size_t ps = pageSize();
  const size_t slot = size + ps;  // guard page + stack
  lockGuard g(&arenaLock);
  if (next == nullptr || size_t(end - next) < slot) {
    const size_t bytes = std::max(kArenaBytes / slot, size_t(1)) * slot;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) fatal("stackalloc: mmap of %zu bytes: %s", bytes, std::strerror(errno));
    arenas.push_back({static_cast<char*>(p), bytes});
    next = static_cast<char*>(p);
    end = next + bytes;
  }
  char* base = next;
  next += slot;
  if (guardMode == stackGuard::none) {
    // RINGO_STACKGUARD=canary forces the fallback (to test it, or on a
    // kernel whose guards misbehave).
    const char* env = std::getenv("RINGO_STACKGUARD");
    if (env && std::strcmp(env, "canary") == 0) {
      guardMode = stackGuard::canary;
      stackCanaries.store(true);
    }
  }
  if (guardMode != stackGuard::canary) {
    if (madvise(base, ps, MADV_GUARD_INSTALL) == 0) {
      guardMode = stackGuard::kernel;
    } else if (errno == EINVAL && guardMode == stackGuard::none) {
      guardMode = stackGuard::canary;  // an older kernel: check canaries instead
      stackCanaries.store(true);
    } else {
      fatal("stackalloc: madvise(MADV_GUARD_INSTALL): %s", std::strerror(errno));
    }
  }
  stack s;
  s.mapping = base;
  s.mappingSize = slot;
  s.lo = base + ps;
  s.hi = base + slot;
  if (guardMode == stackGuard::canary) *reinterpret_cast<uint64_t*>(s.lo) = kStackCanary;
#ifdef RINGO_VALGRIND
  s.valgrindId = VALGRIND_STACK_REGISTER(s.lo, s.hi);
#endif
  return s;
}

void stackforget(stack& s) {
#ifdef RINGO_VALGRIND
  if (s.valgrindId != 0) VALGRIND_STACK_DEREGISTER(s.valgrindId);
#endif
  s = stack{};
}

void stackfreeall() {
  lockGuard g(&arenaLock);
  for (const arena& a : arenas) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(a.base, a.size);
#endif
    munmap(a.base, a.size);
  }
  arenas.clear();
  next = end = nullptr;
}

stackGuard stackGuardMode() {
  lockGuard g(&arenaLock);
  return guardMode;
}

void stackcheck(G* gp) {
  if (*reinterpret_cast<const uint64_t*>(gp->stk.lo) != kStackCanary)
    fatal("stack overflow in goroutine %llu (canary overwritten)", (unsigned long long)gp->goid);
}

}  // namespace ringo::runtime
