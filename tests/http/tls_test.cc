// tls_test.cc — TLS (ringo/tls.h) and the HTTPS server end to end over real
// sockets on 127.0.0.1: certificates made at test time (a CA, a leaf it
// signs, an intermediate chain), ringo's own TLS client, and raw bytes for
// what a TLS client would never send. curl, openssl s_client, Python's ssl
// and wrk run against examples/https_hello in https_clients_test.py.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../runtime/test_util.h"
#include "client.h"

using namespace std::chrono_literals;
using ringo::testing::Get;
using ringo::testing::upgradeRoundTrip;
using ringo::testing::upgradeServe;
using ringo::testing::OpenSockets;
using ringo::testing::Opts;
using ringo::testing::rawClient;
using ringo::testing::Response;
using ringo::testing::routes;
using ringo::testing::Scaled;
using ringo::testing::tlsClient;
using ringo::testing::WithServer;
using ringo::testing::ExpectStatusThenClose;
namespace http = ringo::http;
namespace net = ringo::net;
namespace tls = ringo::tls;

namespace {

// The test's PKI, made once: a root CA, a leaf for localhost it signs, and
// a second leaf for b.test signed by an intermediate (sent as a chain).
struct pki {
  tls::Certificate ca = tls::GenerateSelfSigned({"ringo test CA"}, std::chrono::hours(24), /*isCA=*/true);
  tls::Certificate leaf = tls::GenerateSelfSigned({"localhost", "127.0.0.1", "a.test"}, std::chrono::hours(24),
                                                  false, &ca);
  tls::Certificate inter = tls::GenerateSelfSigned({"ringo intermediate"}, std::chrono::hours(24), true, &ca);
  tls::Certificate chained = [this] {
    auto c = tls::GenerateSelfSigned({"b.test"}, std::chrono::hours(24), false, &inter);
    c.CertPEM += inter.CertPEM;  // the chain: leaf first, then the intermediate
    return c;
  }();
  tls::Certificate otherCA = tls::GenerateSelfSigned({"another CA"}, std::chrono::hours(24), true);
};
const pki& PKI() {
  static const pki p;
  return p;
}

http::ServerOptions TLSOpts(http::Handler& h) {
  auto o = Opts(h);
  o.tls.Certificates = {PKI().leaf, PKI().chained};
  return o;
}

// A client that trusts the test CA and checks the name "localhost".
tls::Config ClientConfig(std::string name = "localhost") {
  tls::Config c;
  c.RootCAPEM = PKI().ca.CertPEM;
  c.ServerName = std::move(name);
  return c;
}

void WithTLSServer(http::ServerOptions opts, const std::function<void(const std::string&, http::Server&)>& fn,
                   int procs = 1) {
  WithServer(std::move(opts), fn, procs, /*tls=*/true);
}

// captureLog keeps what the server logs.
struct captureLog final : http::Logger {
  std::mutex mu;  // Log never parks while holding it
  std::vector<std::string> lines;
  void Log(http::Level, std::string_view msg, std::span<const http::Field> f) override {
    std::string line(msg);
    for (auto& x : f) line += " " + std::string(x.key) + "=" + x.value;
    std::lock_guard g(mu);
    lines.push_back(std::move(line));
  }
  int count(std::string_view what) {
    std::lock_guard g(mu);
    int n = 0;
    for (auto& l : lines) n += l.find(what) != std::string::npos;
    return n;
  }
};

// ---- the basics over TLS --------------------------------------------------------

TEST(TLS, ServesKeepAliveAndPipelinedRequestsOverTLS13WithALPN) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    const auto total0 = http::ReadStats().conns_total;
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    auto st = c.conn().State();
    EXPECT_TRUE(st.HandshakeComplete);
    EXPECT_EQ(st.Version, tls::VersionTLS13);
    EXPECT_EQ(st.NegotiatedProtocol, "http/1.1");
    EXPECT_EQ(st.ServerName, "localhost");
    for (int i = 0; i < 3; i++) {
      ASSERT_TRUE(c.Send(Get("/hello")));
      auto r = c.Read();
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "Hello, World!");
    }
    std::string batch;
    for (int i = 0; i < 100; i++) batch += Get("/path?i=" + std::to_string(i));
    ASSERT_TRUE(c.Send(batch));
    for (int i = 0; i < 100; i++) {
      auto r = c.Read();
      ASSERT_TRUE(r.ok) << i;
      EXPECT_EQ(r.body, "/path?i=" + std::to_string(i));
    }
    EXPECT_EQ(http::ReadStats().conns_total, total0 + 1);  // all on one connection
  });
}

