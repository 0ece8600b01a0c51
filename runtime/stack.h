// stack.h — goroutine stacks.
//
// Stacks are carved from arenas: private anonymous mappings reserved with
// MAP_NORESERVE (only the pages a goroutine touches use memory, and the
// reservation is not charged to overcommit), each holding many stacks. One
// mapping per stack would cost two VMAs with its guard page, and
// vm.max_map_count (65530) would stop a program near 32,000 goroutines; an
// arena of 256 MiB holds a thousand 256 KiB stacks in one VMA.
//
// Below each stack lies one guard page. Where the kernel has
// MADV_GUARD_INSTALL (6.13+), the guard is installed inside the arena
// without splitting it, and running off the stack faults; the SIGSEGV
// handler (signal.cc) turns that fault into "fatal error: stack overflow in
// goroutine N". Elsewhere a canary word at the stack's low end is checked at
// every switch away from the goroutine (stackcheck), which catches the
// overflow late but before anything else runs on the corrupted memory.
//
// Stacks stay with their G on the free lists; arenas are unmapped when Run
// ends (stackfreeall).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime2.h"

namespace ringo::runtime {

// The default stack size: 256 KiB. ringo's deepest path (an HTTPS
// connection through OpenSSL's handshake) runs in 16 KiB
// (loadtest/stack_need.sh); the rest is the handler's. It is address
// space, not memory.
inline constexpr size_t kDefaultStackSize = 256 * 1024;

// stackSizeFor resolves Options::stack_size (0: RINGO_STACK_SIZE, else the
// default), rounded up to the page size; stops the program on a bad value.
size_t stackSizeFor(size_t requested);

// stackalloc returns a stack of `size` usable bytes with its guard below.
stack stackalloc(size_t size);
// stackforget tells tools (valgrind) that s is gone; its memory stays in the
// arena until stackfreeall.
void stackforget(stack& s);
// stackfreeall unmaps every arena (teardown, once no G runs).
void stackfreeall();

// How stack overflows are caught on this kernel.
enum class stackGuard { none, kernel, canary };
stackGuard stackGuardMode();

// The canary written at the low end of each stack in canary mode.
inline constexpr uint64_t kStackCanary = 0x52494e474f535453ULL;  // "RINGOSTS"

// stackCanaries is set once stacks carry canaries (no kernel guards).
extern std::atomic<bool> stackCanaries;

// stackcheck stops the program if gp's canary is gone (canary mode only).
void stackcheck(G* gp);

// stacktrim gives back to the kernel the pages of the calling goroutine's
// stack more than keep bytes below its stack pointer (MADV_DONTNEED: they
// read as zero if touched again). A goroutine about to wait long after a
// deep call (a server connection going idle after a handler) uses it to
// hold only the pages its wait needs. In canary mode the canary's page is
// kept. Costs one madvise when there is something to give back.
void stacktrim(size_t keep);

// pageSize is the system page size.
size_t pageSize();

}  // namespace ringo::runtime
