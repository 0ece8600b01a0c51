// race.h — how ThreadSanitizer sees goroutines (Go's race.go, for TSan).
//
// In a TSan build (RINGO_SANITIZE=thread) every goroutine is a TSan fiber,
// created with its G and kept across gfput/gfget, and gogo announces each
// switch with __tsan_switch_to_fiber(..., no_sync): the switch itself
// creates no happens-before edge, so two goroutines that touch the same
// memory without synchronising are reported even when they ran one after
// the other on the same thread.
//
// As in Go, the runtime's own code is not instrumented (the library is
// built without -fsanitize=thread; its accesses to M, P and G are
// synchronised by the scheduler, which TSan cannot see through no_sync
// switches). What the runtime synchronises for its users is declared
// instead, with raceacquire/racerelease on the address that stands for the
// synchronisation, exactly where Go's runtime calls its race hooks:
//  - goready releases on the G and the G acquires on itself when it
//    resumes: whoever completes a wait happens before the waiter goes on;
//    newproc does the same for the go statement and the new goroutine;
//  - a channel's buffer slot is released by the send that fills it and
//    acquired by the receive that empties it; a parked sender's or
//    receiver's sudog is released before it parks and acquired by the peer
//    that moves the value; close releases the channel, a receive that finds
//    it closed acquires it;
//  - Mutex, RWMutex and WaitGroup release in Unlock/Done and acquire in
//    Lock/Wait;
//  - the runtime's own locks (lock.h) acquire and release: they are real
//    synchronisation between whoever takes them, and what the runtime
//    does under them (allocation, lists) is seen by TSan's interceptors;
//  - a goroutine releases its G when it ends, and newproc acquires it when
//    it reuses the G: the stack's memory passes from the dead goroutine to
//    the spawner, who writes the new closure there (TSan has no way to
//    declare the stack fresh memory; the G is what carries it);
//  - an M releases its TLS once when it starts, and each goroutine acquires
//    it when it runs there (it uses the thread's TLS: errno, call_once);
//  - every goroutine releases sched at exit, and Run acquires it before it
//    returns, so the caller of Run sees what the goroutines did.
#pragma once

#if defined(RINGO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace ringo::runtime {

#if defined(RINGO_TSAN)
inline constexpr bool raceenabled = true;
inline void raceacquire(const void* addr) { __tsan_acquire(const_cast<void*>(addr)); }
inline void racerelease(const void* addr) { __tsan_release(const_cast<void*>(addr)); }
inline void* racefibercreate() { return __tsan_create_fiber(0); }
inline void* racefibercurrent() { return __tsan_get_current_fiber(); }
inline void racefiberdestroy(void* f) { __tsan_destroy_fiber(f); }
inline void racefiberswitch(void* f) { __tsan_switch_to_fiber(f, __tsan_switch_to_fiber_no_sync); }
#else
inline constexpr bool raceenabled = false;
inline void raceacquire(const void*) {}
inline void racerelease(const void*) {}
inline void* racefibercreate() { return nullptr; }
inline void* racefibercurrent() { return nullptr; }
inline void racefiberdestroy(void*) {}
inline void racefiberswitch(void*) {}
#endif

}  // namespace ringo::runtime
