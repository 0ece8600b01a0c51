// race_test.cc — ThreadSanitizer sees races between goroutines through the
// runtime's no-sync fiber switches, and does not see one where ringo
// synchronises. Meaningful only in the TSan build; skipped elsewhere.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTSan = true;
#else
constexpr bool kTSan = false;
#endif

// Two goroutines write one int with nothing between them. On one P they
// even run one after the other on the same thread: only a switch that
// hides nothing lets TSan see it.
void racyWrites() {
  ringo::Options one;
  one.maxprocs = 1;
  ringo::Run([] {
    int x = 0;
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      x = 1;
      wg.Done();
    });
    ringo::Go([&] {
      x = 2;
      wg.Done();
    });
    wg.Wait();
  }, one);
}

TEST(RaceDeathTest, UnsynchronisedGoroutinesAreReported) {
  if (!kTSan) GTEST_SKIP() << "needs a ThreadSanitizer build (RINGO_SANITIZE=thread)";
  EXPECT_EXIT(racyWrites(), ::testing::ExitedWithCode(66), "WARNING: ThreadSanitizer: data race");
}

TEST(Race, ChannelHandOffIsNotARace) {
  // The same writes, ordered by a channel: no report (halt_on_error would
  // end the test).
  ringo::Run([] {
    int x = 0;
    ringo::Chan<int> ch;
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      x = 1;
      ch.Send(0);
      wg.Done();
    });
    ch.Recv();
    x = 2;
    wg.Wait();
    EXPECT_EQ(x, 2);
  });
}

}  // namespace
