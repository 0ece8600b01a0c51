// timer_test.cc — After, Timer, Ticker, AfterFunc and Context, across Ps.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <atomic>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::MonoNanos;
using ringo::testing::Scaled;

namespace {

// Upper bounds only catch hangs: ≥ 1 s.
constexpr auto kHang = 5s;

TEST(Timer, AfterNeverFiresEarly) {
  ringo::Run([] {
    for (auto d : {1ms, 3ms, 10ms}) {
      const int64_t start = MonoNanos();
      auto [t, ok] = ringo::After(d).Recv();
      const int64_t end = MonoNanos();
      EXPECT_TRUE(ok);
      EXPECT_GE(end - start, std::chrono::nanoseconds(d).count());
      // The delivered time is the firing time: not before the deadline.
      EXPECT_GE(t.time_since_epoch().count(), start + std::chrono::nanoseconds(d).count());
    }
  });
}

TEST(Timer, SelectWithTimeout) {
  ringo::Run([] {
    ringo::Chan<int> never;
    bool timedOut = false;
    const int64_t start = MonoNanos();
    ringo::Select(ringo::Recv(never), ringo::Recv(ringo::After(5ms), [&] { timedOut = true; }));
    EXPECT_TRUE(timedOut);
    EXPECT_GE(MonoNanos() - start, 5000000);
  });
}

TEST(Timer, StopBeforeFiringDeliversNothing) {
  ringo::Run([] {
    ringo::Timer t(20ms);
    EXPECT_TRUE(t.Stop());
    EXPECT_FALSE(t.Stop());  // already stopped
    // Wait past the deadline: nothing arrives.
    ringo::Sleep(40ms);
    EXPECT_FALSE(t.C.TryRecv().has_value());
  });
}

TEST(Timer, StopAfterFiringReturnsFalse) {
  ringo::Run([] {
    ringo::Timer t(1ms);
    t.C.Recv();
    EXPECT_FALSE(t.Stop());
  });
}

TEST(Timer, ResetMovesTheDeadline) {
  ringo::Run([] {
    const int64_t start = MonoNanos();
    ringo::Timer t(1h);
    EXPECT_TRUE(t.Reset(5ms));  // was pending
    t.C.Recv();
    EXPECT_GE(MonoNanos() - start, 5000000);
    EXPECT_FALSE(t.Reset(2ms));  // had fired
    t.C.Recv();
  });
}

TEST(Timer, AfterFuncRunsInItsOwnGoroutineAndCanBeStopped) {
  std::atomic<int> ran{0};
  ringo::Run([&] {
    ringo::Chan<int> done(1);
    const int64_t start = MonoNanos();
    ringo::AfterFunc(3ms, [&, done] {
      ran++;
      done.TrySend(1);
    });
    done.Recv();
    EXPECT_GE(MonoNanos() - start, 3000000);
    auto stopped = ringo::AfterFunc(10ms, [&] { ran += 100; });
    EXPECT_TRUE(stopped.Stop());
    ringo::Sleep(20ms);
  });
  EXPECT_EQ(ran.load(), 1);
}

TEST(Timer, TickerTicksInPhaseAndNeverEarly) {
  ringo::Run([] {
    const auto period = 4ms;
    const int64_t start = MonoNanos();
    ringo::Ticker tick(period);
    for (int k = 1; k <= 5; k++) {
      auto [t, ok] = tick.C.Recv();
      ASSERT_TRUE(ok);
      // Tick k is due at start + k*period or later, never before.
      EXPECT_GE(t.time_since_epoch().count(), start + k * std::chrono::nanoseconds(period).count());
    }
    tick.Stop();
    tick.C.TryRecv();  // at most one tick was buffered
    ringo::Sleep(3 * period);
    EXPECT_FALSE(tick.C.TryRecv().has_value()) << "ticked after Stop";
  });
}

TEST(Timer, TickerDropsTicksForASlowReceiver) {
  ringo::Run([] {
    ringo::Ticker tick(1ms);
    ringo::Sleep(20ms);  // ~20 ticks due; the buffer holds one
    EXPECT_EQ(tick.C.Len(), 1);
    EXPECT_THROW(ringo::Ticker(0ms), std::invalid_argument);
  });
}

TEST(Timer, TenThousandTimersAllFireNeverEarly) {
  const int n = int(Scaled(10000));
  std::atomic<int> fired{0}, early{0};
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(n);
    for (int i = 0; i < n; i++)
      ringo::Go([&, i] {
        const auto d = std::chrono::microseconds(100 + (i * 37) % 5000);
        const int64_t start = MonoNanos();
        ringo::Timer t(d);
        t.C.Recv();
        if (MonoNanos() - start < std::chrono::nanoseconds(d).count()) early++;
        fired++;
        wg.Done();
      });
    wg.Wait();
  });
  EXPECT_EQ(fired.load(), n);
  EXPECT_EQ(early.load(), 0);
}

