// stack.cc — goroutine stacks (see stack.h).
#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fatal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace ringo::runtime {
namespace {

size_t pageSize() {
  static const size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return ps;
}

// 16 KiB: below this a handler that formats a string can overflow.
constexpr size_t kMinStackSize = 16 * 1024;
constexpr size_t kMaxStackSize = size_t(1) << 30;

}  // namespace

size_t stackSizeFor(size_t requested) {
  size_t size = requested;
  if (size == 0) {
    if (const char* env = std::getenv("RINGO_STACK_SIZE"); env && *env) {
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(env, &end, 10);
      if (errno != 0 || end == env) fatal("RINGO_STACK_SIZE: not a number: \"%s\"", env);
      if (*end == 'k' || *end == 'K') v *= 1024, end++;
      else if (*end == 'm' || *end == 'M') v *= 1024 * 1024, end++;
      if (*end != '\0') fatal("RINGO_STACK_SIZE: bad suffix in \"%s\" (use bytes, K or M)", env);
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
  const size_t total = size + ps;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) fatal("stackalloc: mmap of %zu bytes: %s", total, std::strerror(errno));
  if (mprotect(p, ps, PROT_NONE) != 0) fatal("stackalloc: guard page: %s", std::strerror(errno));
  stack s;
  s.mapping = static_cast<char*>(p);
  s.mappingSize = total;
  s.lo = s.mapping + ps;
  s.hi = s.mapping + total;
  return s;
}

void stackfree(stack& s) {
  if (s.mapping == nullptr) return;
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(s.lo, size_t(s.hi - s.lo));
#endif
  munmap(s.mapping, s.mappingSize);
  s = stack{};
}

}  // namespace ringo::runtime
