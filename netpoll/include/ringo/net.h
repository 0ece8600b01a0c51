// net.h — TCP and Unix sockets on goroutines: Go's net package.
//
//   auto [ln, err] = ringo::net::Listen("tcp", "127.0.0.1:8080");
//   if (err) { std::fprintf(stderr, "listen: %s\n", err.message().c_str()); return 1; }
//   for (;;) {
//     auto [c, err] = ln.Accept();
//     if (err) break;
//     ringo::Go([c = std::move(c)]() mutable {
//       char buf[4096];
//       for (;;) {
//         auto [n, err] = c.Read(buf);
//         if (err) return;                     // ErrEOF, reset, timeout, closed
//         if (c.Write({buf, n}).err) return;
//       }
//     });                                      // the Conn closes with its last handle
//   }
//
// Every call that waits parks the calling goroutine, never the thread: the
// operation goes to the poller (io_uring, or epoll where io_uring cannot be
// set up; see ringo/netpoll.h), and the goroutine runs again when it has
// completed. Call them from goroutines only.
//
// Errors are values: an std::error_code that is either a system error
// (std::errc::connection_reset, too_many_files_open, ...) or one of the
// errors below (ErrEOF, ErrClosed, ErrDeadlineExceeded). No call throws for
// an I/O failure.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace ringo {
class Context;  // ringo/context.h
}

namespace ringo::net {

// ---- errors ---------------------------------------------------------------

enum class Errc {
  eof = 1,           // the peer closed its side: Go's io.EOF
  closed,            // the Conn or Listener was closed: net.ErrClosed
  deadlineExceeded,  // a deadline passed: os.ErrDeadlineExceeded ("i/o timeout")
  badAddress,        // an address string that does not parse
  unknownNetwork,    // a network other than tcp, tcp4, tcp6, unix
  noSuchHost,        // the name does not resolve (Go's DNSError "no such host")
};
namespace detail {
class errorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.net"; }
  std::string message(int c) const override {
    switch (Errc(c)) {
      case Errc::eof: return "EOF";
      case Errc::closed: return "use of closed network connection";
      case Errc::deadlineExceeded: return "i/o timeout";
      case Errc::badAddress: return "bad address";
      case Errc::unknownNetwork: return "unknown network";
      case Errc::noSuchHost: return "no such host";
    }
    return "unknown ringo.net error";
  }
};
}  // namespace detail

// The category of Errc (defined here, so a program that never opens a
// socket does not link the poller).
inline const std::error_category& ErrorCategory() noexcept {
  static const detail::errorCategory c;
  return c;
}
inline std::error_code make_error_code(Errc e) noexcept { return {int(e), ErrorCategory()}; }

inline const std::error_code ErrEOF = make_error_code(Errc::eof);
inline const std::error_code ErrClosed = make_error_code(Errc::closed);
inline const std::error_code ErrDeadlineExceeded = make_error_code(Errc::deadlineExceeded);

// IsTimeout says whether err is a deadline's (Go's os.IsTimeout).
inline bool IsTimeout(std::error_code err) noexcept { return err == ErrDeadlineExceeded; }

// A result and its error, for structured bindings: auto [ln, err] = Listen(...).
template <class T>
struct [[nodiscard]] Result {
  T value;
  std::error_code err;
};

// What Read and Write return: the bytes moved, and why they stopped.
struct [[nodiscard]] IOResult {
  size_t n = 0;
  std::error_code err;
};

// ---- addresses ------------------------------------------------------------

// Addr is a socket address: "127.0.0.1:80", "[::1]:443", or a Unix path.
struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;

  std::string Network() const;  // "tcp" or "unix"
  std::string String() const;   // host:port, [v6]:port, or the path
  int Port() const;             // 0 for Unix addresses
};

// ---- deadlines ------------------------------------------------------------

// Deadlines are points on the monotonic clock; Deadline{} (zero) is none.
using Deadline = std::chrono::steady_clock::time_point;

namespace detail {
struct conn;  // the shared state of a Conn or Listener (netpoll/net.cc)
struct dialer;  // DialContext's serial and parallel dials (netpoll/net.cc)
}

// ---- Conn -----------------------------------------------------------------

class Buffer;

