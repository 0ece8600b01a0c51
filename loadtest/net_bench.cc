// net_bench.cc — ringo's network benchmarks over 127.0.0.1, one mode per run.
// Their Go twin is gonet/main.go (same modes, flags and output); bench_net.sh
// runs both side by side. Each mode prints `name value unit` lines.
//
//   net_bench pingpong -n 100000                          # PingPong64 <ns per round trip> ns, PingPong64CPU
//   net_bench throughput -conns 100 -secs 3 -size 4096    # Echo100 <MB/s echoed> MB/s, Echo100CPU (per 4 KiB)
//   net_bench accept-server -addr 127.0.0.1:47311 &       # AcceptRate <accepts/s> /s, AcceptCPU <ns> ns
//   net_bench accept-client -addr 127.0.0.1:47311 -secs 3
//   net_bench idle -conns 5000                            # IdleConnRSS <bytes per idle connection> B
//
// The Ps are ringo::Run's default: RINGO_MAXPROCS, else the CPUs allowed;
// RINGO_POLLER picks io_uring or epoll. accept-client is plain blocking
// POSIX (no ringo), so every server, ringo's or Go's, faces the same client.
// The ringo modes log the poller's counters on stderr at the end.
// A watchdog thread ends any mode still running after -timeout seconds
// (default 60) with exit status 3: a hang fails the run instead of blocking.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ringo/ringo.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace net = ringo::net;
using Clock = std::chrono::steady_clock;

namespace {

struct Flags {
  long n = 100000;                   // pingpong: timed round trips
  int conns = 100;                   // throughput: client connections
  double secs = 3;                   // throughput, accept-client: how long
  size_t size = 4096;                // throughput: bytes per write
  std::string addr = "127.0.0.1:47311";  // accept-*
  int timeout = 60;                  // watchdog, seconds
};

[[noreturn]] void fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "net_bench: %s: %s\n", what, why.c_str());
  std::fflush(stdout);
  _exit(1);  // from any goroutine or thread, without tearing the runtime down under it
}
[[noreturn]] void fail(const char* what, std::error_code err) { fail(what, err.message()); }

void startWatchdog(const char* mode, int secs) {
  std::thread([mode, secs] {
    std::this_thread::sleep_for(std::chrono::seconds(secs));
    std::fprintf(stderr, "net_bench %s: still running after %d s (-timeout): giving up\n", mode, secs);
    _exit(3);
  }).detach();
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// printStats logs the poller's counters on stderr (bench_net.sh keeps them
// in build/loadtest/netbench/*.log): why one poller is faster than the other.
void printStats(const char* mode) {
  const auto s = ringo::netpoll::ReadStats();
  std::fprintf(stderr,
               "%s: %s: %llu sqes (recv %llu, send %llu, accept %llu, cancel %llu, nop %llu), %llu enters "
               "(%llu submitting), %llu cqes; %llu waits, %llu polls, %llu blocking polls, %llu sysmon polls, "
               "%llu epoll_waits; %llu pollspin hits\n",
               mode, s.backend, (unsigned long long)s.sqes(), (unsigned long long)s.recv,
               (unsigned long long)s.send, (unsigned long long)s.accept, (unsigned long long)s.cancel,
               (unsigned long long)s.nop, (unsigned long long)s.enters, (unsigned long long)s.submits,
               (unsigned long long)s.cqes, (unsigned long long)s.waits, (unsigned long long)s.polls,
               (unsigned long long)s.blockingPolls, (unsigned long long)s.sysmonPolls,
               (unsigned long long)s.epollWaits, (unsigned long long)ringo::ReadRuntimeStats().pollspin_hits);
}

// readFull reads exactly buf.size() bytes (Go's io.ReadFull).
std::error_code readFull(net::Conn& c, std::span<char> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    auto [k, err] = c.Read(buf.subspan(got));
    if (err) return err;
    got += k;
  }
  return {};
}

