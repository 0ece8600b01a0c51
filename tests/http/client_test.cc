// client_test.cc — http::Client over real sockets on 127.0.0.1: against
// ringo's own server (bodies, framing, keep-alive, redirects), against raw
// listeners that misbehave on purpose (stalls, resets, short bodies, bad
// heads), Context cancellation, and examples/reverse_proxy end to end.
// Every wait is bounded: a broken client fails a test, it does not hang it.
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>

#include "../runtime/test_util.h"
#include "../netpoll/full_queue.h"
#include "client.h"

extern char** environ;

using namespace std::chrono_literals;
using ringo::testing::WithServer;
namespace http = ringo::http;
namespace net = ringo::net;

namespace {

// ---- servers ----------------------------------------------------------------

// routes: what the ringo server answers, by path.
struct routes final : http::Handler {
  ringo::Chan<std::monostate> release{nullptr};  // /stream and /stall wait on it
  void ServeHTTP(http::ResponseWriter& w, http::Request& r) override {
    const std::string& p = r.URL.Path;
    if (p == "/hello") {
      w.Header().Set("Content-Type", "text/plain");
      (void)w.Write("Hello, World!");
    } else if (p == "/echo") {
      auto [body, err] = r.Body.ReadAll();
      if (err) return http::Error(w, err.message(), 400);
      w.Header().Set("Content-Type", std::string(r.Header.Get("Content-Type")));
      (void)w.Write(body);
    } else if (p == "/big") {
      // Written in pieces past the server's buffer: sent chunked.
      const size_t n = std::stoul(std::string(r.URL.Query().Get("n")));
      std::string piece(16 << 10, 'b');
      for (size_t sent = 0; sent < n; sent += piece.size())
        (void)w.Write(std::string_view(piece).substr(0, std::min(piece.size(), n - sent)));
    } else if (p == "/framing") {  // how the body came: its length, -1 for chunked
      auto [body, err] = r.Body.ReadAll();
      (void)w.Write(std::to_string(r.ContentLength) + ":" + body);
    } else if (p == "/method") {
      auto [body, err] = r.Body.ReadAll();
      (void)w.Write(r.Method + ":" + body + ":" + std::string(r.Header.Get("Content-Type")));
    } else if (p == "/redirect") {
      const int n = std::stoi(std::string(r.URL.Query().Get("n")));
      if (n == 0) return (void)w.Write("arrived");
      http::Redirect(w, r, "/redirect?n=" + std::to_string(n - 1), 302);
    } else if (p == "/relative/a/b") {
      http::Redirect(w, r, "../c?x=1", 302);  // to /relative/c?x=1
    } else if (p == "/relative/c") {
      (void)w.Write("c " + r.URL.RawQuery);
    } else if (p == "/see-other") {
      http::Redirect(w, r, "/method", 303);
    } else if (p == "/temporary") {
      http::Redirect(w, r, "/method", 307);
    } else if (p == "/to") {
      http::Redirect(w, r, r.URL.Query().Get("url"), 302);
    } else if (p == "/credentials") {
      (void)w.Write("auth=" + std::string(r.Header.Get("Authorization")) +
                    " cookie=" + std::string(r.Header.Get("Cookie")) + " x=" + std::string(r.Header.Get("X-Keep")));
    } else if (p == "/stream") {
      (void)w.Write("first");
      (void)w.Flush();
      ringo::Select(ringo::Recv(release), ringo::Recv(ringo::After(10s)));
      (void)w.Write("second");
    } else if (p == "/stall") {
      w.Header().Set("Content-Length", "100");
      (void)w.Write("0123456789");
      (void)w.Flush();
      ringo::Select(ringo::Recv(release), ringo::Recv(ringo::After(10s)));
    } else if (p == "/headers-out") {
      std::string all;
      for (const auto& f : r.Header) all += f.name + "=" + f.value + "\n";
      (void)w.Write(all);
    } else {
      w.WriteHeader(404);
    }
  }
};

http::ServerOptions Opts(http::Handler& h) {
  http::ServerOptions o;
  o.handler = &h;
  return o;
}

// rawServer accepts connections on 127.0.0.1:0 and runs fn on each, on its
// own goroutine. stop() closes the listener, tells the handlers to quit
// (quit closes) and waits for all of them.
class rawServer {
 public:
  explicit rawServer(std::function<void(net::Conn&, const ringo::Chan<std::monostate>& quit)> fn)
      : fn_(std::move(fn)) {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    EXPECT_FALSE(err) << err.message();
    ln_ = std::move(ln);
    addr = ln_.Address().String();
    wg_.Add(1);
    ringo::Go([this] {
      for (;;) {
        auto [c, err] = ln_.Accept();
        if (err) break;
        accepts++;
        wg_.Add(1);
        ringo::Go([this, c]() mutable {
          fn_(c, quit_);
          (void)c.Close();
          wg_.Done();
        });
      }
      wg_.Done();
    });
  }
  ~rawServer() { stop(); }
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    (void)ln_.Close();
    quit_.Close();
    wg_.Wait();
  }
  std::string url(std::string_view path = "/") const { return "http://" + addr + std::string(path); }

  std::string addr;
  std::atomic<int> accepts{0};

 private:
  std::function<void(net::Conn&, const ringo::Chan<std::monostate>&)> fn_;
  net::Listener ln_;
  ringo::Chan<std::monostate> quit_;
  ringo::WaitGroup wg_;
  bool stopped_ = false;
};

// readHead reads a request head (and nothing after it) within 10 s.
bool readHead(net::Conn& c, std::string* head = nullptr) {
  std::string buf;
  (void)c.SetReadDeadline(std::chrono::steady_clock::now() + 10s);
  char b[4096];
  while (buf.find("\r\n\r\n") == std::string::npos) {
    auto [n, err] = c.Read(b);
    if (err) return false;
    buf.append(b, n);
  }
  if (head) *head = buf;
  return true;
}

// waitQuit parks until the test ends (or 10 s).
void waitQuit(const ringo::Chan<std::monostate>& quit) {
  ringo::Select(ringo::Recv(quit), ringo::Recv(ringo::After(10s)));
}

void RunClient(const std::function<void()>& fn, int procs = 2) {
  ringo::Options o;
  o.maxprocs = procs;
  ringo::Run(fn, o);
}

std::string ReadAll(http::Response& resp) {
  auto [s, err] = resp.Body.ReadAll();
  EXPECT_FALSE(err) << err.message();
  return s;
}

// ---- against ringo's server ---------------------------------------------------------

