// net.cc — the net API (ringo/net.h) over the poller: sockets, addresses,
// Listen, Dial, Accept, and Conn's calls over the poller's operations
// (netpoll.h), which hold the descriptor open while they run.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

#include "../runtime/lock.h"
#include "dial.h"
#include "netpoll.h"
#include "ringo/blocking.h"
#include "ringo/context.h"
#include "ringo/go.h"
#include "ringo/time.h"
#include "ringo/net.h"
#include "ringo/sync.h"
#include "ringo/waitgroup.h"

namespace ringo::net {

namespace detail {
// conn is the state behind a Conn or Listener handle.
struct conn {
  std::atomic<int> handles{1};
  std::atomic<bool> closed{false};
  netpoll::pollDesc* pd = nullptr;
  bool tcp = true;
  std::string unlinkPath;  // a Unix listener's socket file
  // A TCP listener: do its accepted sockets come with TCP_NODELAY? Linux
  // copies it from the listener, which Listen sets; the first Accept
  // checks, and only when they do not is it set on each (a setsockopt per
  // connection was 2% of a Connection: close request).
  static constexpr int kNoDelayUnknown = 0, kNoDelayInherited = 1, kNoDelayPerConn = 2;
  std::atomic<int> noDelay{kNoDelayUnknown};
};
}  // namespace detail

namespace {

using netpoll::kErrClosed;
using netpoll::kErrTimeout;

std::error_code toErr(int64_t e) {
  if (e == kErrClosed) return ErrClosed;
  if (e == kErrTimeout) return ErrDeadlineExceeded;
  return {int(-e), std::generic_category()};
}

std::error_code sysErr(int e) { return {e, std::generic_category()}; }

// Without a Run there is no poller to wait in.
std::error_code noPoller() { return sysErr(EPERM); }

detail::conn* wrap(int fd, bool tcp, std::error_code& err) {
  netpoll::pollDesc* pd = netpoll::pdalloc(fd);
  if (int rc = netpoll::current->open(pd); rc < 0) {
    err = sysErr(-rc);
    netpoll::pdfree(pd);
    ::close(fd);
    return nullptr;
  }
  auto* c = new detail::conn;
  c->pd = pd;
  c->tcp = tcp;
  return c;
}

void release(detail::conn* c) {
  if (c == nullptr || c->handles.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (!c->closed.exchange(true)) {
    netpoll::pdclose(c->pd);
    if (!c->unlinkPath.empty()) ::unlink(c->unlinkPath.c_str());
  }
  netpoll::pdfree(c->pd);
  delete c;
}

std::error_code closeConn(detail::conn* c) {
  if (c == nullptr || c->closed.exchange(true)) return ErrClosed;
  netpoll::pdclose(c->pd);
  if (!c->unlinkPath.empty()) ::unlink(c->unlinkPath.c_str());
  return {};
}

int newSocket(int family, int type) {
  int flags = SOCK_CLOEXEC;
  if (!netpoll::current->blockingSockets()) flags |= SOCK_NONBLOCK;
  int fd = ::socket(family, type | flags, 0);
  return fd < 0 ? -errno : fd;
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// ---- addresses ----------------------------------------------------------------

bool parsePort(const std::string& port, uint16_t& out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || p != port.data() + port.size() || v > 65535) return false;
  out = uint16_t(v);
  return true;
}

// looksNumeric: the host's last label is a number (decimal, or 0x hex),
// which no DNS name's is.
bool looksNumeric(std::string_view h) {
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  const size_t dot = h.rfind('.');
  std::string_view last = dot == std::string_view::npos ? h : h.substr(dot + 1);
  if (last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    last.remove_prefix(2);
    return last.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
  }
  return !last.empty() && last.find_first_not_of("0123456789") == std::string_view::npos;
}

// resolve turns host and port into addresses of the wanted family
// (AF_UNSPEC: either). Literals are parsed here; names go to getaddrinfo in
// Blocking, so no P waits for DNS.
std::error_code resolve(const std::string& host, const std::string& port, int family, bool passive,
                        std::vector<Addr>& out) {
  uint16_t p = 0;
  const bool numericPort = parsePort(port, p);
  if (!numericPort && !port.empty() && port.find_first_not_of("0123456789") == std::string::npos)
    return make_error_code(Errc::badAddress);  // a number, but not a port
  // A service name starts with a letter, then letters, digits and '-'
  // ("http", RFC 6335); anything else ("+65616", "-4294967216", " 80")
  // getaddrinfo would read as a number and wrap.
  if (!numericPort && !port.empty() &&
      (!std::isalpha(static_cast<unsigned char>(port[0])) ||
       port.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != std::string::npos))
    return make_error_code(Errc::badAddress);
  Addr a;
  if (numericPort) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    if (family != AF_INET6 && inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
      s4->sin_family = AF_INET;
      s4->sin_port = htons(p);
      a.len = sizeof *s4;
      out.push_back(a);
      return {};
    }
    if (family != AF_INET && inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(p);
      a.len = sizeof *s6;
      out.push_back(a);
      return {};
    }
  }
  // Not a dotted-quad, yet numeric: "127.1", "0x7f.1", "2130706433",
  // "010.0.0.1" (octal: 8.0.0.1). getaddrinfo reads them the inet_aton
  // way; Go (since 1.17, CVE-2021-29923) does not, and a filter that
  // compared the text would be passed. No DNS name ends in a numeric
  // label, so none is looked up.
  if (looksNumeric(host)) {
    in6_addr any;
    if (inet_pton(AF_INET, host.c_str(), &any) != 1 && inet_pton(AF_INET6, host.c_str(), &any) != 1)
      return make_error_code(Errc::noSuchHost);
  }
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  // errno is read inside the call: after Blocking the goroutine may be on
  // another thread.
  int sysErrno = 0;
  int rc = ringo::Blocking([&] {
    int r = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    sysErrno = errno;
    return r;
  });
  if (rc != 0) {
    if (rc == EAI_SYSTEM && sysErrno != 0) return sysErr(sysErrno);
    if (rc == EAI_NONAME
#ifdef EAI_NODATA
        || rc == EAI_NODATA
#endif
    )
      return make_error_code(Errc::noSuchHost);
    return make_error_code(std::errc::host_unreachable);
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Addr x;
    std::memcpy(&x.ss, ai->ai_addr, ai->ai_addrlen);
    x.len = ai->ai_addrlen;
    out.push_back(x);
  }
  freeaddrinfo(res);
  if (out.empty()) return make_error_code(std::errc::host_unreachable);
  return {};
}

std::error_code unixAddr(std::string_view path, Addr& a) {
  auto* su = reinterpret_cast<sockaddr_un*>(&a.ss);
  if (path.empty() || path.size() >= sizeof su->sun_path) return make_error_code(std::errc::filename_too_long);
  su->sun_family = AF_UNIX;
  std::memcpy(su->sun_path, path.data(), path.size());
  if (path[0] == '@') su->sun_path[0] = '\0';  // the abstract namespace
  a.len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
  return {};
}

int networkFamily(std::string_view network, bool& isUnix, bool& ok) {
  ok = true;
  isUnix = false;
  if (network == "tcp") return AF_UNSPEC;
  if (network == "tcp4") return AF_INET;
  if (network == "tcp6") return AF_INET6;
  if (network == "unix") {
    isUnix = true;
    return AF_UNIX;
  }
  ok = false;
  return 0;
}

int somaxconn() {
  std::ifstream f("/proc/sys/net/core/somaxconn");
  int n = 0;
  if (f >> n && n > 0) return n;
  return SOMAXCONN;
}

}  // namespace

std::error_code SplitHostPort(std::string_view hp, std::string& host, std::string& port) {
  host.clear();
  port.clear();
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      return make_error_code(Errc::badAddress);
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) return make_error_code(Errc::badAddress);
    host = hp.substr(0, colon);
    if (host.find(':') != std::string::npos) return make_error_code(Errc::badAddress);  // v6 needs []
    port = hp.substr(colon + 1);
  }
  if (port.empty()) return make_error_code(Errc::badAddress);
  return {};
}

