// hello — the benchmark shape of an HTTP service, and the routes the tests
// and load tests drive.
//
//   build/examples/hello --addr 127.0.0.1:8080 --procs 1 [--drain 5] [--reuseport] [--access-log]
//   curl -s 127.0.0.1:8080/            # Hello, World!
//
// Routes (hello_routes.h, shared with https_hello):
//   GET /, GET /plaintext   "Hello, World!" as text/plain
//   POST /echo              the request body back, same Content-Type
//   GET /abort              part of a response, then ringo::Goexit()
//   GET /stream?n=BYTES     n bytes, written 16 KiB at a time
//   GET /debug/vars         the counters as JSON (Go's expvar shape)
//   GET /debug/goroutines   every goroutine's stack
//   GET /healthz, /readyz   liveness and readiness probes
//   GET /metrics            Prometheus' text format
//
// SIGTERM drains first: /readyz answers 503 for --drain seconds (default 5;
// 0 for none) while everything else is served as before, so a load
// balancer stops sending work; then, as on SIGINT at once, a graceful
// shutdown: no new connections, idle ones closed, requests in flight
// finish (up to 10 s), then exit 0. --reuseport lets several hello
// processes share one port (SO_REUSEPORT; the kernel spreads connections).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hello_routes.h"

namespace http = ringo::http;

int main(int argc, char** argv) {
  hello::Flags f{.addr = "127.0.0.1:8080", .opts = {}, .drain = std::chrono::seconds(5)};
  bool accessLog = false, bad = false;
  for (int i = 1; i < argc && !bad; i++) {
    if (f.parse(argc, argv, i, bad)) continue;
    if (!std::strcmp(argv[i], "--access-log")) {
      accessLog = true;
    } else {
      bad = true;
    }
  }
  if (bad) {
    std::fprintf(stderr, "usage: %s %s [--access-log]\n", argv[0], hello::Flags::usage);
    return 2;
  }
  return ringo::Run(
      [&]() -> int {
        http::ServeMux mux;
        http::Server srv({.addr = f.addr, .handler = &mux, .access_log = accessLog});
        hello::Routes(mux);
        hello::Probes(mux, srv);
        auto ln = f.listen("hello");
        if (!ln) return 1;
        return hello::ServeUntilSignal("hello", srv, f.drain, [&] { return srv.Serve(ln); });
      },
      f.opts);
}
