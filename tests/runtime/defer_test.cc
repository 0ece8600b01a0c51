// defer_test.cc — Defer and RINGO_DEFER outside of Goexit.
#include <gtest/gtest.h>
#include <ringo/defer.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

using ringo::testing::Events;
using Seen = std::vector<std::string>;

namespace {

TEST(Defer, RunsAtScopeEndInReverseOrder) {
  Events ev;
  {
    RINGO_DEFER(ev("first deferred"));
    auto g = ringo::Defer([&] { ev("second deferred"); });
    RINGO_DEFER(ev("third deferred"));
    ev("body");
  }
  EXPECT_EQ(ev.seen, (Seen{"body", "third deferred", "second deferred", "first deferred"}));
}

TEST(Defer, RunsWhenAnExceptionLeavesTheScope) {
  Events ev;
  try {
    RINGO_DEFER(ev("deferred"));
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
    ev("caught");
  }
  EXPECT_EQ(ev.seen, (Seen{"deferred", "caught"}));
}

TEST(Defer, RunsOnEarlyReturn) {
  Events ev;
  auto f = [&](bool early) {
    RINGO_DEFER(ev(early ? "deferred early" : "deferred late"));
    if (early) return;
    ev("late body");
  };
  f(true);
  f(false);
  EXPECT_EQ(ev.seen, (Seen{"deferred early", "late body", "deferred late"}));
}

}  // namespace