// ---- Addr -----------------------------------------------------------------------

std::string Addr::Network() const { return ss.ss_family == AF_UNIX ? "unix" : "tcp"; }

int Addr::Port() const {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

namespace {
// ipv4Port writes "a.b.c.d:port" as inet_ntop and to_string would, without
// glibc's sprintf inside inet_ntop: the server formats every client's
// address, once per connection.
std::string ipv4Port(const unsigned char* b, int port) {
  char buf[sizeof "255.255.255.255:65535"];
  char* p = buf;
  for (int i = 0; i < 4; i++) {
    if (i > 0) *p++ = '.';
    p = std::to_chars(p, buf + sizeof buf, b[i]).ptr;
  }
  *p++ = ':';
  p = std::to_chars(p, buf + sizeof buf, port).ptr;
  return std::string(buf, size_t(p - buf));
}
}  // namespace

std::string Addr::String() const {
  char buf[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    return ipv4Port(reinterpret_cast<const unsigned char*>(&s4->sin_addr), Port());
  }
  if (ss.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))  // Go shows a dual-stack peer as IPv4
      return ipv4Port(&s6->sin6_addr.s6_addr[12], Port());
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(Port());
  }
  if (ss.ss_family == AF_UNIX) {
    auto* su = reinterpret_cast<const sockaddr_un*>(&ss);
    const size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return "";
    if (su->sun_path[0] == '\0') return "@" + std::string(su->sun_path + 1, n - 1);
    return std::string(su->sun_path, strnlen(su->sun_path, n));
  }
  return "";
}