TEST(Client, GetsAResponseWithStatusHeadersAndBody) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto [resp, err] = c.Get("http://" + addr + "/hello");
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(resp.StatusCode, 200);
    EXPECT_EQ(resp.Status, "200 OK");
    EXPECT_EQ(resp.Proto, "HTTP/1.1");
    EXPECT_EQ(resp.Header.Get("Content-Type"), "text/plain");
    EXPECT_EQ(resp.ContentLength, 13);
    EXPECT_TRUE(resp.TransferEncoding.empty());
    EXPECT_FALSE(resp.Close);
    EXPECT_EQ(resp.Request.URL.Path, "/hello");
    EXPECT_EQ(ReadAll(resp), "Hello, World!");
    auto [n, rerr] = resp.Body.Read(std::span<char>());
    EXPECT_EQ(rerr, net::ErrEOF);
    (void)resp.Body.Close();
    char b[4];
    EXPECT_EQ(resp.Body.Read(b).err, http::ErrBodyReadAfterClose);

    auto [nf, nerr] = c.Get("http://" + addr + "/nothing-here");
    ASSERT_FALSE(nerr);
    EXPECT_EQ(nf.StatusCode, 404);  // a status is an answer, not an error
  });
}

TEST(Client, PostsBodiesOfSeveralMiBWithALengthAndChunked) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    std::string body(3 << 20, '\0');
    for (size_t i = 0; i < body.size(); i++) body[i] = char('a' + i % 26);
    auto [resp, err] = c.Post("http://" + addr + "/echo", "application/octet-stream", body);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(resp.Header.Get("Content-Type"), "application/octet-stream");
    EXPECT_EQ(ReadAll(resp), body);

    // A streamed body of unknown length goes out chunked, in odd pieces.
    size_t off = 0;
    http::Reader rd = [&](std::span<char> buf) -> net::IOResult {
      if (off == body.size()) return {0, net::ErrEOF};
      const size_t n = std::min({buf.size(), body.size() - off, size_t(7777)});
      std::memcpy(buf.data(), body.data() + off, n);
      off += n;
      return {n, {}};
    };
    auto [resp2, err2] = c.Post("http://" + addr + "/echo", "text/plain", rd);
    ASSERT_FALSE(err2) << err2.message();
    EXPECT_EQ(ReadAll(resp2), body);
    EXPECT_EQ(c.Dials(), 1);
  });
}

// A body of unknown length that turns out empty is sent as no body (Go
// reads a byte first): some servers refuse chunked requests (411).
TEST(Client, AnEmptyBodyOfUnknownLengthIsSentAsNone) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto empty = [](std::span<char>) -> net::IOResult { return {0, net::ErrEOF}; };
    for (int64_t length : {int64_t(-1), int64_t(0)}) {
      auto [req, rerr] = http::NewRequest("POST", "http://" + addr + "/framing", empty, length);
      ASSERT_FALSE(rerr) << rerr.message();
      auto [resp, err] = c.Do(req);
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(ReadAll(resp), "0:") << length;
    }
    bool once = false;
    auto one = [&once](std::span<char> b) -> net::IOResult {
      if (once) return {0, net::ErrEOF};
      once = true;
      b[0] = 'x';
      return {1, {}};
    };
    auto [req, rerr] = http::NewRequest("POST", "http://" + addr + "/framing", one, -1);
    ASSERT_FALSE(rerr) << rerr.message();
    auto [resp, err] = c.Do(req);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ReadAll(resp), "-1:x");  // not empty: chunked, as before
  });
}

TEST(Client, ReadsChunkedAndContentLengthResponses) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto [big, err] = c.Get("http://" + addr + "/big?n=1000000");
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(big.ContentLength, -1);
    ASSERT_EQ(big.TransferEncoding.size(), 1u);
    EXPECT_EQ(big.TransferEncoding[0], "chunked");
    EXPECT_EQ(ReadAll(big), std::string(1000000, 'b'));
    auto [small, err2] = c.Get("http://" + addr + "/big?n=1000");
    ASSERT_FALSE(err2) << err2.message();
    EXPECT_EQ(small.ContentLength, 1000);
    EXPECT_EQ(ReadAll(small), std::string(1000, 'b'));
  });
}

TEST(Client, ReusesKeepAliveConnections) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    const auto before = http::ReadStats().conns_total;
    for (int i = 0; i < 20; i++) {
      auto [resp, err] = c.Get("http://" + addr + (i % 2 ? "/hello" : "/big?n=50000"));
      ASSERT_FALSE(err) << err.message();
      (void)ReadAll(resp);
    }
    EXPECT_EQ(http::ReadStats().conns_total - before, 1u);
    EXPECT_EQ(c.Dials(), 1);
    EXPECT_EQ(c.IdleConns(), 1);
    c.CloseIdleConnections();
    EXPECT_EQ(c.IdleConns(), 0);
    auto [resp, err] = c.Get("http://" + addr + "/hello");
    ASSERT_FALSE(err);
    EXPECT_EQ(c.Dials(), 2);
  });
}

TEST(Client, ConcurrentRequestsGetTheirOwnConnectionsAndShareThePool) {
  routes h;
  WithServer(
      Opts(h),
      [&](const std::string& addr, http::Server&) {
        http::Client c;
        ringo::WaitGroup wg;
        std::atomic<int> ok{0};
        for (int g = 0; g < 8; g++) {
          wg.Add(1);
          ringo::Go([&] {
            for (int i = 0; i < 50; i++) {
              auto [resp, err] = c.Get("http://" + addr + "/hello");
              if (!err && resp.Body.ReadAll().value == "Hello, World!") ok++;
            }
            wg.Done();
          });
        }
        wg.Wait();
        EXPECT_EQ(ok.load(), 400);
        EXPECT_LE(c.Dials(), 8);
      },
      2);
}

TEST(Client, ABodyNotReadToTheEndIsDrainedOrItsConnectionDropped) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    {
      auto [resp, err] = c.Get("http://" + addr + "/big?n=20000");  // small: drained on Close
      ASSERT_FALSE(err);
      (void)resp.Body.Close();
    }
    EXPECT_EQ(c.IdleConns(), 1);
    {
      auto [resp, err] = c.Get("http://" + addr + "/big?n=5000000");  // large: dropped
      ASSERT_FALSE(err);
      char b[100];
      EXPECT_EQ(resp.Body.Read(b).n, 100u);
      (void)resp.Body.Close();
    }
    EXPECT_EQ(c.IdleConns(), 0);
    EXPECT_EQ(c.Dials(), 1);
  });
}

TEST(Client, StreamsTheBodyAsItArrives) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    h.release = ringo::Chan<std::monostate>();
    http::Client c;
    auto [resp, err] = c.Get("http://" + addr + "/stream");
    ASSERT_FALSE(err) << err.message();
    // The handler is parked until release closes: "first" must come
    // through on its own.
    char b[64];
    auto [n, rerr] = resp.Body.Read(b);
    ASSERT_FALSE(rerr);
    std::string got(b, n);
    while (got.size() < 5) {
      auto [m, e] = resp.Body.Read(b);
      ASSERT_FALSE(e);
      got.append(b, m);
    }
    EXPECT_EQ(got, "first");
    h.release.Close();
    EXPECT_EQ(ReadAll(resp), "second");
  });
}