// ---- pingpong -------------------------------------------------------------

// One connection; the client writes 64 bytes, a server goroutine echoes them,
// the client reads them back: ns per round trip.
double cpuSeconds();

int pingPong(const Flags& f) {
  return ringo::Run([&] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    if (err) fail("listen", err);
    auto [c, derr] = net::Dial("tcp", ln.Address().String());
    if (derr) fail("dial", derr);
    auto [s, aerr] = ln.Accept();
    if (aerr) fail("accept", aerr);
    ringo::Go([s = std::move(s)]() mutable {
      char buf[64];
      for (;;) {
        if (readFull(s, buf)) return;  // EOF: the client is done
        if (auto r = s.Write({buf, sizeof buf}); r.err) fail("pingpong server write", r.err);
      }
    });
    char msg[64], back[64];
    std::memset(msg, 'p', sizeof msg);
    auto roundTrips = [&](long n) {
      for (long i = 0; i < n; i++) {
        if (auto r = c.Write({msg, sizeof msg}); r.err) fail("pingpong write", r.err);
        if (auto err = readFull(c, back)) fail("pingpong read", err);
      }
      if (std::memcmp(msg, back, sizeof msg) != 0) fail("pingpong", "echo differs from what was sent");
    };
    roundTrips(f.n / 10);  // warm-up
    const auto t0 = Clock::now();
    const double cpu0 = cpuSeconds();
    roundTrips(f.n);
    const double ns = since(t0) * 1e9 / double(f.n);
    const double cpu = cpuSeconds() - cpu0;
    std::printf("PingPong64 %.1f ns\n", ns);
    std::printf("PingPong64CPU %.1f ns\n", cpu * 1e9 / double(f.n));  // process CPU per round trip
    printStats("pingpong");
  });
}

// ---- throughput -----------------------------------------------------------

// An echo server and `conns` clients, each writing `size` bytes and reading
// them back, for `secs`: MB/s (10^6 bytes) the clients got back.
int throughput(const Flags& f) {
  return ringo::Run([&] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    if (err) fail("listen", err);
    const std::string addr = ln.Address().String();
    const size_t size = f.size;
    ringo::Go([ln = ln, size]() mutable {
      for (;;) {
        auto [c, err] = ln.Accept();
        if (err == net::ErrClosed) return;
        if (err) fail("echo accept", err);
        ringo::Go([c = std::move(c), size]() mutable {
          std::vector<char> buf(size);
          for (;;) {
            auto [n, err] = c.Read(buf);
            if (err) return;  // EOF: the client is done
            if (c.Write({buf.data(), n}).err) return;
          }
        });
      }
    });

    std::atomic<int64_t> got{0};
    std::atomic<bool> stop{false};
    ringo::WaitGroup ready, done;
    ringo::Chan<int> start;  // closed when every client has connected
    ready.Add(f.conns);
    done.Add(f.conns);
    for (int i = 0; i < f.conns; i++) {
      ringo::Go([&, i] {
        RINGO_DEFER(done.Done());
        auto [c, err] = net::Dial("tcp", addr);
        if (err) fail("dial", err);
        std::string msg(size, char('a' + i % 26)), back(size, '\0');
        ready.Done();
        (void)start.Recv();
        while (!stop.load(std::memory_order_relaxed)) {
          if (auto r = c.Write(msg); r.err) fail("echo client write", r.err);
          if (auto err = readFull(c, back)) fail("echo client read", err);
          if (back != msg) fail("echo client", "echo differs from what was sent");
          got.fetch_add(int64_t(size), std::memory_order_relaxed);
        }
      });
    }
    ready.Wait();
    start.Close();
    const auto t0 = Clock::now();
    const double cpu0 = cpuSeconds();
    ringo::Sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(f.secs)));
    const int64_t bytes = got.load(std::memory_order_relaxed);
    const double secs = since(t0);
    const double cpu = cpuSeconds() - cpu0;
    stop.store(true, std::memory_order_relaxed);
    done.Wait();
    (void)ln.Close();
    std::printf("Echo%d %.1f MB/s\n", f.conns, double(bytes) / secs / 1e6);
    std::printf("Echo%dCPU %.1f ns\n", f.conns, cpu * 1e9 / (double(bytes) / 4096));  // process CPU per 4 KiB echoed
    printStats("throughput");
  });
}

