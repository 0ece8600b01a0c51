// transport_test.cc — the connection loop over an in-memory transport: the
// same code TLS will run, with no socket underneath. Pipelining, bad input
// and a Goexit abort behave as over TCP.
#include <gtest/gtest.h>
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <atomic>
#include <string>

#include "../../http/transport.h"

namespace http = ringo::http;
namespace net = ringo::net;

namespace {

// memTransport: the client sends chunks on toServer; the server's writes
// arrive on toClient, which closes when the server closes.
class memTransport final : public http::detail::transport {
 public:
  ringo::Chan<std::string> toServer{16}, toClient{1024};

  net::Result<std::string_view> recv() override {
    auto [s, ok] = toServer.Recv();
    if (!ok) return {{}, net::ErrEOF};
    cur_ = std::move(s);
    return {cur_, {}};
  }
  void drop() noexcept override { cur_.clear(); }
  net::IOResult write(std::string_view d) override {
    if (closed_.load()) return {0, net::ErrClosed};
    toClient.Send(std::string(d));
    return {d.size(), {}};
  }
  std::error_code setReadDeadline(ringo::Time) override { return {}; }
  std::error_code setWriteDeadline(ringo::Time) override { return {}; }
  std::error_code closeWrite() override {
    close();
    return {};
  }
  void close() noexcept override {
    if (!closed_.exchange(true)) toClient.Close();
  }
  std::string remoteAddr() const override { return "memory:1"; }

  // The client's side: everything the server wrote until it closed.
  std::string readAll() {
    std::string all;
    for (auto& s : toClient) all += s;
    return all;
  }

 private:
  std::string cur_;
  std::atomic<bool> closed_{false};
};

void Serve(http::HandlerFunc::Fn fn, const std::function<void(memTransport&)>& client) {
  ringo::Run([&] {
    http::HandlerFunc h(std::move(fn));
    http::Server srv({.handler = &h});
    auto t = std::make_shared<memTransport>();
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      auto done = ringo::Defer([&] { wg.Done(); });
      http::detail::serverAccess::serve(srv, t);
    });
    client(*t);
    wg.Wait();
  });
}

TEST(MemoryTransport, PipelinedRequestsComeBackInOrderInOneWrite) {
  Serve([](http::ResponseWriter& w, http::Request& r) { (void)w.Write(r.URL.Path); },
        [](memTransport& t) {
          t.toServer.Send(std::string("GET /a HTTP/1.1\r\nHost: m\r\n\r\nGET /b HTTP/1.1\r\nHost: m\r\n\r\n"
                                      "GET /c HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n"));
          auto [first, ok] = t.toClient.Recv();  // one write holds all three
          ASSERT_TRUE(ok);
          EXPECT_NE(first.find("\r\n\r\n/a"), std::string::npos);
          EXPECT_NE(first.find("\r\n\r\n/b"), std::string::npos);
          EXPECT_NE(first.find("\r\n\r\n/c"), std::string::npos);
          EXPECT_LT(first.find("/a"), first.find("/b"));
          EXPECT_LT(first.find("/b"), first.find("/c"));
          EXPECT_EQ(t.readAll(), "");  // then the close
        });
}

TEST(MemoryTransport, ABodySplitAcrossChunksIsStreamed) {
  Serve(
      [](http::ResponseWriter& w, http::Request& r) {
        auto [b, err] = r.Body.ReadAll();
        EXPECT_FALSE(err);
        (void)w.Write(b);
      },
      [](memTransport& t) {
        t.toServer.Send(std::string("POST /e HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"));
        t.toServer.Send(std::string("c\r\n2\r\nde\r\n0\r\n\r\n"));
        t.toServer.Close();
        auto all = t.readAll();
        EXPECT_NE(all.find("Content-Length: 5\r\n"), std::string::npos);
        EXPECT_TRUE(all.ends_with("\r\n\r\nabcde"));
      });
}

TEST(MemoryTransport, BadInputIsRejectedAndNothingAfterIsServed) {
  std::atomic<int> served{0};
  Serve([&](http::ResponseWriter&, http::Request&) { served++; },
        [](memTransport& t) {
          t.toServer.Send(std::string("GET / HTTP/1.1\r\nHost: m\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                                      "GET / HTTP/1.1\r\nHost: m\r\n\r\n"));
          t.toServer.Close();
          auto all = t.readAll();
          EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n"));
          EXPECT_EQ(all.find("HTTP/1.1", 1), std::string::npos);
        });
  EXPECT_EQ(served.load(), 0);
}

TEST(MemoryTransport, GoexitClosesTheTransportAfterWhatWasFlushed) {
  std::atomic<int> cleaned{0};
  Serve(
      [&](http::ResponseWriter& w, http::Request&) {
        auto c = ringo::Defer([&] { cleaned++; });
        (void)w.Write("flushed");
        (void)w.Flush();
        ringo::Goexit();
      },
      [](memTransport& t) {
        t.toServer.Send(std::string("GET / HTTP/1.1\r\nHost: m\r\n\r\n"));
        auto all = t.readAll();  // ends: the transport was closed by the unwind
        EXPECT_NE(all.find("7\r\nflushed\r\n"), std::string::npos);
        EXPECT_EQ(all.find("0\r\n\r\n"), std::string::npos);
      });
  EXPECT_EQ(cleaned.load(), 1);
}

}  // namespace
