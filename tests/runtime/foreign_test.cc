// foreign_test.cc — Go and TrySend from threads ringo did not start, and the
// deadlock detector around them.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <atomic>
#include <memory>
#include <thread>

#include "test_util.h"

using namespace std::chrono_literals;

namespace {

TEST(Foreign, GoAndTrySendFromAForeignThread) {
  int sum = 0;
  std::atomic<int> goroutineRan{0};
  ringo::Run([&] {
    ringo::Chan<int> ch(16);
    ringo::Chan<int> done;
    auto keep = std::make_shared<ringo::ForeignThread>();
    std::thread t([ch, done, keep]() mutable {
      for (int i = 1; i <= 100; i++)
        while (!ch.TrySend(int(i))) std::this_thread::yield();  // full: retry, as a callback would
      ringo::Go([done] { done.Send(1); });
      keep.reset();
    });
    keep.reset();
    for (int i = 0; i < 100; i++) sum += ch.Recv().first;
    EXPECT_EQ(done.Recv().first, 1);  // the goroutine the foreign thread started ran
    goroutineRan = 1;
    t.join();
  });
  EXPECT_EQ(sum, 5050);
  EXPECT_EQ(goroutineRan.load(), 1);
}

TEST(Foreign, WakesAnIdleSchedulerOnOneP) {
  // Every M is asleep (no timer, no work) when the foreign send arrives.
  ringo::Options opts;
  opts.maxprocs = 1;
  int got = 0;
  ringo::Run([&] {
    ringo::Chan<int> ch;
    auto keep = std::make_shared<ringo::ForeignThread>();
    std::thread t([ch, keep]() mutable {
      std::this_thread::sleep_for(20ms);  // let the scheduler go idle first
      while (!ch.TrySend(7)) std::this_thread::yield();  // unbuffered: once the receiver is parked
      keep.reset();
    });
    keep.reset();
    got = ch.Recv().first;
    t.join();
  }, opts);
  EXPECT_EQ(got, 7);
}

TEST(Foreign, GoAfterRunIsAnError) {
  EXPECT_THROW(ringo::Go([] {}), std::logic_error);
}

TEST(ForeignDeathTest, DeadlockIsReportedOnceTheLastForeignThreadLetsGo) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Chan<int> ch;
                auto keep = std::make_shared<ringo::ForeignThread>();
                std::thread([keep]() mutable {
                  std::this_thread::sleep_for(20ms);
                  keep.reset();  // never sent anything: now nobody can
                }).detach();
                keep.reset();
                ch.Recv();
              }),
              ::testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!(.|\n)*goroutine 1 \\[chan receive\\]");
}

TEST(ForeignDeathTest, SelectDeadlockListsEveryBlockedGoroutine) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Chan<int> a, b;
                ringo::Mutex mu;
                mu.Lock();
                ringo::Go([&] { mu.Lock(); });
                ringo::Go([&] { ringo::Select(ringo::Recv(a), ringo::Send(b, 1)); });
                ringo::WaitGroup wg;
                wg.Add(1);
                wg.Wait();
              }),
              ::testing::ExitedWithCode(2),
              "deadlock!(.|\n)*goroutine 1 \\[sync.WaitGroup.Wait\\](.|\n)*goroutine 2 "
              "\\[sync.Mutex.Lock\\](.|\n)*goroutine 3 \\[select\\]");
}

TEST(ForeignDeathTest, PendingTimerIsNotADeadlock) {
  // Blocked on a channel, but a timer will wake a goroutine that sends: not
  // dead. The program ends normally.
  EXPECT_EXIT(
      {
        ringo::Run([] {
          ringo::Chan<int> ch;
          ringo::Go([ch] {
            ringo::Sleep(30ms);
            ch.Send(1);
          });
          ch.Recv();
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