TEST(Client, HeadHasHeadersButNoBodyAndKeepsTheConnection) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto [resp, err] = c.Head("http://" + addr + "/hello");
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(resp.StatusCode, 200);
    EXPECT_EQ(resp.Header.Get("Content-Length"), "13");
    EXPECT_EQ(ReadAll(resp), "");
    EXPECT_EQ(c.IdleConns(), 1);  // back in the pool before the body was touched
    auto [g, gerr] = c.Get("http://" + addr + "/hello");
    ASSERT_FALSE(gerr);
    EXPECT_EQ(ReadAll(g), "Hello, World!");
    EXPECT_EQ(c.Dials(), 1);
  });
}

// ---- redirects ----------------------------------------------------------------

// Go's rule: "stopped after 10 redirects" once ten requests have been
// sent, so a chain of nine redirects ends and one of ten does not.
TEST(Client, FollowsRedirectsAndStopsAfterTenRequests) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto [resp, err] = c.Get("http://" + addr + "/redirect?n=9");
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ReadAll(resp), "arrived");
    EXPECT_EQ(resp.Request.URL.RawQuery, "n=0");
    EXPECT_EQ(c.Dials(), 1);  // each redirect's short body was drained

    auto [r10, err10] = c.Get("http://" + addr + "/redirect?n=10");
    EXPECT_EQ(err10, http::Errc::tooManyRedirects);
    http::Client more({.max_redirects = 11});
    auto [r11, err11] = more.Get("http://" + addr + "/redirect?n=10");
    ASSERT_FALSE(err11) << err11.message();
    EXPECT_EQ(ReadAll(r11), "arrived");

    auto [rel, rerr] = c.Get("http://" + addr + "/relative/a/b");
    ASSERT_FALSE(rerr) << rerr.message();
    EXPECT_EQ(ReadAll(rel), "c x=1");

    // check_redirect can stop and keep the redirect response.
    http::Client stop({.check_redirect = [](const http::ClientRequest&, std::span<const http::ClientRequest>) {
      return http::ErrUseLastResponse;
    }});
    auto [first, ferr] = stop.Get("http://" + addr + "/redirect?n=3");
    ASSERT_FALSE(ferr);
    EXPECT_EQ(first.StatusCode, 302);
    EXPECT_EQ(first.Header.Get("Location"), "/redirect?n=2");
  });
}

TEST(Client, SeeOtherTurnsAPostIntoAGetAndTemporaryKeepsIt) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    auto [r303, err] = c.Post("http://" + addr + "/see-other", "text/plain", "payload");
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ReadAll(r303), "GET::");  // no body, no Content-Type
    EXPECT_EQ(r303.Request.Method, "GET");

    auto [r307, err2] = c.Post("http://" + addr + "/temporary", "text/plain", "payload");
    ASSERT_FALSE(err2) << err2.message();
    EXPECT_EQ(ReadAll(r307), "POST:payload:text/plain");

    auto [head, err3] = c.Head("http://" + addr + "/see-other");
    ASSERT_FALSE(err3);
    EXPECT_EQ(head.Request.Method, "HEAD");  // HEAD stays HEAD
    EXPECT_EQ(head.StatusCode, 200);

    // A 307 with a body that cannot be sent again is the answer itself.
    auto [req, rerr] = http::NewRequest("POST", "http://" + addr + "/temporary",
                                        http::StringReader("once"), 4);
    ASSERT_FALSE(rerr);
    auto [r, err4] = c.Do(std::move(req));
    ASSERT_FALSE(err4) << err4.message();
    EXPECT_EQ(r.StatusCode, 307);
  });
}

// A Location is resolved as RFC 3986 says (and Go): empty segments stay,
// a final "." leaves its slash; a Host the caller set goes along to a
// relative Location.
TEST(Client, ResolvesLocationsAsRFC3986AndKeepsTheHostForRelativeOnes) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      std::string head;
      while (readHead(c, &head)) {
        const std::string target = head.substr(head.find(' ') + 1, head.find(" HTTP/") - head.find(' ') - 1);
        const size_t h = head.find("\r\nHost: ") + 8;
        const std::string host = head.substr(h, head.find("\r\n", h) - h);
        if (target == "/start") {
          (void)c.Write("HTTP/1.1 302 Found\r\nLocation: /a//b/./c/..\r\nContent-Length: 0\r\n\r\n");
        } else {
          const std::string body = target + " " + host;
          (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        }
      }
    });
    http::Client c;
    auto [req, rerr] = http::NewRequest("GET", srv.url("/start"));
    ASSERT_FALSE(rerr);
    req.Host = "custom.example";
    auto [resp, err] = c.Do(std::move(req));
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ReadAll(resp), "/a//b/ custom.example");
  });
}

// Userinfo in the URL is sent as Basic authorization (Go), unless the
// request has its own; a user name alone is "name:".
TEST(Client, SendsTheURLsUserinfoAsBasicAuthorization) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      std::string head;
      while (readHead(c, &head)) {
        const size_t a = head.find("\r\nAuthorization: ");
        const std::string got = a == std::string::npos ? "none" : head.substr(a + 17, head.find("\r\n", a + 2) - a - 17);
        if (head.starts_with("GET /redir ")) {
          (void)c.Write("HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n");
          continue;
        }
        (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(got.size()) + "\r\n\r\n" + got);
      }
    });
    http::Client c;
    auto get = [&](const std::string& userinfo, const char* header = nullptr, const char* path = "/") {
      auto [req, rerr] = http::NewRequest("GET", "http://" + userinfo + "@" + srv.addr + path);
      EXPECT_FALSE(rerr) << userinfo;
      if (header) req.Header.Set("Authorization", header);
      auto [resp, err] = c.Do(std::move(req));
      EXPECT_FALSE(err) << err.message();
      return ReadAll(resp);
    };
    EXPECT_EQ(get("alice:s%20cret"), "Basic YWxpY2U6cyBjcmV0");  // "alice:s cret"
    EXPECT_EQ(get("a"), "Basic YTo=");                          // "a:"
    EXPECT_EQ(get("alice:x", "Bearer t"), "Bearer t");
    // A relative Location keeps the URL's userinfo (Go's ResolveReference).
    EXPECT_EQ(get("alice:s%20cret", nullptr, "/redir"), "Basic YWxpY2U6cyBjcmV0");
  });
}

TEST(Client, DropsCredentialsWhenARedirectChangesHost) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    http::Client c;
    const std::string port = addr.substr(addr.rfind(':') + 1);
    auto send = [&](const std::string& target) {
      auto [req, err] = http::NewRequest("GET", "http://" + addr + "/to?url=" + http::QueryEscape(target));
      EXPECT_FALSE(err);
      req.Header.Set("Authorization", "Bearer secret");
      req.Header.Set("Cookie", "session=1");
      req.Header.Set("X-Keep", "yes");
      auto [resp, derr] = c.Do(std::move(req));
      EXPECT_FALSE(derr) << derr.message();
      return ReadAll(resp);
    };
    // Same host: kept. Another host (localhost is not 127.0.0.1): dropped,
    // other headers kept.
    EXPECT_EQ(send("http://" + addr + "/credentials"), "auth=Bearer secret cookie=session=1 x=yes");
    EXPECT_EQ(send("http://localhost:" + port + "/credentials"), "auth= cookie= x=yes");
  });
}

