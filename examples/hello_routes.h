// hello_routes.h — the routes of examples/hello and examples/https_hello,
// and their graceful stop on SIGINT/SIGTERM, shared by both programs.
//
// Routes:
//   GET /, GET /plaintext   "Hello, World!" as text/plain
//   POST /echo              the request body back, same Content-Type
//   GET /abort              sends the head and part of the body, flushes, then
//                           aborts the request with ringo::Goexit() from a
//                           nested function; its Defer guards give back what
//                           it took (see abortHeld in /debug/vars)
//   GET /stream?n=BYTES     n bytes, written 16 KiB at a time
//   GET /debug/vars         the counters as JSON (Go's expvar shape)
//   GET /debug/goroutines   every goroutine's stack
// and, from Probes:
//   GET /healthz            200 "ok" (liveness)
//   GET /readyz             200 "ok", 503 once a drain or shutdown starts
//   GET /metrics            counters in Prometheus' text format
#pragma once

#include <ringo/http.h>
#include <ringo/ringo.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

namespace hello {

namespace http = ringo::http;

// What /abort holds while it runs: its Defer guards must bring this back to
// zero even though the request never returns normally.
inline std::atomic<int64_t> abortHeld{0};

[[noreturn]] inline void giveUp() {
  // Deep inside the request's work something decides it cannot go on.
  ringo::Goexit();
}

inline void abortHandler(http::ResponseWriter& w, http::Request&) {
  abortHeld++;
  auto release = ringo::Defer([] { abortHeld--; });
  std::string scratch(64 << 10, 'x');  // a buffer the unwind must free
  w.Header().Set("Content-Type", "text/plain");
  (void)w.Write("partial response, then the handler aborts\n");
  (void)w.Flush();  // the client has the head and this line
  giveUp();
}

inline void streamHandler(http::ResponseWriter& w, http::Request& r) {
  const auto query = r.URL.Query();  // Get returns a view into it: keep it
  auto q = query.Get("n");
  int64_t n = 0;
  auto [p, ec] = std::from_chars(q.data(), q.data() + q.size(), n);
  if (ec != std::errc() || p != q.data() + q.size() || n < 0) {
    return http::Error(w, "n: want a byte count", http::StatusBadRequest);
  }
  w.Header().Set("Content-Type", "application/octet-stream");
  std::string chunk(16 << 10, 'a');
  while (n > 0) {
    auto piece = std::string_view(chunk).substr(0, size_t(std::min<int64_t>(n, int64_t(chunk.size()))));
    if (w.Write(piece).err) return;  // the client went away or was too slow
    n -= int64_t(piece.size());
  }
}

inline void Routes(http::ServeMux& mux) {
  auto hello = [](http::ResponseWriter& w, http::Request&) {
    w.Header().Set("Content-Type", "text/plain");
    (void)w.Write("Hello, World!");
  };
  mux.HandleFunc("GET /{$}", hello);
  mux.HandleFunc("GET /plaintext", hello);
  mux.HandleFunc("POST /echo", [](http::ResponseWriter& w, http::Request& r) {
    auto [body, err] = r.Body.ReadAll();
    if (err) return http::Error(w, err.message(), err == http::ErrBodyTooLarge ? 413 : 400);
    if (auto ct = r.Header.Get("Content-Type"); !ct.empty()) w.Header().Set("Content-Type", ct);
    (void)w.Write(body);
  });
  mux.HandleFunc("GET /abort", abortHandler);
  mux.HandleFunc("GET /stream", streamHandler);
  http::Publish("abortHeld", [] { return abortHeld.load(); });
  mux.Handle("GET /debug/vars", http::VarsHandler());
  mux.Handle("GET /debug/goroutines", http::GoroutinesHandler());
}

// Probes adds what a load balancer, Kubernetes or Prometheus asks of
// srv: GET /healthz (liveness), GET /readyz (readiness: 503 from the
// moment a drain or shutdown starts) and GET /metrics (Prometheus text).
inline void Probes(http::ServeMux& mux, const http::Server& srv) {
  mux.Handle("GET /healthz", http::HealthzHandler());
  mux.Handle("GET /readyz", http::ReadyzHandler(srv));
  mux.Handle("GET /metrics", http::MetricsHandler());
}

// Flags are the flags hello and https_hello share.
struct Flags {
  std::string addr;
  ringo::Options opts;               // --procs N: the Ps (default: the CPUs)
  std::chrono::nanoseconds drain{};  // --drain SECONDS: readiness off, still serving, before a SIGTERM stop
  bool reusePort = false;            // --reuseport: several processes share the port (SO_REUSEPORT)

