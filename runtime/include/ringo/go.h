// go.h — starting goroutines and asking about them.
//
//   ringo::Go([] { std::puts("hello from a goroutine"); });
//   ringo::Go(serve, std::move(conn));   // fn(args...), like `go serve(conn)`
//   ringo::Gosched();                    // let the others run
//
// All three must be called from a goroutine (inside ringo::Run).
#pragma once

#include <cstdint>
#include <functional>
#include <tuple>
#include <utility>

#include "ringo/detail/newproc.h"

namespace ringo {

// Go starts fn(args...) in a new goroutine: Go's `go fn(args...)`.
//
// fn and args are moved (or copied) into the new goroutine before Go returns,
// so nothing the caller owns is shared unless it passes a pointer or
// reference. The new goroutine runs after the calling one next parks or
// yields (it goes to the P's runnext slot). When fn returns, the goroutine
// ends; if fn throws, the program stops as a Go panic does (see goexit.h).
//
// Cost: no system call; a G and its stack come from the P's free list when
// one is there (otherwise one mmap), and closures up to 1 KiB are stored on
// the new stack, so a spawn of a small closure allocates nothing.
template <class F, class... Args>
void Go(F&& fn, Args&&... args) {
  runtime::spawn([fn = std::forward<F>(fn), ... args = std::forward<Args>(args)]() mutable {
    std::invoke(std::move(fn), std::move(args)...);
  });
}

// Gosched yields the processor: the calling goroutine goes to the back of the
// global run queue and others run first. It returns at the goroutine's next
// turn. Scheduling is cooperative, so long CPU loops should call it.
void Gosched();

// NumGoroutine returns the number of goroutines that exist now, the calling
// one and the main goroutine included.
int NumGoroutine();

// GOMAXPROCS returns the number of Ps of the running scheduler (see
// Options::maxprocs), or 0 outside Run. Unlike Go's, it cannot be changed
// while Run runs.
int GOMAXPROCS();

}  // namespace ringo
