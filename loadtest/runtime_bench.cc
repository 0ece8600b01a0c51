// runtime_bench.cc — the runtime's micro-benchmarks (Google Benchmark). Their
// Go twins are in gobench/main.go; bench_runtime.sh runs both side by side.
//
//   RINGO_MAXPROCS=1 build/loadtest/runtime_bench       # all benchmarks
//   build/loadtest/runtime_bench --rss 10000            # RSS per parked goroutine
//
// Each benchmark runs its loop inside one ringo::Run, with the Ps that
// RINGO_MAXPROCS (or the CPUs) give.
#include <benchmark/benchmark.h>
#include <ringo/ringo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace {

// Spawn + exit: `go func() { wg.Done() }()` per iteration.
void BM_SpawnExit(benchmark::State& state) {
  ringo::Run([&] {
    for (auto _ : state) {
      ringo::WaitGroup wg;
      wg.Add(1000);
      for (int i = 0; i < 1000; i++) ringo::Go([&wg] { wg.Done(); });
      wg.Wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_SpawnExit)->UseRealTime();

// Gosched between two goroutines: per call of one of them.
void BM_Gosched(benchmark::State& state) {
  ringo::Run([&] {
    for (auto _ : state) {
      ringo::WaitGroup wg;
      wg.Add(1);
      ringo::Go([&wg] {
        for (int i = 0; i < 1000; i++) ringo::Gosched();
        wg.Done();
      });
      for (int i = 0; i < 1000; i++) ringo::Gosched();
      wg.Wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Gosched)->UseRealTime();

// Spawn + one deferred call + Goexit: `go func() { defer wg.Done(); runtime.Goexit() }()`.
void BM_DeferGoexit(benchmark::State& state) {
  ringo::Run([&] {
    for (auto _ : state) {
      ringo::WaitGroup wg;
      wg.Add(1000);
      for (int i = 0; i < 1000; i++)
        ringo::Go([&wg] {
          RINGO_DEFER(wg.Done());
          ringo::Goexit();
        });
      wg.Wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_DeferGoexit)->UseRealTime();

long rssBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// rssPerParked prints the resident memory each parked goroutine costs: n
// goroutines blocked on one WaitGroup, RSS measured before and after.
int rssPerParked(int n) {
  long perG = 0;
  ringo::Run([&] {
    ringo::WaitGroup gate, started;
    gate.Add(1);
    // Warm up the allocator and one stack, so they are not counted.
    started.Add(1);
    ringo::Go([&] { started.Done(); });
    started.Wait();
    const long before = rssBytes();
    started.Add(n);
    for (int i = 0; i < n; i++)
      ringo::Go([&] {
        started.Done();
        gate.Wait();
      });
    started.Wait();
    perG = (rssBytes() - before) / n;
    gate.Done();
  });
  std::printf("rss_per_parked_goroutine %ld\n", perG);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--rss") == 0) return rssPerParked(std::atoi(argv[2]));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
