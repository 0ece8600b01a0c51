// sched_test.cc — many Ps: GOMAXPROCS, work stealing, fairness, spinning,
// timers across Ps, the netpoll hook, and teardown. Also built against a
// library whose run queues hold 4 Gs (the tinyrunq tests).
#include <dirent.h>
#include <unistd.h>
#include <gtest/gtest.h>
#include <ringo/ringo.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "netpoll.h"
#include "proc.h"
#include "test_util.h"
#include "tls.h"

using namespace std::chrono_literals;
using ringo::testing::Scaled;

namespace {

const ringo::Options kTwoPs{.maxprocs = 2};

// Reads the scheduler's own state, which TSan cannot see synchronised (the
// runtime is not instrumented, race.h): not checked for races.
__attribute__((no_sanitize("thread"))) int currentP() { return ringo::runtime::getm()->p->id; }

int threadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// threadCountAfterJoins is threadCount once it has come down to want, or
// after 10 s. A joined thread stays in /proc/self/task a moment after
// pthread_join returns (the kernel wakes the joiner when the thread clears
// its tid, before it is reaped): about 3% of runs saw one still listed.
int threadCountAfterJoins(int want) {
  const int64_t until = ringo::testing::MonoNanos() + 10'000'000'000;
  int n = threadCount();
  while (n > want && ringo::testing::MonoNanos() < until) {
    usleep(100);
    n = threadCount();
  }
  return n;
}

void spinFor(int64_t ns) {
  int64_t end = ringo::testing::MonoNanos() + ns;
  while (ringo::testing::MonoNanos() < end) {
  }
}

TEST(Gomaxprocs, OptionSetsTheNumberOfPs) {
  int got = 0;
  ringo::Run([&] { got = ringo::GOMAXPROCS(); }, ringo::Options{.maxprocs = 3});
  EXPECT_EQ(got, 3);
  EXPECT_EQ(ringo::GOMAXPROCS(), 0);  // outside Run
}

TEST(Gomaxprocs, EnvironmentOverridesTheDefault) {
  setenv("RINGO_MAXPROCS", "5", 1);
  int got = 0;
  ringo::Run([&] { got = ringo::GOMAXPROCS(); });
  unsetenv("RINGO_MAXPROCS");
  EXPECT_EQ(got, 5);
}

TEST(Gomaxprocs, DefaultFollowsTheAffinityMask) {
  cpu_set_t old, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &old)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  int got = 0;
  ringo::Run([&] { got = ringo::GOMAXPROCS(); });
  ASSERT_EQ(sched_setaffinity(0, sizeof old, &old), 0);
  EXPECT_EQ(got, 1);
}

TEST(GomaxprocsDeathTest, BadEnvironmentIsAClearError) {
  setenv("RINGO_MAXPROCS", "lots", 1);
  EXPECT_EXIT(ringo::Run([] {}), ::testing::ExitedWithCode(2),
              "fatal error: RINGO_MAXPROCS: want a number from 1 to 1024, got \"lots\"");
  unsetenv("RINGO_MAXPROCS");
}

TEST(Sched, WorkSpawnedOnOnePIsStolenByTheOther) {
  // Main spawns every goroutine on its own P without yielding; each runs
  // for 1 ms of CPU. The idle P must steal about half of them.
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "timing: under ThreadSanitizer a spawn costs as much as the stolen work, so the "
                  "other P keeps up with the spawner and the split is not about half";
#endif
  constexpr int n = 64;
  std::atomic<int> perP[2] = {0, 0};
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        wg.Add(n);
        for (int i = 0; i < n; i++)
          ringo::Go([&] {
            spinFor(1000000);
            perP[currentP()]++;
            wg.Done();
          });
        wg.Wait();
      },
      kTwoPs);
  EXPECT_EQ(perP[0] + perP[1], n);
  EXPECT_GE(perP[0].load(), n / 8);
  EXPECT_GE(perP[1].load(), n / 8);
  // With a 4-slot ring the work overflows to the global queue instead, and
  // the other P may never need to steal.
  if (ringo::runtime::P::runqSize >= 2 * n) {
    EXPECT_GT(ringo::ReadRuntimeStats().steals, 0u);
  }
}

TEST(Sched, SpawningChainCannotStarveTheGlobalQueue) {
  // One P. A chain of goroutines keeps handing the P on through runnext
  // (each spawns the next and exits). A goroutine queued behind the chain
  // must still run: first from the local ring, then, after it yields, from
  // the global queue.
  std::atomic<bool> yielderRan{false};
  int linksBeforeYielderRan = -1;
  constexpr int kMaxLinks = 100000;
  std::function<void(int)> link;
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        wg.Add(2);
        ringo::Go([&] {
          ringo::Gosched();  // to the global queue
          yielderRan = true;
          wg.Done();
        });
        link = [&](int i) {
          if (yielderRan || i == kMaxLinks) {
            linksBeforeYielderRan = i;
            wg.Done();
            return;
          }
          ringo::Go(link, i + 1);
        };
        ringo::Go(link, 0);
        wg.Wait();
      },
      ringo::Options{.maxprocs = 1});
  EXPECT_TRUE(yielderRan);
  EXPECT_LT(linksBeforeYielderRan, kMaxLinks);
}

