// handler.cc — the small handlers and helpers of Go's net/http: Error,
// NotFound, Redirect, and the handlers built on them.

#include "ringo/http/handler.h"

#include "urlpath.h"

namespace ringo::http {

namespace {

// htmlEscape escapes the five bytes that matter in an HTML attribute or text.
std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out.append("&amp;"); break;
      case '<': out.append("&lt;"); break;
      case '>': out.append("&gt;"); break;
      case '"': out.append("&#34;"); break;  // shorter than &quot;
      case '\'': out.append("&#39;"); break;  // &apos; is not HTML 4
      default: out.push_back(c);
    }
  }
  return out;
}

// hexEscapeNonASCII %-escapes bytes >= 0x80, so a Location header is ASCII.
std::string hexEscapeNonASCII(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// isRelativeRef reports whether url is a reference Redirect should resolve
// against the request's path: it parses as a URL (Go's url.Parse: no
// controls, valid escapes in its path) and has neither a scheme nor a host.
bool isRelativeRef(std::string_view url) {
  for (unsigned char c : url)
    if (c < 0x20 || c == 0x7f) return false;
  // A scheme: letters, then letters, digits, "+-.", then ':' before any
  // '/', '?' or '#'.
  for (size_t i = 0; i < url.size(); i++) {
    const char c = url[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) continue;
    if (c == ':') return false;  // "http:..." has a scheme; ":x" does not parse
    break;
  }
  // "//host/..." names a host; "///x" and "//" do not.
  if (url.substr(0, 2) == "//" && url.substr(0, 3) != "///" && url.size() > 2) return false;
  std::string scratch;
  return PathUnescape(url.substr(0, url.find_first_of("?#")), scratch);
}

// notFoundHandler answers every request with NotFound.
class notFoundHandler final : public Handler {
 public:
  void ServeHTTP(ResponseWriter& w, Request& r) override { NotFound(w, r); }
};

// redirectHandler answers every request with Redirect(url, code).
class redirectHandler final : public Handler {
 public:
  redirectHandler(std::string url, int code) : url_(std::move(url)), code_(code) {}
  void ServeHTTP(ResponseWriter& w, Request& r) override { Redirect(w, r, url_, code_); }

 private:
  std::string url_;
  int code_;
};

// stripPrefixHandler serves by h with prefix trimmed from the path.
class stripPrefixHandler final : public Handler {
 public:
  stripPrefixHandler(std::string prefix, std::shared_ptr<Handler> h) : prefix_(std::move(prefix)), h_(std::move(h)) {}

  void ServeHTTP(ResponseWriter& w, Request& r) override {
    const bool inPath = r.URL.Path.starts_with(prefix_);
    const bool inRaw = r.URL.RawPath.empty() || r.URL.RawPath.starts_with(prefix_);
    if (!inPath || !inRaw) return NotFound(w, r);
    // Go hands the handler a copy of the request; copying a Request (its
    // headers) costs more than trimming the paths in place and putting them
    // back when the handler returns or unwinds.
    struct restore {
      URL& u;
      std::string path, raw;
      ~restore() {
        u.Path = std::move(path);
        u.RawPath = std::move(raw);
      }
    } saved{r.URL, r.URL.Path, r.URL.RawPath};
    r.URL.Path.erase(0, prefix_.size());
    if (!r.URL.RawPath.empty()) r.URL.RawPath.erase(0, prefix_.size());
    h_->ServeHTTP(w, r);
  }

 private:
  std::string prefix_;
  std::shared_ptr<Handler> h_;
};

}  // namespace

void Error(ResponseWriter& w, std::string_view msg, int code) {
  Header& h = w.Header();
  // A length set for some other body would be wrong for this one.
  h.Del("Content-Length");
  h.Set("Content-Type", "text/plain; charset=utf-8");
  h.Set("X-Content-Type-Options", "nosniff");
  w.WriteHeader(code);
  std::string body(msg);
  body.push_back('\n');
  (void)w.Write(body);
}

void NotFound(ResponseWriter& w, Request&) { Error(w, "404 page not found", StatusNotFound); }

void Redirect(ResponseWriter& w, Request& r, std::string_view url, int code) {
  std::string target(url);
  if (isRelativeRef(url)) {
    // Resolve against the request's path here rather than trust every
    // client to (RFC 9110 §10.2.2 allows relative Locations).
    if (target.empty() || target[0] != '/') {
      std::string_view old = r.URL.Path.empty() ? std::string_view("/") : std::string_view(r.URL.Path);
      target.insert(0, old.substr(0, old.rfind('/') + 1));
    }
    std::string query;
    if (const size_t q = target.find('?'); q != std::string::npos) {
      query = target.substr(q);
      target.resize(q);
    }
    const bool trailing = !target.empty() && target.back() == '/';
    target = detail::pathClean(target);
    if (trailing && target.back() != '/') target.push_back('/');
    target.append(query);
  }

  Header& h = w.Header();
  // The short HTML body is for old clients that do not follow 3xx; a
  // handler that chose a Content-Type gets neither it nor ours.
  const bool hadCT = h.Has("Content-Type");
  h.Set("Location", hexEscapeNonASCII(target));
  const bool get = r.Method == "GET";
  if (!hadCT && (get || r.Method == "HEAD")) h.Set("Content-Type", "text/html; charset=utf-8");
  w.WriteHeader(code);
  if (!hadCT && get) {
    std::string body = "<a href=\"" + htmlEscape(target) + "\">";
    body.append(StatusText(code));
    body.append("</a>.\n\n");  // Go's Fprintln after a body ending in ".\n"
    (void)w.Write(body);
  }
}

std::shared_ptr<Handler> NotFoundHandler() {
  static const std::shared_ptr<Handler> h = std::make_shared<notFoundHandler>();
  return h;
}

std::shared_ptr<Handler> RedirectHandler(std::string url, int code) {
  return std::make_shared<redirectHandler>(std::move(url), code);
}

std::shared_ptr<Handler> StripPrefix(std::string prefix, std::shared_ptr<Handler> h) {
  if (prefix.empty()) return h;
  return std::make_shared<stripPrefixHandler>(std::move(prefix), std::move(h));
}

}  // namespace ringo::http
