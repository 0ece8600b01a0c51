// chan.h — channels and select: Go's chan and select statement.
//
//   ringo::Chan<int> ch;          // unbuffered: make(chan int)
//   ringo::Chan<std::string> q(64);  // buffered: make(chan string, 64)
//   ringo::Go([ch]() mutable { ch.Send(42); ch.Close(); });
//   auto [v, ok] = ch.Recv();     // v, ok := <-ch
//   for (auto& v : q) use(v);     // for v := range q
//
//   ringo::Select(                // select {
//       ringo::Recv(in, [&](int v, bool ok) { ... }),   // case v, ok := <-in:
//       ringo::Send(out, x, [&] { ... }),               // case out <- x:
//       ringo::Default([&] { ... }));                   // default:
//
// A Chan is a handle, as in Go: copies refer to the same channel, which
// lives until the last handle goes. Chan<T>(nullptr) is a nil channel: Send
// and Recv on it block forever, and in a Select its cases are never ready.
//
// Semantics are Go's. Sending on a closed channel, closing a closed or nil
// channel throw ChanClosedError ("send on closed channel", "close of closed
// channel", "close of nil channel"): uncaught, it stops the program as a Go
// panic does. A receive on a closed channel first drains the buffer, then
// returns at once with ok == false. Waiting senders and receivers are served
// first come, first served; a value handed to a parked receiver is moved
// straight into the receiver's storage (once), never through the buffer.
//
// T must be nothrow move constructible and destructible (values move under
// the channel's lock); Recv and range loops need T default constructible
// for the value a closed channel yields.
//
// Cost: one allocation per channel (the buffer included); no allocation per
// operation. Send, Recv and Select park the calling goroutine; TrySend,
// TryRecv and Select with a Default never do. TrySend and Close may be called
// from a thread ringo did not start (see foreign.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ringo/detail/chan.h"

namespace ringo {

// ChanClosedError is what Go reports as a panic: a send on a closed channel,
// or closing one twice (or a nil one).
class ChanClosedError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <class T>
class Chan;

namespace runtime {
template <class T>
hchan* chanOf(const Chan<T>& ch) noexcept;
}

template <class T>
class Chan {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "ringo::Chan<T>: T must be nothrow move constructible and destructible");

 public:
  using value_type = T;

  // Chan() is an unbuffered channel; Chan(n) has room for n values (n == 0:
  // unbuffered). A negative n throws std::invalid_argument.
  Chan() : c_(runtime::makechan(&runtime::elemTypeOf<T>, 0)) {}
  template <class I>
    requires std::is_integral_v<I>
  explicit Chan(I cap) : c_(runtime::makechan(&runtime::elemTypeOf<T>, checkedCap(cap))) {}
  // Chan(nullptr) is a nil channel.
  Chan(std::nullptr_t) noexcept : c_(nullptr) {}

  Chan(const Chan& o) noexcept : c_(o.c_) {
    if (c_) runtime::chanAcquire(c_);
  }
  Chan(Chan&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Chan& operator=(Chan o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~Chan() {
    if (c_) runtime::chanRelease(c_);
  }

  // Send parks until a receiver takes v (unbuffered) or there is room.
  void Send(T&& v) const { runtime::chansend(c_, &v, true); }
  void Send(const T& v) const {
    T copy(v);
    runtime::chansend(c_, &copy, true);
  }

  // TrySend sends only if it can at once; returns whether it did. When it
  // returns false, v is untouched (not moved from).
  bool TrySend(T&& v) const { return runtime::chansend(c_, &v, false); }
  bool TrySend(const T& v) const {
    T copy(v);
    return runtime::chansend(c_, &copy, false);
  }

  // Recv parks until a value arrives, and returns it with true; or, once
  // the channel is closed and drained, T{} with false.
  std::pair<T, bool> Recv() const {
    slot s;
    if (!runtime::chanrecv(c_, s.ptr(), true).received) return {T{}, false};
    return {s.take(), true};
  }

  // TryRecv receives only if it can at once: nullopt if it would block,
  // else what Recv would return.
  std::optional<std::pair<T, bool>> TryRecv() const {
    slot s;
    auto r = runtime::chanrecv(c_, s.ptr(), false);
    if (!r.selected) return std::nullopt;
    if (!r.received) return std::pair<T, bool>{T{}, false};
    return std::pair<T, bool>{s.take(), true};
  }

  // Close closes the channel: receivers drain the buffer then see ok ==
  // false; parked senders throw ChanClosedError.
  void Close() const { runtime::closechan(c_); }

  // Len is the number of buffered values; Cap the buffer's size.
  int Len() const noexcept { return runtime::chanlen(c_); }
  int Cap() const noexcept { return runtime::chancap(c_); }

  bool operator==(const Chan& o) const noexcept { return c_ == o.c_; }
  explicit operator bool() const noexcept { return c_ != nullptr; }  // not nil

  // Iteration receives until the channel is closed and drained:
  //   for (auto& v : ch) ...      (Go's for v := range ch)
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(const Chan* ch) : ch_(ch) { ++*this; }
    T& operator*() noexcept { return *v_; }
    iterator& operator++() {
      auto [v, ok] = ch_->Recv();
      if (ok)
        v_.emplace(std::move(v));
      else
        v_.reset();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const noexcept { return !v_.has_value(); }

   private:
    const Chan* ch_ = nullptr;
    std::optional<T> v_;
  };
  iterator begin() const { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend runtime::hchan* runtime::chanOf<T>(const Chan<T>&) noexcept;

  // slot is storage a receive constructs into.
  struct slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    void* ptr() noexcept { return bytes; }
    T take() noexcept {
      T* p = std::launder(reinterpret_cast<T*>(bytes));
      T v(std::move(*p));
      p->~T();
      return v;
    }
  };

  template <class I>
  static int64_t checkedCap(I cap) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(int64_t)) {
      if (cap > uint64_t(INT64_MAX)) throw std::invalid_argument("makechan: size out of range");
    }
    return int64_t(cap);
  }

