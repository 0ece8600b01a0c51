// sync_test.cc — Mutex, RWMutex, Once, Cond, across Ps and on one.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::Scaled;

namespace {

TEST(Mutex, ExcludesUnderContentionFrom1000Goroutines) {
  // Each goroutine enters the section many times; the section checks that
  // it is alone and sometimes parks while holding the lock, so waiters
  // really queue and park across both Ps.
  const int goroutines = 1000, rounds = int(Scaled(50));
  int64_t counter = 0;  // plain: the Mutex is what protects it
  std::atomic<int> inside{0}, violations{0};
  ringo::Run([&] {
    ringo::Mutex mu;
    ringo::WaitGroup wg;
    wg.Add(goroutines);
    for (int g = 0; g < goroutines; g++)
      ringo::Go([&, g] {
        for (int r = 0; r < rounds; r++) {
          std::lock_guard lock(mu);
          if (inside.fetch_add(1) != 0) violations++;
          counter++;
          if ((g + r) % 7 == 0) ringo::Gosched();  // park with the lock held
          inside.fetch_sub(1);
        }
        wg.Done();
      });
    wg.Wait();
  });
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(counter, int64_t(goroutines) * rounds);
}

TEST(Mutex, TryLock) {
  ringo::Run([] {
    ringo::Mutex mu;
    EXPECT_TRUE(mu.TryLock());
    EXPECT_FALSE(mu.TryLock());
    mu.Unlock();
    std::unique_lock lock(mu, std::try_to_lock);
    EXPECT_TRUE(lock.owns_lock());
  });
}

TEST(Mutex, StarvationModeLetsAWaiterIn) {
  // One P. The holder unlocks and relocks at once, again and again, holding
  // the lock across a sleep. In normal mode it would always win (the woken
  // waiter has not run yet when it relocks); after the waiter has waited
  // 1 ms the mutex hands the lock to it. The waiter must get in long before
  // the holder's 1,000 rounds are over.
  int waiterGotItAtRound = -1;
  ringo::Options opts;
  opts.maxprocs = 1;
  ringo::Run([&] {
    ringo::Mutex mu;
    std::atomic<int> round{0};
    std::atomic<bool> done{false};
    mu.Lock();
    ringo::Go([&] {
      mu.Lock();
      waiterGotItAtRound = round.load();
      done = true;
      mu.Unlock();
    });
    for (int r = 0; r < 1000 && !done; r++) {
      round = r;
      ringo::Sleep(200us);  // the waiter runs meanwhile, finds it locked, parks
      mu.Unlock();
      mu.Lock();
    }
    mu.Unlock();
  }, opts);
  ASSERT_GE(waiterGotItAtRound, 0) << "the waiter starved";
  EXPECT_LT(waiterGotItAtRound, 100);
}

TEST(Mutex, UnlockOfUnlockedIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Mutex mu;
                mu.Unlock();
              }),
              ::testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
}

// A thread ringo did not start that would have to wait stops the program
// (it cannot park; the lock has counted it in already).
TEST(Mutex, WaitingOnAForeignThreadIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ringo::Run([] {
                ringo::Mutex mu;
                mu.Lock();
                std::thread([&] { mu.Lock(); }).join();
              }),
              ::testing::ExitedWithCode(2), "fatal error: sync: a lock was waited for outside a goroutine");
  EXPECT_EXIT(ringo::Run([] {
                ringo::RWMutex rw;
                rw.Lock();
                std::thread([&] { rw.RLock(); }).join();
              }),
              ::testing::ExitedWithCode(2), "fatal error: sync: a lock was waited for outside a goroutine");
}

TEST(Mutex, LockedTwiceIsADeadlock) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Mutex mu;
                mu.Lock();
                mu.Lock();
              }),
              ::testing::ExitedWithCode(2),
              "all goroutines are asleep - deadlock!(.|\n)*\\[sync.Mutex.Lock\\]");
}

TEST(RWMutex, ReadersShareWritersExclude) {
  const int readers = 50, writers = 5, rounds = int(Scaled(40));
  std::atomic<int> activeReaders{0}, activeWriters{0}, violations{0};
  int64_t value = 0;
  ringo::Run([&] {
    ringo::RWMutex mu;
    ringo::WaitGroup wg;
    wg.Add(readers + writers);
    for (int i = 0; i < readers; i++)
      ringo::Go([&] {
        for (int r = 0; r < rounds; r++) {
          std::shared_lock lock(mu);
          activeReaders.fetch_add(1);
          if (activeWriters.load() != 0) violations++;
          ringo::Gosched();  // hold the read lock across a park
          activeReaders.fetch_sub(1);
        }
        wg.Done();
      });
    for (int i = 0; i < writers; i++)
      ringo::Go([&] {
        for (int r = 0; r < rounds; r++) {
          std::unique_lock lock(mu);
          if (activeWriters.fetch_add(1) != 0 || activeReaders.load() != 0) violations++;
          value++;
          ringo::Gosched();
          activeWriters.fetch_sub(1);
        }
        wg.Done();
      });
    wg.Wait();
  });
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(value, int64_t(writers) * rounds);
}