// ---- servers that misbehave ------------------------------------------------------

TEST(Client, AStallingServerTimesOutNeverEarly) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto& quit) {
      if (readHead(c)) waitQuit(quit);
    });
    http::Client c({.timeout = 300ms});
    const auto t0 = std::chrono::steady_clock::now();
    auto [resp, err] = c.Get(srv.url());
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(err, http::Errc::timeout) << err.message();
    EXPECT_TRUE(http::IsTimeout(err));
    EXPECT_GE(took, 300ms);

    http::Client h({.timeout = 10s, .response_header_timeout = 200ms});
    const auto t1 = std::chrono::steady_clock::now();
    auto [resp2, err2] = h.Get(srv.url());
    EXPECT_EQ(err2, http::Errc::responseHeaderTimeout) << err2.message();
    EXPECT_GE(std::chrono::steady_clock::now() - t1, 200ms);
  });
}

TEST(Client, ABodyThatStallsTimesOutWithTheWholeRequestTimeout) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    h.release = ringo::Chan<std::monostate>();
    http::Client c({.timeout = 300ms});
    const auto t0 = std::chrono::steady_clock::now();
    auto [resp, err] = c.Get("http://" + addr + "/stall");
    ASSERT_FALSE(err) << err.message();
    auto [body, rerr] = resp.Body.ReadAll();
    EXPECT_EQ(body, "0123456789");
    EXPECT_EQ(rerr, http::Errc::timeout) << rerr.message();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
    h.release.Close();
  });
}

TEST(Client, AResetIsAnError) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      linger l{1, 0};  // close with RST
      setsockopt(c.Fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    });
    http::Client c;
    auto [resp, err] = c.Get(srv.url());
    EXPECT_EQ(err, std::errc::connection_reset) << err.message();
  });
}

TEST(Client, ConnectionRefusedIsTheDialError) {
  RunClient([] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    const std::string addr = ln.Address().String();
    (void)ln.Close();
    http::Client c;
    auto [resp, derr] = c.Get("http://" + addr + "/");
    EXPECT_EQ(derr, std::errc::connection_refused) << derr.message();
  });
}

TEST(Client, AShortBodyIsAnUnexpectedEOFAndItsConnectionIsNotReused) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    });
    http::Client c;
    auto [resp, err] = c.Get(srv.url());
    ASSERT_FALSE(err) << err.message();
    auto [body, rerr] = resp.Body.ReadAll();
    EXPECT_EQ(body, "0123456789");
    EXPECT_EQ(rerr, http::Errc::unexpectedEOF) << rerr.message();
    EXPECT_EQ(c.IdleConns(), 0);
    auto [resp2, err2] = c.Get(srv.url());
    ASSERT_FALSE(err2);
    EXPECT_EQ(srv.accepts.load(), 2);
  });
}

TEST(Client, ABadStatusLineOrHeaderIsAMalformedResponse) {
  RunClient([] {
    for (std::string bad : {"HTTP/1.1 abc OK\r\n\r\n", "hello there\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
                            "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"}) {
      rawServer srv([&](net::Conn& c, const auto&) {
        if (readHead(c)) (void)c.Write(bad);
      });
      http::Client c;
      auto [resp, err] = c.Get(srv.url());
      EXPECT_EQ(err, http::Errc::malformedResponse) << bad << ": " << err.message();
    }
  });
}

TEST(Client, OversizedHeadersAreRefused) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      (void)c.Write("HTTP/1.1 200 OK\r\nX-Big: " + std::string(64 << 10, 'x') + "\r\nContent-Length: 0\r\n\r\n");
    });
    http::Client c({.max_response_header_bytes = 16 << 10});
    auto [resp, err] = c.Get(srv.url());
    EXPECT_EQ(err, http::Errc::headerTooLarge) << err.message();
    http::Client roomy;  // 1 MiB by default
    auto [resp2, err2] = roomy.Get(srv.url());
    ASSERT_FALSE(err2) << err2.message();
    EXPECT_EQ(resp2.Header.Get("X-Big").size(), size_t(64 << 10));
  });
}

TEST(Client, ReadsABodyDelimitedByTheClose) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      (void)c.Write("HTTP/1.1 200 OK\r\n\r\nuntil the end");
    });
    http::Client c;
    auto [resp, err] = c.Get(srv.url());
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(resp.ContentLength, -1);
    EXPECT_TRUE(resp.Close);
    EXPECT_EQ(ReadAll(resp), "until the end");
    EXPECT_EQ(c.IdleConns(), 0);
  });
}

TEST(Client, SkipsInterimResponsesAndHonoursNoBodyStatuses) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      while (readHead(c)) {
        (void)c.Write(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        if (!readHead(c)) return;
        (void)c.Write("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");  // no body, whatever it says
        if (!readHead(c)) return;
        (void)c.Write("HTTP/1.1 304 Not Modified\r\n\r\n");
      }
    });
    http::Client c;
    auto [a, err] = c.Get(srv.url());
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(a.StatusCode, 200);
    EXPECT_FALSE(a.Header.Has("Link"));
    EXPECT_EQ(ReadAll(a), "ok");
    auto [b, err2] = c.Get(srv.url());
    ASSERT_FALSE(err2) << err2.message();
    EXPECT_EQ(b.StatusCode, 204);
    EXPECT_EQ(b.ContentLength, 0);
    auto [d, err3] = c.Get(srv.url());
    ASSERT_FALSE(err3) << err3.message();
    EXPECT_EQ(d.StatusCode, 304);
    EXPECT_EQ(ReadAll(d), "");
    EXPECT_EQ(srv.accepts.load(), 1);
  });
}