// A Gosched with nothing else to run on its P goes straight on (no queue,
// no switch). That shortcut must not hide a due timer: a goroutine that
// yields in a loop, alone on one P, still sees an AfterFunc fire (its
// timer, then the goroutine the timer starts). On two Ps, two such loops
// end when their timers do.
TEST(Sched, YieldingAloneStillLetsTimersFire) {
  for (int procs : {1, 2}) {
    SCOPED_TRACE(procs);
    bool ok = true;
    ringo::Run(
        [&] {
          ringo::WaitGroup wg;
          wg.Add(procs);
          std::atomic<bool> stuck{false};
          for (int i = 0; i < procs; i++)
            ringo::Go([&] {
              RINGO_DEFER(wg.Done());
              auto fired = std::make_shared<std::atomic<bool>>(false);
              ringo::AfterFunc(2ms, [fired] { *fired = true; });
              const int64_t until = ringo::testing::MonoNanos() + 10'000'000'000;  // catches a hang only
              while (!*fired) {
                ringo::Gosched();
                if (ringo::testing::MonoNanos() > until) {
                  stuck = true;
                  return;
                }
              }
            });
          wg.Wait();
          ok = !stuck;
        },
        ringo::Options{.maxprocs = procs});
    EXPECT_TRUE(ok) << "a goroutine yielding in a loop never saw its timer fire";
  }
}

TEST(Sched, NoGoroutineLostOrRunTwiceAcrossPs) {
  const int64_t n = Scaled(1000000);
  auto runs = std::make_unique<std::atomic<uint8_t>[]>(size_t(n));
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        constexpr int kSpawners = 4;
        wg.Add(n);
        for (int s = 0; s < kSpawners; s++)
          ringo::Go([&, s] {
            int64_t spawned = 0;
            for (int64_t i = s; i < n; i += kSpawners) {
              ringo::Go([&, i] {
                runs[size_t(i)]++;
                wg.Done();
              });
              if (++spawned % 256 == 0) ringo::Gosched();
            }
          });
        wg.Wait();
      },
      kTwoPs);
  int64_t never = 0, twice = 0;
  for (int64_t i = 0; i < n; i++) {
    never += runs[size_t(i)] == 0;
    twice += runs[size_t(i)] > 1;
  }
  EXPECT_EQ(never, 0);
  EXPECT_EQ(twice, 0);
}

TEST(Sched, SpinningMsAreBounded) {
  // With 2 Ps at most one M may spin (half the busy Ps, rounded up to one).
  ringo::Run(
      [&] {
        for (int round = 0; round < 200; round++) {
          ringo::WaitGroup wg;
          wg.Add(4);
          for (int i = 0; i < 4; i++)
            ringo::Go([&] {
              ringo::Sleep(std::chrono::microseconds(50));
              wg.Done();
            });
          wg.Wait();
        }
      },
      kTwoPs);
  auto s = ringo::ReadRuntimeStats();
  EXPECT_GT(s.spinning_transitions, 0u);
  EXPECT_LE(s.max_spinning, 1u);
}

TEST(Sched, IdleProgramUsesNoCpu) {
  // Two Ps, every goroutine asleep for 2 s: the Ms must sleep in the kernel.
  // The bound only catches busy-waiting (which would burn ~2 s).
  int64_t cpu = 0;
  ringo::Run(
      [&] {
        ringo::Go([] { ringo::Sleep(2s); });
        int64_t c0 = ringo::testing::CpuNanos();
        ringo::Sleep(2s);
        cpu = ringo::testing::CpuNanos() - c0;
      },
      kTwoPs);
  EXPECT_LT(cpu, 200 * 1000000) << "cpu ns " << cpu;
}

TEST(Sched, TimersAcrossPsNeverFireEarlyAndAllFire) {
  const int64_t n = Scaled(100000);
  std::atomic<int64_t> fired{0}, early{0};
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        wg.Add(n);
        for (int64_t i = 0; i < n; i++) {
          ringo::Go([&, i] {
            const int64_t d = (i * 7919) % 20000 * 1000;  // 0 to 20 ms
            const int64_t t0 = ringo::testing::MonoNanos();
            ringo::Sleep(std::chrono::nanoseconds(d));
            if (ringo::testing::MonoNanos() - t0 < d) early++;
            fired++;
            wg.Done();
          });
          if (i % 256 == 0) ringo::Gosched();
        }
        wg.Wait();
      },
      kTwoPs);
  EXPECT_EQ(fired.load(), n);
  EXPECT_EQ(early.load(), 0);
}