// ---- Conn -----------------------------------------------------------------------

Conn::Conn(const Conn& o) noexcept : c_(o.c_) {
  if (c_) c_->handles.fetch_add(1, std::memory_order_relaxed);
}
Conn::~Conn() { release(c_); }

IOResult Conn::Read(std::span<char> buf) {
  if (c_ == nullptr) return {0, ErrClosed};
  if (!netpoll::current) return {0, noPoller()};
  if (buf.empty()) return {0, {}};
  int64_t n = netpoll::current->recv(c_->pd, buf.data(), buf.size());
  if (n > 0) return {size_t(n), {}};
  if (n == 0) return {0, ErrEOF};
  return {0, toErr(n)};
}

Result<Buffer> Conn::Recv() {
  if (c_ == nullptr) return {{}, ErrClosed};
  if (!netpoll::current) return {{}, noPoller()};
  char* data = nullptr;
  int32_t id = -1;
  int64_t n = netpoll::current->recvBuf(c_->pd, &data, &id);
  if (n > 0) return {Buffer(data, size_t(n), id), {}};
  if (n == 0) return {{}, ErrEOF};
  return {{}, toErr(n)};
}

IOResult Conn::Write(std::string_view buf) { return write(buf, writeEnd::none); }

IOResult Conn::WriteLast(std::string_view buf) { return write(buf, writeEnd::fin); }

IOResult Conn::WriteMore(std::string_view buf) { return write(buf, writeEnd::more); }

