// stats.h — the HTTP layer's counters, and /debug/vars.
//
//   auto s = http::ReadStats();       // a snapshot
//   mux.Handle("GET /debug/vars", http::VarsHandler());
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ringo/http/handler.h"

namespace ringo::http {

// Stats counts, for every Server of the process: requests (total, in
// flight, aborted by Goexit, failed by an exception, rejected as bad
// input), connections (open, total) and the connection buffer pool (in
// use, reused, allocated). Counters are per-P sums, read without stopping
// anyone; a snapshot is consistent to within the requests in flight.
struct Stats {
  uint64_t requests = 0;           // handler calls started
  int64_t requests_in_flight = 0;  // handler calls not yet returned
  uint64_t requests_aborted = 0;   // ended by Goexit
  uint64_t requests_failed = 0;    // ended by an exception
  uint64_t requests_rejected = 0;  // bad input: answered 4xx/5xx without a handler
  uint64_t tls_handshake_errors = 0;  // TLS connections closed in their handshake (bad input, timeouts)
  uint64_t conns_total = 0;
  int64_t conns_open = 0;
  int64_t buffers_in_use = 0;      // connection buffers out of the pool
  uint64_t buffers_reused = 0;     // taken from the pool's free list
  uint64_t buffers_allocated = 0;  // made fresh
  uint64_t log_dropped = 0;        // log lines dropped (queue full, rate limit)
};
Stats ReadStats();

// Publish adds a named integer to VarsJSON's "vars" object (Go's
// expvar.Publish); f is called at each rendering, from any goroutine. A
// second Publish of a name replaces the first.
void Publish(std::string name, std::function<int64_t()> f);

// VarsJSON renders the process's counters as one JSON object, Go's expvar
// shape: {"http": {...}, "netpoll": {...}, "runtime": {...}, "vars": {...}}.
std::string VarsJSON();
// VarsHandler serves VarsJSON as application/json.
std::shared_ptr<Handler> VarsHandler();
// MetricsText renders the same counters, and the process's memory, open
// files and CPU time, in Prometheus' text exposition format (version
// 0.0.4): ringo_http_*, ringo_netpoll_*, ringo_* for the scheduler
// (goroutines, Ps, run-queue lengths per P), process_* as Prometheus'
// client libraries name them, and each Publish'ed var as
// ringo_var{name="..."}. Counters end in _total.
std::string MetricsText();
// MetricsHandler serves MetricsText for a Prometheus scrape (/metrics).
std::shared_ptr<Handler> MetricsHandler();
// GoroutinesHandler serves the goroutine dump (ringo::Stack(true)) as text.
std::shared_ptr<Handler> GoroutinesHandler();

}  // namespace ringo::http