// ---- accept ---------------------------------------------------------------

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The client's first connection is its control connection; every later one
// is accepted and closed at once. A "q" on the control connection ends the
// run: accepts per second between the first and last accept, and the
// server's CPU time (all threads, user + system) per accept over the same
// span, which stays meaningful when the client is the bottleneck.
int acceptServer(const Flags& f) {
  return ringo::Run([&] {
    auto [ln, err] = net::Listen("tcp", f.addr);
    if (err) fail("listen", err);
    auto [ctl, cerr] = ln.Accept();
    if (cerr) fail("accept (control)", cerr);

    int64_t n = 0, errors = 0;
    Clock::time_point first, last;
    double cpu0 = 0;
    ringo::WaitGroup loop;
    loop.Add(1);
    ringo::Go([&] {
      RINGO_DEFER(loop.Done());
      for (;;) {
        auto [c, err] = ln.Accept();
        if (err == net::ErrClosed) return;
        if (err) {  // ECONNABORTED and the like: the kernel keeps the rest queued
          if (++errors == 1000) fail("accept", err);
          continue;
        }
        last = Clock::now();
        if (n++ == 0) {
          first = last;
          cpu0 = cpuSeconds();
        }
        (void)c.Close();
      }
    });

    (void)ctl.SetReadDeadline(Clock::now() + std::chrono::seconds(f.timeout));
    char q = 0;
    auto [k, rerr] = ctl.Read({&q, 1});
    if (rerr) fail("read (control)", rerr);
    if (q != 'q') fail("read (control)", "want \"q\", got another byte");
    const double cpu = cpuSeconds() - cpu0;
    (void)ln.Close();
    loop.Wait();
    if (n < 2) fail("accept-server", "fewer than two connections accepted");
    const double span = std::chrono::duration<double>(last - first).count();
    std::printf("AcceptRate %.0f /s\n", double(n - 1) / span);
    std::printf("AcceptCPU %.0f ns\n", cpu * 1e9 / double(n - 1));
    std::fprintf(stderr, "accept-server: %lld accepts in %.2f s, %lld accept errors\n", (long long)n, span,
                 (long long)errors);
    printStats("accept-server");
  });
}

sockaddr_in parseAddr(const std::string& addr) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr) != 1)
    fail("-addr", "want an IPv4 host:port, got " + addr);
  sa.sin_port = htons(uint16_t(std::atoi(addr.c_str() + colon + 1)));
  return sa;
}

int dialPlain(const sockaddr_in& sa) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", std::strerror(errno));
  linger l{1, 0};  // close sends RST: no TIME_WAIT pile-up on either side
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  timeval tv{10, 0};  // bounds connect() when the server's queue is full
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Plain blocking connect()/close() for `secs`, after a control connection
// (retried for up to 10 s while the server starts); then "q" on the control
// connection, and wait for the server to close it.
int acceptClient(const Flags& f) {
  const sockaddr_in sa = parseAddr(f.addr);
  int ctl = -1;
  for (const auto t0 = Clock::now(); ctl < 0; usleep(10'000)) {
    ctl = dialPlain(sa);
    if (ctl < 0 && (errno != ECONNREFUSED || since(t0) > 10)) fail("connect (control)", std::strerror(errno));
  }
  long n = 0;
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(f.secs));
  while (Clock::now() < end) {
    const int fd = dialPlain(sa);
    if (fd < 0) fail("connect", std::strerror(errno));
    close(fd);
    n++;
  }
  const double secs = since(t0);
  if (send(ctl, "q", 1, MSG_NOSIGNAL) != 1) fail("send (control)", std::strerror(errno));
  timeval tv{f.timeout, 0};
  setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b;
  if (recv(ctl, &b, 1, 0) < 0) fail("recv (control): waiting for the server to finish", std::strerror(errno));
  close(ctl);
  std::fprintf(stderr, "accept-client: %ld connections in %.2f s (%.0f /s)\n", n, secs, double(n) / secs);
  return 0;
}