IOResult Conn::write(std::string_view buf, writeEnd end) {
  if (c_ == nullptr) return {0, ErrClosed};
  if (!netpoll::current) return {0, noPoller()};
  netpoll::pollDesc* pd = c_->pd;
  size_t done = 0;
  // Each send holds pd while it runs (the pollers' operations do). An
  // empty Write still reports a closed or timed-out side, and WriteLast's
  // shutdown names the fd: those hold it across the whole call.
  std::optional<netpoll::held> whole;
  if (buf.empty() || end == writeEnd::fin) {
    if (int64_t e = netpoll::prepare(pd, netpoll::kWrite)) return {0, toErr(e)};
    whole.emplace(pd);
  }
  // Writes never interleave (Go's fdMutex); a Write waiting here for
  // another still sees Close and deadlines through its own operations.
  std::lock_guard serial(pd->serial[netpoll::kWrite]);
  std::error_code err;
  while (done < buf.size()) {
    int64_t n = netpoll::current->send(pd, buf.data() + done, buf.size() - done, end != writeEnd::none);
    if (n < 0) {
      err = toErr(n);
      break;
    }
    done += size_t(n);
  }
  // WriteLast: the tail its sends held back (MSG_MORE) leaves with the
  // FIN. A system call of our own, while the descriptor is ours (refs):
  // io_uring runs a shutdown only on a worker thread, later, when the
  // descriptor may already name another connection.
  if (end == writeEnd::fin && !err) (void)::shutdown(pd->fd, SHUT_WR);
  return {done, err};
}

std::error_code Conn::Close() { return closeConn(c_); }

namespace {
// withFd runs f(fd) while the connection cannot be closed under it (the fd
// number could otherwise be reused by the time f runs).
template <class F>
std::error_code withFd(detail::conn* c, F f) {
  if (c == nullptr || c->closed.load() || !netpoll::ref(c->pd)) return ErrClosed;
  int e = f(c->pd->fd) == 0 ? 0 : errno;
  netpoll::unref(c->pd);
  return e ? sysErr(e) : std::error_code{};
}
Addr sockAddr(detail::conn* c, int (*get)(int, sockaddr*, socklen_t*)) {
  Addr a;
  a.len = sizeof a.ss;
  if (withFd(c, [&](int fd) { return get(fd, reinterpret_cast<sockaddr*>(&a.ss), &a.len); })) return {};
  return a;
}
}  // namespace

std::error_code Conn::CloseRead() {
  return withFd(c_, [](int fd) { return ::shutdown(fd, SHUT_RD); });
}

std::error_code Conn::CloseWrite() {
  return withFd(c_, [](int fd) { return ::shutdown(fd, SHUT_WR); });
}

namespace {
int64_t toNanotime(Deadline t) {
  if (t == Deadline{}) return 0;
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns > 0 ? ns : 1;  // a deadline in the distant past is still a deadline
}
std::error_code setDeadline(detail::conn* c, int side, Deadline t) {
  if (c == nullptr || c->closed.load()) return ErrClosed;
  if (!netpoll::current) return noPoller();
  netpoll::pdsetdeadline(c->pd, side, toNanotime(t));
  return {};
}
}  // namespace

std::error_code Conn::SetDeadline(Deadline t) {
  if (auto e = setDeadline(c_, netpoll::kRead, t)) return e;
  return setDeadline(c_, netpoll::kWrite, t);
}
std::error_code Conn::SetReadDeadline(Deadline t) { return setDeadline(c_, netpoll::kRead, t); }
std::error_code Conn::SetWriteDeadline(Deadline t) { return setDeadline(c_, netpoll::kWrite, t); }

Addr Conn::LocalAddr() const { return sockAddr(c_, getsockname); }
Addr Conn::RemoteAddr() const { return sockAddr(c_, getpeername); }

int Conn::Fd() const noexcept { return c_ ? c_->pd->fd : -1; }

// ---- Listener ---------------------------------------------------------------------

Listener::Listener(const Listener& o) noexcept : c_(o.c_) {
  if (c_) c_->handles.fetch_add(1, std::memory_order_relaxed);
}
Listener::~Listener() { release(c_); }

