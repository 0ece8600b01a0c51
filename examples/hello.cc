// hello — the benchmark shape of an HTTP service, and the routes the tests
// and load tests drive.
//
//   build/examples/hello --addr 127.0.0.1:8080 --procs 1
//   curl -s 127.0.0.1:8080/            # Hello, World!
//
// Routes (hello_routes.h, shared with https_hello):
//   GET /, GET /plaintext   "Hello, World!" as text/plain
//   POST /echo              the request body back, same Content-Type
//   GET /abort              part of a response, then ringo::Goexit()
//   GET /stream?n=BYTES     n bytes, written 16 KiB at a time
//   GET /debug/vars         the counters as JSON (Go's expvar shape)
//   GET /debug/goroutines   every goroutine's stack
//
// SIGINT or SIGTERM shuts down gracefully: no new connections, idle ones
// closed, requests in flight finish (up to 10 s), then exit 0.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hello_routes.h"

namespace http = ringo::http;

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8080";
  ringo::Options opts;
  bool accessLog = false;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--addr") && i + 1 < argc) {
      addr = argv[++i];
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--access-log")) {
      accessLog = true;
    } else {
      std::fprintf(stderr, "usage: %s [--addr host:port] [--procs n] [--access-log]\n", argv[0]);
      return 2;
    }
  }
  return ringo::Run(
      [&]() -> int {
        http::ServeMux mux;
        hello::Routes(mux);
        http::Server srv({.addr = addr, .handler = &mux, .access_log = accessLog});
        auto [ln, err] = ringo::net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "hello: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("hello: listening on %s\n", ln.Address().String().c_str());
        std::fflush(stdout);

        return hello::ServeUntilSignal("hello", srv, [&] { return srv.Serve(ln); });
      },
      opts);
}
