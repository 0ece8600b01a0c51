// url.cc — request targets, queries and %-escaping, with Go's net/url
// semantics (1.19): which bytes each part of a URL may hold unescaped, how
// a target splits into scheme, host, path and query, and when RawPath is
// kept. Also the path cleaning ServeMux and Redirect use (urlpath.h).

#include <algorithm>
#include <array>

#include "ringo/http/url.h"
#include "urlpath.h"

namespace ringo::http {

namespace {

// The parts of a URL, each with its own set of bytes that may stay
// unescaped (Go's encoding modes; fragments never reach a server).
enum class part { path, host, zone, userinfo, queryComponent };

constexpr char kUpperHex[] = "0123456789ABCDEF";

// isAlnum: RFC 3986's unreserved letters and digits (ASCII only).
bool isAlnum(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// mustEscape reports whether c must be %-escaped in the given part, as
// RFC 3986 and Go's shouldEscape decide it.
bool mustEscape(unsigned char c, part p) noexcept {
  if (isAlnum(c)) return false;
  if (p == part::host || p == part::zone) {
    // A host's sub-delimiters, plus ':' (the port), "[]" (IPv6) and the
    // bytes Go lets through because a host may not %-escape ASCII.
    switch (c) {
      case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
      case ',': case ';': case '=': case ':': case '[': case ']': case '<': case '>': case '"':
        return false;
    }
  }
  switch (c) {
    case '-': case '_': case '.': case '~':
      return false;
    case '$': case '&': case '+': case ',': case '/': case ':': case ';': case '=': case '?': case '@':
      switch (p) {
        case part::path: return c == '?';  // a path keeps every reserved byte but '?'
        case part::userinfo: return c == '@' || c == '/' || c == '?' || c == ':';
        case part::queryComponent: return true;
        case part::host: case part::zone: break;
      }
  }
  return true;
}

// The error codes ParseQuery returns; they compare equal to
// std::errc::invalid_argument.
enum class urlErr { badEscape = 1, semicolon, tooManyParams };

class urlCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.url"; }
  std::string message(int c) const override {
    switch (urlErr(c)) {
      case urlErr::badEscape: return "invalid URL escape";
      case urlErr::semicolon: return "invalid semicolon separator in query";
      case urlErr::tooManyParams: return "number of URL query parameters exceeded limit";
    }
    return "invalid URL";
  }
  std::error_condition default_error_condition(int) const noexcept override {
    return std::errc::invalid_argument;
  }
};

// makeErr makes an error code of the url category.
std::error_code makeErr(urlErr e) noexcept {
  static const urlCategory cat;
  return {int(e), cat};
}

// unescape decodes s for part p into out (replacing it). False on a
// malformed escape, or, in a host, on an escaped ASCII byte or a byte a
// host may not hold (Go's rules: hosts may escape only non-ASCII, and %25
// before an IPv6 zone).
bool unescape(std::string_view s, part p, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    const unsigned char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      const int hi = detail::unhex(s[i + 1]), lo = detail::unhex(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      const unsigned char v = (unsigned char)(hi << 4 | lo);
      if (p == part::host && hi < 8 && s.substr(i, 3) != "%25") return false;
      // A zone may escape only what it could hold plainly (and spaces:
      // Windows puts them there).
      if (p == part::zone && s.substr(i, 3) != "%25" && v != ' ' && mustEscape(v, part::host)) return false;
      out.push_back(char(v));
      i += 2;
      continue;
    }
    if ((p == part::host || p == part::zone) && c < 0x80 && mustEscape(c, p)) return false;
    out.push_back(c == '+' && p == part::queryComponent ? ' ' : char(c));
  }
  return true;
}

// escape encodes s for part p, appending to out.
void escapeTo(std::string_view s, part p, std::string& out) {
  for (unsigned char c : s) {
    if (!mustEscape(c, p)) {
      out.push_back(char(c));
    } else if (c == ' ' && p == part::queryComponent) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[c >> 4]);
      out.push_back(kUpperHex[c & 15]);
    }
  }
}

