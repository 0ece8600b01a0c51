// waitgroup_test.cc — WaitGroup on gopark/goready.
#include <gtest/gtest.h>
#include <atomic>
#include <ringo/ringo.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::Events;
using Seen = std::vector<std::string>;

namespace {

TEST(WaitGroup, WaitReturnsAfterTheLastDone) {
  Events ev;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(3);
    for (int i = 0; i < 3; i++)
      ringo::Go([&, i] {
        ringo::Sleep(std::chrono::milliseconds(2 * (i + 1)));
        ev("done " + std::to_string(i));
        wg.Done();
      });
    wg.Wait();
    ev("waited");
  });
  // Timers that fall due together may run their goroutines in any order;
  // what matters is that Wait returned only after all three.
  ASSERT_EQ(ev.seen.size(), 4u);
  EXPECT_EQ(ev.seen.back(), "waited");
  std::sort(ev.seen.begin(), ev.seen.end() - 1);
  EXPECT_EQ(ev.seen, (Seen{"done 0", "done 1", "done 2", "waited"}));
}

TEST(WaitGroup, WaitOnZeroReturnsAtOnce) {
  bool otherRan = false;
  ringo::Run([&] {
    ringo::Go([&] { otherRan = true; });
    ringo::WaitGroup wg;
    wg.Wait();
    EXPECT_FALSE(otherRan);  // Wait did not park
  });
}

TEST(WaitGroup, ReleasesEveryWaiter) {
  std::atomic<int> released{0};
  ringo::Run([&] {
    ringo::WaitGroup gate, all;
    gate.Add(1);
    for (int i = 0; i < 10; i++) {
      all.Add(1);
      ringo::Go([&] {
        gate.Wait();
        released++;
        all.Done();
      });
    }
    ringo::Sleep(1ms);
    EXPECT_EQ(released, 0);
    gate.Done();
    all.Wait();
  });
  EXPECT_EQ(released, 10);
}

TEST(WaitGroup, NegativeCounterThrows) {
  std::string what;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    try {
      wg.Done();
    } catch (const std::logic_error& e) {
      what = e.what();
    }
    wg.Add(1);  // still usable: the bad Add was not applied
    wg.Done();
    wg.Wait();
  });
  EXPECT_EQ(what, "sync: negative WaitGroup counter");
}

// Waiters and Dones racing on 2 Ps, round after round, each round's
// WaitGroup on the stack and gone as soon as its last Wait returns: every
// waiter of every round is released exactly once (a waiter that counted
// itself in but was not queued yet when the last Done came gets its wake-up
// too), and nothing touches a finished round's WaitGroup (ASan's build).
TEST(WaitGroup, RacingWaitersAndDonesOnTwoPs) {
  const int rounds = int(ringo::testing::Scaled(20000));
  std::atomic<int> released{0};
  ringo::Options o;
  o.maxprocs = 2;
  ringo::Run(
      [&] {
        for (int r = 0; r < rounds; r++) {
          ringo::WaitGroup joined;
          joined.Add(3);
          {
            auto* wg = new ringo::WaitGroup;
            wg->Add(2);
            std::atomic<int> left{3};  // the last waiter out deletes wg
            for (int i = 0; i < 3; i++)
              ringo::Go([&, wg] {
                wg->Wait();
                released.fetch_add(1);
                if (left.fetch_sub(1) == 1) delete wg;
                joined.Done();
              });
            for (int i = 0; i < 2; i++)
              ringo::Go([wg, i] {
                if (i == 0) ringo::Gosched();
                wg->Done();
              });
            joined.Wait();
          }
        }
      },
      o);
  EXPECT_EQ(released.load(), 3 * rounds);
}

}  // namespace
