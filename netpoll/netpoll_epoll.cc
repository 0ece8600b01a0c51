// netpoll_epoll.cc — the epoll poller, for kernels or sandboxes without
// io_uring (Go's netpoll_epoll.go with internal/poll's retry loop).
//
// Readiness, not completions: sockets are non-blocking and registered once,
// edge-triggered, for both directions. An operation tries its system call;
// on EAGAIN its goroutine parks on the side's slot (Go's rg/wg: 0, kReady,
// or the parked G), and an event readies it to try again. A deadline or
// Close wakes the slot the same way; the woken goroutine asks `cancelled`
// whether to give up. Recv takes a heap block only once data is there, so
// an idle connection holds no buffer here either.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <mutex>
#include <cstring>

#include "../runtime/fatal.h"
#include "../runtime/proc.h"
#include "../runtime/tls.h"
#include "netpoll.h"
#include "ringo/net.h"

namespace ringo::netpoll {
namespace {

using namespace ringo::runtime;

class epoll final : public poller {
 public:
  const char* name() const override { return "epoll"; }
  bool blockingSockets() const override { return false; }

  bool init() override {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return false;
    evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd_ < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the break eventfd
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) == 0;
  }

  void fini() override {
    close(evfd_);
    close(epfd_);
  }

  G* poll(int64_t delay) override {
    // A non-blocking poll while another M is blocked in epoll_wait would
    // only race it for the same events (Go skips it too).
    if (delay == 0 && blocked_.load(std::memory_order_relaxed)) return nullptr;
    if (getm() == nullptr) count(stats.sysmonPolls);
    timespec ts{};
    if (delay > 0) {
      ts.tv_sec = delay / 1'000'000'000;
      ts.tv_nsec = delay % 1'000'000'000;
    }
    if (delay != 0) {
      count(stats.blockingPolls);
      blocked_.store(true, std::memory_order_relaxed);
    }
    epoll_event evs[128];
    count(stats.epollWaits);
    int n;
    if (havePwait2_) {
      n = epoll_pwait2(epfd_, evs, 128, delay < 0 ? nullptr : &ts, nullptr);
      if (n < 0 && (errno == ENOSYS || errno == EPERM)) {  // before Linux 5.11, or a seccomp profile
        havePwait2_ = false;
        n = 0;
      }
    }
    if (!havePwait2_) {
      // Milliseconds, rounded up: a timer is never run early.
      // (Divided first: delay may be near INT64_MAX, a timer at the end of
      // time; 0 stays 0, a poll that does not wait.)
      const int ms = delay < 0 ? -1
                               : int(std::min<int64_t>(delay / 1'000'000 + (delay % 1'000'000 != 0), INT_MAX));
      n = epoll_wait(epfd_, evs, 128, ms);
    }
    if (delay != 0) blocked_.store(false, std::memory_order_relaxed);
    if (n < 0) {
      if (errno == EINTR) return nullptr;
      fatal("netpoll: epoll_pwait2: %s", std::strerror(errno));
    }
    glist list;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == nullptr) {
        // A break is for a blocking poll: a non-blocking one leaves it
        // (the eventfd stays readable), or it would take the wake-up from
        // an M about to block, which then sleeps through it (Go's rule).
        if (delay != 0) {
          uint64_t v;
          (void)!read(evfd_, &v, sizeof v);
          wakeSig_.store(0);
        }
        continue;
      }
      auto* pd = static_cast<pollDesc*>(evs[i].data.ptr);
      const uint32_t e = evs[i].events;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) unblock(pd, kRead, list);
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) unblock(pd, kWrite, list);
    }
    if (delay == 0 && list.head) count(stats.polls);
    return list.head;
  }

  void breakPoll() override {
    if (wakeSig_.exchange(1) != 0) return;
    uint64_t one = 1;
    (void)!write(evfd_, &one, sizeof one);
  }

  int64_t parked() const override { return nwait_.load(std::memory_order_relaxed); }

  bool anyWaiters() override {
    return nwait_.load(std::memory_order_relaxed) > 0 || nclosers.load(std::memory_order_relaxed) > 0; }

  int open(pollDesc* pd) override {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = pd;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, pd->fd, &ev) == 0 ? 0 : -errno;
  }

  void closing(pollDesc* pd) override { epoll_ctl(epfd_, EPOLL_CTL_DEL, pd->fd, nullptr); }

  // One waiter per side (the slot holds one G): Reads, Recvs and Accepts on
  // one descriptor take turns, as Go's fdMutex makes them; Writes are
  // serialised by the net API for both pollers. Each operation holds pd
  // (held) while its system calls name pd->fd.
  int64_t recv(pollDesc* pd, void* p, size_t n) override {
    if (int64_t e = prepare(pd, kRead)) return e;
    held hold{pd};
    std::lock_guard serial(pd->serial[kRead]);
    for (;;) {
      ssize_t r = ::recv(pd->fd, p, n, 0);
      if (r >= 0) return r;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (int64_t e = wait(pd, kRead)) return e;
    }
  }

  int64_t recvBuf(pollDesc* pd, char** data, int32_t* id) override {
    if (int64_t e = prepare(pd, kRead)) return e;
    held hold{pd};
    std::lock_guard serial(pd->serial[kRead]);
    for (;;) {
      char* h = heapBufGet();
      ssize_t r = ::recv(pd->fd, h, net::Buffer::kSize, 0);
      if (r > 0) {
        *data = h;
        *id = -1;
        return r;
      }
      const int err = errno;
      heapBufPut(h);  // not held while parked
      if (r == 0) return 0;
      if (err == EINTR) continue;
      if (err != EAGAIN) return -err;
      if (int64_t e = wait(pd, kRead)) return e;
    }
  }

  void releaseBuf(char* data, int32_t) override { heapBufPut(data); }

  int64_t send(pollDesc* pd, const void* p, size_t n, bool more) override {
    if (int64_t e = prepare(pd, kWrite)) return e;
    held hold{pd};
    for (;;) {
      ssize_t r = ::send(pd->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
      if (r >= 0) return r;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (int64_t e = wait(pd, kWrite)) return e;
    }
  }

  int64_t accept(pollDesc* pd, sockaddr_storage* sa, socklen_t* salen) override {
    if (int64_t e = prepare(pd, kRead)) return e;
    held hold{pd};
    std::lock_guard serial(pd->serial[kRead]);
    for (;;) {
      *salen = sizeof *sa;
      int fd = accept4(pd->fd, reinterpret_cast<sockaddr*>(sa), salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) return fd;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) return -errno;
      if (int64_t e = wait(pd, kRead)) return e;
    }
  }

  int64_t connect(pollDesc* pd, const sockaddr* sa, socklen_t salen) override {
    if (int64_t e = prepare(pd, kWrite)) return e;
    held hold{pd};
    if (::connect(pd->fd, sa, salen) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return -errno;
    for (;;) {
      if (int64_t e = wait(pd, kWrite)) return e;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(pd->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
      if (err == 0) {
        // Writable with no error may still be a spurious wake-up: a
        // connected socket has a peer.
        sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(pd->fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) return 0;
        if (errno != ENOTCONN) return -errno;
        continue;
      }
      if (err != EINPROGRESS && err != EALREADY && err != EINTR) return -err;
    }
  }

  void cancel(pollDesc* pd, int s) override {
    glist list;
    unblock(pd, s, list);
    for (G* gp = list.head; gp;) {
      G* next = gp->schedlink;
      gp->schedlink = nullptr;
      goready(gp);
      gp = next;
    }
  }

 private:
  int epfd_ = -1, evfd_ = -1;
  std::atomic<int> nwait_{0};
  std::atomic<uint32_t> wakeSig_{0};
  std::atomic<bool> blocked_{false};
  bool havePwait2_ = true;  // epoll_pwait2 (ns timeouts) works here

  // unblock marks side s ready, taking the parked G if there is one.
  static void unblock(pollDesc* pd, int s, glist& list) {
    auto& slot = pd->side[s].g;
    uintptr_t old = slot.load();
    for (;;) {
      if (old == kReady) return;
      const uintptr_t nv = old == 0 ? kReady : 0;
      if (slot.compare_exchange_weak(old, nv)) break;
    }
    if (old != 0) list.push(reinterpret_cast<G*>(old));
  }

  static bool parkCommit(G* gp, void* arg) {
    auto* slot = static_cast<std::atomic<uintptr_t>*>(arg);
    uintptr_t expect = 0;
    if (slot->compare_exchange_strong(expect, reinterpret_cast<uintptr_t>(gp))) return true;
    if (expect != kReady) fatal("netpoll: two goroutines wait on one side of a descriptor");
    // An event came in between: don't park, consume it.
    slot->store(0);
    return false;
  }

  // wait parks until side s may be ready again; returns the error that ends
  // the operation (closed, timeout), or 0 to try again.
  int64_t wait(pollDesc* pd, int s) {
    if (int64_t e = cancelled(pd, s)) return e;
    auto& slot = pd->side[s].g;
    uintptr_t expect = kReady;
    if (slot.compare_exchange_strong(expect, 0)) return 0;  // an event is waiting
    count(stats.waits);
    nwait_.fetch_add(1, std::memory_order_relaxed);
    gopark(parkCommit, &slot, waitReason::ioWait);
    nwait_.fetch_sub(1, std::memory_order_relaxed);
    return cancelled(pd, s);
  }
};

}  // namespace

poller* newEpoll() { return new epoll; }

}  // namespace ringo::netpoll
