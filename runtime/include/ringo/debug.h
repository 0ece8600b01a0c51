// debug.h — seeing what every goroutine is doing.
//
//   std::fputs(ringo::Stack(true).c_str(), stderr);
//
// The dump lists each goroutine as Go's does: "goroutine N [state]:" (the
// wait reason for a parked one, with the minutes it has waited once that is
// a minute or more), then its frames, innermost first, ending at
// ringo::runtime::goexit. Parked goroutines are traced from their saved
// registers, so the dump names the call they wait in (a channel receive,
// Mutex::Lock, Sleep) and the user code that made it.
//
// A function whose last statement is a call may be compiled as a jump (a
// sibling call), and then its frame is not in any trace; build with
// -fno-optimize-sibling-calls when every caller must show (it costs a few
// percent).
//
// Sending SIGQUIT (kill -QUIT, or Ctrl-\) to a program inside ringo::Run
// prints the same dump for all goroutines on stderr and exits with status 2,
// as a Go program does. RINGO_SCHEDTRACE (see README) prints the
// scheduler's state periodically.
#pragma once

#include <string>

namespace ringo {

// Stack returns the calling goroutine's trace and, with all, every other
// goroutine's (Go's runtime.Stack). Running goroutines on other threads are
// listed without frames.
std::string Stack(bool all = true);

}  // namespace ringo
