// signal_test.cc — signal::Notify, and signals nobody asked for keeping
// their default meaning while ringo runs.
#include <gtest/gtest.h>
#include <ringo/ringo.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace {

class Signal : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Signal, NotifyDeliversOnTheChannel) {
  int got = 0, got2 = 0;
  ringo::Run([&] {
    ringo::Chan<int> c(2);
    ringo::signal::Notify(c, {SIGUSR1});
    ringo::signal::Notify(c, {SIGUSR2});  // adds to the same channel
    kill(getpid(), SIGUSR1);
    got = c.Recv().first;
    kill(getpid(), SIGUSR2);
    got2 = c.Recv().first;
    ringo::signal::Stop(c);
  });
  EXPECT_EQ(got, SIGUSR1);
  EXPECT_EQ(got2, SIGUSR2);
}

TEST_F(Signal, EveryRegisteredChannelGetsIt) {
  int a = 0, b = 0;
  ringo::Run([&] {
    ringo::Chan<int> ca(1), cb(1);
    ringo::signal::Notify(ca, {SIGHUP});
    ringo::signal::Notify(cb, {SIGHUP});
    kill(getpid(), SIGHUP);
    a = ca.Recv().first;
    b = cb.Recv().first;
  });
  EXPECT_EQ(a, SIGHUP);
  EXPECT_EQ(b, SIGHUP);
}

// A goroutine that waits only for a signal is not "asleep forever".
TEST_F(Signal, WaitingForASignalIsNotADeadlock) {
  int got = 0;
  ringo::Run([&] {
    ringo::Chan<int> c(1);
    ringo::signal::Notify(c, {SIGUSR2});
    std::thread t([] {
      std::this_thread::sleep_for(100ms);  // likely after main has parked
      kill(getpid(), SIGUSR2);
    });
    got = c.Recv().first;
    t.join();
  });
  EXPECT_EQ(got, SIGUSR2);
}

TEST_F(Signal, UnaskedSigtermStillEndsTheProgram) {
  EXPECT_EXIT(ringo::Run([] {
                kill(getpid(), SIGTERM);
                ringo::Sleep(10s);
              }),
              ::testing::KilledBySignal(SIGTERM), "");
}

TEST_F(Signal, AfterStopTheDefaultActionIsBack) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Chan<int> c(1);
                ringo::signal::Notify(c, {SIGINT});
                ringo::signal::Stop(c);
                kill(getpid(), SIGINT);
                ringo::Sleep(10s);
              }),
              ::testing::KilledBySignal(SIGINT), "");
}

TEST_F(Signal, AnIgnoredSignalStaysIgnored) {
  EXPECT_EXIT(
      {
        signal(SIGHUP, SIG_IGN);  // as under nohup
        ringo::Run([] {
          kill(getpid(), SIGHUP);
          ringo::Sleep(50ms);
        });
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// Go's rule: Notify takes SIGINT and SIGHUP back from SIG_IGN (a shell
// starts background jobs with SIGINT ignored); Stop ignores them again.
TEST_F(Signal, NotifyTakesAnIgnoredSigintBack) {
  EXPECT_EXIT(
      {
        signal(SIGINT, SIG_IGN);  // as for `prog &` in a non-interactive shell
        int got = 0;
        ringo::Run([&] {
          ringo::Chan<int> c(1);
          ringo::signal::Notify(c, {SIGINT});
          kill(getpid(), SIGINT);
          ringo::Select(ringo::Recv(c, [&](int sig) { got = sig; }), ringo::Recv(ringo::After(10s)));
          ringo::signal::Stop(c);
          kill(getpid(), SIGINT);  // ignored again: the program goes on
          ringo::Sleep(50ms);
        });
        struct sigaction cur {};
        sigaction(SIGINT, nullptr, &cur);
        std::exit(got == SIGINT && cur.sa_handler == SIG_IGN ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Signal, NotifyOfAnUnsupportedSignalThrows) {
  bool threw = false;
  ringo::Run([&] {
    ringo::Chan<int> c(1);
    try {
      ringo::signal::Notify(c, {SIGSEGV});
    } catch (const std::invalid_argument&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
}

// A nil channel would swallow the signals it asked for (Go panics), and
// an empty list would register nothing without a word.
TEST_F(Signal, NotifyWithANilChannelOrNoSignalsThrows) {
  int threw = 0;
  ringo::Run([&] {
    for (auto call : {+[] { ringo::signal::Notify(ringo::Chan<int>(nullptr), {SIGTERM}); },
                      +[] { ringo::signal::Notify(ringo::Chan<int>(1), {}); }}) {
      try {
        call();
      } catch (const std::invalid_argument&) {
        threw++;
      }
    }
  });
  EXPECT_EQ(threw, 2);
}

TEST_F(Signal, SigpipeIsIgnoredWhileRunning) {
  int err = 0;
  ringo::Run([&] {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    close(p[0]);
    if (write(p[1], "x", 1) < 0) err = errno;  // SIGPIPE would kill us
    close(p[1]);
  });
  EXPECT_EQ(err, EPIPE);
}

}  // namespace
