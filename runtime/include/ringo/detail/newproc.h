// detail/newproc.h — what the Go and Run templates need from the runtime.
// Not part of the public API; include <ringo/go.h> or <ringo/run.h>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace ringo::runtime {

struct G;
using entryFn = void (*)(void*);

// Closures up to this size live at the top of the new goroutine's stack, as
// Go copies a go statement's arguments into the new frame; larger ones go to
// the heap. 1024: picked, a few cache lines of captures is plenty.
inline constexpr size_t kMaxInlineClosure = 1024;

// newproc1 takes a dead G (gfget) or allocates one (malg) and reserves
// `size` bytes, 16-byte aligned, at the top of its stack for the closure.
G* newproc1(size_t size, void** storage);
// newprocStart makes gp runnable with entry(arg) as its function and puts it
// in runnext. abandonproc gives gp back if the closure could not be built.
void newprocStart(G* gp, entryFn entry, void* arg);
void abandonproc(G* gp) noexcept;

template <class C>
void invokeClosure(void* p) {
  C* c = static_cast<C*>(p);
  if constexpr (std::is_trivially_destructible_v<C>) {
    // Nothing to destroy, and no landing pad for Goexit's unwind to stop at.
    (*c)();
  } else {
    // Destroys the closure on return, exception and Goexit alike.
    struct destroy {
      C* c;
      ~destroy() { c->~C(); }
    } d{c};
    (*c)();
  }
}

template <class C>
void spawn(C&& closure) {
  using D = std::decay_t<C>;
  if constexpr (sizeof(D) > kMaxInlineClosure || alignof(D) > 16) {
    spawn([p = std::make_unique<D>(std::forward<C>(closure))]() { (*p)(); });
  } else {
    void* storage = nullptr;
    G* gp = newproc1(sizeof(D), &storage);
    try {
      ::new (storage) D(std::forward<C>(closure));
    } catch (...) {
      abandonproc(gp);
      throw;
    }
    newprocStart(gp, &invokeClosure<D>, storage);
  }
}

}  // namespace ringo::runtime
