// time.h — sleeping, timers and tickers: Go's time.Sleep, After, Timer,
// Ticker and AfterFunc.
//
//   ringo::Sleep(std::chrono::milliseconds(50));
//   ringo::Select(ringo::Recv(result, [&](Reply r) { ... }),
//                 ringo::Recv(ringo::After(std::chrono::seconds(1)), [&] { timedOut = true; }));
//   ringo::Ticker tick(std::chrono::seconds(1));
//   for (auto& t : tick.C) report(t);
//
// Timers fire on time, never early: at their deadline the goroutine waiting
// for them becomes runnable, and it runs at the next scheduling point (the
// scheduler is cooperative, so a goroutine that computes without parking
// delays the others on its P). They live in per-P heaps; a thread with
// nothing to run sleeps in the kernel until the earliest one.
//
// Timers, tickers and After must be created from a goroutine.
#pragma once

#include <chrono>
#include <functional>

#include "ringo/chan.h"

namespace ringo {

// Time is what timers deliver: the monotonic clock at the moment they fired.
using Time = std::chrono::steady_clock::time_point;

namespace runtime {
struct timerState;
}

// Sleep parks the calling goroutine for at least d; other goroutines run
// meanwhile, and a thread with nothing to run sleeps in the kernel until the
// earliest timer, using no CPU. It never returns early. A d of zero or less
// returns at once, as in Go. Cost: one timer-heap insert, no allocation.
void Sleep(std::chrono::nanoseconds d);

// Timer delivers the time on C once, d after it was made (Go's
// time.NewTimer). C has a buffer of one, so the timer never waits for a
// receiver. Destroying the handle does not stop it (as in Go, a pending
// timer lives until it fires); call Stop for that.
class Timer {
 public:
  explicit Timer(std::chrono::nanoseconds d);
  Timer(Timer&& o) noexcept;
  Timer& operator=(Timer&& o) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  // C receives the firing time. Nil for a timer made by AfterFunc.
  Chan<Time> C;

  // Stop keeps the timer from firing. It returns true if that stopped it,
  // false if it had already fired or been stopped. It does not drain C.
  bool Stop();

  // Reset makes the timer fire d from now, and returns whether it was still
  // pending. As in Go, reset only a stopped or fired timer whose C has been
  // drained, or a stale time may be waiting in C.
  bool Reset(std::chrono::nanoseconds d);

 private:
  friend Timer AfterFunc(std::chrono::nanoseconds d, std::function<void()> f);
  Timer(runtime::timerState* t, Chan<Time> c) noexcept;
  runtime::timerState* t_;
};

// After is Timer(d).C, for one-off timeouts in a Select. The timer is freed
// once it fires.
Chan<Time> After(std::chrono::nanoseconds d);

// AfterFunc runs f in its own goroutine d from now; the returned Timer can
// Stop it (its C is nil). Dropping the Timer does not cancel f.
Timer AfterFunc(std::chrono::nanoseconds d, std::function<void()> f);

// Ticker delivers the time on C every d (Go's time.NewTicker). C has a
// buffer of one: ticks a slow receiver misses are dropped, not queued, and
// the ticker stays in phase. Destroying the Ticker stops it. d must be
// positive (std::invalid_argument otherwise).
class Ticker {
 public:
  explicit Ticker(std::chrono::nanoseconds d);
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  ~Ticker();

  Chan<Time> C;

  // Stop turns the ticker off; no more ticks are sent. C is not closed.
  void Stop();
  // Reset stops the ticker and restarts it with period d, the next tick d
  // from now.
  void Reset(std::chrono::nanoseconds d);

 private:
  runtime::timerState* t_;
};

}  // namespace ringo
