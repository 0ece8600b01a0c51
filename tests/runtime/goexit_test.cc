// goexit_test.cc — Goexit and Defer: the seeds' programs, unwinding order,
// and every way Goexit can be misused.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

using namespace std::chrono_literals;
using ringo::testing::Events;
using Seen = std::vector<std::string>;

namespace {

// The seeds' program. main: Go(Foo), print 4, sleep. Foo: print 1, defer
// print 2, Goexit, print 3.
Seen seeds(bool goexit) {
  Events ev;
  ringo::Run([&] {
    ringo::Go([&] {
      ev("1");
      RINGO_DEFER(ev("2"));
      if (goexit) ringo::Goexit();
      ev("3");
    });
    ev("4");
    ringo::Sleep(20ms);
  });
  return ev.seen;
}

TEST(Goexit, SeedsProgramPrints4Then1Then2) { EXPECT_EQ(seeds(true), (Seen{"4", "1", "2"})); }

TEST(Goexit, SeedsProgramWithoutGoexitPrints4132) { EXPECT_EQ(seeds(false), (Seen{"4", "1", "3", "2"})); }

TEST(GoexitDeathTest, StdExitInPlaceOfGoexitRunsNoDeferredCall) {
  // os.Exit semantics: the process ends at once; "2" is never printed.
  EXPECT_EXIT(
      {
        ringo::Run([] {
          ringo::Go([] {
            std::fprintf(stderr, "1\n");
            RINGO_DEFER(std::fprintf(stderr, "2\n"));
            std::exit(0);
          });
          std::fprintf(stderr, "4\n");
          ringo::Sleep(1s);
        });
      },
      ::testing::ExitedWithCode(0), "^4\n1\n$");
}

struct Noisy {
  Events* ev;
  std::string name;
  ~Noisy() { (*ev)("~" + name); }
};

void level3(Events& ev) {
  Noisy n{&ev, "c"};
  RINGO_DEFER(ev("defer3"));
  ringo::Goexit();
}
void level2(Events& ev) {
  Noisy n{&ev, "b"};
  auto d = ringo::Defer([&] { ev("defer2"); });
  level3(ev);
  ev("after level3");
}
void level1(Events& ev) {
  RINGO_DEFER(ev("defer1a"));
  Noisy n{&ev, "a"};
  RINGO_DEFER(ev("defer1b"));
  level2(ev);
  ev("after level2");
}

TEST(Goexit, RunsDestructorsAndDefersFromDeepFramesInLifoOrder) {
  Events ev;
  ringo::Run([&] {
    ringo::testing::GoAndWait([&] {
      level1(ev);
      ev("after level1");
    });
  });
  EXPECT_EQ(ev.seen, (Seen{"defer3", "~c", "defer2", "~b", "defer1b", "~a", "defer1a"}));
}

TEST(Goexit, DestroysTheGoroutinesClosure) {
  Events ev;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(1);
    std::shared_ptr<Noisy> owned(new Noisy{&ev, "closure"});
    ringo::Go([&wg, owned = std::move(owned)] {
      RINGO_DEFER(wg.Done());
      ringo::Goexit();
    });
    wg.Wait();
  });
  EXPECT_EQ(ev.seen, (Seen{"~closure"}));
}

TEST(Goexit, LeavesOtherGoroutinesRunning) {
  int steps = 0;
  Events ev;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      RINGO_DEFER(wg.Done());
      for (int i = 0; i < 5; i++) {
        steps++;
        ringo::Gosched();
      }
      ev("worker done");
    });
    ringo::Go([&] {
      RINGO_DEFER(wg.Done());
      ringo::Gosched();
      ev("exiting");
      ringo::Goexit();
    });
    wg.Wait();
    ev("main done");
  });
  EXPECT_EQ(steps, 5);
  EXPECT_EQ(ev.seen, (Seen{"exiting", "worker done", "main done"}));
}

TEST(Goexit, TypedCatchesNeverSeeIt) {
  Events ev;
  ringo::Run([&] {
    ringo::testing::GoAndWait([&] {
      try {
        try {
          ringo::Goexit();
        } catch (const std::exception&) {
          ev("caught std::exception");
        } catch (int) {
          ev("caught int");
        }
      } catch (const std::runtime_error&) {
        ev("caught runtime_error");
      }
      ev("survived");
    });
  });
  EXPECT_TRUE(ev.seen.empty()) << ev.seen.front();
}

