// handler.h — Handler, the one call a server makes per request, and the
// small handlers and helpers Go's net/http has (Error, NotFound, Redirect).
//
//   struct Hello : http::Handler {
//     void ServeHTTP(http::ResponseWriter& w, http::Request&) override { w.Write("hi\n"); }
//   };
//   http::HandlerFunc f([](http::ResponseWriter& w, http::Request& r) { ... });
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "ringo/http/request.h"
#include "ringo/http/response.h"
#include "ringo/http/status.h"

namespace ringo::http {

// Handler answers one request. ServeHTTP runs on the connection's
// goroutine; the ResponseWriter and Request are valid until it returns. It
// may park (read the body, call other services) and may end its request
// early:
//  - throw: the client gets a 500 if nothing was sent yet (otherwise the
//    connection is closed); the server logs it and goes on;
//  - ringo::Goexit(): the request is aborted. The connection's goroutine
//    ends, every Defer and destructor on its stack runs (the socket is
//    closed, buffers go back to their pools, counters come down), and the
//    client sees the connection close after whatever was already flushed.
//    Nothing else is affected. This is the way to abort a request.
class Handler {
 public:
  virtual void ServeHTTP(ResponseWriter& w, Request& r) = 0;
  virtual ~Handler() = default;
};

// HandlerFunc adapts a function to a Handler.
class HandlerFunc final : public Handler {
 public:
  using Fn = std::function<void(ResponseWriter&, Request&)>;
  explicit HandlerFunc(Fn f) : f_(std::move(f)) {}
  void ServeHTTP(ResponseWriter& w, Request& r) override { f_(w, r); }

 private:
  Fn f_;
};

// Error answers with code and msg as a plain-text body (a newline added),
// as Go's http.Error. The handler should not write more.
void Error(ResponseWriter& w, std::string_view msg, int code);
// NotFound answers 404 "404 page not found".
void NotFound(ResponseWriter& w, Request& r);
// Redirect answers code (a 3xx) with Location url; a relative url is made
// absolute against the request's path, as Go does.
void Redirect(ResponseWriter& w, Request& r, std::string_view url, int code);

// NotFoundHandler and RedirectHandler return handlers doing the above.
std::shared_ptr<Handler> NotFoundHandler();
std::shared_ptr<Handler> RedirectHandler(std::string url, int code);
// StripPrefix serves requests whose path starts with prefix by h, with
// the prefix removed from URL.Path (and RawPath); 404 for the others.
std::shared_ptr<Handler> StripPrefix(std::string prefix, std::shared_ptr<Handler> h);

}  // namespace ringo::http
