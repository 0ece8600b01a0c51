// url.h — the parts of a request target a handler reads: Go's url.URL and
// url.Values, for the origin-form targets HTTP/1.1 servers receive.
//
//   // GET /search?q=go+lang&page=2
//   r.URL.Path;                 // "/search"
//   r.URL.Query().Get("q");     // "go lang"
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace ringo::http {

// Values maps keys to lists of values, in the order they came: Go's
// url.Values (a query string or a form body).
class Values {
 public:
  // Get returns the first value of key, or "". On a temporary Values (as
  // in r.URL.Query().Get("q")) it returns a copy, since a view would
  // outlive what it points into.
  std::string_view Get(std::string_view key) const& noexcept;
  std::string Get(std::string_view key) && { return std::string(std::as_const(*this).Get(key)); }
  std::vector<std::string_view> All(std::string_view key) const;
  bool Has(std::string_view key) const noexcept;
  void Add(std::string_view key, std::string_view value);
  void Set(std::string_view key, std::string_view value);
  void Del(std::string_view key);
  size_t Len() const noexcept { return kv_.size(); }
  auto begin() const noexcept { return kv_.begin(); }
  auto end() const noexcept { return kv_.end(); }
  // Encode renders "a=1&b=x+y": keys sorted, as Go's, and a key's values
  // in the order they were added.
  std::string Encode() const;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

// ParseQuery parses "a=1&b=x+y&c=%2F" into v (adding to it). Pairs that do
// not decode are skipped and the first such error is returned, as Go does.
// More than 10,000 parameters is an error and none is parsed (Go's cap).
std::error_code ParseQuery(std::string_view query, Values& v);

// QueryUnescape decodes %XX escapes and '+' as a space; false on a bad
// escape. PathUnescape decodes %XX only.
bool QueryUnescape(std::string_view s, std::string& out);
bool PathUnescape(std::string_view s, std::string& out);
std::string QueryEscape(std::string_view s);

// URL is a request's target split up. For "/a%2Fb?x=1": Path "/a/b",
// RawPath "/a%2Fb" (set only when the escaped form is not the default
// encoding of Path), RawQuery "x=1". For "*" (OPTIONS) Path is "*"; for an
// absolute-form target ("http://host/p", proxies) Scheme and Host are set.
struct URL {
  std::string Scheme, Host, Path, RawPath, RawQuery;
  // User is the userinfo before '@' in an absolute URL, as written
  // ("name:secret", still escaped); "" when there is none. The client
  // sends it as Basic authorization, as Go's.
  std::string User;

  // Query parses RawQuery (each call parses again, as in Go).
  Values Query() const;
  // EscapedPath is the path as it appeared on the wire: RawPath when it is
  // a valid encoding of Path, else Path escaped (Go's URL.EscapedPath).
  std::string EscapedPath() const;
  // RequestURI is the escaped path and the query: "/a%20b?x=1".
  std::string RequestURI() const;
  // String renders the whole URL.
  std::string String() const;
};

// ParseRequestURI parses an HTTP request target (origin form "/p?q",
// absolute form "http://h/p?q", or "*"). False when it is none of those or
// its path escapes are invalid.
bool ParseRequestURI(std::string_view target, URL& u);

}  // namespace ringo::http
