// client.h — the HTTP/1.1 client: Go's http.Client with its Transport
// (a connection pool per host) folded in.
//
//   http::Client client;                                  // bounded defaults
//   auto [resp, err] = client.Get("http://127.0.0.1:8080/items/7");
//   if (err) return log(err.message());
//   auto [body, rerr] = resp.Body.ReadAll();              // streams; at its end the
//                                                         // connection goes back to the pool
//
//   auto [req, err] = http::NewRequestWithContext(ctx, "PUT", url, json);
//   req.Header.Set("Content-Type", "application/json");
//   auto [resp, err] = client.Do(std::move(req));         // cancelled with ctx
//
// Every wait parks the calling goroutine (dial, write, read, the pool);
// call these from goroutines only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ringo/context.h"
#include "ringo/http/errors.h"
#include "ringo/http/header.h"
#include "ringo/http/url.h"
#include "ringo/net.h"
#include "ringo/tls.h"

namespace ringo::http {

using namespace std::chrono_literals;

// Reader is a request body's source, Go's io.Reader: each call fills a
// prefix of buf and returns {n > 0, {}}, or {0, net::ErrEOF} at the end,
// or an error (the request fails with it). It runs on the goroutine that
// called Do.
using Reader = std::function<net::IOResult(std::span<char>)>;

// StringReader reads s, from the start, once.
Reader StringReader(std::string s);

// ClientRequest is a request to send: Go's http.Request in its client role.
//
// Why not the server's Request: that one is owned by a connection and
// reused across its requests; its Body reads from that connection, and it
// carries what only a server fills in (RemoteAddr, Pattern, PathValue, the
// parsed forms). An outgoing request needs the opposite: a body the caller
// supplies and the client may have to send twice (GetBody, for a redirect
// or a retry on a stale connection), and a Context the caller sets. One
// type for both would make every field mean two things; Go pays for its
// single type with a page of "for client requests ... for server requests"
// notes. Copying a server Request into a ClientRequest (what a proxy does)
// is a few lines: see examples/reverse_proxy.cc.
class ClientRequest {
 public:
  std::string Method = "GET";
  http::URL URL;                  // absolute: Scheme "http" or "https", Host "host[:port]"
  http::Header Header;            // sent as given, except Host, Content-Length,
                                  // Transfer-Encoding and Trailer, which the client
                                  // writes itself; "Connection: close" here is Close
  Reader Body;                    // null: no body
  std::function<Reader()> GetBody;  // a fresh Body, for redirects (307, 308) and
                                  // retries; NewRequest sets it for string bodies
  int64_t ContentLength = 0;      // with a Body: its length, or -1 (or 0, as in Go)
                                  // for unknown, sent chunked
  bool Close = false;             // send "Connection: close" (once); the connection is not reused
  std::string Host;               // the Host header ("": URL.Host)

  // Context is the request's context (Background unless set): cancelling
  // it makes Do, and reads of the response body, return its error
  // promptly.
  ringo::Context Context() const;
  // WithContext returns a copy with ctx (Go's Request.WithContext).
  ClientRequest WithContext(const ringo::Context& ctx) const;

 private:
  std::optional<ringo::Context> ctx_;
};

// NewRequest parses url and makes a request; a non-empty body is sent with
// its Content-Length and can be replayed (redirects, retries).
// Errc::badURL or Errc::unsupportedScheme for a bad url, Errc::badRequest
// for a method that is not a token.
net::Result<ClientRequest> NewRequest(std::string_view method, std::string_view url, std::string_view body = {});
// NewRequest with a streamed body: contentLength bytes, or -1 for unknown
// (sent chunked). Not replayable unless the caller sets GetBody.
net::Result<ClientRequest> NewRequest(std::string_view method, std::string_view url, Reader body,
                                      int64_t contentLength = -1);
net::Result<ClientRequest> NewRequestWithContext(const ringo::Context& ctx, std::string_view method,
                                                 std::string_view url, std::string_view body = {});

namespace detail {
struct clientBody;   // a response body's reading state and its connection (client.cc)
struct clientState;  // the pool and options a Client and its bodies share (client.cc)
}  // namespace detail

// ResponseBody streams a response's body from the connection (Go's
// Response.Body, an io.ReadCloser). Read parks until some of the body has
// arrived: {n > 0, {}}, or {0, net::ErrEOF} at its end, or an error:
// Errc::unexpectedEOF (the connection ended before the Content-Length or
// the last chunk), Errc::malformedBody, Errc::timeout, the request
// Context's error, ErrBodyReadAfterClose.
//
// The connection goes back to the pool when the body has been read to its
// end (the read that returns its last bytes already gives it back) and the
// response allows keep-alive. Close (or the destructor) on a body not read
// to the end reads and discards what is left if that is at most 64 KiB and
// arrives within 100 ms, as a courtesy that saves a connection; otherwise
// the connection is closed. Move-only.
class ResponseBody {
 public:
  ResponseBody() noexcept;
  ResponseBody(ResponseBody&&) noexcept;
  ResponseBody& operator=(ResponseBody&&) noexcept;
  ~ResponseBody();

