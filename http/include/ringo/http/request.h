// request.h — a request as a handler sees it: Go's http.Request.
//
//   void show(http::ResponseWriter& w, http::Request& r) {
//     auto id = r.PathValue("id");               // from the pattern "GET /items/{id}"
//     auto page = r.URL.Query().Get("page");
//     auto [body, err] = r.Body.ReadAll();         // parks until the body is in
//     if (err) return http::Error(w, err.message(), http::StatusBadRequest);
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringo/context.h"
#include "ringo/http/cookie.h"
#include "ringo/http/header.h"
#include "ringo/http/url.h"
#include "ringo/net.h"

namespace ringo::http {

class ResponseWriter;

namespace detail {
// Where a body's bytes come from: the server's connection (server.cc).
class bodySource {
 public:
  virtual net::IOResult readBody(std::span<char> buf) = 0;
  // bodyTooLarge: a read went past the limit (ErrBodyTooLarge); the rest
  // of the body will not be read, so the connection ends after the answer.
  virtual void bodyTooLarge() noexcept {}

 protected:
  ~bodySource() = default;
};
}  // namespace detail

// Body streams a request's body from the connection: nothing is buffered
// unless the handler asks (ReadAll). Read parks the calling goroutine until
// some of the body has arrived; it returns n > 0, or n == 0 with
// net::ErrEOF at the body's end, or an error (net::ErrDeadlineExceeded
// after the server's body timeout, ErrBodyTooLarge past the limit,
// Errc::bodyMalformed for bad chunk framing). Use it only from the
// handler's goroutine, before the handler returns.
class Body {
 public:
  net::IOResult Read(std::span<char> buf);
  // ReadAll reads the rest of the body into a string.
  net::Result<std::string> ReadAll();
  // The limit past which reads fail with ErrBodyTooLarge (MaxBytesReader).
  void SetLimit(int64_t n) noexcept { limit_ = n; }
  int64_t Limit() const noexcept { return limit_; }
  int64_t BytesRead() const noexcept { return read_; }

  // For the server: the source, and a fresh start per request.
  void reset(detail::bodySource* src, int64_t limit) noexcept {
    src_ = src;
    limit_ = limit;
    read_ = 0;
  }

 private:
  detail::bodySource* src_ = nullptr;
  int64_t limit_ = -1;  // < 0: none
  int64_t read_ = 0;
};

// Request is one HTTP request received by the server. The server owns it;
// it stays valid until the handler returns. Fields are Go's, in Go's
// spelling.
class Request {
 public:
  std::string Method;             // "GET", "POST", ...
  http::URL URL;                  // the parsed target
  std::string Proto = "HTTP/1.1"; // "HTTP/1.0" or "HTTP/1.1"
  int ProtoMajor = 1, ProtoMinor = 1;
  http::Header Header;            // request headers; Host is moved to Host
  http::Body Body;                // the body, streamed
  int64_t ContentLength = 0;      // -1: unknown (chunked); 0: none
  bool Close = false;             // the client asked to close after this request
  std::string Host;               // the Host header, or the absolute target's host
  std::string RemoteAddr;         // "ip:port" of the client
  std::string RequestURI;         // the target as sent
  std::string Pattern;            // the ServeMux pattern that matched
  http::Values Form, PostForm;    // after ParseForm

  // Context is cancelled when the client goes away (the server keeps a
  // read armed while the handler runs, once the body has been read) or
  // when the server closes the connection at the end of Shutdown. Calling
  // it costs one allocation, and the background read, on the first call
  // per request; a handler that never calls it pays nothing.
  ringo::Context Context();

  // PathValue returns the value of a wildcard in the pattern that matched
  // ("id" in "/items/{id}"), or "" when there is none.
  std::string_view PathValue(std::string_view name) const noexcept;
  void SetPathValue(std::string_view name, std::string_view value);

  // ParseForm fills Form from the query and, for POST, PUT and PATCH with
  // Content-Type application/x-www-form-urlencoded, PostForm (and Form)
  // from the body (read whole, at most 10 MiB as Go). Idempotent.
  std::error_code ParseForm();
  // FormValue calls ParseForm and returns Form's first value of key.
  std::string_view FormValue(std::string_view key);
  std::string_view PostFormValue(std::string_view key);

  std::vector<http::Cookie> Cookies() const;
  std::optional<http::Cookie> Cookie(std::string_view name) const;

  bool ProtoAtLeast(int major, int minor) const noexcept {
    return ProtoMajor > major || (ProtoMajor == major && ProtoMinor >= minor);
  }
  std::string_view UserAgent() const noexcept { return Header.Get("User-Agent"); }
  std::string_view Referer() const noexcept { return Header.Get("Referer"); }

  // For the server: clears the per-request state, keeping capacity.
  void reset();
  // For the server: how Context() reaches the connection.
  class contextSource {
   public:
    virtual ringo::Context requestContext() = 0;

   protected:
    ~contextSource() = default;
  };
  void setContextSource(contextSource* s) noexcept { ctxsrc_ = s; }

 private:
  friend class ServeMux;  // each dispatch replaces the path values (Go's r.matches)
  contextSource* ctxsrc_ = nullptr;
  std::vector<std::pair<std::string, std::string>> pathValues_;
  bool formParsed_ = false;
};

// MaxBytesReader limits r's body to n bytes: reads past it fail with
// ErrBodyTooLarge, and the connection is closed after the response (the
// rest of the body is not read), as Go's http.MaxBytesReader.
inline void MaxBytesReader(ResponseWriter&, Request& r, int64_t n) noexcept {
  r.Body.SetLimit(r.Body.BytesRead() + n);
}

}  // namespace ringo::http