// Conn is a stream connection. Like a Chan, it is a handle: copies refer to
// the same connection, so one goroutine can Close what another reads. The
// connection is closed by Close, or when its last handle is destroyed —
// also when a goroutine that owns it calls Goexit, since its destructor
// runs on the way out; the close is complete (no operation in flight, the
// descriptor released) when the handle's destructor returns.
class Conn {
 public:
  Conn() = default;  // no connection: every call returns ErrClosed
  Conn(const Conn& o) noexcept;
  Conn(Conn&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  Conn& operator=(Conn o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~Conn();

  explicit operator bool() const noexcept { return c_ != nullptr; }

  // Read reads at most buf.size() bytes, parking until at least one has
  // arrived: {n > 0, {}}; {0, ErrEOF} once the peer closed its side. The
  // buffer belongs to the operation until Read returns. One operation, no
  // allocation.
  IOResult Read(std::span<char> buf);

  // Recv is Read into a buffer lent by the runtime only when data arrives
  // (io_uring's provided buffers): a goroutine that waits for an idle
  // connection holds no buffer of its own. The Buffer returns itself when
  // destroyed. At most Buffer::kSize bytes. When the shared buffers run out,
  // Recv takes one from the heap instead (counted as recvNoBufs), never
  // failing for it.
  Result<Buffer> Recv();

  // Write writes all of buf, parking while the socket's buffer is full. It
  // returns buf.size() and no error, or how much was written and why it
  // stopped. Sends never raise SIGPIPE (a closed peer is
  // std::errc::broken_pipe).
  IOResult Write(std::string_view buf);
  IOResult Write(const void* p, size_t n) { return Write(std::string_view(static_cast<const char*>(p), n)); }

  // WriteLast is Write followed by CloseWrite (not in Go): the last bytes
  // leave in one packet with the FIN. The peer gets one packet fewer to
  // receive and acknowledge, and cannot read the end of the data, and
  // close first, before this side has closed. Reading goes on; Close
  // releases the connection as always. If the write fails, the write side
  // stays open.
  IOResult WriteLast(std::string_view buf);
  // WriteMore is Write with MSG_MORE (not in Go): TCP holds the final
  // partial segment back for what this side sends next, a Write,
  // CloseWrite or Close, to leave with it (without one it goes after
  // about 200 ms). WriteMore then Close is WriteLast without its system
  // call, but a Close that finds input nobody read resets the connection
  // and the held bytes are lost: use it only when the peer has said it
  // sends nothing more.
  IOResult WriteMore(std::string_view buf);

  // Close closes the connection: parked Reads and Writes on it (from other
  // goroutines) return ErrClosed, and Close returns once none is in flight
  // and the descriptor is released. Closing twice returns ErrClosed.
  std::error_code Close();
  // CloseRead and CloseWrite shut one direction down (shutdown(2)); after
  // CloseWrite the peer reads EOF.
  std::error_code CloseRead();
  std::error_code CloseWrite();

  // Deadlines, with Go's semantics: a Read (Write) that is parked when its
  // deadline passes returns ErrDeadlineExceeded, and so does every later one
  // until the deadline is moved; moving it to the future (or to Deadline{})
  // lets calls go on, including one already parked.
  std::error_code SetDeadline(Deadline t);
  std::error_code SetReadDeadline(Deadline t);
  std::error_code SetWriteDeadline(Deadline t);

  Addr LocalAddr() const;
  Addr RemoteAddr() const;

  // The descriptor, for setsockopt and the like. Reading or writing it
  // directly bypasses the poller; the number means nothing once Close has
  // begun (it may already name another file).
  int Fd() const noexcept;

 private:
  enum class writeEnd { none, more, fin };
  IOResult write(std::string_view buf, writeEnd end);
  friend class Listener;
  friend struct detail::dialer;
  explicit Conn(detail::conn* c) noexcept : c_(c) {}
  detail::conn* c_ = nullptr;
};

// Buffer is a received chunk lent by the runtime (Conn::Recv). Move-only;
// its memory goes back to the pool when it is destroyed.
class Buffer {
 public:
  static constexpr size_t kSize = 16 << 10;  // 16 KiB: an HTTP request head fits

  Buffer() = default;
  Buffer(Buffer&& o) noexcept : data_(o.data_), len_(o.len_), id_(o.id_) { o.data_ = nullptr; }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  const char* data() const noexcept { return data_; }
  size_t size() const noexcept { return len_; }
  std::string_view view() const noexcept { return {data_, len_}; }

  // For the poller (netpoll.cc): id >= 0 is a slot of the io_uring buffer
  // ring, -1 a block of the heap pool.
  Buffer(char* data, size_t len, int32_t id) noexcept : data_(data), len_(len), id_(id) {}

 private:
  void release() noexcept;
  char* data_ = nullptr;
  size_t len_ = 0;
  int32_t id_ = -1;
};

// ---- Listener -------------------------------------------------------------

struct ListenConfig {
  bool reuse_port = false;  // SO_REUSEPORT: several processes share the port
  int backlog = 0;          // 0: /proc/sys/net/core/somaxconn, as Go
};

class Listener {
 public:
  Listener() = default;
  Listener(const Listener& o) noexcept;
  Listener(Listener&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  Listener& operator=(Listener o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~Listener();

  explicit operator bool() const noexcept { return c_ != nullptr; }

  // Accept parks until a connection arrives. The connection is close-on-exec,
  // with TCP_NODELAY for TCP. Errors: ErrClosed after Close (also for an
  // Accept parked at that moment), std::errc::too_many_files_open (EMFILE,
  // ENFILE) and the like, after which Accept may be called again: the
  // pending connections stay queued in the kernel. Under io_uring one
  // multishot accept serves every call.
  Result<Conn> Accept();

  // Close stops listening; parked Accepts return ErrClosed. A Unix socket's
  // file is removed.
  std::error_code Close();

  Addr Address() const;  // Go's Listener.Addr: the port chosen for ":0"
  int Fd() const noexcept;

 private:
  friend Result<Listener> Listen(std::string_view, std::string_view, const ListenConfig&);
  explicit Listener(detail::conn* c) noexcept : c_(c) {}
  detail::conn* c_ = nullptr;
};

// Listen announces on a local address, as Go's net.Listen:
//   "tcp",  "host:port"   ":8080" and "[::]:8080" listen on every address,
//                         IPv4 and IPv6 (dual-stack); "0.0.0.0:8080" on IPv4
//                         only; a name is resolved and its first address used
//   "tcp4", "tcp6"        one family only
//   "unix", "/path"       a Unix stream socket; "@name" is the abstract
//                         namespace
// SO_REUSEADDR is set for TCP. Blocks the thread only for a name lookup
// (in ringo::Blocking, so other goroutines run on).
Result<Listener> Listen(std::string_view network, std::string_view address,
                        const ListenConfig& config = {});

// Dial connects to address ("host:port", or a path for "unix"), trying each
// address a name resolves to in order, each with its share of the time
// left (at least 2 s, or all of it; Go's rule: one dead address does not
// use up the timeout). timeout 0 waits as long as the kernel does;
// otherwise ErrDeadlineExceeded once it passes. A name that does not
// resolve is Errc::noSuchHost. TCP_NODELAY is on.
Result<Conn> Dial(std::string_view network, std::string_view address,
                  std::chrono::nanoseconds timeout = {});
// DialContext is Dial bounded by ctx too (Go's Dialer.DialContext): its
// deadline counts as the timeout's (ErrDeadlineExceeded when it passes),
// and cancelling it ends a connect in progress at once (the socket is
// closed) with ctx.Err(). The name lookup cannot be interrupted: a dial
// whose context ends during it returns once getaddrinfo does.
//
// Dial and DialContext on "tcp" to a name with both IPv6 and IPv4
// addresses race the two families as Go does (RFC 6555, "Happy
// Eyeballs"): the first address's family is tried, and 300 ms later (or
// at once, if those fail first) the other family in parallel; the first
// connection made wins and the other dial is cancelled. A host whose IPv6
// route is dead answers in 300 ms, not after the kernel's SYN retries.
Result<Conn> DialContext(const Context& ctx, std::string_view network, std::string_view address,
                         std::chrono::nanoseconds timeout = {});

// SplitHostPort splits "host:port", "[v6]:port" or ":port" (Go's).
std::error_code SplitHostPort(std::string_view hostport, std::string& host, std::string& port);

}  // namespace ringo::net

template <>
struct std::is_error_code_enum<ringo::net::Errc> : std::true_type {};
