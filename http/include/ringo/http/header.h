// header.h — HTTP headers: Go's http.Header.
//
//   http::Header h;
//   h.Add("Set-Cookie", "a=1");
//   h.Set("Content-Type", "text/plain");
//   std::string_view ct = h.Get("content-type");  // names are case-insensitive
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringo::http {

// One header line as received or set: the name as written, the value.
struct HeaderField {
  std::string name, value;
};

// EqualFold compares ASCII strings ignoring case, as Go's strings.EqualFold
// does for the names HTTP uses.
bool EqualFold(std::string_view a, std::string_view b) noexcept;

// Header holds header fields in the order they were added. Names compare
// without regard to case; a name may have several values (Add), kept in
// order. Lookups are linear: requests carry a handful of headers, and a
// scan of a few short strings beats hashing them.
//
// When a response is written, a value's CR, LF and NUL bytes become spaces
// and a field whose name is not an HTTP token is dropped (and logged): a
// handler cannot split a response by setting a header.
class Header {
 public:
  Header() = default;
  explicit Header(std::vector<HeaderField> fields) noexcept : f_(std::move(fields)) {}

  // Add appends a value to those of name.
  void Add(std::string_view name, std::string_view value);
  // Set replaces every value of name with value.
  void Set(std::string_view name, std::string_view value);
  // Del removes every value of name.
  void Del(std::string_view name);
  // Get returns the first value of name, or "" when there is none.
  std::string_view Get(std::string_view name) const noexcept;
  // Values returns every value of name, in order (views into the Header).
  std::vector<std::string_view> Values(std::string_view name) const;
  bool Has(std::string_view name) const noexcept;

  size_t Len() const noexcept { return f_.size(); }
  bool empty() const noexcept { return f_.empty(); }
  void Clear() noexcept { f_.clear(); }
  auto begin() const noexcept { return f_.begin(); }
  auto end() const noexcept { return f_.end(); }

  // The fields themselves, for the server (it lends the reader's vector to
  // the request and takes it back).
  std::vector<HeaderField>& fields() noexcept { return f_; }

 private:
  std::vector<HeaderField> f_;
};

}  // namespace ringo::http