// WriteLast's records, close_notify and the FIN reach the client as one
// segment; Write and Close take more. The client sends nothing while the
// segments are counted (the go-ahead is a channel), so nothing else comes.
TEST(TLS, WriteLastSendsItsRecordsCloseNotifyAndTheFinTogether) {
  ringo::Options o;
  o.maxprocs = 1;
  ringo::Run(
      [] {
        auto [ln, lerr] = net::Listen("tcp", "127.0.0.1:0");
        ASSERT_FALSE(lerr) << lerr.message();
        tls::Config sc;
        sc.Certificates = {PKI().leaf};
        for (bool last : {true, false}) {
          ringo::Chan<int> goAhead;
          ringo::WaitGroup wg;
          wg.Add(1);
          ringo::Go([&] {
            RINGO_DEFER(wg.Done());
            auto [nc, aerr] = ln.Accept();
            ASSERT_FALSE(aerr) << aerr.message();
            tls::Conn s = tls::Server(std::move(nc), sc);
            ASSERT_FALSE(s.Write("hello").err);  // after the handshake and its ticket
            goAhead.Recv();
            auto w = last ? s.WriteLast("bye") : s.Write("bye");
            EXPECT_FALSE(w.err) << w.err.message();
            EXPECT_EQ(w.n, 3u);
            EXPECT_FALSE(s.Close());
          });
          auto [c, derr] = tls::Dial("tcp", ln.Address().String(), ClientConfig("127.0.0.1"));
          ASSERT_FALSE(derr) << derr.message();
          ASSERT_FALSE(c.SetReadDeadline(std::chrono::steady_clock::now() + 10s));
          char b[16];
          size_t got = 0;
          while (got < 5) {
            auto r = c.Read({b + got, 5 - got});
            ASSERT_FALSE(r.err) << r.err.message();
            got += r.n;
          }
          const int64_t before = ringo::testing::SegsIn(c.NetConn().Fd());
          ASSERT_GE(before, 0) << "no tcpi_segs_in in this kernel's TCP_INFO";
          goAhead.Send(1);
          auto r = c.Read(b);
          ASSERT_FALSE(r.err) << r.err.message();
          EXPECT_EQ(std::string_view(b, r.n), "bye");
          EXPECT_EQ(c.Read(b).err, net::ErrEOF);  // close_notify
          EXPECT_EQ(c.NetConn().Read(b).err, net::ErrEOF);  // and the FIN
          const int64_t segs = ringo::testing::SegsIn(c.NetConn().Fd()) - before;
          if (last) EXPECT_EQ(segs, 1);
          else EXPECT_GT(segs, 1);
          wg.Wait();
        }
      },
      o);
}

// ListenForAPeer listens on 127.0.0.1 and gives the address as a plain
// socket wants it, for a peer on a thread of its own.
std::pair<net::Listener, sockaddr_in> ListenForAPeer() {
  auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err) << err.message();
  sockaddr_in a{};
  if (!err) {
    const net::Addr la = ln.Address();
    std::memcpy(&a, &la.ss, sizeof a);
  }
  return {std::move(ln), a};
}

// WithOpenSSLPeer runs one TLS connection between a ringo server (1 P,
// the test leaf, a 10 s read deadline that only a hang reaches) and
// OpenSSL as the client on a thread of its own, for what ringo's own
// client would never do. client gets the socket and the SSL object after
// the handshake; the thread then waits for the server to close.
void WithOpenSSLPeer(const std::function<void(int fd, SSL* s)>& client, const std::function<void(tls::Conn&)>& server) {
  std::thread peer;
  ringo::Options o;
  o.maxprocs = 1;
  ringo::Run(
      [&] {
        auto [ln, a] = ListenForAPeer();
        ASSERT_TRUE(ln);
        peer = std::thread([a, &client] {
          int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          timeval tv{10, 0};  // a test that failed early must not leave this thread blocked
          setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
          SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
          SSL* s = SSL_new(ctx);
          SSL_set_fd(s, fd);
          EXPECT_EQ(SSL_connect(s), 1);
          client(fd, s);
          char b[64];
          while (read(fd, b, sizeof b) > 0) {
          }  // until the server closes
          SSL_free(s);
          SSL_CTX_free(ctx);
          close(fd);
        });
        auto [nc, aerr] = ln.Accept();
        ASSERT_FALSE(aerr) << aerr.message();
        tls::Config sc;
        sc.Certificates = {PKI().leaf};
        tls::Conn s = tls::Server(std::move(nc), sc);
        ASSERT_FALSE(s.SetReadDeadline(std::chrono::steady_clock::now() + 10s));
        server(s);
        (void)s.Close();
      },
      o);
  if (peer.joinable()) peer.join();
}

// A peer that sends close_notify and keeps its socket open: every Read
// after it says EOF at once (the read that waits for input first must not
// wait for input that will not come). ringo's Conns send their FIN with
// close_notify, so the peer is OpenSSL.
TEST(TLS, EveryReadAfterCloseNotifyIsEOFWithoutAFin) {
  WithOpenSSLPeer([](int, SSL* s) { EXPECT_GE(SSL_shutdown(s), 0); },  // close_notify, no FIN
                  [](tls::Conn& s) {
                    char b[16];
                    EXPECT_EQ(s.Read(b).err, net::ErrEOF);
                    EXPECT_EQ(s.Read(b).err, net::ErrEOF);
                    EXPECT_EQ(s.Read(b).err, net::ErrEOF);
                  });
}

// A FIN from a peer that sent no close_notify: at a record boundary it is
// EOF (as in Go), inside a record it is a cut the reader must hear about
// (Go's io.ErrUnexpectedEOF), else a body that runs to the connection's
// end would read as whole. The peer writes its record through a memory
// BIO so that it can send a part of it.
TEST(TLS, AFinInsideARecordIsAnErrorAndAtItsEndEOF) {
  // 0: the whole record; 1: all but its last byte; 2: its 5-byte header only.
  for (int cut : {0, 1, 2}) {
    WithOpenSSLPeer(
        [cut](int fd, SSL* s) {
          BIO* mem = BIO_new(BIO_s_mem());
          SSL_set0_wbio(s, mem);  // the record stays here
          EXPECT_EQ(SSL_write(s, "hello", 5), 5);
          char* rec = nullptr;
          long n = BIO_get_mem_data(mem, &rec);
          EXPECT_GT(n, 5 + 5);  // header, "hello", the tag
          const long send = cut == 0 ? n : cut == 1 ? n - 1 : 5;
          EXPECT_EQ(write(fd, rec, size_t(send)), send);
          shutdown(fd, SHUT_WR);  // the FIN, no close_notify
        },
        [cut](tls::Conn& s) {
          char b[16];
          if (cut) {
            auto r = s.Read(b);
            EXPECT_EQ(r.n, 0u);
            EXPECT_EQ(r.err, tls::make_error_code(tls::Errc::unexpectedEOF)) << r.err.message() << " cut " << cut;
            EXPECT_EQ(s.Read(b).err, tls::make_error_code(tls::Errc::unexpectedEOF));  // and again
          } else {
            auto r = s.Read(b);
            ASSERT_FALSE(r.err) << r.err.message();
            EXPECT_EQ(std::string_view(b, r.n), "hello");
            EXPECT_EQ(s.Read(b).err, net::ErrEOF);
          }
        });
  }
}