  net::IOResult Read(std::span<char> buf);
  // ReadAll reads the rest of the body into a string.
  net::Result<std::string> ReadAll();
  // Close ends the body: idempotent, never an error a caller must act on
  // (Go's returns nil for response bodies too), but it may park for the
  // short drain above.
  std::error_code Close();

  // For the client: takes a body's state.
  explicit ResponseBody(std::unique_ptr<detail::clientBody> b) noexcept;

 private:
  std::unique_ptr<detail::clientBody> b_;
};

// Response is a server's answer (Go's http.Response).
struct Response {
  std::string Status;             // "200 OK"
  int StatusCode = 0;             // 200
  std::string Proto;              // "HTTP/1.1"
  int ProtoMajor = 1, ProtoMinor = 1;
  http::Header Header;
  ResponseBody Body;              // streams; read it to the end or Close it
  int64_t ContentLength = -1;     // -1: unknown (chunked, or until the close)
  std::vector<std::string> TransferEncoding;  // {"chunked"} or empty
  bool Close = false;             // the connection will not be reused after this response
  ClientRequest Request;          // the request that got this response (the last of a
                                  // redirect chain), without its body
};

// ClientOptions configures a Client. Unlike Go's zero values, timeouts are
// bounded by default; 0 turns one off where that is said.
struct ClientOptions {
  // The whole exchange, from Do to the body's last byte, redirects
  // included (Go's Client.Timeout, whose default of none is a trap: a
  // server that stops sending holds a goroutine forever). 0: none. A body
  // that streams for longer (events, big downloads) needs 0 here and a
  // Context, or a bigger value.
  std::chrono::nanoseconds timeout = 60s;
  std::chrono::nanoseconds dial_timeout = 30s;             // connect (Go's net.Dialer.Timeout); 0: none
  std::chrono::nanoseconds tls_handshake_timeout = 10s;    // 0: none
  std::chrono::nanoseconds response_header_timeout = 0s;   // request written to head read; 0: only timeout
  std::chrono::nanoseconds idle_conn_timeout = 90s;        // an idle pooled connection is closed after this
  int max_idle_conns = 100;          // idle connections kept, all hosts together (Go's 100)
  int max_idle_conns_per_host = 64;  // per scheme+host+port (Go's 2 makes a busy client
                                     // dial and close all the time; 64 is picked)
  size_t max_response_header_bytes = 1 << 20;  // status line and headers (Go: 10 MiB)
  size_t max_response_headers = 1000;          // header lines
  bool disable_keep_alives = false;            // one connection per request
  std::string user_agent = "ringo-http-client/1.1";  // sent unless the request sets one
  // check_redirect decides whether to follow a redirect (Go's
  // CheckRedirect): req is the next request, via the requests so far,
  // oldest first. An error stops and Do returns it, except
  // ErrUseLastResponse, which returns the redirect response. Null: stop
  // after max_redirects.
  std::function<std::error_code(const ClientRequest& req, std::span<const ClientRequest> via)> check_redirect = {};
  int max_redirects = 10;
  // HTTPS: the system's CA store unless tls.RootCAFile or tls.RootCAPEM
  // names others; the server's certificate is verified for the URL's host
  // (a name, or an IP address against the certificate's IP SANs), which is
  // also sent as SNI, unless tls.ServerName says another name.
  // tls.HandshakeTimeout is replaced by tls_handshake_timeout. Verification
  // failures come back as tls::VerifyCategory() codes ("certificate has
  // expired", "hostname mismatch", ...).
  tls::Config tls = {};
};

// Client sends requests and keeps connections alive between them, in a
// pool per scheme+host+port. Safe to use from many goroutines at once;
// make one and share it. Must be destroyed on a goroutine (it closes its
// idle connections and stops its idle-connection timer).
class Client {
 public:
  explicit Client(ClientOptions opts = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Do sends req and returns the response once its head has arrived, its
  // body still to be read; redirects are followed as Go does (301, 302 and
  // 303 become GET without a body, HEAD stays HEAD; 307 and 308 keep the
  // method and the body if it can be replayed; Authorization, Cookie and
  // WWW-Authenticate are dropped when the host changes). A request on a
  // pooled connection that the server had closed is retried once on a new
  // one when its body can be replayed. Errors: the dial's (connection
  // refused, ...), Errc values, tls verification and handshake errors, the
  // Context's. A response whatever its status is not an error.
  net::Result<Response> Do(ClientRequest req);

  net::Result<Response> Get(std::string_view url);
  net::Result<Response> Head(std::string_view url);
  net::Result<Response> Post(std::string_view url, std::string_view contentType, std::string_view body);
  // Post with a streamed body (contentLength -1: unknown, sent chunked).
  net::Result<Response> Post(std::string_view url, std::string_view contentType, Reader body,
                             int64_t contentLength = -1);

  // CloseIdleConnections closes the connections waiting in the pool.
  void CloseIdleConnections();

  // For tests and /debug: connections dialled so far, and those idle now.
  int64_t Dials() const noexcept;
  int IdleConns() const noexcept;

 private:
  std::shared_ptr<detail::clientState> s_;
};

// IsTimeout says whether err is a timeout of any kind: a socket deadline,
// the client's dial, TLS handshake, header and overall timeouts, a
// Context's deadline.
bool IsTimeout(std::error_code err) noexcept;

}  // namespace ringo::http
