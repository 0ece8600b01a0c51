// blocking_test.cc — Blocking (P handoff), LockOSThread, sysmon's reports
// and RINGO_SCHEDTRACE.
#include <gtest/gtest.h>
#include <ringo/ringo.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::MonoNanos;
using ringo::testing::Scaled;

namespace {

ringo::Options OneP() {
  ringo::Options o;
  o.maxprocs = 1;
  return o;
}

TEST(Blocking, HandsThePToAnotherGoroutine) {
  // One P. The first goroutine blocks its thread until the second one has
  // run: only a handoff of the P lets the second run at all.
  std::future_status status = std::future_status::deferred;
  bool secondRanDuringTheCall = false;
  ringo::Run([&] {
    std::promise<void> ran;
    auto f = ran.get_future();
    std::atomic<bool> inCall{false};
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      ringo::Blocking([&] {
        inCall = true;
        status = f.wait_for(10s);  // bound: only catches a missing handoff
        inCall = false;
      });
      wg.Done();
    });
    ringo::Go([&] {
      while (!inCall) ringo::Gosched();
      secondRanDuringTheCall = inCall.load();
      ran.set_value();
      wg.Done();
    });
    wg.Wait();
  }, OneP());
  EXPECT_EQ(status, std::future_status::ready);
  EXPECT_TRUE(secondRanDuringTheCall);
}

TEST(Blocking, OtherGoroutinesProgressDuringA200msCall) {
  int ticks = 0;
  ringo::Run([&] {
    std::atomic<bool> done{false};
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      ringo::Blocking([] { usleep(200000); });
      done = true;
      wg.Done();
    });
    ringo::Go([&] {
      while (!done) {
        ringo::Sleep(1ms);
        ticks++;
      }
      wg.Done();
    });
    wg.Wait();
  }, OneP());
  // About 200 ticks when the P is handed over; at most one without.
  EXPECT_GE(ticks, 20);
}

TEST(Blocking, ReturnsTheResultAndPassesExceptions) {
  ringo::Run([] {
    EXPECT_EQ(ringo::Blocking([] { return 42; }), 42);
    std::string s = ringo::Blocking([] { return std::string("file contents"); });
    EXPECT_EQ(s, "file contents");
    EXPECT_THROW(ringo::Blocking([]() -> int { throw std::runtime_error("EIO"); }), std::runtime_error);
    // Still a normal goroutine afterwards.
    ringo::Sleep(1ms);
  });
}

TEST(Blocking, ManyShortCallsAcrossPs) {
  const int n = int(Scaled(2000));
  std::atomic<int> done{0};
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(n);
    for (int i = 0; i < n; i++)
      ringo::Go([&, i] {
        ringo::Blocking([i] { usleep(useconds_t(i % 3) * 50); });
        ringo::Gosched();
        done++;
        wg.Done();
      });
    wg.Wait();
  });
  EXPECT_EQ(done.load(), n);
}

TEST(Blocking, CallingRingoInsideIsFatal) {
  EXPECT_EXIT(ringo::Run([] { ringo::Blocking([] { ringo::Sleep(1ms); }); }), ::testing::ExitedWithCode(2),
              "inside ringo::Blocking");
}

TEST(LockOSThread, WiredGoroutineKeepsItsThreadAndHasItAlone) {
  std::set<pid_t> wiredTids, otherTids;
  ringo::Run([&] {
    ringo::Chan<int> ping;
    std::atomic<bool> stop{false}, wired{false};
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      ringo::LockOSThread();
      wired = true;
      for (int i = 0; i < 200; i++) {
        wiredTids.insert(gettid());
        switch (i % 3) {
          case 0: ringo::Sleep(100us); break;
          case 1: ringo::Gosched(); break;
          case 2: ping.Recv(); break;
        }
      }
      wired = false;
      ringo::UnlockOSThread();
      stop = true;
      wg.Done();
    });
    // Others keep running meanwhile, and feed the wired one's receives.
    ringo::Mutex mu;
    for (int k = 0; k < 4; k++) {
      wg.Add(1);
      ringo::Go([&] {
        while (!stop) {
          // Count the thread only if the wiring held throughout.
          const bool before = wired;
          const pid_t tid = gettid();
          if (before && wired) {
            std::lock_guard l(mu);
            otherTids.insert(tid);
          }
          ping.TrySend(1);
          ringo::Gosched();
        }
        wg.Done();
      });
    }
    wg.Wait();
  });
  ASSERT_EQ(wiredTids.size(), 1u) << "the wired goroutine moved";
  EXPECT_FALSE(otherTids.empty()) << "nothing else ran while it was wired";
  EXPECT_EQ(otherTids.count(*wiredTids.begin()), 0u) << "another goroutine ran on the wired thread";
}