// isDefaultPathEncoding reports whether escapePath(unescape(p)) == p, so
// that RawPath need not be kept: every plain byte is one a path may hold,
// and every escape is of a byte that needs one, in upper-case hex. p's
// escapes are known to be well-formed.
bool isDefaultPathEncoding(std::string_view p) noexcept {
  for (size_t i = 0; i < p.size(); i++) {
    const unsigned char c = p[i];
    if (c == '%') {
      const char h = p[i + 1], l = p[i + 2];
      if ((h >= 'a' && h <= 'f') || (l >= 'a' && l <= 'f')) return false;
      if (!mustEscape((unsigned char)(detail::unhex(h) << 4 | detail::unhex(l)), part::path)) return false;
      i += 2;
    } else if (mustEscape(c, part::path)) {
      return false;
    }
  }
  return true;
}

// validOptionalPort: empty, or ':' and digits.
bool validOptionalPort(std::string_view port) noexcept {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  return std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// parseHost checks and decodes an authority's host[:port], as Go's
// parseHost: brackets for IPv6 (with an optional %25 zone), a numeric port.
bool parseHost(std::string_view host, std::string& out) {
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.rfind(']');
    if (close == std::string_view::npos) return false;
    if (!validOptionalPort(host.substr(close + 1))) return false;
    const size_t zone = host.substr(0, close).find("%25");
    if (zone != std::string_view::npos) {
      std::string a, b, c;
      if (!unescape(host.substr(0, zone), part::host, a) || !unescape(host.substr(zone, close - zone), part::zone, b) ||
          !unescape(host.substr(close), part::host, c))
        return false;
      out = a + b + c;
      return true;
    }
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    if (!validOptionalPort(host.substr(colon))) return false;
  }
  return unescape(host, part::host, out);
}

// validUserinfo: the bytes RFC 3986 allows before '@' (checked, then
// dropped: URL keeps no user).
bool validUserinfo(std::string_view s) noexcept {
  for (unsigned char c : s) {
    if (isAlnum(c)) continue;
    switch (c) {
      case '-': case '.': case '_': case ':': case '~': case '!': case '$': case '&': case '\'':
      case '(': case ')': case '*': case '+': case ',': case ';': case '=': case '%': case '@':
        continue;
    }
    return false;
  }
  return true;
}

// splitScheme finds a leading "scheme:" (a letter, then letters, digits,
// '+', '-', '.'). Returns false for a target starting with ':' (Go's
// "missing protocol scheme"); scheme is empty when there is none.
bool splitScheme(std::string_view s, std::string_view& scheme, std::string_view& rest) noexcept {
  scheme = {};
  rest = s;
  for (size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0) return true;
      continue;
    }
    if (c == ':') {
      if (i == 0) return false;
      scheme = s.substr(0, i);
      rest = s.substr(i + 1);
    }
    return true;
  }
  return true;
}

}  // namespace

// ---- Values ---------------------------------------------------------------

std::string_view Values::Get(std::string_view key) const& noexcept {
  for (const auto& [k, v] : kv_)
    if (k == key) return v;
  return {};
}

std::vector<std::string_view> Values::All(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : kv_)
    if (k == key) out.push_back(v);
  return out;
}

bool Values::Has(std::string_view key) const noexcept {
  return std::any_of(kv_.begin(), kv_.end(), [&](const auto& kv) { return kv.first == key; });
}

void Values::Add(std::string_view key, std::string_view value) { kv_.emplace_back(key, value); }

void Values::Set(std::string_view key, std::string_view value) {
  auto it = std::find_if(kv_.begin(), kv_.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == kv_.end()) return Add(key, value);
  it->second.assign(value);
  // The key keeps its place; its later values go.
  kv_.erase(std::remove_if(it + 1, kv_.end(), [&](const auto& kv) { return kv.first == key; }), kv_.end());
}

void Values::Del(std::string_view key) {
  kv_.erase(std::remove_if(kv_.begin(), kv_.end(), [&](const auto& kv) { return kv.first == key; }), kv_.end());
}

std::string Values::Encode() const {
  // Go's order: keys sorted, a key's values in the order they were added.
  std::vector<size_t> order(kv_.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return kv_[a].first < kv_[b].first; });
  std::string out;
  for (size_t i : order) {
    if (!out.empty()) out.push_back('&');
    escapeTo(kv_[i].first, part::queryComponent, out);
    out.push_back('=');
    escapeTo(kv_[i].second, part::queryComponent, out);
  }
  return out;
}

// ---- escaping -------------------------------------------------------------