TEST(Client, DoesNotUseAnIdleConnectionTheServerClosedOrWroteTo) {
  RunClient([] {
    // Each connection answers one request while saying keep-alive; then
    // the server either closes it, or writes a 408 and closes it (as
    // servers do when they time an idle connection out), and says so on
    // `gone` once the bytes are on their way.
    ringo::Chan<std::monostate> gone(8);
    std::atomic<int> n{0};
    rawServer srv([&](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      if (n++ % 2 == 1) (void)c.Write("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
      (void)c.Close();
      gone.Send({});
    });
    http::Client c;
    for (int i = 0; i < 4; i++) {
      // A POST with a streamed body: it could not be sent again, so it
      // must never go out on a connection that is already dead.
      auto [req, rerr] = http::NewRequest("POST", srv.url(), http::StringReader("x"), 1);
      ASSERT_FALSE(rerr);
      auto [resp, err] = c.Do(std::move(req));
      ASSERT_FALSE(err) << i << ": " << err.message();
      EXPECT_EQ(resp.StatusCode, 200) << i;  // never the 408 meant for nobody
      EXPECT_EQ(ReadAll(resp), "ok");
      auto [v, ok] = gone.Recv();
      ASSERT_TRUE(ok);
    }
    EXPECT_EQ(srv.accepts.load(), 4);
    EXPECT_EQ(c.Dials(), 4);
  });
}

TEST(Client, RetriesOnEveryPooledConnectionTheServerClosesAsTheRequestArrives) {
  RunClient([] {
    // Each connection answers its first request; at the second it reads
    // the head and closes without a word (its idle timeout raced the
    // request). The client cannot see that coming: the connection was
    // alive when it was taken from the pool.
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      (void)readHead(c);
    });
    http::Client c;
    // Three connections in the pool: three requests at once.
    {
      ringo::WaitGroup wg;
      ringo::Chan<std::monostate> hold;
      std::atomic<int> arrived{0};
      for (int i = 0; i < 3; i++) {
        wg.Add(1);
        ringo::Go([&] {
          RINGO_DEFER(wg.Done());
          auto [resp, err] = c.Get(srv.url());
          EXPECT_FALSE(err) << err.message();
          // Keep the body (and its connection) until all three have one.
          if (++arrived == 3) hold.Close();
          ringo::Select(ringo::Recv(hold), ringo::Recv(ringo::After(10s)));
          EXPECT_EQ(ReadAll(resp), "ok");
        });
      }
      wg.Wait();
    }
    ASSERT_EQ(c.IdleConns(), 3);
    ASSERT_EQ(srv.accepts.load(), 3);
    // A GET meets the three dead connections one after another, then
    // dials.
    auto [resp, err] = c.Get(srv.url());
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(ReadAll(resp), "ok");
    EXPECT_EQ(srv.accepts.load(), 4);
    // A POST the server may have acted on is not sent twice, even with a
    // body that could be (Go's isReplayable)...
    auto [p, perr] = c.Post(srv.url(), "text/plain", "pay 10");
    EXPECT_EQ(perr, http::Errc::connClosedEarly) << perr.message();
    EXPECT_EQ(srv.accepts.load(), 4);
    // ...unless an Idempotency-Key lets the server tell the copies apart.
    auto [g, gerr] = c.Get(srv.url());  // a new connection, pooled
    ASSERT_FALSE(gerr) << gerr.message();
    EXPECT_EQ(ReadAll(g), "ok");
    auto [req, rerr] = http::NewRequest("POST", srv.url(), "pay 10");
    ASSERT_FALSE(rerr);
    req.Header.Set("Idempotency-Key", "a1");
    auto [k, kerr] = c.Do(std::move(req));
    ASSERT_FALSE(kerr) << kerr.message();
    EXPECT_EQ(ReadAll(k), "ok");
    EXPECT_EQ(srv.accepts.load(), 6);
  });
}

TEST(Client, TheResponseHeaderTimeoutStartsWhenTheRequestHasBeenWritten) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
      http::ClientOptions o;
      o.response_header_timeout = 300ms;
      http::Client c(o);
      // An upload that takes longer than the timeout (4 pieces, 150 ms
      // apart); the server answers as soon as it has the body.
      int pieces = 0;
      auto [req, rerr] = http::NewRequest(
          "POST", "http://" + addr + "/echo",
          [&](std::span<char> b) -> net::IOResult {
            if (pieces == 4) return {0, net::ErrEOF};
            if (pieces++ > 0) ringo::Sleep(150ms);
            b[0] = 'u';
            return {1, {}};
          },
          4);
      ASSERT_FALSE(rerr);
      auto [resp, err] = c.Do(std::move(req));
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(ReadAll(resp), "uuuu");
  });
}

TEST(Client, AConnectionCloseHeaderIsHonouredAndSentOnce) {
  RunClient([] {
    // A server that says keep-alive whatever it is asked.
    ringo::Chan<std::string> heads(4);
    rawServer srv([&](net::Conn& c, const auto&) {
      std::string head;
      while (readHead(c, &head)) {
        heads.Send(head);
        (void)c.Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    });
    http::Client c;
    for (bool alsoClose : {false, true}) {
      auto [req, rerr] = http::NewRequest("GET", srv.url());
      ASSERT_FALSE(rerr);
      req.Header.Set("Connection", "Close");
      req.Close = alsoClose;
      auto [resp, err] = c.Do(std::move(req));
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(ReadAll(resp), "ok");
      EXPECT_TRUE(resp.Close);
      EXPECT_EQ(c.IdleConns(), 0);  // not pooled: the client asked for the close
      auto [head, ok] = heads.Recv();
      ASSERT_TRUE(ok);
      size_t n = 0;
      for (size_t at = head.find("\r\nConnection:"); at != std::string::npos; at = head.find("\r\nConnection:", at + 1)) n++;
      EXPECT_EQ(n, 1u) << head;
    }
  });
}

TEST(Client, GivesUpAfterFiveInterimResponses) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto&) {
      if (!readHead(c)) return;
      std::string out;
      for (int i = 0; i < 6; i++) out += "HTTP/1.1 103 Early Hints\r\n\r\n";
      (void)c.Write(out + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    http::Client c;
    auto [resp, err] = c.Get(srv.url());
    EXPECT_EQ(err, http::Errc::tooManyInterim) << err.message();
    EXPECT_EQ(err.message(), "http: too many 1xx informational responses");
  });
}

TEST(Client, AtTheIdleLimitTheConnectionIdleLongestMakesRoom) {
  routes h;
  WithServer(Opts(h), [&](const std::string& a, http::Server&) {
    // A second server, for a second host:port.
    auto [ln, lerr] = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(lerr) << lerr.message();
    const std::string b = ln.Address().String();
    http::Server other(Opts(h));
    ringo::Chan<std::error_code> served(1);
    ringo::Go([&, ln]() mutable { served.Send(other.Serve(std::move(ln))); });
    RINGO_DEFER({
      (void)other.Close();
      (void)served.Recv();
    });

    http::ClientOptions o;
    o.max_idle_conns = 1;
    http::Client c(o);
    for (const std::string* addr : {&a, &b}) {
      auto [resp, err] = c.Get("http://" + *addr + "/hello");
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(ReadAll(resp), "Hello, World!");
    }
    EXPECT_EQ(c.IdleConns(), 1);
    EXPECT_EQ(c.Dials(), 2);
    auto [rb, eb] = c.Get("http://" + b + "/hello");  // the newest stayed
    ASSERT_FALSE(eb) << eb.message();
    EXPECT_EQ(ReadAll(rb), "Hello, World!");
    EXPECT_EQ(c.Dials(), 2);
    auto [ra, ea] = c.Get("http://" + a + "/hello");  // the oldest went
    ASSERT_FALSE(ea) << ea.message();
    EXPECT_EQ(ReadAll(ra), "Hello, World!");
    EXPECT_EQ(c.Dials(), 3);
  });
}

