// test_util.h — shared helpers for the runtime tests.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace ringo::testing {

// Scale shrinks stress tests in slow variants: RINGO_TEST_SCALE=0.1 runs a
// tenth of the iterations. Never below 1.
inline int64_t Scaled(int64_t n) {
  const char* s = std::getenv("RINGO_TEST_SCALE");
  double f = s ? std::atof(s) : 1.0;
  if (f <= 0) f = 1.0;
  int64_t v = int64_t(double(n) * f);
  return v < 1 ? 1 : v;
}

// Events records what happened, in order, for tests that pin an order.
struct Events {
  std::vector<std::string> seen;
  void operator()(std::string e) { seen.push_back(std::move(e)); }
};

}  // namespace ringo::testing