Result<Conn> Listener::Accept() {
  if (c_ == nullptr) return {{}, ErrClosed};
  if (!netpoll::current) return {{}, noPoller()};
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int64_t fd = netpoll::current->accept(c_->pd, &ss, &len);
  if (fd < 0) return {{}, toErr(fd)};
  if (c_->tcp) {
    using detail::conn;
    int nd = c_->noDelay.load(std::memory_order_relaxed);
    if (nd == conn::kNoDelayUnknown) {
      int v = 0;
      socklen_t vlen = sizeof v;
      const bool inherited = getsockopt(int(fd), IPPROTO_TCP, TCP_NODELAY, &v, &vlen) == 0 && v != 0;
      nd = inherited ? conn::kNoDelayInherited : conn::kNoDelayPerConn;
      c_->noDelay.store(nd, std::memory_order_relaxed);
    }
    if (nd == conn::kNoDelayPerConn) setNoDelay(int(fd));
  }
  std::error_code err;
  detail::conn* c = wrap(int(fd), c_->tcp, err);
  if (c == nullptr) return {{}, err};
  return {Conn(c), {}};
}

std::error_code Listener::Close() { return closeConn(c_); }

Addr Listener::Address() const { return sockAddr(c_, getsockname); }

int Listener::Fd() const noexcept { return c_ ? c_->pd->fd : -1; }

Result<Listener> Listen(std::string_view network, std::string_view address, const ListenConfig& config) {
  if (!netpoll::current) return {{}, noPoller()};
  bool isUnix, ok;
  const int family = networkFamily(network, isUnix, ok);
  if (!ok) return {{}, make_error_code(Errc::unknownNetwork)};
  Addr a;
  bool dualStack = false;
  if (isUnix) {
    if (auto e = unixAddr(address, a)) return {{}, e};
  } else {
    std::string host, port;
    if (auto e = SplitHostPort(address, host, port)) return {{}, e};
    if ((host.empty() || host == "::") && family != AF_INET) {
      // Every address: dual-stack [::], as Go listens for ":port".
      uint16_t p;
      if (!parsePort(port, p)) return {{}, make_error_code(Errc::badAddress)};
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_addr = in6addr_any;
      s6->sin6_port = htons(p);
      a.len = sizeof *s6;
      dualStack = family == AF_UNSPEC;
    } else {
      std::vector<Addr> addrs;
      if (auto e = resolve(host.empty() ? "0.0.0.0" : host, port, family, true, addrs)) return {{}, e};
      // An IPv4 address if the name has one (Go's addrs.first(isIPv4)):
      // "localhost" resolves to ::1 first, and a listener there would
      // refuse 127.0.0.1.
      a = addrs[0];
      for (const Addr& x : addrs)
        if (x.ss.ss_family == AF_INET) {
          a = x;
          break;
        }
    }
  }
  int fd = newSocket(a.ss.ss_family, SOCK_STREAM);
  if (fd < 0 && dualStack && fd == -EAFNOSUPPORT) {  // no IPv6 here: IPv4 only
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
    const uint16_t port = reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port;
    a = Addr{};
    s4->sin_family = AF_INET;
    s4->sin_port = port;
    a.len = sizeof *s4;
    dualStack = false;
    fd = newSocket(AF_INET, SOCK_STREAM);
  }
  if (fd < 0) return {{}, sysErr(-fd)};
  int one = 1, zero = 0;
  if (!isUnix) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (config.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    ::close(fd);
    return {{}, sysErr(e)};
  }
  if (a.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dualStack ? &zero : &one, sizeof one);
  if (!isUnix) setNoDelay(fd);  // for the accepted sockets to inherit (see conn::noDelay)
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) != 0 ||
      ::listen(fd, config.backlog > 0 ? config.backlog : somaxconn()) != 0) {
    int e = errno;
    ::close(fd);
    return {{}, sysErr(e)};
  }
  std::error_code err;
  detail::conn* c = wrap(fd, !isUnix, err);
  if (c == nullptr) return {{}, err};
  if (isUnix && address[0] != '@') c->unlinkPath = std::string(address);
  return {Listener(c), {}};
}

Result<Conn> Dial(std::string_view network, std::string_view address, std::chrono::nanoseconds timeout) {
  return DialContext(Background(), network, address, timeout);
}

