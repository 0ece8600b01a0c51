// time_test.cc — Sleep and the scheduler's timers.
#include <gtest/gtest.h>
#include <mutex>
#include <atomic>
#include <ringo/ringo.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::Scaled;

namespace {

TEST(Sleep, NeverReturnsEarly) {
  std::vector<int64_t> slept;
  const std::vector<int64_t> asked = {1, 1000, 50000, 1000000, 3000000, 20000000};
  ringo::Run([&] {
    for (int64_t d : asked) {
      int64_t t0 = ringo::testing::MonoNanos();
      ringo::Sleep(std::chrono::nanoseconds(d));
      slept.push_back(ringo::testing::MonoNanos() - t0);
    }
  });
  ASSERT_EQ(slept.size(), asked.size());
  for (size_t i = 0; i < asked.size(); i++) EXPECT_GE(slept[i], asked[i]) << "asked " << asked[i];
}

TEST(Sleep, ZeroOrNegativeReturnsAtOnceWithoutYielding) {
  std::atomic<bool> otherRan{false};
  ringo::Run([&] {
    ringo::Go([&] { otherRan = true; });
    ringo::Sleep(0ns);
    ringo::Sleep(-5ms);
    EXPECT_FALSE(otherRan);
    ringo::Sleep(1ms);
    EXPECT_TRUE(otherRan);
  });
}

TEST(Sleep, ATimerDueWhileTheThreadIsBusyFiresAtTheNextSchedulingPoint) {
  // One P. Five sleepers with different deadlines; main then keeps the P
  // past all of them without yielding. Every timer is due by the time main
  // parks, and each sleeper wakes exactly once, none early.
  std::vector<int> woke;  // guarded by mu: goroutines on one P still need a lock (memory model)
  std::mutex mu;
  std::atomic<int> early{0};
  ringo::Run([&] {
    ringo::WaitGroup wg;
    const int delaysMs[] = {3, 1, 5, 2, 4};
    for (int ms : delaysMs) {
      wg.Add(1);
      ringo::Go([&, ms] {
        const int64_t t0 = ringo::testing::MonoNanos();
        ringo::Sleep(std::chrono::milliseconds(ms));
        if (ringo::testing::MonoNanos() - t0 < ms * 1000000LL) early++;
        {
          std::lock_guard l(mu);
          woke.push_back(ms);
        }
        wg.Done();
      });
    }
    ringo::Gosched();  // all five park in Sleep
    const int64_t end = ringo::testing::MonoNanos() + 10 * 1000000LL;
    while (ringo::testing::MonoNanos() < end) {
    }
    {
      std::lock_guard l(mu);
      EXPECT_TRUE(woke.empty());  // nothing ran while main held the P
    }
    wg.Wait();
  });
  std::sort(woke.begin(), woke.end());
  EXPECT_EQ(woke, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(early, 0);
}

TEST(Sleep, ManySleepersAllWake) {
  const int64_t n = Scaled(10000);
  std::atomic<int64_t> woke{0};
  std::atomic<int64_t> early{0};
  ringo::Run([&] {
    ringo::WaitGroup wg;
    for (int64_t i = 0; i < n; i++) {
      wg.Add(1);
      ringo::Go([&, i] {
        const auto d = std::chrono::microseconds(i % 997 * 7);
        int64_t t0 = ringo::testing::MonoNanos();
        ringo::Sleep(d);
        if (ringo::testing::MonoNanos() - t0 < std::chrono::nanoseconds(d).count()) early++;
        woke++;
        wg.Done();
      });
      if (i % 256 == 255) ringo::Gosched();
    }
    wg.Wait();
  });
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(early, 0);
}

TEST(Sleep, AnIdleSchedulerUsesNoCpu) {
  // The only goroutine sleeps 300 ms: the M must sleep in the kernel. The
  // bound only catches busy-waiting (which would burn ~300 ms).
  int64_t cpu = 0;
  ringo::Run([&] {
    int64_t c0 = ringo::testing::CpuNanos();
    ringo::Sleep(300ms);
    cpu = ringo::testing::CpuNanos() - c0;
  });
  EXPECT_LT(cpu, 100 * 1000000) << "cpu ns " << cpu;
}

}  // namespace
