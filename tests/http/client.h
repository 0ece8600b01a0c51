// client.h — the tests' byte-exact HTTP client over ringo's own sockets
// (plain or TLS), and a server on 127.0.0.1:0 for the length of a test.
#pragma once

#include <gtest/gtest.h>
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <charconv>
#include <functional>
#include <string>

namespace ringo::testing {

namespace http = ringo::http;
namespace net = ringo::net;
namespace tls = ringo::tls;
using namespace std::chrono_literals;

struct Response {
  bool ok = false;  // a whole response was read
  int status = 0;
  std::string proto;
  http::Header header;
  std::string body;
  bool chunked = false;
};

// basicClient speaks HTTP/1.1 byte by byte over a connection C (net::Conn
// or tls::Conn): it writes what the test says and parses what comes back.
// Every read is bounded by a 10 s deadline.
template <class C>
class basicClient {
 public:
  basicClient() = default;
  explicit basicClient(C c) : c_(std::move(c)) {}
  C& conn() { return c_; }

  bool Send(std::string_view s) { return !c_.Write(s).err; }

  // Response reads one response; head: the request was HEAD (no body).
  Response Read(bool head = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!more()) return r;
    std::string_view h(buf_.data(), end);
    size_t eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    r.proto = std::string(line.substr(0, 8));
    if (line.size() < 12) return r;
    std::from_chars(line.data() + 9, line.data() + 12, r.status);
    for (size_t p = eol == std::string_view::npos ? h.size() : eol + 2; p < h.size();) {
      size_t e = h.find("\r\n", p);
      if (e == std::string_view::npos) e = h.size();
      std::string_view f = h.substr(p, e - p);
      size_t colon = f.find(':');
      std::string_view v = f.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      r.header.Add(f.substr(0, colon), v);
      p = e + 2;
    }
    buf_.erase(0, end + 4);
    const bool interim = r.status >= 100 && r.status < 200;
    if (head || interim || r.status == 204 || r.status == 304) {
      r.ok = true;
      return r;
    }
    if (auto cl = r.header.Get("Content-Length"); !cl.empty()) {
      size_t n = std::stoul(std::string(cl));
      while (buf_.size() < n)
        if (!more()) return r;
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      r.ok = true;
      return r;
    }
    if (http::EqualFold(r.header.Get("Transfer-Encoding"), "chunked")) {
      r.chunked = true;
      for (;;) {
        size_t e;
        while ((e = buf_.find("\r\n")) == std::string::npos)
          if (!more()) return r;
        size_t n = std::stoul(buf_.substr(0, e), nullptr, 16);
        while (buf_.size() < e + 2 + n + 2)
          if (!more()) return r;
        r.body.append(buf_, e + 2, n);
        buf_.erase(0, e + 2 + n + 2);
        if (n == 0) break;
      }
      r.ok = true;
      return r;
    }
    // Delimited by close.
    while (more()) {
    }
    r.body = std::move(buf_);
    buf_.clear();
    r.ok = eof_;
    return r;
  }

  // Closed reads until the server closes (true) or 10 s pass (false);
  // bytes that come first are kept in leftover().
  bool Closed() {
    while (more()) {
    }
    return eof_;
  }
  const std::string& leftover() const { return buf_; }
  // WaitFor reads until s has come (true), kept in leftover(), or the
  // connection ends or 10 s pass without a byte (false).
  bool WaitFor(std::string_view s) {
    while (buf_.find(s) == std::string::npos)
      if (!more()) return false;
    return true;
  }

 private:
  bool more() {
    if (eof_) return false;
    (void)c_.SetReadDeadline(std::chrono::steady_clock::now() + 10s);
    char b[16 << 10];
    auto [n, err] = c_.Read(b);
    if (err) {
      eof_ = err == net::ErrEOF || err == std::errc::connection_reset;
      return false;
    }
    buf_.append(b, n);
    return true;
  }

  C c_;
  std::string buf_;
  bool eof_ = false;
};

// rawClient dials addr in plain TCP.
class rawClient : public basicClient<net::Conn> {
 public:
  explicit rawClient(const std::string& addr) {
    auto [c, err] = net::Dial("tcp", addr);
    EXPECT_FALSE(err) << err.message();
    conn() = std::move(c);
  }
};

