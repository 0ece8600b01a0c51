// reader_fuzz.cc — libFuzzer target for the request reader, the production
// path every connection runs (http/reader.h).
//
// The input's first byte picks how the rest is cut into pieces; the reader
// reads the rest once whole and once in those pieces, and both readings
// must agree: the same heads, the same bodies, and an error in both or in
// neither. (Which 4xx can depend on the cut: a limit checked as a header
// name arrives may fire before llhttp meets a bad byte later in that name
// when the name comes in pieces.) Within a
// reading: a step never consumes more than it was given, needMore
// consumes everything, a body piece lies inside the input, and after an
// error nothing more is ever reported (nothing after a rejected request is
// parsed as a request). Any violation aborts, which libFuzzer reports.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../http/reader.h"

using ringo::http::detail::readEvent;
using ringo::http::detail::requestReader;

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "reader_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// trace reads input in pieces of `step` bytes and returns what happened.
std::string trace(const std::string& input, size_t step, std::string* reason = nullptr) {
  requestReader r;
  std::string out, pending, body;
  size_t fed = 0;
  bool hungry = true, failed = false;
  for (int guard = 0;; guard++) {
    if (guard > 10'000'000) broken("no progress");
    if (pending.empty() && hungry) {
      if (fed == input.size()) break;
      const size_t k = std::min(step, input.size() - fed);
      pending = input.substr(fed, k);
      fed += k;
    }
    const auto st = r.feed(pending.data(), pending.size());
    if (st.consumed > pending.size()) broken("consumed more than given");
    if (failed && st.ev != readEvent::error) broken("an event after an error");
    switch (st.ev) {
      case readEvent::needMore:
        if (st.consumed != pending.size()) broken("needMore left input unconsumed");
        break;
      case readEvent::head:
        out += "H " + r.head().method + " " + r.head().target + "\n";
        break;
      case readEvent::body:
        if (st.body.data() < pending.data() || st.body.data() + st.body.size() > pending.data() + pending.size())
          broken("a body piece outside the input");
        body.append(st.body);
        break;
      case readEvent::done:
        out += "D " + std::to_string(body.size()) + " " + std::to_string(std::hash<std::string>{}(body)) + "\n";
        body.clear();
        break;
      case readEvent::error:
        if (r.errorStatus() < 400 || r.errorStatus() > 599) broken("an error without a 4xx/5xx status");
        if (!failed) out += "E\n";  // the status is in *reason (see the top)
        if (reason) *reason = std::to_string(r.errorStatus()) + " " + r.errorReason();
        failed = true;
        return out;  // the connection closes
    }
    pending.erase(0, st.consumed);
    hungry = st.ev == readEvent::needMore;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = size_t(data[0] % 16) + 1;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string whole = trace(input, input.size() + 1);
  const std::string pieces = trace(input, step);
  if (whole != pieces) {
    std::string rw, rp;
    trace(input, input.size() + 1, &rw);
    trace(input, step, &rp);
    std::fprintf(stderr, "whole:\n%s(%s)\npieces of %zu:\n%s(%s)\n", whole.c_str(), rw.c_str(), step, pieces.c_str(),
                 rp.c_str());
    broken("reading in pieces differs from reading whole");
  }
  return 0;
}