TEST(TLS, StreamsLargeResponsesAndEchoesLargeBodies) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    ASSERT_TRUE(c.Send(Get("/big")));
    auto r = c.Read();
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.body, std::string(100 << 10, 'b'));
    std::string body(4 << 20, 'x');
    for (size_t i = 0; i < body.size(); i += 4093) body[i] = char('a' + i % 26);
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body));
    r = c.Read();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.body.size(), body.size());
    EXPECT_TRUE(r.body == body);
  });
}

TEST(TLS, LimitsHoldOverTLS) {
  routes h;
  auto o = TLSOpts(h);
  o.max_header_bytes = 1024;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    ASSERT_TRUE(c.Send(Get("/hello", "X-Big: " + std::string(2000, 'y') + "\r\n")));
    ExpectStatusThenClose(c, 431);
  });
}

TEST(TLS, TimeoutsHoldOverTLS) {
  // The idle timeout after a request, and the header timeout for a head
  // that stops half-way: both close the connection, never early.
  routes h;
  auto o = TLSOpts(h);
  o.idle_timeout = 300ms;
  o.read_header_timeout = 300ms;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    // t0 before the request: the server's idle wait starts after it has
    // answered, which is after this (taking it after the Read made the
    // bound the server's, less the time the answer took to be read).
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.Send(Get("/hello")));
    ASSERT_TRUE(c.Read().ok);
    EXPECT_TRUE(c.Closed());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
    tlsClient slow(addr, ClientConfig());
    ASSERT_FALSE(slow.err()) << slow.err().message();
    t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(slow.Send("GET /hello HTTP/1.1\r\nHost:"));
    EXPECT_TRUE(slow.Closed());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  });
}

TEST(TLS, TheRequestContextEndsWhenTheClientGoes) {
  // The background read runs SSL_read on its goroutine while the handler
  // waits: the client's close_notify (or FIN) cancels the Context.
  routes h;
  ringo::Chan<int> entered(1), woke(1);
  h.extra = [&](http::ResponseWriter&, http::Request& r) {
    auto ctx = r.Context();
    entered.Send(1);
    ringo::Select(ringo::Recv(ctx.Done()), ringo::Recv(ringo::After(10s)));
    woke.Send(ctx.Err() ? 1 : 0);
  };
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    ASSERT_TRUE(c.Send(Get("/wait")));
    entered.Recv();
    (void)c.conn().Close();
    EXPECT_EQ(woke.Recv().first, 1);
  });
}

// ---- certificates: chains, SNI, verification ------------------------------------------

TEST(TLS, SNIPicksTheCertificateAndItsChainVerifies) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    // b.test is only in the second certificate, whose chain goes through
    // the intermediate: it verifies only if SNI picked it and the chain was
    // sent (the client trusts the root alone).
    for (std::string name : {"localhost", "a.test", "b.test"}) {
      tlsClient c(addr, ClientConfig(name));
      ASSERT_FALSE(c.err()) << name << ": " << c.err().message();
      ASSERT_TRUE(c.Send(Get("/hello")));
      EXPECT_TRUE(c.Read().ok) << name;
    }
    // A name no certificate has: the default one, which does not match.
    tlsClient bad(addr, ClientConfig("c.test"));
    ASSERT_TRUE(bad.err());
    EXPECT_EQ(bad.err().category(), tls::VerifyCategory());
    EXPECT_NE(bad.err().message().find("mismatch"), std::string::npos) << bad.err().message();
  });
}

// resumes dials with cfg, makes a request (a TLS 1.3 ticket comes after the
// handshake: the client reads it with the response), and says whether the
// handshake resumed a session.
bool resumes(const std::string& addr, const tls::Config& cfg) {
  tlsClient c(addr, cfg);
  EXPECT_FALSE(c.err()) << c.err().message();
  if (c.err()) return false;
  EXPECT_TRUE(c.Send(Get("/hello")));
  EXPECT_EQ(c.Read().body, "Hello, World!");
  return c.conn().State().DidResume;
}

