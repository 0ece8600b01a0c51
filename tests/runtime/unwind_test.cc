// unwind_test.cc — Goexit's own unwinder (runtime/unwind.cc): it finishes
// the common Goexit itself, every landing pad sees its frame's registers,
// the handlers a forced unwind runs still run, and each frame it does not
// decode is handed to libgcc, which finishes the walk.
#include <cxxabi.h>
#include <gtest/gtest.h>
#include <ringo/ringo.h>
#include <ringo/runtime_stats.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "test_util.h"

extern "C" void ringo_test_c_frame(void (*fn)(void*), void* arg, int* cleaned);

using ringo::testing::Events;
using Seen = std::vector<std::string>;

namespace {

// The sanitizer builds keep libgcc's unwinder for every Goexit.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kFast = false;
#else
constexpr bool kFast = true;
#endif

struct Counts {
  uint64_t fast, libgcc;
};
Counts counts() {
  ringo::RuntimeStats s = ringo::ReadRuntimeStats();
  return {s.goexits_fast, s.goexits_libgcc};
}

// waitAlone waits until main is the only goroutine left. wg.Done runs in
// a goroutine's outermost Defer; the Goexit is counted when its walk
// reaches goexit, just after, and on another P main may already be
// reading. Bounded: a hang fails the test.
void waitAlone() {
  for (int i = 0; i < 10000 && ringo::NumGoroutine() > 1; i++) ringo::Sleep(std::chrono::milliseconds(1));
  ASSERT_EQ(ringo::NumGoroutine(), 1);
}

// Runs body on n goroutines and returns how the Goexits were unwound.
Counts goexits(int n, const std::function<void()>& body) {
  Counts d{};
  ringo::Run([&] {
    Counts before = counts();
    ringo::WaitGroup wg;
    wg.Add(n);
    for (int i = 0; i < n; i++)
      ringo::Go([&] {
        RINGO_DEFER(wg.Done());
        body();
      });
    wg.Wait();
    waitAlone();
    Counts after = counts();
    d = {after.fast - before.fast, after.libgcc - before.libgcc};
  });
  return d;
}

TEST(GoexitUnwind, OwnUnwinderFinishesACommonGoexit) {
  std::atomic<int> deferred{0};  // goroutines on one P are not ordered for TSan
  Counts c = goexits(1000, [&] {
    RINGO_DEFER(deferred++);
    ringo::Goexit();
  });
  EXPECT_EQ(deferred.load(), 1000);
  EXPECT_EQ(c.fast, kFast ? 1000u : 0u);
  EXPECT_EQ(c.libgcc, kFast ? 0u : 1000u);
}

// ---- registers ----

// The values each frame keeps across its call live in callee-saved
// registers (or its own slots); its landing pad reads them. A walk that
// restored a register from the wrong frame would record a wrong sum.
uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ULL;
  return x ^ (x >> 29);
}

[[gnu::noinline]] void record(std::vector<uint64_t>* out, uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                              uint64_t e) {
  out->push_back(a + 2 * b + 3 * c + 5 * d + 7 * e);
}

// Its fields are never addressed, so the compiler keeps them in registers.
struct Sums {
  std::vector<uint64_t>* out;
  uint64_t a, b, c, d, e;
  [[gnu::always_inline]] inline ~Sums() { record(out, a, b, c, d, e); }
};

// sums fills a Sums in the calling frame (inlined, so each frame shape
// below keeps the values in its own registers).
[[gnu::always_inline]] inline Sums sums(std::vector<uint64_t>* out, uint64_t seed) {
  Sums s{out, mix(seed), 0, 0, 0, 0};
  s.b = mix(s.a);
  s.c = mix(s.b);
  s.d = mix(s.c);
  s.e = mix(s.d);
  return s;
}

uint64_t expected(uint64_t seed) {
  uint64_t a = mix(seed), b = mix(a), c = mix(b), d = mix(c), e = mix(d);
  return a + 2 * b + 3 * c + 5 * d + 7 * e;
}

void descend(std::vector<uint64_t>* out, uint64_t seed, int depth);

[[gnu::noinline]] void frameWithPointer(std::vector<uint64_t>* out, uint64_t seed, int depth) {
  Sums s = sums(out, seed);
  descend(out, seed + 1, depth - 1);
  s.out = nullptr;  // not reached: Goexit is below
}

