// chan_test.cc — Chan and Select: Go's semantics, on one P so orders are exact.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

using ringo::Chan;
using ringo::ChanClosedError;
using ringo::testing::Events;
using Seen = std::vector<std::string>;

namespace {

TEST(Chan, UnbufferedSendWaitsForTheReceiver) {
  Events ev;
  ringo::Run([&] {
    Chan<int> ch;
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      ev("send");
      ch.Send(7);
      ev("sent");
      wg.Done();
    });
    ringo::Gosched();  // the sender runs and parks: nobody receives yet
    ev("recv");
    auto [v, ok] = ch.Recv();
    ev("got " + std::to_string(v) + (ok ? " ok" : " closed"));
    wg.Wait();
  });
  EXPECT_EQ(ev.seen, (Seen{"send", "recv", "got 7 ok", "sent"}));
}

TEST(Chan, UnbufferedRecvWaitsForTheSender) {
  Events ev;
  ringo::Run([&] {
    Chan<std::string> ch;
    ringo::Go([&] {
      ev("recv");
      auto [v, ok] = ch.Recv();
      ev("got " + v);
    });
    ringo::Gosched();
    ev("send");
    ch.Send(std::string("hi"));
    ev("sent");
    ringo::Gosched();
  });
  EXPECT_EQ(ev.seen, (Seen{"recv", "send", "sent", "got hi"}));
}

TEST(Chan, BufferedKeepsOrderAndBlocksWhenFull) {
  Events ev;
  ringo::Run([&] {
    Chan<int> ch(3);
    EXPECT_EQ(ch.Cap(), 3);
    for (int i = 0; i < 3; i++) ch.Send(i);  // fits: no park
    EXPECT_EQ(ch.Len(), 3);
    EXPECT_FALSE(ch.TrySend(99));
    ringo::Go([&] {
      ev("send 3");
      ch.Send(3);  // full: parks until a receive makes room
      ev("sent 3");
    });
    ringo::Gosched();
    for (int i = 0; i < 4; i++) ev("got " + std::to_string(ch.Recv().first));
    ringo::Gosched();
  });
  EXPECT_EQ(ev.seen, (Seen{"send 3", "got 0", "got 1", "got 2", "got 3", "sent 3"}));
}

TEST(Chan, ReceiveOnClosedDrainsThenReportsClosed) {
  ringo::Run([] {
    Chan<int> ch(2);
    ch.Send(1);
    ch.Send(2);
    ch.Close();
    EXPECT_EQ(ch.Recv(), std::make_pair(1, true));
    EXPECT_EQ(ch.Recv(), std::make_pair(2, true));
    EXPECT_EQ(ch.Recv(), std::make_pair(0, false));
    EXPECT_EQ(ch.Recv(), std::make_pair(0, false));  // and again, at once
    auto r = ch.TryRecv();
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->second);
  });
}

TEST(Chan, CloseWakesWaitersOnBothSides) {
  std::atomic<int> receiversClosed{0}, sendersThrew{0};
  ringo::Run([&] {
    Chan<int> in, out;
    ringo::WaitGroup wg;
    for (int i = 0; i < 3; i++) {
      wg.Add(2);
      ringo::Go([&] {
        if (!in.Recv().second) receiversClosed++;
        wg.Done();
      });
      ringo::Go([&] {
        try {
          out.Send(1);
        } catch (const ChanClosedError& e) {
          EXPECT_STREQ(e.what(), "send on closed channel");
          sendersThrew++;
        }
        wg.Done();
      });
    }
    ringo::Gosched();  // all six park
    in.Close();
    out.Close();
    wg.Wait();
  });
  EXPECT_EQ(receiversClosed.load(), 3);
  EXPECT_EQ(sendersThrew.load(), 3);
}

