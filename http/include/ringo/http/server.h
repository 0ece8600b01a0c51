// server.h — the HTTP/1.1 server: Go's http.Server, with safe defaults.
//
//   int main() {
//     return ringo::Run([] {
//       http::ServeMux mux;
//       mux.HandleFunc("GET /", [](auto& w, auto&) { w.Write("Hello, World!"); });
//       http::Server srv({.addr = "127.0.0.1:8080", .handler = &mux});
//       auto err = srv.ListenAndServe();   // until Shutdown or Close
//       return err == http::ErrServerClosed ? 0 : 1;
//     });
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "ringo/context.h"
#include "ringo/http/errors.h"
#include "ringo/http/handler.h"
#include "ringo/http/log.h"
#include "ringo/net.h"
#include "ringo/time.h"
#include "ringo/tls.h"

namespace ringo::http {

using namespace std::chrono_literals;

// ServerOptions configures a Server. Unlike Go's zero values, every limit
// and timeout has a bounded default (nginx's order of magnitude); 0 turns a
// timeout or limit off where that is said.
struct ServerOptions {
  std::string addr = ":8080";            // ListenAndServe's address (host:port)
  Handler* handler = nullptr;            // not owned; required
  std::shared_ptr<Handler> owned = {};   // or an owned one (used when handler is null)

  // Timeouts (0: none).
  std::chrono::nanoseconds read_header_timeout = 10s;  // first byte of a request to its last header byte
  std::chrono::nanoseconds read_timeout = 60s;         // each wait for more of a body
  std::chrono::nanoseconds write_timeout = 60s;        // each write of the response to the socket
  std::chrono::nanoseconds idle_timeout = 120s;        // between requests on a keep-alive connection

  // Limits.
  size_t max_header_bytes = 64 << 10;     // request line + headers (431)
  size_t max_headers = 100;               // header lines (431)
  size_t max_uri_bytes = 8 << 10;         // the request target (414)
  int64_t max_body_bytes = 64 << 20;      // per request; a larger Content-Length gets 413 at once,
                                          // a chunked body fails reads past it (0: none)
  int max_requests_per_conn = 10000;      // then "Connection: close" (0: none)
  int max_conns = 0;                      // open connections; accept waits past it
                                          // (0: RLIMIT_NOFILE minus 64, as descriptors bound it anyway)
  size_t max_output_bytes = 64 << 10;     // response bytes buffered before they must go out

  std::shared_ptr<Logger> logger = {};    // nullptr: StderrLogger()
  bool access_log = false;                // one line per request (common log format) to logger at Info
  net::ListenConfig listen = {};          // SO_REUSEPORT, backlog
  // HTTPS (ServeTLS, ListenAndServeTLS): certificates (or the files given
  // to those calls), versions, ALPN, tickets, HandshakeTimeout (10 s) and
  // MaxHandshakes (1024 in progress at once). See ringo/tls.h.
  tls::Config tls = {};
};

namespace detail {
struct server;        // the shared state (server.cc)
struct serverAccess;  // the connection loop over other transports (transport.h)
}

// Server serves HTTP/1.1 on listeners: one goroutine per connection, which
// reads a request, calls the handler on that same goroutine, writes the
// response and loops (pipelined requests are answered in order, their
// responses coalesced into as few writes as possible).
class Server {
 public:
  explicit Server(ServerOptions opts);
  ~Server();  // Close()s if still serving
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // ListenAndServe listens on opts.addr and serves until Shutdown or Close,
  // then returns ErrServerClosed; or the listen error at once. Parks the
  // calling goroutine.
  std::error_code ListenAndServe();
  // Serve accepts connections on ln until Shutdown or Close (ErrServerClosed).
  // Accept errors such as EMFILE are retried with Go's back-off (5 ms
  // doubling to 1 s) and logged.
  std::error_code Serve(net::Listener ln);
  // ServeTLS and ListenAndServeTLS serve HTTPS: each connection's TLS
  // handshake runs on its own goroutine first (a failed one is closed and
  // logged once, rate-limited; plain HTTP gets Go's 400), then the same
  // loop as Serve. certFile/keyFile (PEM) are added to opts.tls's
  // Certificates when given. A certificate or key that does not load or
  // match fails at once: the error is returned and logged with the reason.
  std::error_code ServeTLS(net::Listener ln, std::string_view certFile = {}, std::string_view keyFile = {});
  std::error_code ListenAndServeTLS(std::string_view certFile = {}, std::string_view keyFile = {});

  // Shutdown stops gracefully: Serve and ListenAndServe return
  // ErrServerClosed at once, so a program must wait for Shutdown to return
  // before it ends (as Go's documentation says), or it ends under the
  // requests in flight. Shutdown closes the listeners, closes idle
  // connections, lets requests in flight finish, and returns when every
  // connection's goroutine is gone. At the deadline (or when ctx is done)
  // it cancels the requests' Contexts, closes the remaining connections,
  // waits for their goroutines, and returns net::ErrDeadlineExceeded (or
  // ctx's error).
  std::error_code Shutdown(Time deadline);
  std::error_code Shutdown(const ringo::Context& ctx);
  // Close closes listeners and every connection at once, waits for their
  // goroutines, and returns.
  std::error_code Close();
  // Drain begins a graceful stop the way load balancers expect one: Ready()
  // turns false at once, so ReadyzHandler answers 503 and the balancer
  // stops sending new work, while the server keeps accepting and serving
  // as before; Drain returns after period (or as soon as Shutdown or Close
  // starts). Then call Shutdown. Parks the calling goroutine.
  //
  //   srv.Drain(std::chrono::seconds(5));   // health checks notice
  //   srv.Shutdown(now + std::chrono::seconds(10));
  void Drain(std::chrono::nanoseconds period);
  // Ready reports whether the server takes new work: false once Drain,
  // Shutdown or Close has started.
  bool Ready() const;

  // RegisterOnShutdown: f runs on its own goroutine when Shutdown starts
  // (to tell long-lived handlers, such as event streams, to finish).
  void RegisterOnShutdown(std::function<void()> f);

  // The first listener's address once serving (port 0 resolved); a
  // default Addr before.
  net::Addr Addr() const;

 private:
  friend struct detail::serverAccess;
  std::shared_ptr<detail::server> s_;
};

// Probes for load balancers and orchestrators (Kubernetes' livenessProbe
// and readinessProbe, HAProxy's `option httpchk`):
//   HealthzHandler answers 200 "ok" whenever the process serves requests
//   (liveness: a failing one means restart me);
//   ReadyzHandler answers 200 "ok" while srv.Ready() (and ready(), when
//   given: a dependency the service needs), else 503 "not ready"
//   (readiness: send me no new work). srv must outlive the handler.
// Both say Cache-Control: no-store, so no cache answers for the server.
std::shared_ptr<Handler> HealthzHandler();
std::shared_ptr<Handler> ReadyzHandler(const Server& srv, std::function<bool()> ready = {});

// ListenAndServe serves h on addr with default options: Go's one-liner.
std::error_code ListenAndServe(std::string_view addr, Handler& h);
// ListenAndServeTLS is its HTTPS twin.
std::error_code ListenAndServeTLS(std::string_view addr, std::string_view certFile, std::string_view keyFile,
                                  Handler& h);

}  // namespace ringo::http