TEST(Client, RejectsBadURLsAndRequests) {
  RunClient([] {
    http::Client c;
    EXPECT_EQ(c.Get("ftp://127.0.0.1/").err, http::Errc::unsupportedScheme);
    EXPECT_EQ(c.Get("not a url").err, http::Errc::badURL);
    EXPECT_EQ(c.Get("http:///nohost").err, http::Errc::badURL);
    EXPECT_EQ(http::NewRequest("BAD METHOD", "http://127.0.0.1/").err, http::Errc::badRequest);
    auto [req, err] = http::NewRequest("GET", "http://127.0.0.1:1/");
    ASSERT_FALSE(err);
    req.Header.Set("X-Split", "a\r\nInjected: 1");
    EXPECT_EQ(c.Do(req).err, http::Errc::badRequest);
    // A URL built by hand cannot split the request line either.
    auto [byHand, herr] = http::NewRequest("GET", "http://127.0.0.1:1/");
    ASSERT_FALSE(herr);
    byHand.URL.RawQuery = "a HTTP/1.1\r\nX: y";
    EXPECT_EQ(c.Do(byHand).err, http::Errc::badRequest);
  });
}

TEST(Client, ARequestBodyShorterThanItsContentLengthIsAnError) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto& quit) {
      if (readHead(c)) waitQuit(quit);
    });
    http::Client c;
    auto [lie, err] = http::NewRequest("POST", srv.url(), http::StringReader("abc"), 10);
    ASSERT_FALSE(err);
    EXPECT_EQ(c.Do(std::move(lie)).err, http::Errc::requestBodyLength);
    auto [failing, ferr] = http::NewRequest(
        "POST", srv.url(), [](std::span<char>) -> net::IOResult { return {0, std::make_error_code(std::errc::io_error)}; }, -1);
    ASSERT_FALSE(ferr);
    EXPECT_EQ(c.Do(std::move(failing)).err, std::errc::io_error);
  });
}

// ---- cancellation -------------------------------------------------------------

TEST(Client, CancellingTheContextEndsAReadMidBody) {
  routes h;
  WithServer(Opts(h), [&](const std::string& addr, http::Server&) {
    h.release = ringo::Chan<std::monostate>();
    http::Client c({.timeout = 30s});
    auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
    auto [req, err] = http::NewRequestWithContext(ctx, "GET", "http://" + addr + "/stall");
    ASSERT_FALSE(err);
    auto [resp, derr] = c.Do(std::move(req));
    ASSERT_FALSE(derr) << derr.message();
    char b[10];
    auto [n, rerr] = resp.Body.Read(b);
    ASSERT_FALSE(rerr);
    EXPECT_GT(n, 0u);
    ringo::Go([cancel] {
      ringo::Sleep(20ms);
      cancel();
    });
    auto [rest, aerr] = resp.Body.ReadAll();
    EXPECT_EQ(aerr, ringo::ContextError::Canceled) << aerr.message();  // not the 30 s timeout
    h.release.Close();
  });
}

TEST(Client, CancellingTheContextEndsAWaitForTheHead) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto& quit) {
      if (readHead(c)) waitQuit(quit);
    });
    http::Client c({.timeout = 30s});
    auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
    auto [req, err] = http::NewRequestWithContext(ctx, "GET", srv.url());
    ASSERT_FALSE(err);
    ringo::Go([cancel] {
      ringo::Sleep(20ms);
      cancel();
    });
    auto [resp, derr] = c.Do(std::move(req));
    EXPECT_EQ(derr, ringo::ContextError::Canceled) << derr.message();
    // A context already done stops the request before it is sent.
    auto [req2, err2] = http::NewRequestWithContext(ctx, "GET", srv.url());
    EXPECT_EQ(c.Do(std::move(req2)).err, ringo::ContextError::Canceled);
    // A context's deadline is a timeout.
    auto [tctx, tcancel] = ringo::WithTimeout(ringo::Background(), 100ms);
    auto [req3, err3] = http::NewRequestWithContext(tctx, "GET", srv.url());
    auto [resp3, derr3] = c.Do(std::move(req3));
    EXPECT_EQ(derr3, ringo::ContextError::DeadlineExceeded) << derr3.message();
    EXPECT_TRUE(http::IsTimeout(derr3));
    tcancel();
  });
}

// A dial that hangs (SYNs to a listener whose accept queue is full are
// dropped, and the kernel resends them for seconds) ends when the
// Context is cancelled, not at the dial timeout.
TEST(Client, CancellingTheContextEndsADial) {
  RunClient([] {
    auto full = ringo::testing::ListenWithAFullQueue();
    ASSERT_TRUE(full.ln) << "no listener";
    ASSERT_TRUE(full.filled) << "the accept queue never filled";
    auto& [ln, addr, queued, filled] = full;

    const int before = ringo::NumGoroutine();
    http::Client c({.dial_timeout = 3s});
    auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
    auto [req, err] = http::NewRequestWithContext(ctx, "GET", "http://" + addr + "/");
    ASSERT_FALSE(err);
    ringo::Go([cancel] {
      ringo::Sleep(50ms);
      cancel();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto [resp, derr] = c.Do(std::move(req));
    EXPECT_EQ(derr, ringo::ContextError::Canceled) << derr.message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);  // catches a wait for the dial timeout
    // The abandoned dial itself ends with the Context, not at its 3 s
    // timeout (the bound catches that wait).
    for (int i = 0; i < 150 && ringo::NumGoroutine() > before; i++) ringo::Sleep(10ms);
    EXPECT_EQ(ringo::NumGoroutine(), before) << "the abandoned dial still runs";
    // The dial timeout ends a dial too (and would bound a name lookup).
    http::Client t({.dial_timeout = 100ms});
    auto [tresp, terr] = t.Get("http://" + addr + "/");
    EXPECT_EQ(terr, http::Errc::dialTimeout) << terr.message();
    // The abandoned dials end by themselves (their own deadline, or the
    // reset the closed listener answers their next SYN with); wait for
    // them, or Run would drop their goroutines and leak what they hold.
    (void)ln.Close();
    queued.clear();
    for (int i = 0; i < 1000 && ringo::NumGoroutine() > before; i++) ringo::Sleep(10ms);
    EXPECT_EQ(ringo::NumGoroutine(), before);
  });
}

// ---- the reverse proxy -------------------------------------------------------------

#ifdef RINGO_EXAMPLES_DIR
// freePort finds a port on 127.0.0.1 nobody listens on (for a moment).
std::string freeAddr() {
  auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err);
  std::string a = ln.Address().String();
  (void)ln.Close();
  return a;
}