TEST(Chan, MisuseThrowsGoMessages) {
  ringo::Run([] {
    Chan<int> ch(1);
    ch.Close();
    try {
      ch.Send(1);
      ADD_FAILURE() << "send on closed channel did not throw";
    } catch (const ChanClosedError& e) {
      EXPECT_STREQ(e.what(), "send on closed channel");
    }
    EXPECT_THROW(ch.TrySend(1), ChanClosedError);
    try {
      ch.Close();
      ADD_FAILURE() << "double close did not throw";
    } catch (const ChanClosedError& e) {
      EXPECT_STREQ(e.what(), "close of closed channel");
    }
    Chan<int> nil(nullptr);
    try {
      nil.Close();
      ADD_FAILURE() << "close of nil channel did not throw";
    } catch (const ChanClosedError& e) {
      EXPECT_STREQ(e.what(), "close of nil channel");
    }
    EXPECT_THROW(Chan<int>(-1), std::invalid_argument);
    // Len and Cap are ints: 2^31 slots is out of range (of a char, 2 GiB,
    // well under the byte bound), before any memory is taken.
    EXPECT_THROW(Chan<char>(int64_t(1) << 31), std::invalid_argument);
  });
}

TEST(Chan, WaitersAreServedFirstComeFirstServed) {
  Events ev;
  ringo::Run([&] {
    Chan<int> ch;
    ringo::WaitGroup wg;
    for (int i = 0; i < 5; i++) {
      wg.Add(1);
      ringo::Go([&, i] {
        int v = ch.Recv().first;
        ev("r" + std::to_string(i) + "=" + std::to_string(v));
        wg.Done();
      });
      ringo::Gosched();  // receiver i parks before receiver i+1
    }
    for (int v = 0; v < 5; v++) ch.Send(v * 10);
    wg.Wait();
  });
  // Each send pairs with the longest-waiting receiver.
  std::sort(ev.seen.begin(), ev.seen.end());
  EXPECT_EQ(ev.seen, (Seen{"r0=0", "r1=10", "r2=20", "r3=30", "r4=40"}));
}

// Counted counts its copies and moves.
struct Counted {
  static inline int copies = 0, moves = 0;
  int v = 0;
  Counted() = default;
  explicit Counted(int x) : v(x) {}
  Counted(const Counted& o) : v(o.v) { copies++; }
  Counted(Counted&& o) noexcept : v(o.v) { moves++; }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) = default;
};

TEST(Chan, HandOffToAParkedReceiverMovesOnce) {
  int moves = -1, copies = -1, got = 0;
  ringo::Run([&] {
    Chan<Counted> ch;
    ringo::Go([&] {
      // Received straight into the case's storage, passed on by reference.
      ringo::Select(ringo::Recv(ch, [&](Counted&& c, bool) {
        moves = Counted::moves;
        copies = Counted::copies;
        got = c.v;
      }));
    });
    ringo::Gosched();  // the receiver parks
    Counted c(42);
    Counted::moves = Counted::copies = 0;
    ch.Send(std::move(c));
    ringo::Gosched();
  });
  EXPECT_EQ(got, 42);
  EXPECT_EQ(copies, 0);
  EXPECT_EQ(moves, 1);  // sender's object -> receiver's storage, nothing else
}

TEST(Chan, RangeReceivesUntilClosed) {
  std::vector<int> got;
  ringo::Run([&] {
    Chan<int> ch(2);
    ringo::Go([ch] {
      for (int i = 0; i < 5; i++) ch.Send(i);
      ch.Close();
    });
    for (auto& v : ch) got.push_back(v);
  });
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Chan, HandlesShareOneChannelAndFreeBufferedValues) {
  auto tracked = std::make_shared<int>(5);
  ringo::Run([&] {
    Chan<std::shared_ptr<int>> a(4);
    Chan<std::shared_ptr<int>> b = a;
    EXPECT_TRUE(a == b);
    a.Send(tracked);
    a.Send(tracked);
    EXPECT_EQ(b.Len(), 2);
    EXPECT_EQ(tracked.use_count(), 3);
  });
  // The last handle went away with two values still buffered.
  EXPECT_EQ(tracked.use_count(), 1);
}

