// context.cc — Context: a tree of cancellable nodes.
//
// Each cancellable node has a Done channel, an error, and the children that
// must be cancelled with it; the parent holds its children (as Go's
// cancelCtx does) until they are cancelled, which is why cancel must always
// be called (see ctxNode for who owns what). A node's std::mutex guards err and children and is never held
// across a park: cancel only closes a channel, which readies waiters and
// never blocks, so cancel works from a timer, a foreign thread, anywhere.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringo/context.h"

namespace ringo {

namespace {

class contextCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "context"; }
  std::string message(int ev) const override {
    switch (ContextError(ev)) {
      case ContextError::Canceled: return "context canceled";
      case ContextError::DeadlineExceeded: return "context deadline exceeded";
    }
    return "unknown context error";
  }
};

}  // namespace

const std::error_category& context_category() noexcept {
  static const contextCategory c;
  return c;
}

namespace runtime {

struct ctxNode : std::enable_shared_from_this<ctxNode> {
  // Ownership, as Go's garbage collector sees it, without the cycle that
  // reference counting cannot free: a parent holds its children (until
  // they are cancelled: a child whose cancel is never called lives as long
  // as its parent, Go's documented leak), a deadline's timer holds its
  // node until it fires or is stopped, and a child points to its parent
  // without holding it. So a subtree nobody holds, cancelled or not, is
  // freed; a child held only through its Done channel is still cancelled
  // with its parent; and a parent whose handles are gone still cancels the
  // children someone holds at its deadline.
  std::weak_ptr<ctxNode> parent;  // empty for Background
  bool cancellable = false;
  Chan<std::monostate> done{nullptr};
  std::optional<Time> deadline;

  std::mutex mu;
  std::error_code err;  // mu
  std::unordered_map<ctxNode*, std::shared_ptr<ctxNode>> children;  // mu
  std::optional<Timer> timer;  // mu; the deadline's

  // cancel closes done and cancels the children; the first call wins.
  // As in Go, all of it happens under mu, so an Err that says cancelled
  // means Done is closed and every descendant is cancelled too.
  void cancel(std::error_code why, bool removeFromParent) {
    // Released after mu: a last reference runs ~ctxNode, which frees
    // grandchildren and a Timer.
    std::unordered_map<ctxNode*, std::shared_ptr<ctxNode>> kids;
    std::optional<Timer> t;
    {
      std::lock_guard g(mu);
      if (err) return;
      err = why;
      done.Close();
      kids.swap(children);
      for (auto& [raw, kid] : kids) kid->cancel(why, false);  // lock order: parent, then child
      t.swap(timer);
    }
    if (t) t->Stop();
    if (removeFromParent) detach();
  }

  // ancestor is the nearest cancellable ancestor, if it still exists.
  std::shared_ptr<ctxNode> ancestor() const {
    auto p = parent.lock();
    while (p && !p->cancellable) p = p->parent.lock();
    return p;
  }

  // detach removes this node from its nearest cancellable ancestor.
  void detach() {
    auto p = ancestor();
    if (!p) return;
    std::shared_ptr<ctxNode> self;  // dropped after the lock
    std::lock_guard g(p->mu);
    if (auto it = p->children.find(this); it != p->children.end()) {
      self = std::move(it->second);
      p->children.erase(it);
    }
  }

  // attach links this node under its nearest cancellable ancestor, or
  // cancels it at once if that one is cancelled already.
  void attach() {
    auto p = ancestor();
    if (!p) return;
    std::error_code perr;
    {
      std::lock_guard g(p->mu);
      if (p->err)
        perr = p->err;
      else
        p->children.emplace(this, shared_from_this());
    }
    if (perr) cancel(perr, false);
  }
};

}  // namespace runtime

Chan<std::monostate> Context::Done() const { return n_->done; }

std::error_code Context::Err() const {
  if (!n_->cancellable) return {};
  std::lock_guard g(n_->mu);
  return n_->err;
}

std::optional<Time> Context::Deadline() const { return n_->deadline; }

Context Background() {
  static const auto root = std::make_shared<runtime::ctxNode>();
  return Context(root);
}

std::pair<Context, CancelFunc> WithCancel(const Context& parent) {
  auto n = std::make_shared<runtime::ctxNode>();
  n->parent = parent.n_;
  n->cancellable = true;
  n->done = Chan<std::monostate>();
  n->deadline = parent.n_->deadline;
  n->attach();
  CancelFunc cancel = [n] { n->cancel(ContextError::Canceled, true); };
  return {Context(std::move(n)), std::move(cancel)};
}

std::pair<Context, CancelFunc> WithDeadline(const Context& parent, Time d) {
  if (auto pd = parent.Deadline(); pd && *pd <= d) return WithCancel(parent);  // the parent's comes first
  auto [ctx, cancel] = WithCancel(parent);
  runtime::ctxNode* n = ctx.n_.get();
  n->deadline = d;
  const Time now = std::chrono::steady_clock::now();
  if (d <= now) {  // (d - now would overflow for a d far in the past)
    n->cancel(ContextError::DeadlineExceeded, true);
    return {std::move(ctx), std::move(cancel)};
  }
  // The timer holds the node until it fires or cancel stops it (Go's
  // timer keeps its context alive the same way).
  Timer t = AfterFunc(d - now, [node = ctx.n_] { node->cancel(ContextError::DeadlineExceeded, true); });
  {
    std::lock_guard g(n->mu);
    if (!n->err) {
      n->timer.emplace(std::move(t));
      return {std::move(ctx), std::move(cancel)};
    }
  }
  t.Stop();  // cancelled meanwhile (by the parent)
  return {std::move(ctx), std::move(cancel)};
}

std::pair<Context, CancelFunc> WithTimeout(const Context& parent, std::chrono::nanoseconds timeout) {
  // Saturating, as Go's Time.Add: a timeout past the clock's end is none.
  const Time now = std::chrono::steady_clock::now();
  const auto room = std::chrono::duration_cast<std::chrono::nanoseconds>(Time::max() - now);
  if (timeout <= std::chrono::nanoseconds::zero()) return WithDeadline(parent, now);
  return WithDeadline(parent, timeout >= room ? Time::max() : now + std::chrono::duration_cast<Time::duration>(timeout));
}

}  // namespace ringo