// ---- Context ---------------------------------------------------------------

TEST(Context, BackgroundIsNeverDone) {
  ringo::Run([] {
    auto bg = ringo::Background();
    EXPECT_FALSE(bg.Err());
    EXPECT_FALSE(bg.Deadline().has_value());
    EXPECT_FALSE(bg.Done());  // nil channel
    EXPECT_EQ(ringo::Select(ringo::Recv(bg.Done()), ringo::Default()), 1);
  });
}

TEST(Context, CancelReachesTenThousandWaiters) {
  const int n = int(Scaled(10000));
  std::atomic<int> woke{0}, sawErr{0};
  ringo::Run([&] {
    auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
    ringo::WaitGroup parked, done;
    parked.Add(n);
    done.Add(n);
    for (int i = 0; i < n; i++)
      ringo::Go([&, ctx = ctx] {
        ringo::Chan<std::monostate> d = ctx.Done();
        parked.Done();
        d.Recv();
        woke++;
        if (ctx.Err() == ringo::ContextError::Canceled) sawErr++;
        done.Done();
      });
    parked.Wait();
    EXPECT_FALSE(ctx.Err());
    cancel();
    cancel();  // idempotent
    done.Wait();
    EXPECT_EQ(ctx.Err().message(), "context canceled");
  });
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(sawErr.load(), n);
}

TEST(Context, ParentCancelsChildrenNotTheOtherWay) {
  ringo::Run([] {
    auto [parent, cancelParent] = ringo::WithCancel(ringo::Background());
    auto [child, cancelChild] = ringo::WithCancel(parent);
    auto [grandchild, cancelGrandchild] = ringo::WithCancel(child);
    auto [sibling, cancelSibling] = ringo::WithCancel(parent);
    cancelSibling();
    EXPECT_FALSE(parent.Err());
    EXPECT_FALSE(child.Err());
    cancelParent();
    EXPECT_EQ(child.Err(), ringo::ContextError::Canceled);
    EXPECT_EQ(grandchild.Err(), ringo::ContextError::Canceled);
    EXPECT_EQ(grandchild.Done().Recv().second, false);
    // A child of a cancelled context starts cancelled.
    auto [late, cancelLate] = ringo::WithCancel(parent);
    EXPECT_EQ(late.Err(), ringo::ContextError::Canceled);
    cancelChild();
    cancelGrandchild();
    cancelLate();
  });
}

TEST(Context, TimeoutFiresOnTimeNeverEarly) {
  ringo::Run([] {
    const int64_t start = MonoNanos();
    auto [ctx, cancel] = ringo::WithTimeout(ringo::Background(), 10ms);
    ASSERT_TRUE(ctx.Deadline().has_value());
    auto [child, cancelChild] = ringo::WithCancel(ctx);
    child.Done().Recv();
    EXPECT_GE(MonoNanos() - start, 10000000);
    EXPECT_EQ(ctx.Err(), ringo::ContextError::DeadlineExceeded);
    EXPECT_EQ(child.Err(), ringo::ContextError::DeadlineExceeded);
    EXPECT_EQ(ctx.Err().message(), "context deadline exceeded");
    cancel();  // after the deadline: the error stays
    EXPECT_EQ(ctx.Err(), ringo::ContextError::DeadlineExceeded);
    cancelChild();
  });
}