  runtime::hchan* c_;
};

namespace runtime {

template <class T>
hchan* chanOf(const Chan<T>& ch) noexcept {
  return ch.c_;
}

struct noop {
  void operator()() const noexcept {}
};

// The case objects of Select. They refer to the channel they were made
// from, so make them inside the Select call, as the examples do.
template <class T, class F>
struct recvCase {
  hchan* c;
  F fn;
  alignas(T) unsigned char bytes[sizeof(T)];

  scase make() { return {c, bytes, false}; }
  void fire(bool ok) {
    if (!ok) {
      call(T{}, false);
      return;
    }
    T* p = std::launder(reinterpret_cast<T*>(bytes));
    struct destroy {
      T* p;
      ~destroy() { p->~T(); }
    } d{p};
    call(std::move(*p), true);
  }
  void call(T&& v, bool ok) {
    if constexpr (std::is_invocable_v<F&, T&&, bool>)
      std::invoke(fn, std::move(v), ok);
    else if constexpr (std::is_invocable_v<F&, T&&>)
      std::invoke(fn, std::move(v));
    else
      std::invoke(fn);
  }
};

template <class T, class F>
struct sendCase {
  hchan* c;
  T v;
  F fn;
  scase make() { return {c, &v, true}; }
  void fire(bool) { std::invoke(fn); }
};

template <class F>
struct defaultCase {
  F fn;
  void fire(bool) { std::invoke(fn); }
};

template <class C>
inline constexpr bool isDefaultCase = false;
template <class F>
inline constexpr bool isDefaultCase<defaultCase<F>> = true;

}  // namespace runtime

// Recv is a receive case: fn(v, ok), fn(v) or fn() runs if it is chosen.
template <class T, class F = runtime::noop>
auto Recv(const Chan<T>& ch, F fn = {}) {
  static_assert(std::is_invocable_v<F&, T&&, bool> || std::is_invocable_v<F&, T&&> ||
                    std::is_invocable_v<F&>,
                "ringo::Recv: fn must take (T, bool), (T) or ()");
  return runtime::recvCase<T, F>{runtime::chanOf(ch), std::move(fn), {}};
}

// Send is a send case of v: fn() runs if it is chosen. v is moved (or
// copied) into the case, whether or not it is chosen.
template <class T, class U, class F = runtime::noop>
auto Send(const Chan<T>& ch, U&& v, F fn = {}) {
  return runtime::sendCase<T, F>{runtime::chanOf(ch), T(std::forward<U>(v)), std::move(fn)};
}

// Default is the case taken when no other is ready: Select does not park.
template <class F = runtime::noop>
auto Default(F fn = {}) {
  return runtime::defaultCase<F>{std::move(fn)};
}

// Select waits until one of its cases can proceed, runs it, and returns its
// position among the arguments. When several are ready it chooses one
// uniformly at random, as Go does; with a Default it never parks; with no
// cases at all it parks forever (Go's `select {}`).
template <class... Cases>
int Select(Cases&&... cases) {
  constexpr int nDefault = (0 + ... + int(runtime::isDefaultCase<std::remove_cvref_t<Cases>>));
  static_assert(nDefault <= 1, "ringo::Select: at most one Default");
  constexpr int n = int(sizeof...(Cases)) - nDefault;
  runtime::scase sc[n > 0 ? n : 1];
  int argIndex[n > 0 ? n : 1];
  int defaultIndex = -1;
  int k = 0, i = 0;
  auto collect = [&](auto& c) {
    if constexpr (runtime::isDefaultCase<std::remove_cvref_t<decltype(c)>>) {
      defaultIndex = i;
    } else {
      sc[k] = c.make();
      argIndex[k++] = i;
    }
    i++;
  };
  (collect(cases), ...);
  (void)collect;  // Select() has no cases
  bool recvOK = false;
  const int chosen = runtime::selectgo(sc, n, nDefault == 0, &recvOK);
  const int arg = chosen < 0 ? defaultIndex : argIndex[chosen];
  i = 0;
  auto fire = [&](auto& c) {
    if (i++ == arg) c.fire(recvOK);
  };
  (fire(cases), ...);
  (void)fire;
  return arg;
}

}  // namespace ringo