TEST(TLS, AClientSessionCacheResumesTheNextConnection) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    for (uint16_t version : {tls::VersionTLS13, tls::VersionTLS12}) {
      // (Not SCOPED_TRACE: gtest keeps its traces per thread, and a
      // goroutine may come back from a park on another M.)
      const char* v = version == tls::VersionTLS13 ? "TLS 1.3" : "TLS 1.2";
      auto noCache = ClientConfig();
      noCache.MaxVersion = version;
      // Without a cache every handshake is a full one.
      EXPECT_FALSE(resumes(addr, noCache)) << v;
      EXPECT_FALSE(resumes(addr, noCache)) << v;
      auto withCache = ClientConfig();
      withCache.MaxVersion = version;
      withCache.ClientSessionCache = tls::NewLRUClientSessionCache();
      EXPECT_FALSE(resumes(addr, withCache)) << v;
      EXPECT_EQ(withCache.ClientSessionCache->Len(), 1u) << v;
      EXPECT_TRUE(resumes(addr, withCache)) << v;
      EXPECT_TRUE(resumes(addr, withCache)) << v;
      EXPECT_EQ(withCache.ClientSessionCache->Len(), 1u) << v;  // one server: its newest session
      // A copy shares the cache but is another Config: it resumes only
      // what its own handshakes verified.
      tls::Config copy = withCache;
      EXPECT_FALSE(resumes(addr, copy)) << v;
      EXPECT_EQ(withCache.ClientSessionCache->Len(), 2u) << v;
      EXPECT_TRUE(resumes(addr, copy)) << v;
      // SessionTicketsDisabled: the cache is neither read nor filled.
      tls::Config off = withCache;
      off.SessionTicketsDisabled = true;
      EXPECT_FALSE(resumes(addr, off)) << v;
      EXPECT_FALSE(resumes(addr, off)) << v;
      EXPECT_EQ(withCache.ClientSessionCache->Len(), 2u) << v;
    }
  });
}

// oneConnection serves one TLS connection on a fresh listener with sc
// (writes "hi", waits for the client to close) and dials it with cc:
// whether the handshake resumed a session. The client reads the "hi", so
// it has taken the ticket (TLS 1.3 sends it after the handshake).
bool oneConnection(const tls::Config& sc, const tls::Config& cc) {
  auto [ln, lerr] = net::Listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(lerr) << lerr.message();
  ringo::WaitGroup wg;
  wg.Add(1);
  ringo::Go([&] {
    RINGO_DEFER(wg.Done());
    auto [nc, aerr] = ln.Accept();
    if (aerr) return;
    tls::Conn s = tls::Server(std::move(nc), sc);
    (void)s.SetDeadline(std::chrono::steady_clock::now() + 10s);  // only a failing test waits that long
    (void)s.Write("hi");
    char b[8];
    (void)s.Read(b);  // until the client closes
    (void)s.Close();
  });
  bool resumed = false;
  auto [c, derr] = tls::Dial("tcp", ln.Address().String(), cc);
  EXPECT_FALSE(derr) << derr.message();
  if (!derr) {
    (void)c.SetReadDeadline(std::chrono::steady_clock::now() + 10s);
    char b[2];
    size_t got = 0;
    while (got < 2) {
      auto r = c.Read({b + got, 2 - got});
      if (r.err) break;
      got += r.n;
    }
    EXPECT_EQ(got, 2u);
    resumed = c.State().DidResume;
    (void)c.Close();
  }
  (void)ln.Close();
  wg.Wait();
  return resumed;
}

// SessionTicketKeys (Go's SetSessionTicketKeys): servers given the same
// keys open each other's tickets; a ticket sealed with an older key still
// opens and is renewed with the newest; a server without the key runs a
// full handshake. Random keys (no SessionTicketKeys) are each server's own.
TEST(TLS, ServersSharingSessionTicketKeysResumeEachOthersSessions) {
  ringo::Options o;
  o.maxprocs = 1;
  ringo::Run(
      [] {
        std::array<uint8_t, 32> k1, k2, k3;
        k1.fill(1);
        k2.fill(2);
        k3.fill(3);
        auto server = [](std::vector<std::array<uint8_t, 32>> keys) {
          tls::Config c;
          c.Certificates = {PKI().leaf};
          c.SessionTicketKeys = std::move(keys);
          return c;
        };
        for (uint16_t version : {tls::VersionTLS13, tls::VersionTLS12}) {
          const char* v = version == tls::VersionTLS13 ? "TLS 1.3" : "TLS 1.2";
          auto cc = ClientConfig("127.0.0.1");
          cc.MaxVersion = version;
          cc.ClientSessionCache = tls::NewLRUClientSessionCache();
          EXPECT_FALSE(oneConnection(server({k1}), cc)) << v;     // the first: a full handshake
          EXPECT_TRUE(oneConnection(server({k1}), cc)) << v;      // another server, the same key
          EXPECT_TRUE(oneConnection(server({k2, k1}), cc)) << v;  // an older key opens it, k2 renews it
          EXPECT_TRUE(oneConnection(server({k2}), cc)) << v;      // so k2 alone opens the renewed one
          EXPECT_FALSE(oneConnection(server({k3}), cc)) << v;     // no key of its own
          EXPECT_FALSE(oneConnection(server({}), cc)) << v;       // random keys: another server's
          EXPECT_FALSE(oneConnection(server({}), cc)) << v;
        }
      },
      o);
}

