// urlpath.h — escaping and cleaning URL paths: the pieces of Go's net/url
// and of ServeMux's path handling that url.cc, handler.cc and mux.cc share.
// Internal: not installed.
//
//   detail::cleanPath("/a//b/../c/");        // "/a/c/"
//   detail::escapePath("/a b");               // "/a%20b"
//   detail::escapedPath(r.URL);               // RawPath when valid, else escapePath(Path)
#pragma once

#include <string>
#include <string_view>

#include "ringo/http/url.h"

namespace ringo::http::detail {

// escapePath escapes path as Go's url.PathEscape does for a whole path
// (encodePath): '/' and the sub-delimiters stay, '?', '#', spaces, controls
// and bytes >= 0x80 become %XX.
std::string escapePath(std::string_view path);

// rawPathValid reports whether raw is a valid escaped form of path: only
// bytes a path may hold, well-formed escapes, and decoding to path. No
// allocation.
bool rawPathValid(std::string_view raw, std::string_view path) noexcept;

// escapedPath is Go's URL.EscapedPath: RawPath when it is a valid encoding
// of Path, "*" for "*", else escapePath(Path).
std::string escapedPath(const URL& u);

// pathClean is Go's path.Clean: the shortest lexically equal path ("" is
// ".", doubled slashes and "." go, ".." eats the element before it, a root's
// ".." goes, no trailing slash except for "/").
std::string pathClean(std::string_view p);

// cleanPath is ServeMux's canonical form of a request path: rooted, cleaned
// by pathClean, with a trailing slash kept ("" becomes "/").
std::string cleanPath(std::string_view p);

// isCleanPath reports whether cleanPath(p) == p, without allocating.
bool isCleanPath(std::string_view p) noexcept;

// unhex is the value of hex digit c, or -1.
inline int unhex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace ringo::http::detail