TEST(ReverseProxy, ForwardsRequestsAndStreamsBothBodies) {
  routes h;
  WithServer(Opts(h), [&](const std::string& upstream, http::Server&) {
    const std::string addr = freeAddr();
    const std::string bin = std::string(RINGO_EXAMPLES_DIR) + "/reverse_proxy";
    const std::string up = "http://" + upstream;
    const char* argv[] = {bin.c_str(), "--upstream", up.c_str(), "--addr", addr.c_str(), "--procs", "1", nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    http::Client c({.timeout = 20s});
    // Wait (bounded) for it to listen.
    bool up_ = false;
    for (int i = 0; i < 500 && !up_; i++) {
      auto [resp, err] = c.Get("http://" + addr + "/hello");
      if (!err) {
        up_ = true;
        EXPECT_EQ(resp.StatusCode, 200);
        EXPECT_EQ(ReadAll(resp), "Hello, World!");
      } else {
        ringo::Sleep(10ms);
      }
    }
    ASSERT_TRUE(up_) << "reverse_proxy did not start";

    std::string body(2 << 20, 'p');
    auto [echo, err] = c.Post("http://" + addr + "/echo", "application/x-test", body);
    ASSERT_FALSE(err) << err.message();
    EXPECT_EQ(echo.Header.Get("Content-Type"), "application/x-test");
    EXPECT_EQ(ReadAll(echo), body);

    // Chunked in (unknown length), chunked out.
    size_t off = 0;
    auto [chunked, cerr] = c.Post(
        "http://" + addr + "/echo", "text/plain",
        [&](std::span<char> buf) -> net::IOResult {
          if (off == body.size()) return {0, net::ErrEOF};
          const size_t n = std::min(buf.size(), body.size() - off);
          std::memcpy(buf.data(), body.data() + off, n);
          off += n;
          return {n, {}};
        });
    ASSERT_FALSE(cerr) << cerr.message();
    EXPECT_EQ(ReadAll(chunked), body);

    // Hop-by-hop headers stay behind; X-Forwarded-For arrives.
    auto [req, rerr] = http::NewRequest("GET", "http://" + addr + "/headers-out");
    ASSERT_FALSE(rerr);
    req.Header.Set("X-Custom", "kept");
    req.Header.Set("Keep-Alive", "timeout=5");
    req.Header.Set("X-Hop", "dropped");
    req.Header.Set("Connection", "X-Hop");
    auto [hresp, herr] = c.Do(std::move(req));
    ASSERT_FALSE(herr) << herr.message();
    const std::string seen = ReadAll(hresp);
    EXPECT_NE(seen.find("X-Custom=kept\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-For=127.0.0.1\n"), std::string::npos) << seen;
    EXPECT_EQ(seen.find("Keep-Alive"), std::string::npos) << seen;
    EXPECT_EQ(seen.find("X-Hop"), std::string::npos) << seen;

    // A redirect passes through as it is (the client follows it).
    auto [redir, derr] = c.Get("http://" + addr + "/redirect?n=2");
    ASSERT_FALSE(derr);
    EXPECT_EQ(ReadAll(redir), "arrived");

    // The upstream streams: the first piece arrives while the handler waits.
    h.release = ringo::Chan<std::monostate>();
    auto [stream, serr] = c.Get("http://" + addr + "/stream");
    ASSERT_FALSE(serr) << serr.message();
    char b[16];
    std::string got;
    while (got.size() < 5) {
      auto [n, e] = stream.Body.Read(b);
      ASSERT_FALSE(e) << e.message();
      got.append(b, n);
    }
    EXPECT_EQ(got, "first");
    h.release.Close();
    EXPECT_EQ(ReadAll(stream), "second");

    // An upstream that dies mid-body (10 of its 100 bytes, then the close):
    // the proxy aborts, and the client never takes the cut body for a
    // whole one.
    h.release = ringo::Chan<std::monostate>();
    h.release.Close();
    auto [cut, cuterr] = c.Get("http://" + addr + "/stall");
    if (!cuterr) {
      auto [part, perr] = cut.Body.ReadAll();
      EXPECT_TRUE(perr) << "a cut body read as whole: " << part;
    }
    auto [after, aerr] = c.Get("http://" + addr + "/hello");  // the proxy serves on
    ASSERT_FALSE(aerr) << aerr.message();
    EXPECT_EQ(ReadAll(after), "Hello, World!");

    kill(pid, SIGTERM);
    int status = 0;
    ASSERT_EQ(ringo::Blocking([&] { return waitpid(pid, &status, 0); }), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  });
}

TEST(ReverseProxy, AnswersBadGatewayWhenTheUpstreamIsDown) {
  RunClient([] {
    const std::string dead = freeAddr(), addr = freeAddr();
    const std::string bin = std::string(RINGO_EXAMPLES_DIR) + "/reverse_proxy";
    const std::string up = "http://" + dead;
    const char* argv[] = {bin.c_str(), "--upstream", up.c_str(), "--addr", addr.c_str(), nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    http::Client c({.timeout = 20s});
    int code = 0;
    for (int i = 0; i < 500 && code == 0; i++) {
      auto [resp, err] = c.Get("http://" + addr + "/x");
      if (!err)
        code = resp.StatusCode;
      else
        ringo::Sleep(10ms);
    }
    EXPECT_EQ(code, 502);
    kill(pid, SIGTERM);
    int status = 0;
    ASSERT_EQ(ringo::Blocking([&] { return waitpid(pid, &status, 0); }), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  });
}
#endif


// ---- HTTPS -------------------------------------------------------------------

namespace tls = ringo::tls;

// The certificates, made once: a CA, and leaves it signed.
struct pki {
  tls::Certificate ca = tls::GenerateSelfSigned({"ringo client test CA"}, std::chrono::hours(24), true);
  tls::Certificate leaf = tls::GenerateSelfSigned({"localhost", "127.0.0.1"}, std::chrono::hours(24), false, &ca);
  tls::Certificate other = tls::GenerateSelfSigned({"other.test"}, std::chrono::hours(24), false, &ca);
  tls::Certificate selfSigned = tls::GenerateSelfSigned({"127.0.0.1"}, std::chrono::hours(24));
};
const pki& PKI() {
  static const pki p;
  return p;
}

http::ServerOptions TLSOpts(http::Handler& h, const tls::Certificate& cert) {
  http::ServerOptions o = Opts(h);
  o.tls.Certificates = {cert};
  return o;
}

http::ClientOptions TrustingOurCA() {
  http::ClientOptions o;
  o.tls.RootCAPEM = PKI().ca.CertPEM;
  return o;
}

TEST(ClientTLS, TalksToRingosHTTPSServerWithACustomCA) {
  routes h;
  WithServer(
      TLSOpts(h, PKI().leaf),
      [&](const std::string& addr, http::Server&) {
        http::Client c(TrustingOurCA());
        for (int i = 0; i < 5; i++) {
          auto [resp, err] = c.Get("https://" + addr + "/hello");
          ASSERT_FALSE(err) << err.message();
          EXPECT_EQ(ReadAll(resp), "Hello, World!");
        }
        std::string body(1 << 20, 'z');
        auto [echo, err] = c.Post("https://" + addr + "/echo", "text/plain", body);
        ASSERT_FALSE(err) << err.message();
        EXPECT_EQ(ReadAll(echo), body);
        auto [big, berr] = c.Get("https://" + addr + "/big?n=300000");
        ASSERT_FALSE(berr);
        EXPECT_EQ(ReadAll(big), std::string(300000, 'b'));
        EXPECT_EQ(c.Dials(), 1);  // one handshake, kept alive
        // By name too: the certificate has "localhost".
        const std::string port = addr.substr(addr.rfind(':') + 1);
        auto [byName, nerr] = c.Get("https://localhost:" + port + "/hello");
        ASSERT_FALSE(nerr) << nerr.message();
        EXPECT_EQ(ReadAll(byName), "Hello, World!");
        // Plain HTTP to the TLS port is an answer (400), not a hang.
        auto [plain, perr] = c.Get("http://" + addr + "/hello");
        ASSERT_FALSE(perr) << perr.message();
        EXPECT_EQ(plain.StatusCode, 400);
      },
      1, true);
}

TEST(ClientTLS, FilesItsSessionsInTheClientSessionCacheItIsGiven) {
  routes h;
  WithServer(
      TLSOpts(h, PKI().leaf),
      [&](const std::string& addr, http::Server&) {
        auto o = TrustingOurCA();
        o.disable_keep_alives = true;  // a handshake per request
        http::Client none(o);
        o.tls.ClientSessionCache = tls::NewLRUClientSessionCache();
        http::Client c(o);
        const std::string port = addr.substr(addr.rfind(':') + 1);
        for (std::string url : {"https://" + addr + "/hello", "https://localhost:" + port + "/hello"}) {
          for (int i = 0; i < 2; i++) {
            auto [resp, err] = c.Get(url);
            ASSERT_FALSE(err) << err.message();
            EXPECT_EQ(ReadAll(resp), "Hello, World!");
            auto [r2, err2] = none.Get(url);
            ASSERT_FALSE(err2) << err2.message();
            EXPECT_EQ(ReadAll(r2), "Hello, World!");
          }
        }
        // One session per host (127.0.0.1 and localhost), from c alone.
        EXPECT_EQ(o.tls.ClientSessionCache->Len(), 2u);
        EXPECT_EQ(c.Dials(), 4);
      },
      1, true);
}

TEST(ClientTLS, ABadCertificateFailsVerificationWithAClearError) {
  routes h;
  WithServer(
      TLSOpts(h, PKI().selfSigned),
      [&](const std::string& addr, http::Server&) {
        http::Client c(TrustingOurCA());
        auto [resp, err] = c.Get("https://" + addr + "/hello");
        ASSERT_TRUE(err);
        EXPECT_EQ(err.category(), tls::VerifyCategory()) << err.message();
        EXPECT_FALSE(err.message().empty());
        // The system store does not know it either.
        http::Client sys;
        EXPECT_EQ(sys.Get("https://" + addr + "/hello").err.category(), tls::VerifyCategory());
      },
      1, true);
  WithServer(
      TLSOpts(h, PKI().other),  // trusted CA, wrong name
      [&](const std::string& addr, http::Server&) {
        http::Client c(TrustingOurCA());
        auto [resp, err] = c.Get("https://" + addr + "/hello");
        ASSERT_TRUE(err);
        EXPECT_EQ(err.category(), tls::VerifyCategory()) << err.message();
        EXPECT_NE(err.message().find("mismatch"), std::string::npos) << err.message();
        // ServerName names the host to verify (and send as SNI) instead.
        auto o = TrustingOurCA();
        o.tls.ServerName = "other.test";
        http::Client named(o);
        auto [ok, oerr] = named.Get("https://" + addr + "/hello");
        ASSERT_FALSE(oerr) << oerr.message();
        EXPECT_EQ(ReadAll(ok), "Hello, World!");
      },
      1, true);
}

TEST(ClientTLS, AServerThatNeverFinishesTheHandshakeTimesOut) {
  RunClient([] {
    rawServer srv([](net::Conn& c, const auto& quit) {
      char b[1024];
      (void)c.Read(b);  // the ClientHello, unanswered
      waitQuit(quit);
    });
    http::Client c({.tls_handshake_timeout = 200ms});
    auto [resp, err] = c.Get("https://" + srv.addr + "/");
    EXPECT_EQ(err, ringo::tls::Errc::handshakeTimeout) << err.message();
    EXPECT_TRUE(http::IsTimeout(err));
    // A Context cancelled during the handshake ends it at once (the
    // handshake timeout is 30 s here).
    http::Client patient({.tls_handshake_timeout = 30s});
    auto [ctx, cancel] = ringo::WithCancel(ringo::Background());
    auto [req, rerr] = http::NewRequestWithContext(ctx, "GET", "https://" + srv.addr + "/");
    ASSERT_FALSE(rerr);
    ringo::Go([cancel] {
      ringo::Sleep(20ms);
      cancel();
    });
    EXPECT_EQ(patient.Do(std::move(req)).err, ringo::ContextError::Canceled);
  });
}

// nginx with TLS on 127.0.0.1, started from a config in a temporary
// directory, stopped by its PID.
TEST(ClientTLS, TalksToNginx) {
  const char* nginx = "/usr/sbin/nginx";
  if (access(nginx, X_OK) != 0) GTEST_SKIP() << "nginx is not installed (/usr/sbin/nginx)";
  char tmpl[] = "/tmp/ringo-client-nginx-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto write = [&](const std::string& name, const std::string& text) {
    FILE* f = std::fopen((dir + "/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  };
  write("cert.pem", PKI().leaf.CertPEM);
  write("key.pem", PKI().leaf.KeyPEM);
  std::string port;
  RunClient([&] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    port = std::to_string(ln.Address().Port());
    (void)ln.Close();
  });
  write("nginx.conf", "daemon off;\nworker_processes 1;\npid " + dir + "/nginx.pid;\nerror_log " + dir +
                          "/error.log;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n"
                          "  client_body_temp_path " + dir + ";\n  proxy_temp_path " + dir +
                          ";\n  fastcgi_temp_path " + dir + ";\n  uwsgi_temp_path " + dir + ";\n  scgi_temp_path " +
                          dir + ";\n  server {\n    listen 127.0.0.1:" + port + " ssl;\n    ssl_certificate " + dir +
                          "/cert.pem;\n    ssl_certificate_key " + dir +
                          "/key.pem;\n    location / { return 200 \"nginx says hi\"; }\n  }\n}\n");
  const std::string conf = dir + "/nginx.conf";
  const char* argv[] = {nginx, "-p", dir.c_str(), "-c", conf.c_str(), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, nginx, nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  RunClient([&] {
    http::Client c(TrustingOurCA());
    bool answered = false;
    for (int i = 0; i < 500 && !answered; i++) {
      auto [resp, err] = c.Get("https://127.0.0.1:" + port + "/");
      if (err) {
        ringo::Sleep(10ms);
        continue;
      }
      answered = true;
      EXPECT_EQ(resp.StatusCode, 200);
      EXPECT_EQ(ReadAll(resp), "nginx says hi");
    }
    ASSERT_TRUE(answered) << "nginx did not answer on port " << port;
    const int64_t dials = c.Dials();
    for (int i = 0; i < 10; i++) {
      auto [resp, err] = c.Get("https://127.0.0.1:" + port + "/x");
      ASSERT_FALSE(err) << err.message();
      EXPECT_EQ(ReadAll(resp), "nginx says hi");
    }
    EXPECT_EQ(c.Dials(), dials);  // kept alive
  });
  kill(pid, SIGTERM);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
