// fatal.h — how the runtime stops the program.
//
// fatal is Go's throw: a broken invariant or an unrecoverable misuse. It
// prints "fatal error: <message>", the trace of the calling goroutine (or of
// the scheduler, on g0), and exits with status 2 without running atexit
// handlers or destructors: the process is in a state nothing should touch.
// Messages start with the name of the function that found the problem.
#pragma once

#include <cstdint>

namespace ringo::runtime {

[[noreturn, gnu::format(printf, 1, 2)]] void fatal(const char* fmt, ...) noexcept;

// printTraceback writes the current thread's stack, innermost frame first,
// one "function\n\t+0xoff module" pair per frame, skipping `skip` frames of
// the caller's own machinery.
void printTraceback(int skip, bool demangle = true) noexcept;

// printGoroutineHeader writes "goroutine N [status]:" for the current G, or
// the scheduler's line when called on g0.
void printGoroutineHeader() noexcept;

}  // namespace ringo::runtime