// A TLS 1.3 resumption brings a new ticket, as with OpenSSL's own keys:
// without one, a client that keeps its connection's session for the next
// (wrk does) ran a full handshake every other time. The client is OpenSSL
// on a thread, counting the tickets it is handed; the server serves four
// connections.
std::atomic<int> gTickets{0};
TEST(TLS, EveryTLS13ResumptionBringsANewTicket) {
  std::thread peer;
  std::vector<int> reused;
  gTickets = 0;
  ringo::Run(
      [&] {
        auto [ln, a] = ListenForAPeer();
        ASSERT_TRUE(ln);
        peer = std::thread([a, &reused] {
          SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
          SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
          SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
          SSL_CTX_sess_set_new_cb(ctx, [](SSL*, SSL_SESSION*) {
            gTickets++;
            return 0;
          });
          SSL* s = SSL_new(ctx);
          for (int i = 0; i < 4; i++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            timeval tv{10, 0};  // a test that failed early must not leave this thread blocked
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) break;
            SSL_set_fd(s, fd);
            if (SSL_connect(s) != 1) break;
            char b[8];
            int n = SSL_read(s, b, sizeof b);  // "hi", and the ticket before it
            reused.push_back(n == 2 ? SSL_session_reused(s) : -1);
            SSL_shutdown(s);
            SSL_clear(s);  // keeps the session for the next connection
            close(fd);
          }
          SSL_free(s);
          SSL_CTX_free(ctx);
        });
        tls::Config sc;
        sc.Certificates = {PKI().leaf};
        for (int i = 0; i < 4; i++) {
          auto [nc, aerr] = ln.Accept();
          ASSERT_FALSE(aerr) << aerr.message();
          tls::Conn c = tls::Server(std::move(nc), sc);
          (void)c.SetDeadline(std::chrono::steady_clock::now() + 10s);
          (void)c.Write("hi");
          char b[8];
          (void)c.Read(b);  // until the client's close_notify
          (void)c.Close();
        }
      },
      {.maxprocs = 1});
  peer.join();
  EXPECT_EQ(reused, (std::vector<int>{0, 1, 1, 1}));
  EXPECT_EQ(gTickets.load(), 4);  // one per connection, resumed ones too
}

// Random keys rotate as Go's: a new one every 24 hours, each opening
// tickets for 7 days (on a clock the test moves).
std::atomic<int64_t> gTicketClock{1};
TEST(TLS, SessionTicketKeysRotateDailyAndOpenTicketsForAWeek) {
  constexpr int64_t hour = int64_t(3600) * 1'000'000'000;
  tls::detail::SetTicketKeyClock([] { return gTicketClock.load(); });
  RINGO_DEFER(tls::detail::SetTicketKeyClock(nullptr));
  ringo::Options o;
  o.maxprocs = 1;
  ringo::Run(
      [] {
        gTicketClock = 1;
        tls::Config sc;  // built at the first connection: its first key is made at hour 0
        sc.Certificates = {PKI().leaf};
        auto cc = ClientConfig("127.0.0.1");
        cc.ClientSessionCache = tls::NewLRUClientSessionCache();
        EXPECT_FALSE(oneConnection(sc, cc));
        EXPECT_TRUE(oneConnection(sc, cc));  // key 0
        gTicketClock = 25 * hour;            // key 1 made; key 0 still opens, key 1 renews
        EXPECT_TRUE(oneConnection(sc, cc));
        gTicketClock = 8 * 24 * hour;  // key 0 gone; key 1 (167 h old) opens, key 2 made and renews
        EXPECT_TRUE(oneConnection(sc, cc));
        gTicketClock = 15 * 24 * hour + 1;  // key 2 is 7 days old: gone, and the ticket with it
        EXPECT_FALSE(oneConnection(sc, cc));
        EXPECT_TRUE(oneConnection(sc, cc));  // key 3, made just now
      },
      o);
}

TEST(TLS, AClientSessionCacheKeepsTheMostRecentlyUsedServers) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    // One Config for three names (ServerName empty: each dial names its
    // host), a cache of two.
    auto cfg = ClientConfig("");
    cfg.ClientSessionCache = tls::NewLRUClientSessionCache(2);
    auto resumesAs = [&](const std::string& name) {
      auto [nc, err] = net::Dial("tcp", addr, 10s);
      EXPECT_FALSE(err) << err.message();
      if (err) return false;
      tls::Conn c = tls::Client(std::move(nc), cfg, name);
      EXPECT_FALSE(c.Handshake()) << name;
      EXPECT_FALSE(c.Write(Get("/hello")).err);
      char buf[4096];
      EXPECT_GT(c.Read(buf).n, 0u);  // the response, and the ticket before it
      const bool resumed = c.State().DidResume;
      (void)c.Close();
      return resumed;
    };
    EXPECT_FALSE(resumesAs("localhost"));
    EXPECT_FALSE(resumesAs("a.test"));
    EXPECT_TRUE(resumesAs("localhost"));  // now the most recently used
    EXPECT_FALSE(resumesAs("b.test"));    // a third: a.test goes
    EXPECT_EQ(cfg.ClientSessionCache->Len(), 2u);
    EXPECT_FALSE(resumesAs("a.test"));  // and localhost goes
    EXPECT_TRUE(resumesAs("b.test"));
    EXPECT_FALSE(resumesAs("localhost"));
  });
}

// Over TLS, Hijack hands out the tls::Conn (Go's *tls.Conn), with the
// plaintext the server had decrypted and not used.
TEST(TLS, HijackHandsOverTheTLSConnectionAndWhatWasBuffered) {
  routes h;
  h.extra = [&](http::ResponseWriter& w, http::Request&) {
    auto [hj, err] = w.Hijack();
    ASSERT_FALSE(err) << err.message();
    EXPECT_FALSE(hj.conn);
    ASSERT_TRUE(hj.tls);
    upgradeServe(hj.tls, hj.buffered);
  };
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    upgradeRoundTrip(c);
  });
}