TEST(Chan, TrySendLeavesTheValueWhenItFails) {
  ringo::Run([] {
    Chan<std::unique_ptr<int>> ch;  // no receiver: TrySend cannot
    auto p = std::make_unique<int>(3);
    EXPECT_FALSE(ch.TrySend(std::move(p)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 3);
    EXPECT_FALSE(ch.TryRecv().has_value());
  });
}

TEST(Chan, NilChannelIsNeverReady) {
  ringo::Run([] {
    Chan<int> nil(nullptr);
    EXPECT_FALSE(nil.TrySend(1));
    EXPECT_FALSE(nil.TryRecv().has_value());
    EXPECT_EQ(nil.Len(), 0);
    EXPECT_EQ(nil.Cap(), 0);
    int which = ringo::Select(ringo::Recv(nil), ringo::Send(nil, 1), ringo::Default());
    EXPECT_EQ(which, 2);
  });
}

// ---- Select ----------------------------------------------------------------

TEST(Select, TakesTheReadyCase) {
  ringo::Run([] {
    Chan<int> a, b(1);
    b.Send(5);
    int got = 0;
    int which = ringo::Select(ringo::Recv(a, [&](int v) { got = v + 100; }),
                              ringo::Recv(b, [&](int v) { got = v; }));
    EXPECT_EQ(which, 1);
    EXPECT_EQ(got, 5);
  });
}

TEST(Select, DefaultWhenNothingIsReady) {
  ringo::Run([] {
    Chan<int> a, b;
    bool dflt = false;
    int which = ringo::Select(ringo::Recv(a), ringo::Send(b, 1), ringo::Default([&] { dflt = true; }));
    EXPECT_EQ(which, 2);
    EXPECT_TRUE(dflt);
  });
}

TEST(Select, ParksOnAllCasesAndCleansUpAfterWaking) {
  Events ev;
  ringo::Run([&] {
    Chan<int> a, b, c;
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      ringo::Select(ringo::Recv(a, [&](int v) { ev("a " + std::to_string(v)); }),
                    ringo::Recv(b, [&](int v) { ev("b " + std::to_string(v)); }),
                    ringo::Send(c, 9, [&] { ev("c sent"); }));
      wg.Done();
    });
    ringo::Gosched();  // the select parks on a, b and c
    b.Send(2);
    wg.Wait();
    // Nobody waits on a or c any more: the select took its sudogs back.
    EXPECT_FALSE(a.TrySend(1));
    EXPECT_FALSE(c.TryRecv().has_value());
  });
  EXPECT_EQ(ev.seen, (Seen{"b 2"}));
}

TEST(Select, WokenBySendCase) {
  ringo::Run([] {
    Chan<int> a, c;
    std::atomic<bool> sent{false};
    ringo::Go([&] { ringo::Select(ringo::Recv(a), ringo::Send(c, 9, [&] { sent = true; })); });
    ringo::Gosched();
    EXPECT_EQ(c.Recv(), std::make_pair(9, true));
    ringo::Gosched();
    EXPECT_TRUE(sent);
    EXPECT_FALSE(a.TrySend(1));
  });
}

TEST(Select, ClosedChannelCaseReportsNotOk) {
  ringo::Run([] {
    Chan<int> a;
    bool gotOk = true;
    int gotV = -1;
    ringo::Go([&] { a.Close(); });
    ringo::Select(ringo::Recv(a, [&](int v, bool ok) {
      gotV = v;
      gotOk = ok;
    }));
    EXPECT_FALSE(gotOk);
    EXPECT_EQ(gotV, 0);
  });
}