// Without a frame pointer: the CFA is rsp-based. (GCC's optimize attribute;
// clang has none, and its frame keeps the pointer.)
#if defined(__clang__)
[[gnu::noinline]]
#else
[[gnu::noinline, gnu::optimize("omit-frame-pointer")]]
#endif
void frameWithoutPointer(std::vector<uint64_t>* out, uint64_t seed, int depth) {
  Sums s = sums(out, seed);
  descend(out, seed + 1, depth - 1);
  s.out = nullptr;
}

// A variable-sized frame: the CFA is rbp-based whatever the flags.
[[gnu::noinline]] void frameWithAlloca(std::vector<uint64_t>* out, uint64_t seed, int depth) {
  volatile char* buf = static_cast<volatile char*>(__builtin_alloca(64 + (seed & 63)));
  buf[0] = char(seed);
  Sums s = sums(out, seed);
  descend(out, seed + 1 + uint64_t(buf[0] & 0), depth - 1);
  s.out = nullptr;
}

void descend(std::vector<uint64_t>* out, uint64_t seed, int depth) {
  if (depth == 0) ringo::Goexit();
  switch (depth % 3) {
    case 0: frameWithPointer(out, seed, depth); break;
    case 1: frameWithoutPointer(out, seed, depth); break;
    default: frameWithAlloca(out, seed, depth); break;
  }
}

TEST(GoexitUnwind, EveryLandingPadSeesItsFramesRegisters) {
  constexpr int kDepth = 60;
  std::vector<uint64_t> got;
  Counts c = goexits(1, [&] { descend(&got, 1000, kDepth); });
  // Innermost first: the frame at depth 1 got seed 1000 + kDepth - 1.
  std::vector<uint64_t> want;
  for (int i = kDepth - 1; i >= 0; i--) want.push_back(expected(1000 + uint64_t(i)));
  EXPECT_EQ(got, want);
  EXPECT_EQ(c.fast, kFast ? 1u : 0u);
}

// ---- handlers ----

// A catch (abi::__forced_unwind&) binds its reference to what
// __cxa_begin_catch returns for a foreign exception: null. UBSan's null check
// would flag that binding, which is libstdc++'s and not the unwinder's.
__attribute__((no_sanitize_undefined)) void handlers(Events& ev) {
  RINGO_DEFER(ev("outer defer"));
  try {
    try {
      RINGO_DEFER(ev("inner defer"));
      ringo::Goexit();
    } catch (const std::exception&) {
      ev("typed catch");  // never: Goexit is no std::exception
    } catch (abi::__forced_unwind&) {
      ev("forced_unwind handler");
      throw;
    }
  } catch (...) {
    ev("catch-all");
    throw;
  }
}

TEST(GoexitUnwind, ForcedUnwindHandlersRunAndRethrow) {
  Events ev;
  Counts c = goexits(1, [&] { handlers(ev); });
  EXPECT_EQ(ev.seen, (Seen{"inner defer", "forced_unwind handler", "catch-all", "outer defer"}));
  // A rethrow continues in libgcc (_Unwind_Resume_or_Rethrow); the next
  // landing pad's _Unwind_Resume brings the walk back.
  EXPECT_EQ(c.fast + c.libgcc, 1u);
  EXPECT_EQ(c.fast, kFast ? 1u : 0u);
}

TEST(GoexitUnwind, DeepStacksUnwindInLifoOrder) {
  constexpr int kDepth = 300;
  std::vector<int> order;
  std::function<void(int)> down = [&](int n) {
    RINGO_DEFER(order.push_back(n));
    if (n == kDepth) ringo::Goexit();
    down(n + 1);
  };
  Counts c = goexits(1, [&] { down(1); });
  ASSERT_EQ(order.size(), size_t(kDepth));
  for (int i = 0; i < kDepth; i++) EXPECT_EQ(order[size_t(i)], kDepth - i);
  EXPECT_EQ(c.fast, kFast ? 1u : 0u);
}

// ---- what is left to libgcc ----

struct CallArg {
  Events* ev;
  bool deferInside;
};

void callGoexit(void* p) {
  auto* a = static_cast<CallArg*>(p);
  if (a->deferInside) {
    RINGO_DEFER((*a->ev)("C++ defer inside"));
    ringo::Goexit();
  }
  ringo::Goexit();
}