  static constexpr const char* usage = "[--addr host:port] [--procs n] [--drain seconds] [--reuseport]";

  // parse consumes argv[i] (and its value) if it is one of these flags.
  // On a bad value it prints why and sets bad.
  bool parse(int argc, char** argv, int& i, bool& bad) {
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (!std::strcmp(argv[i], "--addr")) {
      if (const char* v = value()) return addr = v, true;
    } else if (!std::strcmp(argv[i], "--procs")) {
      if (const char* v = value()) return opts.maxprocs = std::atoi(v), true;
    } else if (!std::strcmp(argv[i], "--drain")) {
      const char* v = value();
      char* end = nullptr;
      double sec = v ? std::strtod(v, &end) : -1;
      if (v && end != v && *end == 0 && sec >= 0 && sec <= 3600) {
        drain = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(sec));
        return true;
      }
      std::fprintf(stderr, "--drain: want seconds from 0 to 3600, got %s\n", v ? v : "nothing");
      bad = true;
      return true;
    } else if (!std::strcmp(argv[i], "--reuseport")) {
      return reusePort = true, true;
    }
    return false;
  }

  // listen opens addr with SO_REUSEPORT when asked, and says where.
  ringo::net::Listener listen(const char* prog) const {
    auto [ln, err] = ringo::net::Listen("tcp", addr, {.reuse_port = reusePort});
    if (err) {
      std::fprintf(stderr, "%s: listen %s: %s\n", prog, addr.c_str(), err.message().c_str());
      return {};
    }
    std::printf("%s: listening on %s%s\n", prog, ln.Address().String().c_str(), reusePort ? " (SO_REUSEPORT)" : "");
    std::fflush(stdout);
    return ln;
  }
};

// ServeUntilSignal runs serve (srv.Serve or srv.ServeTLS on a listener)
// until a signal, then stops srv gracefully: no new connections, idle ones
// closed, requests in flight finish (up to 10 s) with Connection: close.
// SIGTERM (what Kubernetes, systemd and a rolling restart send) first
// drains for flags.drain: /readyz answers 503 at once while the server
// keeps accepting and serving, so a load balancer's health check takes it
// out of rotation before it stops accepting. SIGINT (Ctrl-C: a person
// waiting) skips the drain, and so does a second signal during one.
// Returns main's exit status.
inline int ServeUntilSignal(const char* prog, http::Server& srv, std::chrono::nanoseconds drain,
                            const std::function<std::error_code()>& serve) {
  ringo::Chan<int> sigs(2);
  ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
  ringo::Chan<std::error_code> stopped(1);
  ringo::Go([&] {
    auto [sig, ok] = sigs.Recv();
    if (sig == SIGTERM && drain > std::chrono::nanoseconds::zero()) {
      std::printf("%s: %s, draining for %.3g s (/readyz answers 503)\n", prog, strsignal(sig),
                  std::chrono::duration<double>(drain).count());
      std::fflush(stdout);
      ringo::Chan<std::monostate> drained;
      ringo::Go([&srv, drain, drained]() mutable {
        srv.Drain(drain);
        drained.Close();
      });
      ringo::Select(ringo::Recv(drained), ringo::Recv(sigs));
    }
    std::printf("%s: %s, shutting down\n", prog, strsignal(sig));
    std::fflush(stdout);
    stopped.Send(srv.Shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  });
  if (auto err = serve(); err != http::ErrServerClosed) {
    std::fprintf(stderr, "%s: serve: %s\n", prog, err.message().c_str());
    return 1;
  }
  // Serve returns at once when Shutdown starts: wait for it to finish.
  auto [serr, ok] = stopped.Recv();
  ringo::signal::Stop(sigs);
  std::printf("%s: bye%s\n", prog, serr ? " (shutdown deadline passed)" : "");
  return 0;
}

}  // namespace hello