TEST(TLS, AnUntrustedCertificateFailsVerificationWithAClearError) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    auto cfg = ClientConfig();
    cfg.RootCAPEM = PKI().otherCA.CertPEM;
    tlsClient c(addr, cfg);
    ASSERT_TRUE(c.err());
    EXPECT_EQ(c.err().category(), tls::VerifyCategory());
    EXPECT_NE(c.err().message().find("failed to verify certificate"), std::string::npos) << c.err().message();
    // With verification off, the same server is reachable. (A Config is
    // compiled at first use: a changed one is a new one.)
    auto insecure = ClientConfig();
    insecure.InsecureSkipVerify = true;
    tlsClient ok(addr, insecure);
    EXPECT_FALSE(ok.err()) << ok.err().message();
  });
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "ringo_tls_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(TLS, MisconfigurationFailsAtStartWithTheReason) {
  routes h;
  auto cert = WriteTemp("cert.pem", PKI().leaf.CertPEM);
  auto key = WriteTemp("key.pem", PKI().leaf.KeyPEM);
  auto wrongKey = WriteTemp("wrong.pem", PKI().otherCA.KeyPEM);
  // The leaf's key under a passphrase: a clear error, and no prompt on the
  // terminal (OpenSSL's default without a callback).
  auto encrypted = WriteTemp("encrypted.pem", [] {
    BIO* in = BIO_new_mem_buf(PKI().leaf.KeyPEM.data(), int(PKI().leaf.KeyPEM.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(out, k, EVP_aes_128_cbc(), reinterpret_cast<const unsigned char*>("secret"), 6, nullptr,
                             nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    std::string pem(data, size_t(n));
    BIO_free(out);
    EVP_PKEY_free(k);
    BIO_free(in);
    return pem;
  }());
  ringo::Run([&] {
    struct cas {
      std::string cert, key;
      std::error_code want;
      std::string inLog;
    };
    for (auto& k : {cas{"/nonexistent/cert.pem", key, std::make_error_code(std::errc::no_such_file_or_directory),
                        "/nonexistent/cert.pem"},
                    cas{cert, wrongKey, tls::make_error_code(tls::Errc::keyMismatch), "does not belong"},
                    cas{key, key, tls::make_error_code(tls::Errc::badPEM), "no certificate"},
                    cas{cert, encrypted, tls::make_error_code(tls::Errc::badPEM), "the private key is encrypted"}}) {
      auto log = std::make_shared<captureLog>();
      auto o = Opts(h);
      o.addr = "127.0.0.1:0";
      o.logger = log;
      http::Server srv(std::move(o));
      EXPECT_EQ(srv.ListenAndServeTLS(k.cert, k.key), k.want);  // at once, not ErrServerClosed
      EXPECT_EQ(log->count(k.inLog), 1) << k.inLog;
    }
    // No certificate at all.
    auto o = Opts(h);
    o.addr = "127.0.0.1:0";
    o.logger = std::make_shared<captureLog>();
    http::Server srv(std::move(o));
    EXPECT_EQ(srv.ListenAndServeTLS(), tls::make_error_code(tls::Errc::noCertificate));
  });
  std::remove(cert.c_str());
  std::remove(key.c_str());
  std::remove(wrongKey.c_str());
  std::remove(encrypted.c_str());
}

// ---- bad TLS input: a clean close and one log line ----------------------------------

// A ClientHello that offers TLS 1.0 only (no supported_versions extension),
// and the first bytes of one that never finishes.
std::string TLS10ClientHello() {
  std::string body;
  body += "\x03\x01";                         // client_version TLS 1.0
  body += std::string(32, '\x2a');            // random
  body += '\0';                               // session id
  body += std::string("\x00\x02\x00\x2f", 4);  // one suite: TLS_RSA_WITH_AES_128_CBC_SHA
  body += std::string("\x01\x00", 2);          // compression: null
  std::string hs = "\x01";
  hs += char(0), hs += char(body.size() >> 8), hs += char(body.size() & 0xff);
  hs += body;
  std::string rec = std::string("\x16\x03\x01", 3);
  rec += char(hs.size() >> 8), rec += char(hs.size() & 0xff);
  return rec + hs;
}

struct badCase {
  const char* name;
  std::string bytes;   // what the client sends, then it waits
  bool stalls;         // the server closes at the handshake timeout, not at once
  std::string answer;  // a prefix of what the server sends back before it closes
};

class BadTLS : public ::testing::TestWithParam<badCase> {};

TEST_P(BadTLS, GetsACleanCloseAndOneLogLine) {
  const auto& k = GetParam();
  routes h;
  auto log = std::make_shared<captureLog>();
  auto o = TLSOpts(h);
  o.logger = log;
  o.tls.HandshakeTimeout = 300ms;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    const auto errs0 = http::ReadStats().tls_handshake_errors;
    rawClient c(addr);
    const auto start = std::chrono::steady_clock::now();
    if (!k.bytes.empty()) {
      ASSERT_TRUE(c.Send(k.bytes));
    }
    EXPECT_TRUE(c.Closed());
    const auto took = std::chrono::steady_clock::now() - start;
    if (k.stalls) {
      EXPECT_GE(took, 300ms);  // never early
    }
    EXPECT_EQ(c.leftover().substr(0, k.answer.size()), k.answer);
    // The server side ends (and logs) after the client sees the close.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (http::ReadStats().conns_open != 0 && std::chrono::steady_clock::now() < until) ringo::Sleep(1ms);
    EXPECT_EQ(http::ReadStats().tls_handshake_errors, errs0 + 1);
    EXPECT_EQ(log->count("TLS handshake error"), 1);
    // The server goes on.
    tlsClient good(addr, ClientConfig());
    ASSERT_FALSE(good.err()) << good.err().message();
    ASSERT_TRUE(good.Send(Get("/hello")));
    EXPECT_TRUE(good.Read().ok);
  });
}

