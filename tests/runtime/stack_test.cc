// stack_test.cc — stacks at scale, guard pages, overflow reports.
#include <gtest/gtest.h>
#include <ringo/ringo.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "runtime2.h"
#include "stack.h"
#include "test_util.h"
#include "tls.h"

using ringo::testing::Scaled;

// recurse uses stack until it runs out (the limit is never reached: the
// stack ends long before). Outside the anonymous namespace, so the trace can
// name it.
volatile int recurseLimit = 1 << 30;
[[gnu::noinline]] int recurse(int depth) {
  volatile char frame[512];
  frame[0] = char(depth);
  if (depth >= recurseLimit) return frame[0];
  return recurse(depth + 1) + frame[0];
}

namespace {

long rssBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

long mapCount() {
  std::ifstream maps("/proc/self/maps");
  long n = 0;
  std::string line;
  while (std::getline(maps, line)) n++;
  return n;
}

TEST(Stack, AMillionParkedGoroutines) {
  // Default kernel settings: vm.max_map_count 65530, heuristic overcommit.
  // One mapping per stack would fail near 32,000 goroutines.
  const int n = int(Scaled(1000000));
  std::atomic<int> finished{0};
  long perG = 0, maps = 0;
  ringo::Run([&] {
    ringo::WaitGroup started, gate, done;
    gate.Add(1);
    started.Add(n);
    done.Add(n);
    const long before = rssBytes();
    const long mapsBefore = mapCount();
    for (int i = 0; i < n; i++)
      ringo::Go([&] {
        started.Done();
        gate.Wait();
        finished++;
        done.Done();
      });
    started.Wait();
    EXPECT_EQ(ringo::NumGoroutine(), n + 1);
    perG = (rssBytes() - before) / n;
    maps = mapCount() - mapsBefore;
    gate.Done();
    done.Wait();
  });
  EXPECT_EQ(finished.load(), n);
  // One mapping (two with its guard) per stack would add at least n.
  // (ThreadSanitizer maps shadow memory of its own as stacks are touched.)
#if !defined(__SANITIZE_THREAD__)
  EXPECT_LT(maps, n / 4 + 64) << "stacks are not sharing mappings";
#endif
  RecordProperty("rss_per_parked_goroutine", std::to_string(perG));
  std::printf("%d parked goroutines: %ld bytes RSS each, %ld new mappings\n", n, perG, maps);
}

// Stack colouring: goroutines spawned together start their frames at
// different distances below their page-aligned stack tops (so their first
// lines do not all land in the same cache sets), each within the first
// page's top kStackColors lines, and a G keeps its distance when reused.
TEST(Stack, FirstFramesAreColoured) {
  constexpr int kN = 64;
  std::vector<size_t> below(kN), belowAgain(kN);
  std::vector<const void*> g(kN), gAgain(kN);
  ringo::Run([&] {
    for (auto* out : {&below, &belowAgain}) {
      auto& gs = out == &below ? g : gAgain;
      ringo::WaitGroup wg;
      wg.Add(kN);
      for (int i = 0; i < kN; i++)
        ringo::Go([&, i, out] {
          ringo::runtime::G* gp = ringo::runtime::getg();
          (*out)[i] = reinterpret_cast<uintptr_t>(gp->stk.hi) - reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
          gs[i] = gp;
          wg.Done();
        });
      wg.Wait();  // all run; the second round reuses the same Gs
    }
  });
  std::set<size_t> colours;
  for (int i = 0; i < kN; i++) {
    colours.insert(below[i] % 4096 / 64);
    EXPECT_LT(below[i], size_t(4096)) << "goroutine " << i << ": its first frame is past the top page";
  }
  EXPECT_GE(colours.size(), size_t(ringo::runtime::kStackColors)) << "first frames at too few distances below the top";
  // Reuse keeps the colour: the same G, the same distance.
  std::map<const void*, size_t> byG;
  for (int i = 0; i < kN; i++) byG[g[i]] = below[i];
  int matched = 0;
  for (int i = 0; i < kN; i++)
    if (auto it = byG.find(gAgain[i]); it != byG.end()) {
      EXPECT_EQ(it->second, belowAgain[i]) << "a reused G moved its first frame";
      matched++;
    }
  EXPECT_GT(matched, 0) << "no G was reused";
}

TEST(Stack, GuardsAreInstalled) {
  ringo::Run([] { ringo::Go([] {}); });
  auto mode = ringo::runtime::stackGuardMode();
  EXPECT_NE(mode, ringo::runtime::stackGuard::none);
  std::printf("stack guard: %s\n", mode == ringo::runtime::stackGuard::kernel ? "MADV_GUARD_INSTALL" : "canary");
}

TEST(StackDeathTest, OverflowIsReportedWithTheGoroutine) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::WaitGroup wg;
                wg.Add(1);
                ringo::Go([&] { recurse(0); });
                wg.Wait();
              }),
              ::testing::ExitedWithCode(2),
              "fatal error: stack overflow in goroutine 2(.|\n)*goroutine 2 \\[running\\]:(.|\n)*recurse");
}

TEST(StackDeathTest, CanaryFallbackCatchesACorruptedStack) {
  EXPECT_EXIT(
      {
        setenv("RINGO_STACKGUARD", "canary", 1);
        ringo::Run([] {
          ringo::WaitGroup wg;
          wg.Add(1);
          ringo::Go([&] {
            // What an overflow without a guard page does: write the low end.
            auto* gp = ringo::runtime::getg();
            *reinterpret_cast<volatile uint64_t*>(gp->stk.lo) = 0;
            ringo::Gosched();  // the switch away checks the canary
            wg.Done();
          });
          wg.Wait();
        });
      },
      ::testing::ExitedWithCode(2), "fatal error: stack overflow in goroutine 2 \\(canary overwritten\\)");
}

}  // namespace