TEST(Goexit, CatchAllThatRethrowsLetsItThrough) {
  Events ev;
  ringo::Run([&] {
    ringo::testing::GoAndWait([&] {
      try {
        ringo::Goexit();
      } catch (...) {
        ev("cleanup in catch(...)");
        throw;
      }
      ev("survived");
    });
  });
  EXPECT_EQ(ev.seen, (Seen{"cleanup in catch(...)"}));
}

TEST(Goexit, InsideACatchBlockStillUnwinds) {
  Events ev;
  ringo::Run([&] {
    ringo::testing::GoAndWait([&] {
      try {
        throw std::runtime_error("handled");
      } catch (const std::runtime_error& e) {
        RINGO_DEFER(ev(std::string("left catch of ") + e.what()));
        ringo::Goexit();
      }
      ev("survived");
    });
    // The goroutine's caught exception was released by the unwind.
    ev(std::uncaught_exceptions() == 0 && !std::current_exception() ? "clean" : "dirty");
  });
  EXPECT_EQ(ev.seen, (Seen{"left catch of handled", "clean"}));
}

TEST(Goexit, RecycledGoroutineStartsWithCleanState) {
  // A G that ended by Goexit is reused by the next Go: it must run normally.
  Events ev;
  ringo::Run([&] {
    for (int i = 0; i < 3; i++) {
      ringo::WaitGroup wg;
      wg.Add(1);
      ringo::Go([&, i] {
        RINGO_DEFER(wg.Done());
        ev("run " + std::to_string(i));
        if (i % 2 == 0) ringo::Goexit();
      });
      wg.Wait();
    }
  });
  EXPECT_EQ(ev.seen, (Seen{"run 0", "run 1", "run 2"}));
  EXPECT_LE(ringo::ReadRuntimeStats().gs_allocated, 2u);
}

void swallow() {
  try {
    ringo::Goexit();
  } catch (...) {
  }
}

TEST(GoexitDeathTest, SwallowingCatchAllIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go(swallow);
                ringo::Sleep(1s);
              }),
              ::testing::ExitedWithCode(2),
              "fatal error: Goexit swallowed by catch\\(\\.\\.\\.\\) in goroutine 2");
}

void goexitNoexcept() noexcept { ringo::Goexit(); }

TEST(GoexitDeathTest, ThroughNoexceptFunctionIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go([] { goexitNoexcept(); });
                ringo::Sleep(1s);
              }),
              ::testing::ExitedWithCode(2), "fatal error: Goexit through noexcept frame");
}

struct GoexitInDestructor {
  ~GoexitInDestructor() { ringo::Goexit(); }
};

TEST(GoexitDeathTest, FromDestructorIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go([] { GoexitInDestructor d; });
                ringo::Sleep(1s);
              }),
              ::testing::ExitedWithCode(2), "fatal error: Goexit through noexcept frame");
}

TEST(GoexitDeathTest, FromDeferBodyIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go([] { RINGO_DEFER(ringo::Goexit()); });
                ringo::Sleep(1s);
              }),
              ::testing::ExitedWithCode(2), "fatal error: Goexit through noexcept frame");
}

TEST(GoexitDeathTest, InMainLetsOthersFinishThenReportsNoGoroutines) {
  EXPECT_EXIT(
      {
        ringo::Run([] {
          ringo::Go([] {
            ringo::Sleep(10ms);
            std::fprintf(stderr, "other goroutine finished\n");
          });
          RINGO_DEFER(std::fprintf(stderr, "main deferred call ran\n"));
          ringo::Goexit();
        });
        std::fprintf(stderr, "Run returned\n");
      },
      ::testing::ExitedWithCode(2),
      "^main deferred call ran\nother goroutine finished\n"
      "fatal error: no goroutines \\(main called Goexit\\) - deadlock!\n");
}

TEST(GoexitDeathTest, OutsideAGoroutineIsFatal) {
  EXPECT_EXIT(ringo::Goexit(), ::testing::ExitedWithCode(2), "fatal error: Goexit: not on a goroutine");
}

TEST(PanicDeathTest, EscapingExceptionPrintsPanicAndTheThrowersFrames) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go([] { throw std::runtime_error("boom"); });
                ringo::Sleep(1s);
              }),
              ::testing::ExitedWithCode(2),
              "^panic: boom \\[std::runtime_error\\]\n\ngoroutine 2 \\[running\\]:\n"
              "(.|\n)*__cxa_throw(.|\n)*ringo::runtime::goexit\\(\\)");
}

TEST(PanicDeathTest, InMainIsAPanicToo) {
  EXPECT_EXIT(ringo::Run([]() -> int { throw 42; }), ::testing::ExitedWithCode(2),
              "^panic: exception of type int\n\ngoroutine 1 \\[running\\]:");
}

}  // namespace
