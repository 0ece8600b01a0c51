// recorder.h — a ResponseWriter that records the response in memory (Go's
// httptest.ResponseRecorder), and a helper that builds requests, for tests
// that call handlers directly, without a server or a scheduler.
//
//   Recorder w;
//   Request r = NewRequest("GET", "/items/7?x=1");
//   mux.ServeHTTP(w, r);
//   EXPECT_EQ(w.code, 200);
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ringo/http/request.h"
#include "ringo/http/response.h"
#include "ringo/http/status.h"

namespace ringo::http::test {

class Recorder final : public ResponseWriter {
 public:
  int code = StatusOK;     // as the server: 200 when the handler writes nothing
  bool wroteHeader = false;
  int writeHeaderCalls = 0;
  http::Header header;     // live until WriteHeader, then frozen into sent
  http::Header sent;       // the headers as they were when WriteHeader ran
  std::string body;

  http::Header& Header() override { return header; }

  void WriteHeader(int c) override {
    writeHeaderCalls++;
    // As the server: once only; later calls are ignored.
    if (wroteHeader) return;
    wroteHeader = true;
    code = c;
    sent = header;
  }

  WriteResult Write(std::string_view data) override {
    if (!wroteHeader) WriteHeader(StatusOK);
    body.append(data);
    return {data.size(), {}};
  }
};

// NewRequest builds a request as the server would from a request line:
// the target parsed into URL (the test fails if it does not parse), Host
// from host.
inline Request NewRequest(std::string_view method, std::string_view target, std::string_view host = "example.com") {
  Request r;
  r.Method.assign(method);
  r.RequestURI.assign(target);
  r.Host.assign(host);
  if (!ParseRequestURI(target, r.URL)) ADD_FAILURE() << "target does not parse: " << target;
  if (!r.URL.Host.empty()) r.Host = r.URL.Host;
  return r;
}

}  // namespace ringo::http::test