INSTANTIATE_TEST_SUITE_P(
    TLS, BadTLS,
    ::testing::Values(
        badCase{"Garbage", std::string("\x00\x01\x02") + "garbage, not a record\r\n\r\n", false, ""},
        badCase{"PlainHTTP", "GET / HTTP/1.1\r\nHost: t\r\n\r\n", false,
                "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
        badCase{"TruncatedClientHello", TLS10ClientHello().substr(0, 20), true, ""},
        badCase{"Stalled", "", true, ""},
        badCase{"OnlyTLS10", TLS10ClientHello(), false, std::string("\x15\x03", 2)}),  // an alert
    [](const auto& info) { return std::string(info.param.name); });

// ---- handshakes never block the thread; their number is capped ------------------------

TEST(TLS, StalledHandshakesDoNotStopPlaintextRequests) {
  // One P: 1,000 connections stuck in the middle of their handshake (a
  // partial ClientHello each) are goroutines parked on the netpoller; a
  // plaintext server in the same process answers meanwhile, and so does a
  // complete TLS client.
  routes h;
  WithTLSServer(
      TLSOpts(h),
      [&](const std::string& addr, http::Server&) {
        std::vector<rawClient> stalled;
        stalled.reserve(1000);
        const std::string partial = TLS10ClientHello().substr(0, 20);
        for (int i = 0; i < 1000; i++) {
          stalled.emplace_back(addr);
          ASSERT_TRUE(stalled.back().Send(partial));
        }
        auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
        ASSERT_FALSE(err);
        const std::string plainAddr = ln.Address().String();
        http::Server plain(Opts(h));
        ringo::Chan<std::error_code> served(1);
        ringo::Go([&, ln]() mutable { served.Send(plain.Serve(std::move(ln))); });
        rawClient c(plainAddr);
        ASSERT_TRUE(c.Send(Get("/hello")));
        auto r = c.Read();
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.body, "Hello, World!");
        tlsClient t(addr, ClientConfig());
        ASSERT_FALSE(t.err()) << t.err().message();
        ASSERT_TRUE(t.Send(Get("/hello")));
        EXPECT_TRUE(t.Read().ok);
        EXPECT_GE(http::ReadStats().conns_open, 1000);
        (void)plain.Close();
        EXPECT_EQ(served.Recv().first, http::ErrServerClosed);
      },
      /*procs=*/1);
}

TEST(TLS, HandshakesPastMaxHandshakesWaitForASlot) {
  routes h;
  auto o = TLSOpts(h);
  o.tls.MaxHandshakes = 1;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    rawClient holder(addr);  // takes the one slot and stalls in it
    ASSERT_TRUE(holder.Send(TLS10ClientHello().substr(0, 20)));
    ringo::Chan<std::error_code> done(1);
    ringo::Go([&] {
      tlsClient t(addr, ClientConfig());
      done.Send(t.err());
    });
    // While the slot is held the second handshake does not progress (an
    // upper bound only on how long we look).
    ringo::Sleep(300ms);
    EXPECT_FALSE(done.TryRecv().has_value());
    (void)holder.conn().Close();  // the holder's handshake fails: the slot frees
    auto [err, ok] = done.Recv();
    EXPECT_FALSE(err) << err.message();
  });
}

// A connection that has sent nothing holds no handshake slot: idle sockets
// cannot shut real clients out (the handshake timeout ends them).
TEST(TLS, ASilentConnectionHoldsNoHandshakeSlot) {
  routes h;
  auto o = TLSOpts(h);
  o.tls.MaxHandshakes = 1;
  o.tls.HandshakeTimeout = 5s;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    rawClient silent(addr);
    for (int i = 0; i < 1000 && http::ReadStats().conns_open < 1; i++) ringo::Sleep(1ms);
    ASSERT_GE(http::ReadStats().conns_open, 1);
    ringo::Sleep(20ms);  // its goroutine is parked where it waits for the client
    const auto t0 = std::chrono::steady_clock::now();
    tlsClient t(addr, ClientConfig());
    ASSERT_FALSE(t.err()) << t.err().message();
    // Not after the silent one's 5 s timeout freed a slot (a bound that
    // only catches that wait).
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
    ASSERT_TRUE(t.Send(Get("/hello")));
    EXPECT_EQ(t.Read().body, "Hello, World!");
  });
}

// A server with tickets off resumes nothing, TLS 1.2 session IDs included.
TEST(TLS, AServerWithTicketsOffResumesNoSession) {
  routes h;
  auto o = TLSOpts(h);
  o.tls.SessionTicketsDisabled = true;
  WithTLSServer(std::move(o), [&](const std::string& addr, http::Server&) {
    for (uint16_t version : {tls::VersionTLS13, tls::VersionTLS12}) {
      auto cfg = ClientConfig();
      cfg.MaxVersion = version;
      cfg.ClientSessionCache = tls::NewLRUClientSessionCache();
      EXPECT_FALSE(resumes(addr, cfg)) << version;
      EXPECT_FALSE(resumes(addr, cfg)) << version;
    }
  });
}

// A client must have a name to check the certificate against (Go refuses
// too); a name with a trailing dot is the name without it.
TEST(TLS, AClientWithoutANameToVerifyRefusesAndATrailingDotIsIgnored) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    auto [nc, err] = net::Dial("tcp", addr);
    ASSERT_FALSE(err) << err.message();
    tls::Config noName = ClientConfig("");
    auto c = tls::Client(std::move(nc), noName);
    EXPECT_EQ(c.Handshake(), tls::make_error_code(tls::Errc::noServerName));
    EXPECT_EQ(c.Handshake().message(),
              "tls: either ServerName or InsecureSkipVerify must be specified in the tls.Config");
    tlsClient dot(addr, ClientConfig("localhost."));
    ASSERT_FALSE(dot.err()) << dot.err().message();
    ASSERT_TRUE(dot.Send(Get("/hello")));
    EXPECT_EQ(dot.Read().body, "Hello, World!");
  });
}