std::error_code ParseQuery(std::string_view query, Values& v) {
  // Go's cap (1.24.12, CVE-2025-61726): a query of more parameters is
  // refused whole, before any is stored; a 10 MiB form of "a&a&..." would
  // otherwise be 5 million pairs, over a gigabyte.
  constexpr size_t kMaxParams = 10000;
  if (size_t(std::count(query.begin(), query.end(), '&')) + size_t(std::count(query.begin(), query.end(), ';')) >=
      kMaxParams)
    return makeErr(urlErr::tooManyParams);
  std::error_code first;
  std::string key, value;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    // Go stopped treating ';' as a separator (1.17): such pairs are errors.
    if (pair.find(';') != std::string_view::npos) {
      if (!first) first = makeErr(urlErr::semicolon);
      continue;
    }
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view k = pair.substr(0, eq);
    const std::string_view val = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!unescape(k, part::queryComponent, key) || !unescape(val, part::queryComponent, value)) {
      if (!first) first = makeErr(urlErr::badEscape);
      continue;
    }
    v.Add(key, value);
  }
  return first;
}

bool QueryUnescape(std::string_view s, std::string& out) { return unescape(s, part::queryComponent, out); }

bool PathUnescape(std::string_view s, std::string& out) { return unescape(s, part::path, out); }

std::string QueryEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  escapeTo(s, part::queryComponent, out);
  return out;
}

// ---- URL ------------------------------------------------------------------

Values URL::Query() const {
  Values v;
  (void)ParseQuery(RawQuery, v);  // Go's Query drops the error too
  return v;
}

std::string URL::EscapedPath() const { return detail::escapedPath(*this); }

std::string URL::RequestURI() const {
  std::string out = detail::escapedPath(*this);
  if (out.empty()) out = "/";
  if (!RawQuery.empty()) {
    out.push_back('?');
    out.append(RawQuery);
  }
  return out;
}

std::string URL::String() const {
  std::string out;
  if (!Scheme.empty()) {
    out.append(Scheme);
    out.push_back(':');
  }
  const std::string path = detail::escapedPath(*this);
  if (!Scheme.empty() || !Host.empty()) {
    if (!Host.empty() || !path.empty()) out.append("//");
    if (!User.empty()) out.append(User).push_back('@');
    escapeTo(Host, part::host, out);
  }
  if (!path.empty() && path[0] != '/' && !Host.empty()) out.push_back('/');
  // A relative path whose first segment holds ':' would read as a scheme
  // (RFC 3986 §4.2): "./" keeps it a path.
  if (out.empty() && path.substr(0, path.find('/')).find(':') != std::string::npos) out.append("./");
  out.append(path);
  if (!RawQuery.empty()) {
    out.push_back('?');
    out.append(RawQuery);
  }
  return out;
}

namespace {

// Path bytes that Go's path escaping leaves as they are (it escapes
// "!'()*" although RFC 3986 allows them): a path made only of these decodes
// to itself and needs no RawPath.
constexpr auto kPlainPath = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; c++) t[size_t(c)] = true;
  for (int c = 'A'; c <= 'Z'; c++) t[size_t(c)] = true;
  for (int c = '0'; c <= '9'; c++) t[size_t(c)] = true;
  for (char c : std::string_view("-._~$&+,;=:@/")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

}  // namespace

