// context.h — cancellation and deadlines across goroutines: Go's
// context.Context.
//
//   auto [ctx, cancel] = ringo::WithTimeout(ringo::Background(), std::chrono::seconds(2));
//   ringo::Go([ctx] { worker(ctx); });
//   ...
//   cancel();                      // always call it: it frees the timer and the link to the parent
//
//   void worker(const ringo::Context& ctx) {
//     ringo::Select(ringo::Recv(ctx.Done()),                 // cancelled or timed out
//                   ringo::Recv(jobs, [&](Job j) { ... }));
//     if (ctx.Err() == ringo::ContextError::DeadlineExceeded) ...
//   }
//
// A Context is an immutable handle; copies share the same state. Cancelling
// a context closes its Done channel (every goroutine waiting on it wakes)
// and cancels its children; a child never cancels its parent. The HTTP
// server hands one to every request, cancelled when the client goes away.
// Cancel functions may be called from any goroutine, any number of times,
// and from a thread ringo did not start.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

#include "ringo/chan.h"
#include "ringo/time.h"

namespace ringo {

// ContextError is why a context was cancelled: Go's context.Canceled and
// context.DeadlineExceeded. It is a std::error_code enum: ctx.Err() ==
// ContextError::Canceled, and ctx.Err().message() is Go's text.
enum class ContextError { Canceled = 1, DeadlineExceeded = 2 };
const std::error_category& context_category() noexcept;
inline std::error_code make_error_code(ContextError e) noexcept {
  return {int(e), context_category()};
}

namespace runtime {
struct ctxNode;
}

class Context {
 public:
  // Done is closed when the context is cancelled; it is a nil channel
  // (never ready) for Background, which is never cancelled.
  Chan<std::monostate> Done() const;
  // Err is empty until Done is closed, then why.
  std::error_code Err() const;
  // Deadline is when the context will be cancelled by itself, if ever.
  std::optional<Time> Deadline() const;

 private:
  friend Context Background();
  friend std::pair<Context, std::function<void()>> WithDeadline(const Context&, Time);
  friend std::pair<Context, std::function<void()>> WithCancel(const Context&);
  explicit Context(std::shared_ptr<runtime::ctxNode> n) noexcept : n_(std::move(n)) {}
  std::shared_ptr<runtime::ctxNode> n_;
};

using CancelFunc = std::function<void()>;

// Background is the root: never cancelled, no deadline. (Go's TODO is the
// same thing.)
Context Background();

// WithCancel returns a child of parent and the function that cancels it.
std::pair<Context, CancelFunc> WithCancel(const Context& parent);

// WithDeadline is WithCancel that also cancels itself at d (with
// DeadlineExceeded), or at once if d has passed. A parent with an earlier
// deadline wins. Must be called on a goroutine (it starts a timer).
std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Time d);

// WithTimeout is WithDeadline(parent, now + timeout).
std::pair<Context, CancelFunc> WithTimeout(const Context& parent, std::chrono::nanoseconds timeout);

}  // namespace ringo

template <>
struct std::is_error_code_enum<ringo::ContextError> : std::true_type {};