namespace {
// interrupt ends pd's connect when ctx is done, as Go's connect does: a
// goroutine waits for ctx.Done or for stop() and expires the write side.
// For a context that can end only; stop() returns once the watcher has
// left, and says whether it fired.
class interrupt {
 public:
  interrupt(const Context& ctx, netpoll::pollDesc* pd) {
    Chan<std::monostate> done = ctx.Done();
    if (!done) return;  // Background: never ends
    watching_ = true;
    stop_ = Chan<std::monostate>();
    wg_.Add(1);
    Go([this, done, pd] {
      Select(Recv(done, [&] {
               fired_ = true;
               netpoll::pdsetdeadline(pd, netpoll::kWrite, 1);  // long past: the connect fails now
             }),
             Recv(stop_));
      wg_.Done();
    });
  }
  bool stop() {
    if (!watching_) return false;
    stop_.Close();
    wg_.Wait();
    watching_ = false;
    return fired_;
  }
  ~interrupt() { (void)stop(); }

 private:
  bool watching_ = false;
  bool fired_ = false;  // the watcher's, read after wg_.Wait
  Chan<std::monostate> stop_{nullptr};  // made only for a context that can end
  WaitGroup wg_;
};
}  // namespace

// dialErr is why a dial ends with its context, as Go maps it: a context
// past its deadline is a timeout (ErrDeadlineExceeded, whichever fires
// first, the socket's deadline or the context's timer), a cancelled one
// its error.
static std::error_code dialErr(const Context& ctx) {
  auto e = ctx.Err();
  return e == ContextError::DeadlineExceeded ? ErrDeadlineExceeded : e;
}

namespace detail {

Result<Conn> dialer::serial(const Context& ctx, const std::vector<Addr>& addrs, Deadline deadline, bool tcp) {
  std::error_code first;  // Go reports the first address's error
  for (size_t i = 0; i < addrs.size(); i++) {
    // A context that ended (between addresses, or before a fallback
    // started) sends no more SYNs (Go's dialSerial checks too).
    if (auto e = dialErr(ctx)) return {{}, e};
    const Addr& a = addrs[i];
    // Go's partialDeadline: the time left, shared among the addresses left,
    // but at least 2 s (or all that is left).
    Deadline until = deadline;
    if (deadline != Deadline{}) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return {{}, first ? first : ErrDeadlineExceeded};
      const auto left = deadline - now;
      const auto share = left / std::chrono::steady_clock::rep(addrs.size() - i);
      const auto floor = std::min<std::chrono::steady_clock::duration>(left, std::chrono::seconds(2));
      until = now + std::max<std::chrono::steady_clock::duration>(share, floor);
    }
    std::error_code err;
    int fd = newSocket(a.ss.ss_family, SOCK_STREAM);
    detail::conn* c = fd < 0 ? nullptr : wrap(fd, tcp, err);
    if (c == nullptr) {
      if (!first) first = fd < 0 ? sysErr(-fd) : err;
      continue;
    }
    Conn conn(c);
    if (until != Deadline{}) netpoll::pdsetdeadline(c->pd, netpoll::kWrite, toNanotime(until));
    int64_t rc;
    {
      interrupt in(ctx, c->pd);
      rc = netpoll::current->connect(c->pd, reinterpret_cast<const sockaddr*>(&a.ss), a.len);
      if (in.stop()) return {{}, dialErr(ctx)};  // conn closes as it goes
    }
    if (rc == 0) {
      if (until != Deadline{}) netpoll::pdsetdeadline(c->pd, netpoll::kWrite, 0);
      if (tcp) setNoDelay(fd);
      return {std::move(conn), {}};
    }
    if (!first) first = toErr(rc);
    if (toErr(rc) == ErrDeadlineExceeded && until == deadline) break;  // the whole timeout is spent
  }
  return {{}, first};
}

