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

// Unbuffered ping-pong: per round trip (two sends, two receives, two parks).
void BM_ChanPingPong(benchmark::State& state) {
  ringo::Run([&] {
    ringo::Chan<int> ping, pong;
    ringo::Go([ping, pong] {
      for (;;) {
        auto [v, ok] = ping.Recv();
        if (!ok) return;
        pong.Send(v + 1);
      }
    });
    for (auto _ : state)
      for (int i = 0; i < 1000; i++) {
        ping.Send(i);
        benchmark::DoNotOptimize(pong.Recv());
      }
    ping.Close();
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ChanPingPong)->UseRealTime();

// Buffered throughput: a producer and a consumer through a 128-slot
// channel; per value.
void BM_ChanBuffered(benchmark::State& state) {
  ringo::Run([&] {
    for (auto _ : state) {
      ringo::Chan<int> ch(128);
      ringo::WaitGroup wg;
      wg.Add(1);
      ringo::Go([ch, &wg] {
        for (int i = 0; i < 1000; i++) ch.Send(i);
        ch.Close();
        wg.Done();
      });
      int64_t sum = 0;
      for (auto& v : ch) sum += v;
      benchmark::DoNotOptimize(sum);
      wg.Wait();
    }
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ChanBuffered)->UseRealTime();

// Uncontended Mutex: per Lock+Unlock pair.
void BM_MutexUncontended(benchmark::State& state) {
  ringo::Run([&] {
    ringo::Mutex mu;
    int64_t n = 0;
    for (auto _ : state)
      for (int i = 0; i < 1000; i++) {
        mu.Lock();
        n++;
        mu.Unlock();
      }
    benchmark::DoNotOptimize(n);
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_MutexUncontended)->UseRealTime();

// Select over four buffered channels, one of them ready: per send + select.
void BM_Select4(benchmark::State& state) {
  ringo::Run([&] {
    ringo::Chan<int> c[4] = {ringo::Chan<int>(1), ringo::Chan<int>(1), ringo::Chan<int>(1),
                             ringo::Chan<int>(1)};
    int64_t sum = 0;
    for (auto _ : state)
      for (int i = 0; i < 1000; i++) {
        c[i & 3].TrySend(int(i));
        ringo::Select(ringo::Recv(c[0], [&](int v) { sum += v; }), ringo::Recv(c[1], [&](int v) { sum += v; }),
                      ringo::Recv(c[2], [&](int v) { sum += v; }), ringo::Recv(c[3], [&](int v) { sum += v; }));
      }
    benchmark::DoNotOptimize(sum);
  });
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Select4)->UseRealTime();

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