// A wired goroutine whose Blocking call returns while another goroutine
// holds the only P: its M must wait for it wired (stoplockedm), not on the
// idle list, or the M that picks it up hands it over to an M that goes on
// to wait for it again, and it never runs. 20 rounds; a hang is caught by
// the watchdog thread (10 s).
TEST(LockOSThread, AWiredGoroutineComesBackFromBlockingWhileThePIsBusy) {
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    const int64_t limit = MonoNanos() + 10'000'000'000;
    while (!finished.load() && MonoNanos() < limit) usleep(1000);
    if (!finished.load()) {
      fprintf(stderr, "AWiredGoroutineComesBackFromBlockingWhileThePIsBusy: the wired goroutine never ran again\n");
      std::_Exit(1);
    }
  });
  int rounds = 0;
  ringo::Run(
      [&] {
        for (int i = 0; i < 20; i++) {
          std::atomic<bool> back{false};
          ringo::WaitGroup wg;
          wg.Add(2);
          ringo::Go([&] {
            ringo::LockOSThread();
            ringo::Blocking([] { usleep(2000); });  // sysmon retakes the P meanwhile
            back = true;
            ringo::UnlockOSThread();
            wg.Done();
          });
          ringo::Go([&] {  // keeps the P busy until the wired one is back
            while (!back.load()) ringo::Gosched();
            wg.Done();
          });
          wg.Wait();
          rounds++;
        }
      },
      OneP());
  finished = true;
  watchdog.join();
  EXPECT_EQ(rounds, 20);
}

// ---- sysmon's reports --------------------------------------------------------

// A wired goroutine readied by the last running M: that M hands its P to
// the wired one's M and goes idle at once, before the woken M has run a
// line. checkdead then sees every M idle, no timer and no I/O; the woken M
// must already count as running (it was still counted idle, and the
// program died with "all goroutines are asleep" in nearly every run).
// 200 hand-overs, each on the way to a fresh race.
TEST(LockOSThread, AHandOverToTheWiredGoroutineIsNotADeadlock) {
  ringo::Run(
      [] {
        ringo::Chan<int> to, back;
        ringo::Go([&] {
          ringo::LockOSThread();
          for (int i = 0; i < 200; i++) back.Send(to.Recv().first + 1);
          ringo::UnlockOSThread();
        });
        for (int i = 0; i < 200; i++) {
          to.Send(i);
          ASSERT_EQ(back.Recv().first, i + 1);
        }
      },
      OneP());
}

TEST(SysmonDeathTest, ReportsAGoroutineThatDoesNotYield) {
  EXPECT_EXIT(
      {
        setenv("RINGO_SCHEDWARN", "20", 1);
        ringo::Run([] {
          const int64_t end = MonoNanos() + 300'000'000;
          while (MonoNanos() < end) {
          }  // 300 ms without a scheduling point
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "ringo: goroutine 1 has run for [0-9]+ ms on P0 without yielding");
}

TEST(SysmonDeathTest, ReportsAGoroutineBlockedOutsideBlocking) {
  EXPECT_EXIT(
      {
        ringo::Run([] { usleep(300000); });  // in the kernel, P held
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "ringo: goroutine 1 has been blocked in the kernel for [0-9]+ ms on P0 outside ringo::Blocking");
}

TEST(SysmonDeathTest, SchedwarnZeroSilencesBothReports) {
  EXPECT_EXIT(
      {
        setenv("RINGO_SCHEDWARN", "0", 1);
        ringo::Run([] {
          const int64_t end = MonoNanos() + 300'000'000;
          while (MonoNanos() < end) {
          }
          usleep(300000);
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^$");
}

TEST(SysmonDeathTest, SchedtraceLine) {
  ringo::Options two;
  two.maxprocs = 2;
  EXPECT_EXIT(
      {
        setenv("RINGO_SCHEDTRACE", "10", 1);
        ringo::Run([] { ringo::Sleep(100ms); }, two);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "SCHED [0-9]+ms: gomaxprocs=2 idleprocs=[0-2] threads=[0-9]+ spinningthreads=[0-9]+ "
      "idlethreads=[0-9]+ runqueue=[0-9]+ \\[[0-9]+ [0-9]+\\]");
}

}  // namespace