TEST(Context, EarlierParentDeadlineWinsAndPastDeadlineIsDoneAtOnce) {
  ringo::Run([] {
    auto [parent, cancelParent] = ringo::WithTimeout(ringo::Background(), 5ms);
    auto [child, cancelChild] = ringo::WithTimeout(parent, 1h);
    EXPECT_EQ(*child.Deadline(), *parent.Deadline());
    child.Done().Recv();
    EXPECT_EQ(child.Err(), ringo::ContextError::DeadlineExceeded);
    auto [past, cancelPast] = ringo::WithDeadline(ringo::Background(), std::chrono::steady_clock::now() - 1s);
    EXPECT_EQ(past.Err(), ringo::ContextError::DeadlineExceeded);
    cancelParent();
    cancelChild();
    cancelPast();
  });
}

// Durations past the clock's end mean "never", as in Go (whose when() and
// Time.Add saturate): they used to overflow into a negative time and stop
// the program ("addtimer: bad when").
// A Timer or Ticker whose C the program closed fires into nothing: the
// send used to throw on g0, inside the scheduler, and end the process.
TEST(Timer, AClosedChannelGetsNothingAndTheSchedulerGoesOn) {
  ringo::Run([] {
    ringo::Timer t(1ms);
    t.C.Close();
    ringo::Ticker k(1ms);
    k.C.Close();
    ringo::Sleep(20ms);  // both fire meanwhile, the ticker many times
    k.Stop();
    bool ok = true;
    ringo::Select(ringo::Recv(t.C, [&](ringo::Time, bool more) { ok = !more; }), ringo::Default([&] { ok = false; }));
    EXPECT_TRUE(ok);  // closed, and empty
  });
}

TEST(Timer, DurationsPastTheClocksEndNeverFire) {
  ringo::Run([] {
    constexpr auto forever = std::chrono::nanoseconds::max();
    ringo::Timer t(forever);
    ringo::Chan<ringo::Time> after = ringo::After(forever);
    ringo::Timer f = ringo::AfterFunc(forever, [] { ADD_FAILURE() << "fired"; });
    bool ready = true;
    ringo::Select(ringo::Recv(t.C), ringo::Recv(after), ringo::Default([&] { ready = false; }));
    EXPECT_FALSE(ready);
    EXPECT_TRUE(t.Stop());
    EXPECT_TRUE(f.Stop());
    auto [ctx, cancel] = ringo::WithTimeout(ringo::Background(), forever);
    EXPECT_FALSE(ctx.Err());
    ASSERT_TRUE(ctx.Deadline().has_value());
    EXPECT_EQ(*ctx.Deadline(), ringo::Time::max());
    auto [ctx2, cancel2] = ringo::WithDeadline(ringo::Background(), ringo::Time::max());
    EXPECT_FALSE(ctx2.Err());
    auto [past, cancelPast] = ringo::WithDeadline(ringo::Background(), ringo::Time::min());
    EXPECT_EQ(past.Err(), ringo::ContextError::DeadlineExceeded);
    auto [neg, cancelNeg] = ringo::WithTimeout(ringo::Background(), std::chrono::nanoseconds::min());
    EXPECT_EQ(neg.Err(), ringo::ContextError::DeadlineExceeded);
    cancel();
    cancel2();
    cancelPast();
    cancelNeg();
  });
}

