// goexit.h — ending a goroutine early: Go's runtime.Goexit.
//
//   void handle(Conn& c) {
//     auto closer = ringo::Defer([&] { c.Close(); });
//     if (!authorised(c)) ringo::Goexit();  // closer still runs
//     ...
//   }
#pragma once

namespace ringo {

// Goexit ends the calling goroutine. Before it does, every pending deferred
// call (ringo::Defer, RINGO_DEFER) and every destructor of the goroutine's
// live objects runs, innermost frame first, exactly as if each scope were
// left by an exception that nothing catches. Then the goroutine is gone: its
// stack and G go back to the free list. Goexit never returns and affects no
// other goroutine.
//
// Goexit is not an exception that code can handle:
//  - catch clauses naming a type (`catch (const std::exception&)`, ...)
//    never see it;
//  - `catch (...)` sees it and must rethrow it (`throw;`), as with glibc's
//    thread cancellation; one that ends without rethrowing stops the program
//    with "fatal error: Goexit swallowed by catch(...) in goroutine N";
//  - there is no recover: the goroutine always ends.
//
// Goexit can only cross frames that may unwind. A noexcept function, a
// destructor (destructors are noexcept), the body of a Defer, or C code
// between the call and the goroutine's function stops the program with
// "fatal error: Goexit through noexcept frame" (or "... reached the end of
// the stack" for C code without unwind tables). So call Goexit from plain
// code, never from a destructor or a callback that C code calls.
//
// In the main goroutine, Goexit ends the main goroutine without Run
// returning; the other goroutines go on running. When none is left, the
// program stops as Go's does: "fatal error: no goroutines (main called
// Goexit) - deadlock!", exit status 2.
//
// Goexit is not std::exit. std::exit and _exit end the whole process at once
// from any goroutine: no deferred call or destructor on any goroutine's stack
// runs (std::exit still runs atexit handlers and static destructors), as
// os.Exit skips Go's deferred calls.
//
// An exception that escapes a goroutine's function (not Goexit) is an
// unrecovered panic: the program prints "panic: <what()>" and the
// goroutine's trace, taken where the exception was thrown, and exits with
// status 2. Catch what you can handle inside the goroutine.
//
// Cost: one forced unwind (libgcc's _Unwind_ForcedUnwind) of the goroutine's
// frames; no allocation.
[[noreturn]] void Goexit();

}  // namespace ringo
