// exception_state_test.cc — libstdc++'s per-thread exception state follows
// the goroutine across parks.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

TEST(ExceptionState, GoroutineParkedInsideCatchRethrowsItsOwnException) {
  // a catches "from a" and parks; b catches "from b" and parks inside its
  // own catch block; a resumes and rethrows. With the state kept per thread
  // a would rethrow b's exception.
  std::string aGot, bGot;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      try {
        try {
          throw std::runtime_error("from a");
        } catch (...) {
          ringo::Sleep(2ms);
          throw;
        }
      } catch (const std::runtime_error& e) {
        aGot = e.what();
      }
      wg.Done();
    });
    ringo::Go([&] {
      try {
        try {
          throw std::logic_error("from b");
        } catch (...) {
          ringo::Sleep(4ms);
          throw;
        }
      } catch (const std::logic_error& e) {
        bGot = e.what();
      }
      wg.Done();
    });
    wg.Wait();
  });
  EXPECT_EQ(aGot, "from a");
  EXPECT_EQ(bGot, "from b");
}

struct CountsUncaught {
  int* out;
  ~CountsUncaught() {
    ringo::Sleep(2ms);  // park while unwinding
    *out = std::uncaught_exceptions();
  }
};

TEST(ExceptionState, UncaughtExceptionsIsPerGoroutine) {
  int inUnwind = -1, other = -1;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(2);
    ringo::Go([&] {
      try {
        CountsUncaught c{&inUnwind};
        throw std::runtime_error("unwinding");
      } catch (const std::exception&) {
      }
      wg.Done();
    });
    ringo::Go([&] {
      ringo::Sleep(1ms);  // runs while the first is parked mid-unwind
      other = std::uncaught_exceptions();
      wg.Done();
    });
    wg.Wait();
  });
  EXPECT_EQ(inUnwind, 1);
  EXPECT_EQ(other, 0);
}

}  // namespace