// ---- flags ----------------------------------------------------------------

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: net_bench pingpong|throughput|accept-server|accept-client|idle\n"
               "         [-n N] [-conns C] [-secs S] [-size BYTES] [-addr HOST:PORT] [-timeout SECS]\n");
  std::exit(2);
}

Flags parseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 2; i < argc; i++) {
    std::string name = argv[i], value;
    if (name.rfind("--", 0) == 0) name.erase(0, 1);  // Go's flag package takes both
    if (name.size() < 2 || name[0] != '-') usage();
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage();
    }
    if (name == "-n") f.n = std::atol(value.c_str());
    else if (name == "-conns") f.conns = std::atoi(value.c_str());
    else if (name == "-secs") f.secs = std::atof(value.c_str());
    else if (name == "-size") f.size = size_t(std::atol(value.c_str()));
    else if (name == "-addr") f.addr = value;
    else if (name == "-timeout") f.timeout = std::atoi(value.c_str());
    else usage();
  }
  if (f.n < 1 || f.conns < 1 || f.secs <= 0 || f.size < 1 || f.timeout < 1) usage();
  return f;
}

// ---- idle ---------------------------------------------------------------------

long rssBytes() {
  long pages = 0, rss = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

// `conns` connections inside the process, each with a server goroutine
// waiting in Recv (a provided buffer only once data arrives), as a server
// waits on idle keep-alive connections: RSS per connection, both ends
// (sockets, goroutines, handles) included. Go's twin waits in Read with
// a 4 KiB buffer, the size of net/http's bufio.Reader.
int idle(const Flags& f) {
  return ringo::Run([&] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    if (err) fail("listen", err);
    // Warm the runtime up (threads, rings, the first stacks) before measuring.
    std::vector<net::Conn> clients;
    clients.reserve(size_t(f.conns) + 1);
    std::atomic<int> parked{0};
    ringo::WaitGroup done;
    auto one = [&] {
      auto [c, derr] = net::Dial("tcp", ln.Address().String());
      if (derr) fail("dial", derr);
      auto [s, aerr] = ln.Accept();
      if (aerr) fail("accept", aerr);
      clients.push_back(std::move(c));
      done.Add(1);
      ringo::Go([s = std::move(s), &parked, &done]() mutable {
        parked.fetch_add(1);
        auto [b, err] = s.Recv();  // EOF when the client closes
        (void)b;
        (void)err;
        done.Done();
      });
    };
    one();
    ringo::Sleep(std::chrono::milliseconds(100));
    const long before = rssBytes();
    for (int i = 0; i < f.conns; i++) one();
    while (parked.load() < f.conns + 1) ringo::Sleep(std::chrono::milliseconds(1));
    ringo::Sleep(std::chrono::milliseconds(100));  // every Recv submitted and parked
    const long after = rssBytes();
    std::printf("IdleConnRSS %.0f B\n", double(after - before) / f.conns);
    printStats("idle");
    for (auto& c : clients) c.Close();
    done.Wait();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string mode = argv[1];
  const Flags f = parseFlags(argc, argv);
  startWatchdog(argv[1], f.timeout);
  if (mode == "pingpong") return pingPong(f);
  if (mode == "throughput") return throughput(f);
  if (mode == "accept-server") return acceptServer(f);
  if (mode == "accept-client") return acceptClient(f);
  if (mode == "idle") return idle(f);
  usage();
}
