// detail/chan.h — the type-erased channel that ringo::Chan<T> wraps (Go's
// hchan and selectgo). Not part of the public API; include <ringo/chan.h>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace ringo::runtime {

struct hchan;

// elemType tells the channel how to move its element type: construct moves
// *src into the uninitialised *dst (src stays valid, moved-from); destroy
// ends *p. Both run under the channel's lock, so neither may throw.
struct elemType {
  size_t size;
  size_t align;
  void (*construct)(void* dst, void* src) noexcept;
  void (*destroy)(void* p) noexcept;
};

template <class T>
inline constexpr elemType elemTypeOf = {
    sizeof(T),
    alignof(T),
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); },
};

// makechan makes a channel with room for size buffered elements (0:
// unbuffered), holding one reference. Throws std::invalid_argument for a
// negative or too large size.
hchan* makechan(const elemType* et, int64_t size);
void chanAcquire(hchan* c) noexcept;
void chanRelease(hchan* c) noexcept;

// chansend sends the value at ep (moved from on success). block: park until
// it can; else return false at once if it cannot. A nil c blocks forever
// (or returns false). Throws ringo::ChanClosedError on a closed channel.
bool chansend(hchan* c, void* ep, bool block);

// chanrecv receives into the uninitialised storage ep. selected: the
// receive happened (always, when blocking); received: ep holds a value
// (false: the channel is closed and drained, ep untouched).
struct recvResult {
  bool selected;
  bool received;
};
recvResult chanrecv(hchan* c, void* ep, bool block);

// closechan closes c, waking every waiter. Throws ChanClosedError for a
// closed or nil channel.
void closechan(hchan* c);

int chanlen(hchan* c) noexcept;
int chancap(hchan* c) noexcept;

// scase is one case of a select: send the value at elem, or receive into
// the uninitialised storage elem. A null c is never ready.
struct scase {
  hchan* c;
  void* elem;
  bool send;
};

// selectgo runs a select over ncases cases: it picks uniformly at random
// among the ready ones, or parks on all of them if block, or returns -1.
// *recvOK tells whether a chosen receive case got a value (false: closed).
int selectgo(scase* cases, int ncases, bool block, bool* recvOK);

}  // namespace ringo::runtime
