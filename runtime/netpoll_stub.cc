// netpoll_stub.cc — the poller with no I/O: the blocking poll just sleeps
// until the delay runs out or breakPoll is called (Go's netpoll_stub.go).
#include "fatal.h"
#include "lock.h"
#include "netpoll.h"

namespace ringo::runtime {
namespace {

// pending is 1 when a break has been requested and not yet consumed; the
// futex word the blocked poll sleeps on.
std::atomic<uint32_t> pending{0};

G* stubPoll(int64_t delay) {
  // A non-blocking poll leaves a pending break alone: it is for an M that
  // is about to block (consuming it here lost the wake-up that Run's end
  // sends, and that M slept through its hour-long timer).
  if (delay == 0) return nullptr;
  int64_t deadline = 0;  // saturating: a timer at the end of time waits for ever
  if (delay > 0 && __builtin_add_overflow(nanotime(), delay, &deadline)) deadline = INT64_MAX;
  while (pending.exchange(0, std::memory_order_acquire) == 0) {
    int64_t left = -1;
    if (delay > 0) {
      left = deadline - nanotime();
      if (left <= 0) break;
    }
    futexSleep(&pending, 0, left);
  }
  return nullptr;
}

void stubBreak() {
  if (pending.exchange(1, std::memory_order_release) == 0) futexWakeup(&pending, 1);
}

bool stubAnyWaiters() { return false; }

const netpoller stub{stubPoll, stubBreak, stubAnyWaiters};

}  // namespace

const netpoller* netpollCurrent = &stub;

const netpoller* netpollStub() { return &stub; }

void netpollRegister(const netpoller* p) { netpollCurrent = p ? p : &stub; }

}  // namespace ringo::runtime
