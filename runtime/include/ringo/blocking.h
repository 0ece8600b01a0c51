// blocking.h — calls that block the thread, and goroutines wired to one.
//
//   auto addrs = ringo::Blocking([&] { return getaddrinfo_all(host); });
//   auto data  = ringo::Blocking([&] { return read_whole_file(path); });
//
// Scheduling is cooperative: a goroutine that blocks its thread in the
// kernel (a file read, getaddrinfo, a library that sleeps or waits on a
// lock) holds its P, and the goroutines queued on that P wait. Blocking(fn)
// tells the runtime: while fn runs, the P may be handed to another thread,
// as Go does around a system call. Entering and leaving cost a few atomic
// operations; if fn takes longer than sysmon's tick (20 us to 10 ms), the P
// is retaken and other goroutines run on it meanwhile.
//
// fn must not call ringo (no Go, channel, lock, Sleep inside: the goroutine
// has no P there); that stops the program with a message. fn may throw; the
// exception leaves Blocking normally. sysmon reports a goroutine that sits
// in the kernel for 10 ms outside Blocking, so the calls to wrap are easy to
// find.
#pragma once

#include <utility>

namespace ringo {

namespace runtime {
void entersyscall();
void exitsyscall();
}  // namespace runtime

// Blocking runs fn() on this goroutine with its P released for the duration
// (Go's entersyscall/exitsyscall), and returns fn's result.
template <class F>
decltype(auto) Blocking(F&& fn) {
  runtime::entersyscall();
  struct exit {
    ~exit() { runtime::exitsyscall(); }
  } e;
  return std::forward<F>(fn)();
}

// LockOSThread wires the calling goroutine to its current thread: until
// the matching UnlockOSThread it runs only there, and that thread runs no
// other goroutine (Go's runtime.LockOSThread), for code that keeps
// per-thread state across calls (thread-locals, some C libraries). Calls
// nest; a goroutine that ends while wired just drops the wiring. While any
// goroutine is wired, switches between goroutines go through the
// scheduler's stack, which makes them slower.
void LockOSThread();
void UnlockOSThread();

}  // namespace ringo
