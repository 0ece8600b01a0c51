// stack.h — goroutine stacks.
//
// A stack is a private anonymous mapping reserved with MAP_NORESERVE, so only
// the pages a goroutine touches use memory, with one PROT_NONE guard page
// below it: running off the end faults instead of corrupting a neighbour.
// Stacks stay with their G on the free lists and are unmapped at teardown.
#pragma once

#include <cstddef>

#include "runtime2.h"

namespace ringo::runtime {

// The default stack size: 256 KiB. A handler's frames plus OpenSSL's deepest
// path fit in a fraction of it; it is address space, not memory.
inline constexpr size_t kDefaultStackSize = 256 * 1024;

// stackSizeFor resolves Options::stack_size (0: RINGO_STACK_SIZE, else the
// default), rounded up to the page size; stops the program on a bad value.
size_t stackSizeFor(size_t requested);

stack stackalloc(size_t size);
void stackfree(stack& s);

}  // namespace ringo::runtime