TEST(RWMutex, ReadersHoldItTogether) {
  // Ten readers each wait, holding the read lock, until all ten hold it:
  // only a shared lock lets this finish (else the detector reports a
  // deadlock).
  std::atomic<int> together{0};
  ringo::Run([&] {
    ringo::RWMutex mu;
    ringo::WaitGroup holding, done;
    holding.Add(10);
    done.Add(10);
    for (int i = 0; i < 10; i++)
      ringo::Go([&] {
        std::shared_lock lock(mu);
        holding.Done();
        holding.Wait();
        together++;
        done.Done();
      });
    done.Wait();
  });
  EXPECT_EQ(together.load(), 10);
}

TEST(RWMutex, TryLocks) {
  ringo::Run([] {
    ringo::RWMutex mu;
    EXPECT_TRUE(mu.TryRLock());
    EXPECT_TRUE(mu.TryRLock());
    EXPECT_FALSE(mu.TryLock());
    mu.RUnlock();
    mu.RUnlock();
    EXPECT_TRUE(mu.TryLock());
    EXPECT_FALSE(mu.TryRLock());
    mu.Unlock();
  });
}

TEST(Once, RunsOnceAndEveryCallerWaitsForIt) {
  std::atomic<int> runs{0}, sawUnfinished{0};
  ringo::Run([&] {
    ringo::Once once;
    std::atomic<bool> finished{false};
    ringo::WaitGroup wg;
    wg.Add(100);
    for (int i = 0; i < 100; i++)
      ringo::Go([&] {
        once.Do([&] {
          runs++;
          ringo::Sleep(5ms);  // the others arrive meanwhile and must wait
          finished = true;
        });
        if (!finished) sawUnfinished++;
        wg.Done();
      });
    wg.Wait();
  });
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(sawUnfinished.load(), 0);
}

TEST(Once, AThrowingFunctionCountsAsDone) {
  ringo::Run([] {
    ringo::Once once;
    EXPECT_THROW(once.Do([] { throw std::runtime_error("boom"); }), std::runtime_error);
    bool again = false;
    once.Do([&] { again = true; });
    EXPECT_FALSE(again);
  });
}

TEST(Cond, SignalWakesOneInOrderBroadcastWakesAll) {
  std::vector<int> order;
  int afterBroadcast = 0;
  ringo::Options opts;
  opts.maxprocs = 1;
  ringo::Run([&] {
    ringo::Mutex mu;
    ringo::Cond cond(mu);
    int permits = 0;
    bool open = false;
    ringo::WaitGroup wg;
    for (int i = 0; i < 3; i++) {
      wg.Add(1);
      ringo::Go([&, i] {
        std::unique_lock lock(mu);
        while (permits == 0) cond.Wait();
        permits--;
        order.push_back(i);
        wg.Done();
      });
      ringo::Gosched();  // waiter i parks before waiter i+1
    }
    for (int i = 0; i < 3; i++) {
      {
        std::lock_guard lock(mu);
        permits++;
      }
      cond.Signal();
      ringo::Gosched();
    }
    wg.Wait();
    wg.Add(5);
    for (int i = 0; i < 5; i++)
      ringo::Go([&] {
        std::unique_lock lock(mu);
        while (!open) cond.Wait();
        afterBroadcast++;
        wg.Done();
      });
    ringo::Gosched();
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cond.Broadcast();
    wg.Wait();
  }, opts);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(afterBroadcast, 5);
}

TEST(Cond, ProducerConsumerAcrossPs) {
  const int items = int(Scaled(20000));
  int64_t sum = 0;
  ringo::Run([&] {
    ringo::Mutex mu;
    ringo::Cond notEmpty(mu), notFull(mu);
    std::vector<int> q;
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      for (int i = 1; i <= items; i++) {
        std::unique_lock lock(mu);
        while (q.size() >= 8) notFull.Wait();
        q.push_back(i);
        notEmpty.Signal();
      }
      wg.Done();
    });
    ringo::Go([&] {
      for (int i = 0; i < items; i++) {
        std::unique_lock lock(mu);
        while (q.empty()) notEmpty.Wait();
        sum += q.front();
        q.erase(q.begin());
        notFull.Signal();
      }
      wg.Done();
    });
    wg.Wait();
  });
  EXPECT_EQ(sum, int64_t(items) * (items + 1) / 2);
}

}  // namespace
