// response.h — how a handler answers: Go's http.ResponseWriter, with
// Flusher and Hijacker folded in.
//
//   w.Header().Set("Content-Type", "application/json");
//   w.WriteHeader(http::StatusCreated);   // optional: the first Write sends 200
//   w.Write(R"({"ok":true})");
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "ringo/http/errors.h"
#include "ringo/http/header.h"
#include "ringo/net.h"
#include "ringo/tls.h"

namespace ringo::http {

// Hijacked is a connection taken over from the server: the socket, and the
// bytes the server had read but not yet used (the start of the next
// protocol's data). Over TLS (Go hands out the *tls.Conn) `tls` is the
// connection, to read and write through, and `conn` is empty; `buffered`
// is then plaintext the server had decrypted.
struct Hijacked {
  net::Conn conn;
  tls::Conn tls;
  std::string buffered;
};

// WriteResult is what Write did. Unlike the net API's results it may be
// ignored, as Go handlers ignore Write's error: a write that fails also
// marks the connection, which the server closes after the handler returns.
struct WriteResult {
  size_t n = 0;
  std::error_code err;
};

// ResponseWriter builds the response to one request. It is valid until the
// handler returns, on the handler's goroutine only.
//
// Framing is automatic, as in Go: a response whose body fits the
// connection's buffer (4 KiB) when the handler returns gets a
// Content-Length; a longer one, or one flushed early, is sent chunked
// (HTTP/1.1) or delimited by closing the connection (HTTP/1.0). A handler
// that sets Content-Length itself is sent as it is; writing more fails with
// ErrContentLength, writing less closes the connection at the end. HEAD
// responses carry the headers a GET would, without the body.
class ResponseWriter {
 public:
  // Header is the response's header map; changes after WriteHeader (or the
  // first Write) have no effect, except for trailers (not supported).
  virtual http::Header& Header() = 0;
  // WriteHeader sends the status line and headers (once; later calls are
  // logged and ignored). 1xx codes other than 101 may be sent first, any
  // number of times.
  virtual void WriteHeader(int code) = 0;
  // Write appends body bytes, calling WriteHeader(200) first if needed. It
  // parks only when the connection's buffer must go out to the socket.
  // Errors: the client is gone (Errc::abortHandler), or more than the
  // declared Content-Length, or a body where none is allowed (204, 304).
  virtual WriteResult Write(std::string_view data) = 0;
  // Flush sends everything buffered so far (Go's http.Flusher), parking
  // until the socket took it.
  virtual std::error_code Flush() { return {}; }
  // Hijack takes the connection over (Go's http.Hijacker): the server
  // forgets it, and after the handler returns neither writes nor closes
  // it. ErrNotSupported where the transport cannot hand its connection out.
  virtual net::Result<Hijacked> Hijack() { return {{}, ErrNotSupported}; }

 protected:
  ~ResponseWriter() = default;
};

}  // namespace ringo::http