TEST(Select, SendCaseOnClosedChannelThrows) {
  ringo::Run([] {
    Chan<int> a, b;
    ringo::Go([&] { b.Close(); });
    EXPECT_THROW(ringo::Select(ringo::Recv(a), ringo::Send(b, 1)), ChanClosedError);  // parked, then closed
    EXPECT_THROW(ringo::Select(ringo::Send(b, 1), ringo::Default()), ChanClosedError);
    EXPECT_FALSE(a.TrySend(1));  // the throwing select left no waiter behind
  });
}

TEST(Select, SameChannelInTwoCases) {
  ringo::Run([] {
    Chan<int> a(1);
    a.Send(1);
    int hits = 0;
    ringo::Select(ringo::Recv(a, [&] { hits++; }), ringo::Recv(a, [&] { hits++; }));
    EXPECT_EQ(hits, 1);
    ringo::Go([&] { a.Send(2); });
    ringo::Select(ringo::Recv(a, [&] { hits++; }), ringo::Recv(a, [&] { hits++; }));
    EXPECT_EQ(hits, 2);
  });
}

TEST(Select, ChoosesUniformlyAmongReadyCases) {
  // Four always-ready cases, N rounds: each count is Binomial(N, 1/4).
  // Six standard deviations make a false failure a one-in-10^8 event; a
  // biased choice (say always the first ready) fails by far.
  const int n = int(ringo::testing::Scaled(100000));
  int counts[4] = {};
  ringo::Run([&] {
    Chan<int> c[4] = {Chan<int>(1), Chan<int>(1), Chan<int>(1), Chan<int>(1)};
    for (int i = 0; i < n; i++) {
      for (auto& ch : c)
        if (ch.Len() == 0) ch.Send(0);
      int k = ringo::Select(ringo::Recv(c[0]), ringo::Recv(c[1]), ringo::Recv(c[2]), ringo::Recv(c[3]));
      counts[k]++;
    }
  });
  const double mean = n / 4.0, sd = std::sqrt(n * 0.25 * 0.75);
  for (int k = 0; k < 4; k++) {
    EXPECT_GT(counts[k], mean - 6 * sd) << "case " << k;
    EXPECT_LT(counts[k], mean + 6 * sd) << "case " << k;
  }
}

TEST(Select, BlockingOnANonGoroutineThreadIsAnError) {
  ringo::Run([] {
    Chan<int> ch(1);
    std::thread t([ch] {
      EXPECT_THROW(ch.Recv(), std::logic_error);
      EXPECT_TRUE(ch.TrySend(1));  // non-blocking is fine
    });
    t.join();
    EXPECT_EQ(ch.Recv().first, 1);
  });
}

TEST(SelectDeathTest, UncaughtChanErrorIsAPanic) {
  EXPECT_EXIT(ringo::Run([] {
                Chan<int> ch;
                ch.Close();
                ch.Close();
              }),
              ::testing::ExitedWithCode(2), "panic: close of closed channel");
}

TEST(SelectDeathTest, EmptySelectBlocksForever) {
  EXPECT_EXIT(ringo::Run([] { ringo::Select(); }), ::testing::ExitedWithCode(2),
              "all goroutines are asleep - deadlock!(.|\n)*goroutine 1 \\[select \\(no cases\\)\\]");
}

TEST(SelectDeathTest, ReceiveNobodySendsIsADeadlock) {
  EXPECT_EXIT(ringo::Run([] {
                Chan<int> ch;
                ringo::Go([ch] { ch.Send(1); });  // sends on... the same channel; then:
                ch.Recv();
                ch.Recv();  // nobody sends twice
              }),
              ::testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!(.|\n)*goroutine 1 \\[chan receive\\]");
}

TEST(SelectDeathTest, NilChannelOpsBlockForever) {
  EXPECT_EXIT(ringo::Run([] { Chan<int>(nullptr).Send(1); }), ::testing::ExitedWithCode(2),
              "goroutine 1 \\[chan send \\(nil chan\\)\\]");
}

}  // namespace
