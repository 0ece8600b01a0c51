// cookie.cc — Set-Cookie rendering and Cookie header parsing, as Go's
// net/http (RFC 6265, loosened where browsers are: spaces and commas in
// values are sent quoted).

#include "ringo/http/cookie.h"

#include <algorithm>

#include "internal.h"
#include "ringo/http/response.h"

namespace ringo::http {

namespace {

// validCookieName: a non-empty token.
bool validCookieName(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return detail::isTokenByte((unsigned char)c); });
}

// A cookie value's bytes: printable ASCII but '"', ';' and '\\'. Space and
// ',' are allowed (RFC 6265 forbids them; browsers take them, Go too).
bool validValueByte(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\'; }

// Path (and the Expires we are given as text): printable ASCII but ';'.
bool validPathByte(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f && c != ';'; }

// appendValid appends the bytes of s that pass ok (a handler cannot inject
// attributes or lines through a cookie's fields).
template <typename Ok>
void appendValid(std::string& out, std::string_view s, Ok ok) {
  for (unsigned char c : s)
    if (ok(c)) out.push_back(char(c));
}

// isIPv4 reports whether s is a dotted-quad address (a cookie Domain may
// be one; an IPv6 address may not, as in Go).
bool isIPv4(std::string_view s) noexcept {
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t n = 0;
    unsigned v = 0;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 4) {
      v = v * 10 + unsigned(s[i] - '0');
      i++, n++;
    }
    if (n == 0 || n > 3 || v > 255) return false;
    if (n > 1 && s[start] == '0') return false;  // "01": ambiguous (octal?), refused as Go's ParseIP does
    parts++;
    if (parts < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      i++;
    }
  }
  return i == s.size();
}

// isCookieDomainName: a host name (letters, digits, '-', labels of 1..63
// bytes, at least one letter), optionally with a leading dot.
bool isCookieDomainName(std::string_view s) noexcept {
  if (s.empty() || s.size() > 255) return false;
  if (s[0] == '.') s.remove_prefix(1);
  char last = '.';
  bool letter = false;
  size_t label = 0;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      letter = true;
      label++;
    } else if (c >= '0' && c <= '9') {
      label++;
    } else if (c == '-') {
      if (last == '.') return false;
      label++;
    } else if (c == '.') {
      if (last == '.' || last == '-' || label == 0 || label > 63) return false;
      label = 0;
    } else {
      return false;
    }
    last = c;
  }
  return last != '-' && label <= 63 && letter;
}

// validCookieDomain: a host name or an IPv4 address.
bool validCookieDomain(std::string_view d) noexcept { return isCookieDomainName(d) || isIPv4(d); }

// trimOWS trims the whitespace Go's textproto.TrimString does.
std::string_view trimOWS(std::string_view s) noexcept {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string Cookie::String() const {
  if (!validCookieName(Name)) return {};
  std::string b;
  b.reserve(Name.size() + Value.size() + Path.size() + Domain.size() + 110);  // 110: Go's guess for the attributes
  b.append(Name);
  b.push_back('=');
  // A value with a space or a comma is quoted, so the quotes survive
  // only around what was kept.
  std::string v;
  appendValid(v, Value, validValueByte);
  if (v.find_first_of(" ,") != std::string::npos) {
    b.push_back('"');
    b.append(v);
    b.push_back('"');
  } else {
    b.append(v);
  }
  if (!Path.empty()) {
    b.append("; Path=");
    appendValid(b, Path, validPathByte);
  }
  // An invalid domain is dropped (the cookie becomes host-only), as Go
  // does; a leading dot is valid but not sent.
  if (!Domain.empty() && validCookieDomain(Domain)) {
    b.append("; Domain=");
    b.append(Domain[0] == '.' ? std::string_view(Domain).substr(1) : std::string_view(Domain));
  }
  if (!Expires.empty()) {
    b.append("; Expires=");
    appendValid(b, Expires, validPathByte);
  }
  if (MaxAge > 0) {
    b.append("; Max-Age=");
    b.append(std::to_string(MaxAge));
  } else if (MaxAge < 0) {
    b.append("; Max-Age=0");
  }
  if (HttpOnly) b.append("; HttpOnly");
  if (Secure) b.append("; Secure");
  switch (SameSite) {
    case http::SameSite::Default: break;
    case http::SameSite::Lax: b.append("; SameSite=Lax"); break;
    case http::SameSite::Strict: b.append("; SameSite=Strict"); break;
    case http::SameSite::None: b.append("; SameSite=None"); break;
  }
  return b;
}

std::vector<Cookie> ReadCookies(const std::vector<std::string_view>& lines, std::string_view filter) {
  std::vector<Cookie> out;
  for (std::string_view line : lines) {
    line = trimOWS(line);
    while (!line.empty()) {
      const size_t semi = line.find(';');
      std::string_view part = trimOWS(line.substr(0, semi));
      line = semi == std::string_view::npos ? std::string_view() : line.substr(semi + 1);
      if (part.empty()) continue;
      const size_t eq = part.find('=');
      const std::string_view name = part.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      if (!validCookieName(name)) continue;
      if (!filter.empty() && name != filter) continue;
      if (value.size() > 1 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (!std::all_of(value.begin(), value.end(), [](char c) { return validValueByte((unsigned char)c); })) continue;
      Cookie c;
      c.Name.assign(name);
      c.Value.assign(value);
      out.push_back(std::move(c));
    }
  }
  return out;
}

void SetCookie(ResponseWriter& w, const Cookie& c) {
  // Go adds nothing for a cookie whose name is invalid.
  if (std::string v = c.String(); !v.empty()) w.Header().Add("Set-Cookie", v);
}

}  // namespace ringo::http