Result<Conn> dialer::parallel(const Context& ctx, std::vector<Addr> primaries, std::vector<Addr> fallbacks,
                              Deadline deadline) {
  constexpr auto kFallbackDelay = std::chrono::milliseconds(300);
  struct outcome {
    Result<Conn> r;
    bool primary;
  };
  auto [race, cancel] = WithCancel(ctx);  // ends the loser
  Chan<outcome> results(2);
  WaitGroup wg;
  auto start = [&](std::vector<Addr> addrs, bool primary) {
    wg.Add(1);
    Go([&, race = race, addrs = std::move(addrs), primary] {
      (void)results.TrySend(outcome{serial(race, addrs, deadline, true), primary});
      wg.Done();
    });
  };
  Timer fallbackTimer(kFallbackDelay);  // before any goroutine refers to this frame
  start(std::move(primaries), true);
  bool fallbackStarted = false;
  int pending = 1;
  Result<Conn> won{};
  std::error_code primaryErr, fallbackErr;
  while (pending > 0 && !won.value) {
    bool fire = false;
    Select(Recv(results,
                [&](outcome o, bool) {
                  pending--;
                  if (!o.r.err) {
                    won = std::move(o.r);
                    return;
                  }
                  (o.primary ? primaryErr : fallbackErr) = o.r.err;
                  if (o.primary && !fallbackStarted) fire = true;  // no need to wait
                }),
           Recv(fallbackStarted ? Chan<Time>(nullptr) : fallbackTimer.C, [&] { fire = true; }));
    if (fire && !fallbackStarted) {
      fallbackStarted = true;
      pending++;
      start(std::move(fallbacks), false);
    }
  }
  fallbackTimer.Stop();
  cancel();   // the other dial, if it still runs, ends now
  wg.Wait();  // and is gone before its stack's captures are
  while (auto o = results.TryRecv()) {  // a second connection that made it anyway: closed
  }
  if (won.value) return won;
  if (auto e = dialErr(ctx)) return {{}, e};
  return {{}, primaryErr ? primaryErr : fallbackErr};
}
}  // namespace detail

Result<Conn> DialContext(const Context& ctx, std::string_view network, std::string_view address,
                         std::chrono::nanoseconds timeout) {
  if (!netpoll::current) return {{}, noPoller()};
  if (auto e = dialErr(ctx)) return {{}, e};
  bool isUnix, ok;
  const int family = networkFamily(network, isUnix, ok);
  if (!ok) return {{}, make_error_code(Errc::unknownNetwork)};
  // The timeout counts from here, the name lookup included (Go's); the
  // lookup cannot be interrupted, but a dial it made late fails after it.
  Deadline deadline = timeout.count() > 0 ? std::chrono::steady_clock::now() + timeout : Deadline{};
  if (auto d = ctx.Deadline(); d && (deadline == Deadline{} || *d < deadline)) deadline = *d;
  std::vector<Addr> addrs;
  if (isUnix) {
    Addr a;
    if (auto e = unixAddr(address, a)) return {{}, e};
    addrs.push_back(a);
    return detail::dialer::serial(ctx, addrs, deadline, false);
  }
  std::string host, port;
  if (auto e = SplitHostPort(address, host, port)) return {{}, e};
  if (auto e = resolve(host.empty() ? (family == AF_INET6 ? "::1" : "127.0.0.1") : host, port, family, false, addrs))
    return {{}, e};
  if (auto e = dialErr(ctx)) return {{}, e};  // ended during the lookup
  // Go's dialParallel: the first address's family first, the other as the
  // fallback (only "tcp" resolves to both).
  std::vector<Addr> primaries, fallbacks;
  for (const Addr& a : addrs) (a.ss.ss_family == addrs[0].ss.ss_family ? primaries : fallbacks).push_back(a);
  if (fallbacks.empty()) return detail::dialer::serial(ctx, primaries, deadline, true);
  return detail::dialer::parallel(ctx, std::move(primaries), std::move(fallbacks), deadline);
}

}  // namespace ringo::net