// ---- shutdown and Goexit over TLS ----------------------------------------------------

TEST(TLS, ShutdownLetsInFlightRequestsFinishAndClosesIdleOnes) {
  routes h;
  ringo::Chan<int> entered(1), release(1);
  h.extra = [&](http::ResponseWriter& w, http::Request&) {
    entered.Send(1);
    release.Recv();
    (void)w.Write("finished");
  };
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server& srv) {
    tlsClient idle(addr, ClientConfig());
    ASSERT_TRUE(idle.Send(Get("/hello")));
    ASSERT_TRUE(idle.Read().ok);
    tlsClient busy(addr, ClientConfig());
    ASSERT_TRUE(busy.Send(Get("/slow")));
    entered.Recv();
    ringo::Chan<std::error_code> done(1);
    ringo::Go([&] { done.Send(srv.Shutdown(std::chrono::steady_clock::now() + 10s)); });
    EXPECT_TRUE(idle.Closed());
    EXPECT_FALSE(done.TryRecv().has_value());
    release.Send(1);
    auto r = busy.Read();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.body, "finished");
    EXPECT_FALSE(done.Recv().first);
    EXPECT_EQ(http::ReadStats().conns_open, 0);
  });
}

// A keep-alive TLS connection keeps its plaintext buffer (and OpenSSL its
// record buffers) from one request to the next, and gives them back when it
// has been idle for a second (transport.h): an idle connection holds no
// pooled buffer, and its next request gets one again.
TEST(TLS, AnIdleConnectionGivesItsBuffersBack) {
  routes h;
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    const auto settle = std::chrono::steady_clock::now() + 10s;
    while (http::ReadStats().conns_open != 0 && std::chrono::steady_clock::now() < settle) ringo::Sleep(1ms);
    const auto s0 = http::ReadStats();
    tlsClient c(addr, ClientConfig());
    ASSERT_FALSE(c.err()) << c.err().message();
    for (int i = 0; i < 3; i++) {
      ASSERT_TRUE(c.Send(Get("/hello")));
      ASSERT_EQ(c.Read().body, "Hello, World!");
      EXPECT_GT(http::ReadStats().buffers_in_use, s0.buffers_in_use) << "request " << i << ": the buffer went back";
    }
    const auto idle = std::chrono::steady_clock::now() + 10s;  // the trim comes after 1 s
    while (http::ReadStats().buffers_in_use != s0.buffers_in_use && std::chrono::steady_clock::now() < idle)
      ringo::Sleep(10ms);
    EXPECT_EQ(http::ReadStats().buffers_in_use, s0.buffers_in_use) << "an idle connection still holds a buffer";
    ASSERT_TRUE(c.Send(Get("/hello")));
    EXPECT_EQ(c.Read().body, "Hello, World!");
    EXPECT_GT(http::ReadStats().buffers_in_use, s0.buffers_in_use);
  });
}

TEST(TLS, GoexitAbortsTheRequestAndLeaksNothing) {
  routes h;
  std::atomic<int64_t> held{0};
  h.extra = [&](http::ResponseWriter& w, http::Request& r) {
    held++;
    auto release = ringo::Defer([&] { held--; });
    auto ctx = r.Context();  // a background SSL_read in flight at Goexit
    (void)w.Write("partial");
    ASSERT_FALSE(w.Flush());
    ringo::Goexit();
  };
  WithTLSServer(TLSOpts(h), [&](const std::string& addr, http::Server&) {
    for (int i = 0; i < 3; i++) {
      tlsClient c(addr, ClientConfig());
      ASSERT_TRUE(c.Send(Get("/hello")));
      ASSERT_TRUE(c.Read().ok);
    }
    const auto settle = std::chrono::steady_clock::now() + 10s;
    while (http::ReadStats().conns_open != 0 && std::chrono::steady_clock::now() < settle) ringo::Sleep(1ms);
    ASSERT_EQ(http::ReadStats().conns_open, 0);
    const int fds0 = OpenSockets();
    const int gs0 = ringo::NumGoroutine();
    const auto s0 = http::ReadStats();
    // A TLS handshake per abort costs both sides' CPU: 5,000 (scaled).
    const int n = int(Scaled(5000));
    const auto cfg = ClientConfig();  // compiled once (an SSL_CTX is costly to make)
    for (int i = 0; i < n; i++) {
      tlsClient c(addr, cfg);
      ASSERT_FALSE(c.err()) << c.err().message();
      ASSERT_TRUE(c.Send(Get("/abort")));
      EXPECT_TRUE(c.Closed());
      ASSERT_NE(c.leftover().find("7\r\npartial\r\n"), std::string::npos);
      ASSERT_EQ(c.leftover().find("0\r\n\r\n"), std::string::npos);
    }
    const auto until = std::chrono::steady_clock::now() + 10s;
    while ((http::ReadStats().conns_open != 0 || ringo::NumGoroutine() != gs0) &&
           std::chrono::steady_clock::now() < until)
      ringo::Sleep(1ms);
    const auto s1 = http::ReadStats();
    EXPECT_EQ(s1.requests_aborted - s0.requests_aborted, uint64_t(n));
    EXPECT_EQ(s1.requests_in_flight, s0.requests_in_flight);
    EXPECT_EQ(s1.buffers_in_use, s0.buffers_in_use);
    EXPECT_GT(s1.buffers_reused, s0.buffers_reused);
    EXPECT_EQ(held.load(), 0);
    EXPECT_EQ(OpenSockets(), fds0);
    EXPECT_EQ(ringo::NumGoroutine(), gs0);
  });
}

}  // namespace
