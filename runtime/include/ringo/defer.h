// defer.h — Go's defer for C++ scopes.
//
//   auto unlock = ringo::Defer([&] { mu.unlock(); });
//   RINGO_DEFER(std::puts("leaving"));
//
// The deferred call runs when the scope ends: a normal return, an exception,
// or ringo::Goexit. Guards in one scope run in reverse order of creation
// (last deferred, first run), as Go's deferred calls do.
#pragma once

#include <type_traits>
#include <utility>

namespace ringo {

// DeferGuard runs its function once, from its destructor. It cannot be copied
// or moved: Defer returns it by guaranteed copy elision.
//
// The function runs in a destructor, so it must not throw and must not call
// Goexit (both stop the program, see goexit.h).
template <class F>
class [[nodiscard]] DeferGuard {
 public:
  explicit DeferGuard(F fn) : fn_(std::move(fn)) {}
  ~DeferGuard() { fn_(); }
  DeferGuard(const DeferGuard&) = delete;
  DeferGuard& operator=(const DeferGuard&) = delete;

 private:
  F fn_;
};

// Defer returns a guard that calls fn when it goes out of scope. Keep the
// result in a named variable; a discarded guard would run at once.
template <class F>
DeferGuard<std::decay_t<F>> Defer(F&& fn) {
  return DeferGuard<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace ringo

#define RINGO_DEFER_CAT2(a, b) a##b
#define RINGO_DEFER_CAT(a, b) RINGO_DEFER_CAT2(a, b)

// RINGO_DEFER(statements) defers the statements to the end of the enclosing
// scope, capturing everything by reference: `RINGO_DEFER(fclose(f));`.
#define RINGO_DEFER(...) \
  auto RINGO_DEFER_CAT(ringo_defer_, __COUNTER__) = ::ringo::Defer([&]() { __VA_ARGS__; })
