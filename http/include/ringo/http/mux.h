// mux.h — ServeMux: Go 1.22's request router.
//
//   http::ServeMux mux;
//   mux.HandleFunc("GET /items/{id}", [](auto& w, auto& r) { w.Write(r.PathValue("id")); });
//   mux.HandleFunc("/static/{path...}", serveFile);
//   mux.HandleFunc("/{$}", home);                 // "/" only, not every path
//   mux.HandleFunc("api.example.com/", api);      // a host pattern
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringo/http/handler.h"

namespace ringo::http {

namespace detail {
struct muxPattern;  // a parsed pattern (mux.cc)
}

// ServeMux matches each request against registered patterns, as Go 1.22's:
//
//   [METHOD ][HOST]/[PATH]
//
// A PATH is segments separated by '/'; a segment may be a wildcard
// "{name}" (one whole segment), the last may be "{name...}" (the rest of
// the path) or "{$}" (the path ends here). A pattern ending in '/' matches
// every path below it. METHOD "GET" also matches HEAD. A HOST pattern
// matches only that host (the Host header, port removed).
//
// When several patterns match, the most specific wins: a pattern that
// matches a strict subset of another's requests is more specific; two
// patterns neither of which is more specific than the other, but that both
// match some request, conflict, and registering the second throws
// std::invalid_argument naming both (as Go panics). Host patterns win over
// hostless ones.
//
// Answers the mux gives itself: 404 when no pattern matches the path; 405
// with an Allow header when some pattern matches the path but not the
// method; 301 to the path with a trailing slash when only "/path/" is
// registered and "/path" was asked; 301 to the cleaned path for paths with
// "." or ".." segments or doubled slashes (except CONNECT).
//
// The matched wildcards are read with Request::PathValue, the pattern with
// Request::Pattern. ServeHTTP may run on many goroutines at once, and
// Handle may be called at any time, while serving too (as in Go); a request
// takes no lock. A pattern registered while serving costs a copy of the
// routing nodes on its path, kept until the mux is destroyed (mux.cc).
class ServeMux final : public Handler {
 public:
  ServeMux();
  ~ServeMux() override;
  ServeMux(const ServeMux&) = delete;
  ServeMux& operator=(const ServeMux&) = delete;

  // Handle registers h for pattern. Throws std::invalid_argument for an
  // invalid pattern, a null handler, or a conflict with one registered
  // earlier.
  void Handle(std::string_view pattern, std::shared_ptr<http::Handler> h);
  // The same for a handler the caller keeps alive.
  void Handle(std::string_view pattern, http::Handler& h);
  void HandleFunc(std::string_view pattern, HandlerFunc::Fn f);

  void ServeHTTP(ResponseWriter& w, Request& r) override;

  // Handler returns the handler that would serve r (one of the mux's own
  // answers when none matches) and the matched pattern: "" for a 404 or
  // 405, and for a redirect the path it leads to ("/dir/") or the pattern
  // the cleaned path matches, as Go's. It sets r's path values as
  // ServeHTTP would.
  std::pair<http::Handler*, std::string> Handler(Request& r);

 private:
  struct entry;  // a registered pattern and its handler (mux.cc)
  struct tree;   // the patterns arranged for matching: host, method, path trie
  struct route;  // what a request matched, or which answer the mux gives itself
  route find(const Request& r) const;
  const tree* current() const;
  void serve(const route& rt, ResponseWriter& w, Request& r);

  mutable std::mutex mu_;  // Handle; the first request (current)
  std::vector<std::unique_ptr<entry>> entries_;  // in registration order (mu_)
  std::vector<std::unique_ptr<tree>> trees_;     // every tree published, the current last (mu_)
  std::atomic<const tree*> tree_{nullptr};       // the current tree: what requests read
  mutable std::atomic<bool> served_{false};      // a request has read tree_: Handle copies
  std::unique_ptr<http::Handler> own_;  // what Handler() returns for a 405 or a redirect
};

}  // namespace ringo::http
