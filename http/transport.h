// transport.h — what a connection reads and writes through: a plain
// net::Conn, a TLS connection, an in-memory pair in tests. The server's
// connection loop and the client (client.cc) both use it. Internal.
//
// recv hands out a view of the bytes that arrived, valid until the next recv,
// drop or trim: the plain transport lends the poller's receive buffer (an
// idle connection holds none), TLS its decrypted plaintext.
//
// Between two reads a connection keeps only what makes the next one cheap,
// and trim gives that back when the connection idles (the server: no
// request for kTrimAfter; the client: into the idle pool). TLS keeps its
// plaintext buffer and OpenSSL's record buffers: freeing and allocating
// them on every request (SSL_MODE_RELEASE_BUFFERS, and a 4 KiB buffer
// zeroed per request) was 5-6% of an HTTPS keep-alive request's CPU, glibc's
// malloc being slower in a threaded process.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include <memory>

#include "internal.h"
#include "ringo/http/server.h"
#include "ringo/net.h"
#include "ringo/time.h"
#include "ringo/tls.h"

namespace ringo::http::detail {

// peerSpoke: fd has something to read (bytes, or the peer's FIN or reset)
// right now, or is gone. A MSG_PEEK with MSG_DONTWAIT: it neither waits
// nor takes anything.
bool peerSpoke(int fd) noexcept;

class transport {
 public:
  virtual ~transport() = default;
  // handshake runs before the first request (TLS); a failure ends the
  // connection with one log line.
  virtual std::error_code handshake() { return {}; }
  // recv parks until bytes arrive: a view of them, or net::ErrEOF, a
  // deadline or another error.
  virtual net::Result<std::string_view> recv() = 0;
  // drop releases the last recv's bytes; trim, everything kept between
  // reads.
  virtual void drop() noexcept = 0;
  virtual void trim() noexcept { drop(); }
  // write sends all of data (parking as needed) or fails.
  virtual net::IOResult write(std::string_view data) = 0;
  // writeLast is write for the connection's last bytes: close comes next
  // (closeWrite may come first). Plain TCP sends them with the FIN
  // (Conn::WriteLast); peerDone: the client has said it sends no more
  // requests, so the close may take the bytes along without a shutdown
  // first (Conn::WriteMore).
  virtual net::IOResult writeLast(std::string_view data, bool /*peerDone*/) { return write(data); }
  virtual std::error_code setReadDeadline(Time t) = 0;
  virtual std::error_code setWriteDeadline(Time t) = 0;
  // closeWrite half-closes (FIN) so the client reads our last response.
  virtual std::error_code closeWrite() = 0;
  // close may be called from any goroutine, once or more; parked calls
  // return net::ErrClosed.
  virtual void close() noexcept = 0;
  virtual std::string remoteAddr() const = 0;
  // spoiled (the client's pool, before reusing an idle connection): the
  // peer closed it or reset it, or sent bytes nobody asked for (a 408
  // before closing). One non-blocking look at the socket.
  virtual bool spoiled() const noexcept { return false; }
  // hijack hands the connection out (into h.conn or h.tls); the transport
  // forgets it.
  virtual std::error_code hijack(Hijacked& /*h*/) { return std::make_error_code(std::errc::operation_not_supported); }
};

// plainTransport is a TCP or Unix connection.
class plainTransport final : public transport {
 public:
  explicit plainTransport(net::Conn c) noexcept : c_(std::move(c)) {}
  net::Result<std::string_view> recv() override {
    auto [b, err] = c_.Recv();
    buf_ = std::move(b);
    if (err) return {{}, err};
    return {buf_.view(), {}};
  }
  void drop() noexcept override { buf_ = net::Buffer(); }
  net::IOResult write(std::string_view data) override { return c_.Write(data); }
  net::IOResult writeLast(std::string_view data, bool peerDone) override {
    return peerDone ? c_.WriteMore(data) : c_.WriteLast(data);
  }
  std::error_code setReadDeadline(Time t) override { return c_.SetReadDeadline(t); }
  std::error_code setWriteDeadline(Time t) override { return c_.SetWriteDeadline(t); }
  std::error_code closeWrite() override { return c_.CloseWrite(); }
  void close() noexcept override { (void)c_.Close(); }
  std::string remoteAddr() const override { return c_.RemoteAddr().String(); }
  bool spoiled() const noexcept override { return peerSpoke(c_.Fd()); }
  std::error_code hijack(Hijacked& h) override {
    h.conn = std::move(c_);
    return {};
  }