// ExpectStatusThenClose reads one response, which must have status and
// say "Connection: close", and then the server's close.
template <class C>
void ExpectStatusThenClose(basicClient<C>& c, int status) {
  auto r = c.Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header.Get("Connection"), "close");
  EXPECT_TRUE(c.Closed());
}

// tlsClient dials addr in TLS with cfg (trusting cfg's CAs); err() says
// whether the handshake failed.
class tlsClient : public basicClient<tls::Conn> {
 public:
  tlsClient(const std::string& addr, const tls::Config& cfg) {
    auto [c, err] = tls::Dial("tcp", addr, cfg, 10s);
    err_ = err;
    conn() = std::move(c);
  }
  std::error_code err() const { return err_; }

 private:
  std::error_code err_;
};

// The routes the tests use, by path (the mux has its own tests).
struct routes final : http::Handler {
  std::function<void(http::ResponseWriter&, http::Request&)> extra;
  void ServeHTTP(http::ResponseWriter& w, http::Request& r) override {
    const std::string& p = r.URL.Path;
    if (p == "/hello") {
      w.Header().Set("Content-Type", "text/plain");
      (void)w.Write("Hello, World!");
    } else if (p == "/echo") {
      auto [body, err] = r.Body.ReadAll();
      if (err) return http::Error(w, err.message(), err == http::ErrBodyTooLarge ? 413 : 400);
      (void)w.Write(body);
    } else if (p == "/path") {
      (void)w.Write(r.RequestURI);
    } else if (p == "/big") {
      std::string s(100 << 10, 'b');
      (void)w.Write(s);
    } else if (extra) {
      extra(w, r);
    } else {
      w.WriteHeader(404);
    }
  }
};

inline http::ServerOptions Opts(http::Handler& h) {
  http::ServerOptions o;
  o.handler = &h;
  return o;
}

inline std::string Get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// The hijack tests' protocol, over a plain or a TLS connection. The
// client sends an upgrade request with "early" bytes behind it in one
// write; the handler, having hijacked, answers 101 and "raw:" with what
// the server had buffered, echoes what comes next ("ping") and closes.
template <class C>
void upgradeServe(C& conn, const std::string& buffered) {
  EXPECT_EQ(buffered, "early");
  (void)conn.Write("HTTP/1.1 101 Switching Protocols\r\n\r\nraw:" + buffered);
  char b[16];
  auto [n, rerr] = conn.Read(b);
  ASSERT_FALSE(rerr) << rerr.message();
  (void)conn.Write(std::string_view(b, n));
  (void)conn.Close();
}
template <class C>
void upgradeRoundTrip(basicClient<C>& c) {
  ASSERT_TRUE(c.Send(Get("/upgrade", "Connection: Upgrade\r\nUpgrade: x\r\n") + "early"));
  auto r = c.Read(true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 101);
  ASSERT_TRUE(c.Send("ping"));
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(c.leftover(), "raw:earlyping");
}

// WithServer runs fn with a server for opts on 127.0.0.1:0 inside
// ringo::Run, then closes the server and checks that Serve returned.
// With tls set, the server serves HTTPS (opts.tls holds its certificates).
inline void WithServer(http::ServerOptions opts, const std::function<void(const std::string&, http::Server&)>& fn,
                       int procs = 1, bool tls = false) {
  ringo::Options ro;
  ro.maxprocs = procs;
  ringo::Run(
      [&] {
        auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
        ASSERT_FALSE(err) << err.message();
        const std::string addr = ln.Address().String();
        http::Server srv(std::move(opts));
        ringo::Chan<std::error_code> served(1);
        ringo::Go([&, ln]() mutable { served.Send(tls ? srv.ServeTLS(std::move(ln)) : srv.Serve(std::move(ln))); });
        fn(addr, srv);
        (void)srv.Close();
        auto [e, ok] = served.Recv();
        EXPECT_EQ(e, http::ErrServerClosed);
      },
      ro);
}

}  // namespace ringo::testing
