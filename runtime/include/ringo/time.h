// time.h — sleeping goroutines.
//
//   ringo::Sleep(std::chrono::milliseconds(50));
#pragma once

#include <chrono>

namespace ringo {

// Sleep parks the calling goroutine for at least d; other goroutines run
// meanwhile, and a thread with nothing to run sleeps in the kernel until the
// earliest timer, using no CPU. It never returns early. A d of zero or less
// returns at once, as in Go. Cost: one timer-heap insert, no allocation.
void Sleep(std::chrono::nanoseconds d);

}  // namespace ringo