TEST(Sched, TimerOfABusyPIsRunByAnIdleOne) {
  // sleeper's timer sits on the P it ran on; hog then holds a P without
  // yielding until the sleeper wakes (or 5 s pass). The other M must run
  // the timer and the sleeper meanwhile.
  std::atomic<bool> woke{false};
  bool hogSawWake = false;
  int sleeperP = -1, hogP = -1;
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        wg.Add(2);
        ringo::Go([&] {
          sleeperP = currentP();
          ringo::Sleep(5ms);
          woke = true;
          wg.Done();
        });
        ringo::Gosched();  // let the sleeper park first
        ringo::Go([&] {
          hogP = currentP();
          const int64_t end = ringo::testing::MonoNanos() + 5000000000LL;
          while (!woke && ringo::testing::MonoNanos() < end) {
          }
          hogSawWake = woke;
          wg.Done();
        });
        wg.Wait();
      },
      kTwoPs);
  EXPECT_TRUE(hogSawWake) << "sleeper on P" << sleeperP << ", hog on P" << hogP;
}

// A fake poller: goroutines "wait for I/O" by parking in waiters; complete()
// moves one to ready without goready, so only the scheduler's poll can find
// it. Blocking polls fall back to the stub (timers).
struct FakePoller {
  static inline ringo::runtime::mutex mu;
  static inline ringo::runtime::G* waiter = nullptr;
  static inline ringo::runtime::G* ready = nullptr;
  static inline std::atomic<int> nonBlockingPolls{0};
  static inline std::atomic<int> delivered{0};

  static ringo::runtime::G* poll(int64_t delay) {
    if (delay == 0) nonBlockingPolls++;
    ringo::runtime::lock(&mu);
    ringo::runtime::G* gp = ready;
    ready = nullptr;
    ringo::runtime::unlock(&mu);
    if (gp) {
      delivered++;
      return gp;
    }
    if (delay != 0) return ringo::runtime::netpollStub()->poll(delay);
    return nullptr;
  }
  static void breakPoll() { ringo::runtime::netpollStub()->breakPoll(); }
  static bool anyWaiters() {
    ringo::runtime::lock(&mu);
    bool any = waiter != nullptr || ready != nullptr;
    ringo::runtime::unlock(&mu);
    return any;
  }
  static bool parkOnFd(ringo::runtime::G* gp, void*) {
    waiter = gp;
    ringo::runtime::unlock(&mu);
    return true;
  }
  static void waitIO() {
    ringo::runtime::lock(&mu);
    ringo::runtime::gopark(parkOnFd, nullptr, ringo::runtime::waitReason::zero);
  }
  static bool complete() {
    ringo::runtime::lock(&mu);
    ringo::runtime::G* gp = waiter;
    waiter = nullptr;
    ready = gp;
    ringo::runtime::unlock(&mu);
    return gp != nullptr;
  }
};

const ringo::runtime::netpoller kFake{FakePoller::poll, FakePoller::breakPoll, FakePoller::anyWaiters};

TEST(Netpoll, NonBlockingPollBeforeStealingFindsCompletedGoroutines) {
  ringo::runtime::netpollRegister(&kFake);
  bool resumed = false;
  ringo::Run(
      [&] {
        ringo::WaitGroup wg;
        wg.Add(1);
        ringo::Go([&] {
          FakePoller::waitIO();
          resumed = true;
          wg.Done();
        });
        ringo::Gosched();  // the waiter parks in the fake poller
        while (!FakePoller::complete()) ringo::Gosched();
        wg.Wait();  // only a poll can make the waiter runnable
      },
      ringo::Options{.maxprocs = 1});
  ringo::runtime::netpollRegister(nullptr);
  EXPECT_TRUE(resumed);
  EXPECT_EQ(FakePoller::delivered.load(), 1);
  EXPECT_GT(FakePoller::nonBlockingPolls.load(), 0);
}

TEST(Run, ManyPsTearDownCleanlyAndRunAgain) {
  const int base = threadCount();
  ringo::Run([] {}, kTwoPs);  // sanitizer runtimes may start a thread of their own the first time
  // The warm-up's joined Ms may still be listed for a moment, as below.
  const int before = threadCountAfterJoins(base);
  for (int round = 0; round < 3; round++) {
    std::atomic<int> ran{0};
    ringo::Run(
        [&] {
          ringo::WaitGroup wg;
          wg.Add(100);
          for (int i = 0; i < 100; i++)
            ringo::Go([&] {
              spinFor(100000);
              ran++;
              wg.Done();
            });
          wg.Wait();
          ringo::Go([] { ringo::Sleep(1h); });  // dropped at the end
        },
        kTwoPs);
    EXPECT_EQ(ran.load(), 100);
    EXPECT_EQ(ringo::ReadRuntimeStats().dropped, 1u);
    EXPECT_EQ(threadCountAfterJoins(before), before) << "round " << round;
  }
}

}  // namespace
