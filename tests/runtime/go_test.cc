// go_test.cc — newproc, run order, G recycling, Run's life cycle.
#include <gtest/gtest.h>
#include <atomic>
#include <stdexcept>
#include <ringo/ringo.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::Events;
using ringo::testing::Scaled;
using Seen = std::vector<std::string>;

namespace {

TEST(Go, NewGoroutineRunsNextAfterTheSpawnerYields) {
  // runnext: the newest goroutine runs first; the one it displaced goes to
  // the tail of the local queue, behind those queued before it.
  Events ev;
  ringo::Run([&] {
    ringo::Go([&] { ev("a"); });
    ringo::Go([&] { ev("b"); });
    ringo::Go([&] { ev("c"); });
    ev("main");
    ringo::Sleep(1ms);
  });
  EXPECT_EQ(ev.seen, (Seen{"main", "c", "a", "b"}));
}

TEST(Go, GoschedRunsTheOthersFirst) {
  Events ev;
  ringo::Run([&] {
    ringo::Go([&] { ev("a"); });
    ringo::Go([&] { ev("b"); });
    ringo::Gosched();
    ev("main");
  });
  EXPECT_EQ(ev.seen, (Seen{"b", "a", "main"}));
}

TEST(Go, PassesArgumentsByValue) {
  std::string got;
  ringo::Run([&] {
    std::string s = "hello";
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go(
        [&](std::string v, int n) {
          got = v + std::to_string(n);
          wg.Done();
        },
        s, 42);
    s = "changed";
    wg.Wait();
  });
  EXPECT_EQ(got, "hello42");
}

TEST(Go, LargeClosuresGoToTheHeap) {
  std::array<char, 4096> big{};
  big[0] = 'x';
  big[4095] = 'y';
  std::string got;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&wg, &got, big] {
      got = std::string{big[0], big[4095]};
      wg.Done();
    });
    wg.Wait();
  });
  EXPECT_EQ(got, "xy");
}

TEST(Go, NumGoroutineCountsTheLiveOnes) {
  std::vector<int> counts;
  ringo::Run([&] {
    counts.push_back(ringo::NumGoroutine());
    ringo::WaitGroup wg;
    wg.Add(3);
    for (int i = 0; i < 3; i++) ringo::Go([&] {
        ringo::Sleep(5ms);
        wg.Done();
      });
    counts.push_back(ringo::NumGoroutine());
    wg.Wait();
    ringo::Gosched();  // let the three finish exiting
    counts.push_back(ringo::NumGoroutine());
  });
  EXPECT_EQ(counts, (std::vector<int>{1, 4, 1}));
}

TEST(Go, DeadGoroutinesAreRecycled) {
  // One after another: each goroutine ends before the next starts, so a
  // handful of G objects serve them all.
  const int64_t n = Scaled(1000000);
  std::atomic<int64_t> ran{0};
  ringo::Run([&] {
    for (int64_t i = 0; i < n; i++) {
      ringo::Go([&] { ran++; });
      ringo::Gosched();
    }
  });
  EXPECT_EQ(ran.load(), n);
  EXPECT_EQ(ringo::ReadRuntimeStats().goroutines_started, uint64_t(n) + 1);
  EXPECT_LE(ringo::ReadRuntimeStats().gs_allocated, 3u);
}

TEST(Go, MillionSpawnsJoinedByAWaitGroup) {
  const int64_t n = Scaled(1000000);
  std::atomic<int64_t> ran{0};
  uint64_t allocated = 0;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    for (int64_t i = 0; i < n; i++) {
      wg.Add(1);
      ringo::Go([&] {
        ran++;
        wg.Done();
      });
      // Let the queue drain now and then, as a server's accept loop parks.
      if (i % 1000 == 999) ringo::Gosched();
    }
    wg.Wait();
    allocated = ringo::ReadRuntimeStats().gs_allocated;
  });
  EXPECT_EQ(ran.load(), n);
  // At most ~1000 alive at once, plus main: the rest reused dead Gs.
  EXPECT_LE(allocated, 1002u);
}

TEST(Run, ReturnsMainsResult) {
  EXPECT_EQ(ringo::Run([] { return 7; }), 7);
  EXPECT_EQ(ringo::Run([] {}), 0);
}

TEST(Run, CanRunTwiceAndDropsLeftoverGoroutines) {
  Events ev;
  for (int round = 0; round < 2; round++) {
    ringo::Run([&] {
      // Parked forever on a WaitGroup nobody finishes: dropped at the end.
      // One per round, outliving Run: the dropped waiter stays on its list.
      static ringo::WaitGroup stuck[2];
      stuck[round].Add(1);
      ringo::Go([&] {
        RINGO_DEFER(ev("unwound"));
        stuck[round].Wait();
      });
      ringo::Go([&] { ringo::Sleep(1h); });
      ringo::Sleep(1ms);
      ev("main " + std::to_string(round));
    });
    EXPECT_EQ(ringo::ReadRuntimeStats().dropped, 2u);
  }
  // Dropped goroutines are not unwound, as after os.Exit.
  EXPECT_EQ(ev.seen, (Seen{"main 0", "main 1"}));
}

TEST(Run, MainGoroutineIsGoroutineOneEachTime) {
  // Each Run starts from a fresh scheduler.
  int n1 = 0, n2 = 0;
  ringo::Run([&] { n1 = ringo::NumGoroutine(); });
  ringo::Run([&] { n2 = ringo::NumGoroutine(); });
  EXPECT_EQ(n1, 1);
  EXPECT_EQ(n2, 1);
}

TEST(RunDeathTest, NestedRunIsFatal) {
  EXPECT_EXIT(ringo::Run([] { ringo::Run([] {}); }), ::testing::ExitedWithCode(2),
              "fatal error: Run: called while ringo is running");
}

TEST(Go, OutsideRunThrows) {
  // A thread outside ringo may start goroutines only while Run runs (see
  // foreign.h); before, it is a clear error, not a crash.
  EXPECT_THROW(ringo::Go([] {}), std::logic_error);
}

TEST(RunDeathTest, AllGoroutinesAsleepIsADeadlock) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::WaitGroup wg;
                wg.Add(1);
                wg.Wait();
              }),
              ::testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 \\[sync.WaitGroup.Wait\\]:");
}

}  // namespace
