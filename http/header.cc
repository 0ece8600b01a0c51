// header.cc — Header: a vector of fields searched without regard to case.

#include "ringo/http/header.h"

#include <algorithm>

#include "internal.h"

namespace ringo::http {

namespace {
inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }
}  // namespace

bool EqualFold(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  return true;
}

void Header::Add(std::string_view name, std::string_view value) {
  f_.push_back({std::string(name), std::string(value)});
}

void Header::Set(std::string_view name, std::string_view value) {
  auto it = std::find_if(f_.begin(), f_.end(), [&](const HeaderField& f) { return EqualFold(f.name, name); });
  if (it == f_.end()) return Add(name, value);
  it->value.assign(value);
  // Later values of the same name go.
  f_.erase(std::remove_if(it + 1, f_.end(), [&](const HeaderField& f) { return EqualFold(f.name, name); }),
           f_.end());
}

void Header::Del(std::string_view name) {
  f_.erase(std::remove_if(f_.begin(), f_.end(), [&](const HeaderField& f) { return EqualFold(f.name, name); }),
           f_.end());
}

std::string_view Header::Get(std::string_view name) const noexcept {
  for (const auto& f : f_)
    if (EqualFold(f.name, name)) return f.value;
  return {};
}

std::vector<std::string_view> Header::Values(std::string_view name) const {
  std::vector<std::string_view> v;
  for (const auto& f : f_)
    if (EqualFold(f.name, name)) v.push_back(f.value);
  return v;
}

bool Header::Has(std::string_view name) const noexcept {
  for (const auto& f : f_)
    if (EqualFold(f.name, name)) return true;
  return false;
}

}  // namespace ringo::http

namespace ringo::http::detail {

bool hasToken(std::string_view v, std::string_view token) noexcept {
  while (!v.empty()) {
    const size_t comma = v.find(',');
    std::string_view t = v.substr(0, comma);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (EqualFold(t, token)) return true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace ringo::http::detail
