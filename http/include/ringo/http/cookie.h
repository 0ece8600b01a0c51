// cookie.h — HTTP cookies: Go's http.Cookie.
//
//   if (auto c = r.Cookie("session")) use(c->Value);
//   http::SetCookie(w, {.Name = "session", .Value = id, .Path = "/", .HttpOnly = true});
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringo::http {

class ResponseWriter;

enum class SameSite { Default, Lax, Strict, None };

struct Cookie {
  // The {}s let designated initializers skip fields under -Wextra (GCC's
  // missing-field-initializers), as the example at the top does.
  std::string Name{}, Value{};
  std::string Path{}, Domain{};
  std::string Expires{};  // an HTTP date, as sent ("" for a session cookie)
  int MaxAge = 0;       // > 0: seconds; < 0: delete now ("Max-Age=0"); 0: none
  bool Secure = false;
  bool HttpOnly = false;
  http::SameSite SameSite = http::SameSite::Default;

  // String renders the cookie for a Set-Cookie header ("" when the name is
  // not a valid token); bytes a cookie value may not hold are dropped.
  std::string String() const;
};

// ReadCookies parses Cookie header values ("a=1; b=2"), keeping those named
// filter (all when filter is empty). Malformed pairs are skipped.
std::vector<Cookie> ReadCookies(const std::vector<std::string_view>& lines, std::string_view filter = {});

// SetCookie adds a Set-Cookie header to w's response.
void SetCookie(ResponseWriter& w, const Cookie& c);

}  // namespace ringo::http