 private:
  net::Conn c_;
  net::Buffer buf_;
};

}  // namespace ringo::http::detail

namespace ringo::tls::detail {
// keepBuffers: while keep, c's OpenSSL record buffers stay between calls;
// else OpenSSL frees them whenever they empty (SSL_MODE_RELEASE_BUFFERS,
// every Config's default), starting now (tls.cc).
void keepBuffers(Conn& c, bool keep) noexcept;
// awaitInput parks until a Read of c has something to read (tls.cc).
std::error_code awaitInput(Conn& c);
// holdsInput: c has received bytes no Read has taken yet: ciphertext, or
// plaintext inside OpenSSL (tls.cc).
bool holdsInput(Conn& c) noexcept;
}  // namespace ringo::tls::detail

namespace ringo::http::detail {

// tlsTransport is a TLS connection (tls.cc does the records). Its
// plaintext comes into a pooled buffer, taken once there is ciphertext to
// decrypt; while it has one, OpenSSL keeps its record buffers too. trim
// gives both back (an idle connection holds none).
class tlsTransport final : public transport {
 public:
  explicit tlsTransport(tls::Conn c) noexcept : c_(std::move(c)) {}
  ~tlsTransport() override {
    if (have_) bufput(std::move(buf_));
  }
  std::error_code handshake() override { return c_.Handshake(); }
  net::Result<std::string_view> recv() override {
    if (!have_) {  // the first read, or the first after trim: wait without a buffer
      if (auto err = tls::detail::awaitInput(c_)) return {{}, err};
      buf_ = bufget();
      buf_.resize(kBufCap);
      have_ = true;
      tls::detail::keepBuffers(c_, true);
    }
    auto [n, err] = c_.Read(buf_);
    if (err) return {{}, err};
    return {std::string_view(buf_.data(), n), {}};
  }
  void drop() noexcept override {}  // the buffer stays for the next recv
  void trim() noexcept override {
    if (!have_) return;
    bufput(std::move(buf_));
    have_ = false;
    tls::detail::keepBuffers(c_, false);
  }
  net::IOResult write(std::string_view data) override { return c_.Write(data); }
  net::IOResult writeLast(std::string_view data, bool) override { return c_.WriteLast(data); }
  std::error_code setReadDeadline(Time t) override { return c_.SetReadDeadline(t); }
  std::error_code setWriteDeadline(Time t) override { return c_.SetWriteDeadline(t); }
  std::error_code closeWrite() override { return c_.CloseWrite(); }
  void close() noexcept override { (void)c_.Close(); }
  std::string remoteAddr() const override { return c_.RemoteAddr().String(); }
  // A record that came while idle (close_notify, an alert, anything) spoils
  // it as well as a FIN does, whether it is still in the socket or was
  // received with the end of the last response.
  bool spoiled() const noexcept override {
    auto& c = const_cast<tls::Conn&>(c_);
    return tls::detail::holdsInput(c) || peerSpoke(c.NetConn().Fd());
  }
  std::error_code hijack(Hijacked& h) override {
    tls::detail::keepBuffers(c_, false);  // the new owner gets the default back
    h.tls = std::move(c_);
    return {};
  }

 private:
  tls::Conn c_;
  std::string buf_;
  bool have_ = false;
};

// serverAccess runs a Server's connection loop over any transport, on the
// calling goroutine, until the connection ends: TLS and the tests' in-memory
// pair come in here, the same loop as plain TCP.
struct serverAccess {
  static void serve(Server& s, std::shared_ptr<transport> t);
};

}  // namespace ringo::http::detail