// The walk gives up before it has run anything; libgcc's forced unwind runs
// the C cleanup, and the next C++ landing pad's resume comes back.
TEST(GoexitUnwind, ACFrameBeforeAnyLandingPadIsLeftToLibgccWhichHandsBack) {
  Events ev;
  int cleaned = 0;
  CallArg arg{&ev, false};
  Counts c = goexits(1, [&] {
    RINGO_DEFER(ev("C++ defer outside"));
    ringo_test_c_frame(callGoexit, &arg, &cleaned);
  });
  EXPECT_EQ(cleaned, 1);
  EXPECT_EQ(ev.seen, (Seen{"C++ defer outside"}));
  EXPECT_EQ(c.fast + c.libgcc, 1u);
  EXPECT_EQ(c.fast, kFast ? 1u : 0u);
}

TEST(GoexitUnwind, ACFrameAfterALandingPadIsHandedToLibgccMidWay) {
  Events ev;
  int cleaned = 0;
  CallArg arg{&ev, true};
  Counts c = goexits(1, [&] {
    RINGO_DEFER(ev("C++ defer outside, cleaned=" + std::to_string(cleaned)));
    ringo_test_c_frame(callGoexit, &arg, &cleaned);
  });
  EXPECT_EQ(cleaned, 1);
  EXPECT_EQ(ev.seen, (Seen{"C++ defer inside", "C++ defer outside, cleaned=1"}));
  // libgcc ran the C frame's cleanup; the C++ landing pad after it resumed
  // a Goexit still marked fast, so ringo's walk finished it.
  EXPECT_EQ(c.fast + c.libgcc, 1u);
  EXPECT_EQ(c.fast, kFast ? 1u : 0u);
}

// Defer bodies that park: the walk resumes on whichever M runs the
// goroutine next, with that M's cache.
TEST(GoexitUnwind, DeferBodiesThatParkResumeTheWalkOnAnyM) {
  constexpr int kN = 400;
  std::atomic<int> inner{0}, outer{0};
  Counts d{};
  ringo::Options opts;
  opts.maxprocs = 2;
  ringo::Run(
      [&] {
        Counts before = counts();
        ringo::WaitGroup wg;
        wg.Add(kN);
        for (int i = 0; i < kN; i++)
          ringo::Go([&, i] {
            RINGO_DEFER(wg.Done());
            RINGO_DEFER({
              ringo::Sleep(std::chrono::microseconds(50 + i % 7));
              outer++;
            });
            std::vector<uint64_t> sums;
            {
              RINGO_DEFER({
                ringo::Gosched();
                inner++;
              });
              descend(&sums, uint64_t(i), 5);
            }
          });
        wg.Wait();
        waitAlone();
        Counts after = counts();
        d = {after.fast - before.fast, after.libgcc - before.libgcc};
      },
      opts);
  EXPECT_EQ(inner.load(), kN);
  EXPECT_EQ(outer.load(), kN);
  EXPECT_EQ(d.fast, kFast ? uint64_t(kN) : 0u);
  EXPECT_EQ(d.fast + d.libgcc, uint64_t(kN));
}

// A noexcept frame met on a resume, after a landing pad has run: the walk
// gives up there, and libgcc's personality reports it as before.
[[gnu::noinline]] void goexitUnderDefer() {
  RINGO_DEFER(std::fprintf(stderr, "inner defer ran\n"));
  ringo::Goexit();
}
[[gnu::noinline]] void noexceptCaller() noexcept {
  goexitUnderDefer();
  __asm__ volatile("" ::: "memory");
}

TEST(GoexitUnwindDeathTest, ANoexceptFrameAfterALandingPadIsFatal) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Go([] { noexceptCaller(); });
                ringo::Sleep(std::chrono::seconds(1));
              }),
              ::testing::ExitedWithCode(2), "inner defer ran\n(.|\n)*fatal error: Goexit through noexcept frame");
}

TEST(GoexitUnwindDeathTest, LibgccOnRequest) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process reads the variable
  ASSERT_EQ(setenv("RINGO_GOEXIT_UNWIND", "libgcc", 1), 0);
  EXPECT_EXIT(
      {
        std::atomic<int> deferred{0};
        Counts c = goexits(100, [&] {
          RINGO_DEFER(deferred++);
          ringo::Goexit();
        });
        std::exit(deferred == 100 && c.fast == 0 && c.libgcc == 100 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  unsetenv("RINGO_GOEXIT_UNWIND");
}

}  // namespace
