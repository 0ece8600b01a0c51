// request.cc — Request's helpers: path values, forms, cookies, and Body.

#include "ringo/http/request.h"

#include "ringo/http/errors.h"

namespace ringo::http {

// ---- Body -----------------------------------------------------------------

net::IOResult Body::Read(std::span<char> buf) {
  if (src_ == nullptr) return {0, net::ErrEOF};
  if (limit_ >= 0) {
    if (read_ >= limit_) {
      // One byte more tells a body of exactly the limit from a longer one.
      char probe;
      auto r = src_->readBody({&probe, 1});
      if (r.n == 0) return r;
      read_ += int64_t(r.n);
      src_->bodyTooLarge();
      return {0, ErrBodyTooLarge};
    }
    if (int64_t(buf.size()) > limit_ - read_) buf = buf.first(size_t(limit_ - read_));
  }
  auto r = src_->readBody(buf);
  read_ += int64_t(r.n);
  return r;
}

net::Result<std::string> Body::ReadAll() {
  std::string s;
  size_t len = 0;
  for (;;) {
    // Grow by doubling, as Go's io.ReadAll; each byte is zeroed once.
    if (len == s.size()) s.resize(len < 4096 ? 4096 : 2 * len);
    auto r = Read({s.data() + len, s.size() - len});
    len += r.n;
    if (r.err) {
      s.resize(len);
      if (r.err == net::ErrEOF) return {std::move(s), {}};
      return {std::move(s), r.err};
    }
  }
}

// ---- Request --------------------------------------------------------------

ringo::Context Request::Context() {
  if (ctxsrc_ == nullptr) return Background();
  return ctxsrc_->requestContext();
}

std::string_view Request::PathValue(std::string_view name) const noexcept {
  for (const auto& [k, v] : pathValues_)
    if (k == name) return v;
  return {};
}

void Request::SetPathValue(std::string_view name, std::string_view value) {
  for (auto& [k, v] : pathValues_)
    if (k == name) {
      v.assign(value);
      return;
    }
  pathValues_.emplace_back(std::string(name), std::string(value));
}

void Request::reset() {
  Method.clear();
  // URL: ParseRequestURI clears it, keeping the strings' capacity.
  Header.Clear();
  ContentLength = 0;
  Close = false;
  Host.clear();
  RequestURI.clear();
  Pattern.clear();
  if (formParsed_) {
    Form = {};
    PostForm = {};
  }
  pathValues_.clear();
  formParsed_ = false;
  ctxsrc_ = nullptr;
}

std::error_code Request::ParseForm() {
  if (formParsed_) return {};
  formParsed_ = true;
  std::error_code first;
  if (Method == "POST" || Method == "PUT" || Method == "PATCH") {
    std::string_view ct = Header.Get("Content-Type");
    ct = ct.substr(0, ct.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
    if (EqualFold(ct, "application/x-www-form-urlencoded")) {
      constexpr int64_t kMaxForm = 10 << 20;  // Go's defaultMaxMemory-ish cap for url-encoded forms
      const int64_t old = Body.Limit();
      if (old < 0 || old - Body.BytesRead() > kMaxForm) Body.SetLimit(Body.BytesRead() + kMaxForm);
      auto [data, err] = Body.ReadAll();
      if (err) {
        first = err;  // a body cut short or too long: none of it is parsed ("amount=10" of "amount=1000")
      } else {
        if (auto e = ParseQuery(data, PostForm); e) first = e;
        for (const auto& [k, v] : PostForm) Form.Add(k, v);
      }
    }
  }
  // The query's values come after the body's, as in Go.
  if (auto e = ParseQuery(URL.RawQuery, Form); e && !first) first = e;
  return first;
}

std::string_view Request::FormValue(std::string_view key) {
  (void)ParseForm();
  return Form.Get(key);
}

std::string_view Request::PostFormValue(std::string_view key) {
  (void)ParseForm();
  return PostForm.Get(key);
}

std::vector<http::Cookie> Request::Cookies() const { return ReadCookies(Header.Values("Cookie")); }

std::optional<http::Cookie> Request::Cookie(std::string_view name) const {
  auto v = ReadCookies(Header.Values("Cookie"), name);
  if (v.empty()) return std::nullopt;
  return std::move(v.front());
}

}  // namespace ringo::http