// As in Go, a cancelled Err means Done is closed and every descendant is
// cancelled already: a goroutine on the other P that sees the error must
// find both (the error used to be set first, and the channel closed and
// the children cancelled after the lock was dropped).
TEST(Context, AnErrSaysDoneIsClosedAndTheChildrenAreCancelled) {
  ringo::Options o;
  o.maxprocs = 2;
  ringo::Run(
      [] {
        int bad = 0;
        for (int i = 0; i < 2000; i++) {
          auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
          auto [child, cancelChild] = ringo::WithCancel(ctx);
          std::atomic<bool> go{false};
          ringo::WaitGroup wg;
          wg.Add(1);
          ringo::Go([&, ctx = ctx, child = child] {
            RINGO_DEFER(wg.Done());
            go = true;
            for (int spins = 0; spins < 1000000 && !ctx.Err(); spins++)
              if (spins % 64 == 63) ringo::Gosched();  // on main's P, let it cancel
            if (!ctx.Err()) return;  // a slow machine: this round proves nothing
            bool closed = true;
            ringo::Select(ringo::Recv(ctx.Done()), ringo::Default([&] { closed = false; }));
            if (!closed || !child.Err()) bad++;
          });
          while (!go) ringo::Gosched();
          cancel();
          wg.Wait();
          cancelChild();
        }
        EXPECT_EQ(bad, 0);
      },
      o);
}

// Who keeps a context alive, as Go's garbage collector would: a subtree
// nobody holds is freed, cancelled or not (a parent and child used to own
// each other; the asan build's leak check reports such a pair); a child
// held only through its Done channel is still cancelled with its parent;
// a parent whose handles are gone still cancels, at its deadline, the
// child someone holds; a context whose handles are gone still closes its
// Done at its deadline.
TEST(Context, OwnershipFreesWhatNobodyHoldsAndCancelsWhatSomebodyWaitsOn) {
  ringo::Run([] {
    for (int i = 0; i < 100; i++) {
      auto [a, ca] = ringo::WithCancel(ringo::Background());
      auto [b, cb] = ringo::WithTimeout(a, 1h);
      auto [c, cc] = ringo::WithCancel(b);
    }  // all dropped, none cancelled: nothing may be left of them at the end
    auto closedWithin = [](const ringo::Chan<std::monostate>& d, std::chrono::nanoseconds limit) {
      bool closed = false;
      ringo::Select(ringo::Recv(d, [&] { closed = true; }), ringo::Recv(ringo::After(limit)));
      return closed;
    };
    // A child held only through its Done channel.
    auto [parent, cancelParent] = ringo::WithCancel(ringo::Background());
    ringo::Chan<std::monostate> d(nullptr);
    {
      auto [child, cancelChild] = ringo::WithCancel(parent);
      d = child.Done();
    }  // the child's Context and cancel are gone
    cancelParent();
    EXPECT_TRUE(closedWithin(d, 0ns));  // closed by the parent's cancel, at once
    // A parent with a deadline, whose handles are gone, and its child.
    ringo::Context held = ringo::Background();
    ringo::CancelFunc cancelHeld;
    {
      auto [p, cp] = ringo::WithTimeout(ringo::Background(), 20ms);
      std::tie(held, cancelHeld) = ringo::WithCancel(p);
    }
    EXPECT_TRUE(closedWithin(held.Done(), 5s));  // at the parent's deadline (the bound catches a hang)
    EXPECT_EQ(held.Err(), ringo::ContextError::DeadlineExceeded);
    cancelHeld();
    // A context with a deadline, held only through its Done channel.
    ringo::Chan<std::monostate> td(nullptr);
    {
      auto [t, ct] = ringo::WithTimeout(ringo::Background(), 20ms);
      td = t.Done();
    }
    EXPECT_TRUE(closedWithin(td, 5s));
  });
}

TEST(Context, CancelBeforeTheDeadlineStopsTheTimer) {
  ringo::Run([] {
    auto [ctx, cancel] = ringo::WithTimeout(ringo::Background(), 1h);
    cancel();
    EXPECT_EQ(ctx.Err(), ringo::ContextError::Canceled);
    // Run returns now: no hour-long timer keeps the program alive.
  });
}

}  // namespace
