// test_util.h — shared helpers for the runtime tests.
#pragma once

#include <ringo/defer.h>
#include <ringo/go.h>
#include <ringo/waitgroup.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include <cstdint>
#include <mutex>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace ringo::testing {

// OpenSockets counts the process's open sockets (not every descriptor: the
// poller's own, such as an M's first io_uring, come and go with the Ms).
inline int OpenSockets() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    char link[64];
    ssize_t k = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
    if (k > 0 && std::string_view(link, size_t(k)).starts_with("socket:")) n++;
  }
  closedir(d);
  return n;
}

// SegsIn is how many TCP segments socket fd has received (TCP_INFO's
// tcpi_segs_in, Linux 4.2; glibc's struct tcp_info stops before it), or -1.
inline int64_t SegsIn(int fd) {
  struct {
    tcp_info glibc;
    uint64_t pacingRate, maxPacingRate, bytesAcked, bytesReceived;
    uint32_t segsOut, segsIn;
  } ti{};
  static_assert(sizeof(tcp_info) % 8 == 0);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof ti) return -1;
  return ti.segsIn;
}

// Scale shrinks stress tests in slow variants: RINGO_TEST_SCALE=0.1 runs a
// tenth of the iterations. Never below 1.
inline int64_t Scaled(int64_t n) {
  const char* s = std::getenv("RINGO_TEST_SCALE");
  double f = s ? std::atof(s) : 1.0;
  if (f <= 0) f = 1.0;
  int64_t v = int64_t(double(n) * f);
  return v < 1 ? 1 : v;
}

// Events records what happened, in order, for tests that pin an order.
// The order comes from the scheduler (one P runs one goroutine at a time),
// which is not a happens-before edge in Go's memory model: the lock makes
// the record itself race-free (TSan checks it), the test asserts the order.
struct Events {
  std::vector<std::string> seen;
  std::mutex mu;
  void operator()(std::string e) {
    std::lock_guard<std::mutex> g(mu);
    seen.push_back(std::move(e));
  }
};

// MonoNanos is CLOCK_MONOTONIC, the clock of ringo's timers.
inline int64_t MonoNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// CpuNanos is the CPU time the whole process has used (all threads).
inline int64_t CpuNanos() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000000000 +
         (int64_t(ru.ru_utime.tv_usec) + ru.ru_stime.tv_usec) * 1000;
}

// GoAndWait runs fn in a new goroutine and parks until it has ended, by
// return or by Goexit. Call it from a goroutine.
template <class F>
void GoAndWait(F fn) {
  ringo::WaitGroup wg;
  wg.Add(1);
  ringo::Go([&] {
    RINGO_DEFER(wg.Done());
    fn();
  });
  wg.Wait();
}

}  // namespace ringo::testing