bool ParseRequestURI(std::string_view target, URL& u) {
  // Cleared field by field: the server reuses one URL per connection, and
  // the strings keep their capacity.
  u.Scheme.clear();
  u.Host.clear();
  u.Path.clear();
  u.RawPath.clear();
  u.RawQuery.clear();
  u.User.clear();
  if (target.empty()) return false;
  // The common case, "/plain/path?query": one pass, no decoding.
  if (target[0] == '/') {
    size_t i = 0;
    while (i < target.size() && kPlainPath[static_cast<unsigned char>(target[i])]) i++;
    if (i == target.size() || target[i] == '?') {
      bool ok = true;
      for (size_t j = i; j < target.size(); j++) {
        const auto c = static_cast<unsigned char>(target[j]);
        if (c <= ' ' || c == 0x7f) {
          ok = false;
          break;
        }
      }
      if (ok) {
        u.Path.assign(target.substr(0, i));
        if (i < target.size()) u.RawQuery.assign(target.substr(i + 1));
        return true;
      }
    }
  }
  // Controls never; nor spaces, which cannot be in a request line's target
  // (Go's ParseRequestURI lets spaces through; its request-line split does not).
  for (unsigned char c : target)
    if (c <= ' ' || c == 0x7f) return false;
  if (target == "*") {
    u.Path = "*";
    return true;
  }
  std::string_view scheme, rest;
  if (!splitScheme(target, scheme, rest)) return false;
  // "?" starts the query; '#' is not special in a request (browsers strip
  // fragments), so it stays in the path or the query, as Go keeps it.
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    u.RawQuery.assign(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  // Origin form starts with '/'; an opaque "scheme:x" (which Go accepts,
  // into a field URL lacks) and a bare "x" are not request targets.
  if (rest.empty() || rest[0] != '/') return false;
  u.Scheme.assign(scheme);
  std::transform(u.Scheme.begin(), u.Scheme.end(), u.Scheme.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; });
  // Only a target with a scheme has an authority: without one, "//x" is a
  // path.
  if (!scheme.empty() && rest.substr(0, 2) == "//") {
    std::string_view authority = rest.substr(2);
    const size_t slash = authority.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : authority.substr(slash);
    authority = authority.substr(0, slash);
    std::string_view host = authority;
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
      const std::string_view user = authority.substr(0, at);
      std::string scratch;
      if (!validUserinfo(user) || !unescape(user, part::userinfo, scratch)) return false;
      u.User.assign(user);
      host = authority.substr(at + 1);
    }
    if (!parseHost(host, u.Host)) return false;
  }
  // Go's setPath: Path is decoded; RawPath keeps the wire form only when it
  // is not what escaping Path would give ("/a%2Fb", "/a%41").
  if (!unescape(rest, part::path, u.Path)) return false;
  if (!isDefaultPathEncoding(rest)) u.RawPath.assign(rest);
  return true;
}

// ---- urlpath.h ------------------------------------------------------------

namespace detail {

std::string escapePath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  escapeTo(path, part::path, out);
  return out;
}

bool rawPathValid(std::string_view raw, std::string_view path) noexcept {
  size_t j = 0;  // position in path
  for (size_t i = 0; i < raw.size(); i++, j++) {
    unsigned char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return false;
      const int hi = unhex(raw[i + 1]), lo = unhex(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = (unsigned char)(hi << 4 | lo);
      i += 2;
    } else {
      // Go's validEncoded: a path's sub-delimiters, ':' '@', and "[]"
      // (left alone by browsers), or what the path encoding keeps.
      switch (c) {
        case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
        case ',': case ';': case '=': case ':': case '@': case '[': case ']':
          break;
        default:
          if (mustEscape(c, part::path)) return false;
      }
    }
    if (j >= path.size() || (unsigned char)path[j] != c) return false;
  }
  return j == path.size();
}

std::string escapedPath(const URL& u) {
  if (!u.RawPath.empty() && rawPathValid(u.RawPath, u.Path)) return u.RawPath;
  if (u.Path == "*") return "*";  // an OPTIONS target, not a path to escape
  return escapePath(u.Path);
}

std::string pathClean(std::string_view p) {
  if (p.empty()) return ".";
  const bool rooted = p[0] == '/';
  std::string out;
  out.reserve(p.size());
  if (rooted) out.push_back('/');
  // How much of out is fixed: the root, or leading ".." of a relative path,
  // which a later ".." must not remove.
  size_t floor = out.size();
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const std::string_view seg = p.substr(i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (out.size() > floor) {
        // Drop the last element and the slash before it.
        size_t cut = out.rfind('/');
        cut = (cut == std::string::npos || cut < floor) ? floor : cut;
        out.resize(cut);
      } else if (!rooted) {
        if (!out.empty()) out.push_back('/');
        out.append("..");
        floor = out.size();
      }
      continue;
    }
    if (out.size() > (rooted ? 1u : 0u)) out.push_back('/');
    out.append(seg);
  }
  if (out.empty()) return ".";
  return out;
}

std::string cleanPath(std::string_view p) {
  if (p.empty()) return "/";
  std::string np;
  if (p[0] != '/') {
    std::string rooted = "/";
    rooted.append(p);
    np = pathClean(rooted);
  } else {
    np = pathClean(p);
  }
  if (p.back() == '/' && np != "/") np.push_back('/');
  return np;
}

bool isCleanPath(std::string_view p) noexcept {
  if (p.empty() || p[0] != '/') return false;
  // Each segment after a '/' must be non-empty and neither "." nor "..";
  // only the very last may be empty (a trailing slash).
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    const std::string_view seg = p.substr(i, j - i);
    if (seg == "." || seg == "..") return false;
    if (seg.empty() && j != p.size()) return false;
    i = j + 1;
  }
  return true;
}

}  // namespace detail

}  // namespace ringo::http
