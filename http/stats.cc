// stats.cc — the HTTP counters (sharded by thread) and /debug/vars.

#include "ringo/http/stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

#include "internal.h"
#include "ringo/debug.h"
#include "ringo/go.h"
#include "ringo/netpoll.h"
#include "ringo/runtime_stats.h"

namespace ringo::http {

namespace detail {
namespace {

// A shard per thread, written only by that thread: an add is a load and a
// store, with no locked instruction (nine of them per keep-alive request
// were 1-2% of its CPU). Readers load each counter whole (atomics, relaxed)
// and sum; a sum taken while requests run is a moment's view, as before.
// A thread's shard outlives it: on exit it goes to a free list with its
// counts, and the next thread continues it, so threads that come and go
// (each Run starts its Ms anew) do not grow the list without bound.
struct alignas(64) shard {
  std::atomic<int64_t> v[kCounters] = {};
  shard* next = nullptr;      // allShards; set before it is published
  shard* nextFree = nullptr;  // freeShards (freeMu)
};
std::atomic<shard*> allShards{nullptr};  // every shard made; never freed
std::mutex freeMu;
shard* freeShards = nullptr;  // (freeMu)
// A thread that counts after its shard went back (another thread_local's
// destructor) adds here, atomically: it may share it.
shard orphan;

shard* shardget() {
  {
    std::lock_guard<std::mutex> g(freeMu);
    if (shard* s = freeShards) {
      freeShards = s->nextFree;
      return s;  // the mutex orders its last writer's stores before ours
    }
  }
  auto* s = new shard;
  s->next = allShards.load(std::memory_order_relaxed);
  while (!allShards.compare_exchange_weak(s->next, s, std::memory_order_release, std::memory_order_relaxed)) {
  }
  return s;
}

void shardput(shard* s) {
  std::lock_guard<std::mutex> g(freeMu);
  s->nextFree = freeShards;
  freeShards = s;
}

// A thread's shard, handed back at its exit (a thread counting after that
// adds to orphan).
using myShard = mSlot<shard, shardget, shardput>;

}  // namespace

void count(counter c, int64_t delta) noexcept {
  shard* s;
  {
    mLocal g;
    s = myShard::get();
  }
  if (s == nullptr) {
    orphan.v[c].fetch_add(delta, std::memory_order_relaxed);
    return;
  }
  // This thread is the shard's one writer; no goroutine parks in between.
  auto& v = s->v[c];
  v.store(v.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

int64_t sum(counter c) noexcept {
  int64_t s = orphan.v[c].load(std::memory_order_relaxed);
  for (shard* sh = allShards.load(std::memory_order_acquire); sh != nullptr; sh = sh->next)
    s += sh->v[c].load(std::memory_order_relaxed);
  return s;
}

}  // namespace detail

Stats ReadStats() {
  using namespace detail;
  Stats s;
  s.requests = uint64_t(sum(cRequests));
  s.requests_in_flight = sum(cInFlight);
  s.requests_aborted = uint64_t(sum(cAborted));
  s.requests_failed = uint64_t(sum(cFailed));
  s.requests_rejected = uint64_t(sum(cRejected));
  s.tls_handshake_errors = uint64_t(sum(cTLSHandshakeErrors));
  s.conns_total = uint64_t(sum(cConnsTotal));
  s.conns_open = sum(cConnsOpen);
  s.buffers_in_use = sum(cBufInUse);
  s.buffers_reused = uint64_t(sum(cBufReused));
  s.buffers_allocated = uint64_t(sum(cBufAllocated));
  s.log_dropped = uint64_t(sum(cLogDropped));
  return s;
}

namespace {

// Published vars: a std::mutex, held only to copy or insert, never across
// a park.
struct published {
  std::mutex mu;
  std::map<std::string, std::function<int64_t()>> vars;
};
published& pub() {
  static published* p = new published;  // never destroyed: goroutines may render at exit
  return *p;
}

struct jsonObject {
  std::string& out;
  bool first = true;
  void num(const char* k, long long v) {
    char b[96];
    std::snprintf(b, sizeof b, "%s\"%s\": %lld", first ? "" : ", ", k, v);
    out += b;
    first = false;
  }
  void str(const char* k, const char* v) {
    out += first ? "" : ", ";
    out += '"';
    out += k;
    out += "\": \"";
    out += v;  // our own names: no escaping needed
    out += '"';
    first = false;
  }
};

}  // namespace

std::string VarsJSON() {
  std::string out = "{\"http\": {";
  {
    auto s = ReadStats();
    jsonObject o{out};
    o.num("requests", (long long)s.requests);
    o.num("requests_in_flight", s.requests_in_flight);
    o.num("requests_aborted", (long long)s.requests_aborted);
    o.num("requests_failed", (long long)s.requests_failed);
    o.num("requests_rejected", (long long)s.requests_rejected);
    o.num("tls_handshake_errors", (long long)s.tls_handshake_errors);
    o.num("conns_total", (long long)s.conns_total);
    o.num("conns_open", s.conns_open);
    o.num("buffers_in_use", s.buffers_in_use);
    o.num("buffers_reused", (long long)s.buffers_reused);
    o.num("buffers_allocated", (long long)s.buffers_allocated);
    o.num("log_dropped", (long long)s.log_dropped);
  }
  out += "}, \"netpoll\": {";
  {
    auto s = netpoll::ReadStats();
    jsonObject o{out};
    o.str("backend", s.backend);
    o.num("parked", s.parked);
    o.num("waits", (long long)s.waits);
    o.num("sqes", (long long)s.sqes());
    o.num("enters", (long long)s.enters);
    o.num("submits", (long long)s.submits);
    o.num("late_submits", (long long)s.lateSubmits);
    o.num("aged_submits", (long long)s.agedSubmits);
    o.num("cqes", (long long)s.cqes);
    o.num("rings", (long long)s.rings);
    o.num("polls", (long long)s.polls);
    o.num("blocking_polls", (long long)s.blockingPolls);
    o.num("sysmon_polls", (long long)s.sysmonPolls);
    o.num("kicks", (long long)s.kicks);
    o.num("recv_no_bufs", (long long)s.recvNoBufs);
    o.num("epoll_waits", (long long)s.epollWaits);
  }
  out += "}, \"runtime\": {";
  {
    auto s = ReadRuntimeStats();
    jsonObject o{out};
    o.num("goroutines", NumGoroutine());
    o.num("gomaxprocs", GOMAXPROCS());
    o.num("goroutines_started", (long long)s.goroutines_started);
    o.num("gs_allocated", (long long)s.gs_allocated);
    o.num("ms", (long long)s.ms);
    o.num("steals", (long long)s.steals);
  }
  out += "}, \"vars\": {";
  {
    std::map<std::string, std::function<int64_t()>> vars;
    {
      std::lock_guard g(pub().mu);
      vars = pub().vars;
    }
    jsonObject o{out};
    for (auto& [k, f] : vars) o.num(k.c_str(), (long long)f());
  }
  out += "}}\n";
  return out;
}

namespace {

// promText writes one metric family at a time: its HELP and TYPE lines,
// then its samples.
struct promText {
  std::string& out;
  void family(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void sample(const char* name, std::string_view labels, double v) {
    char b[64];
    // Counts print as integers (exact below 2^53); fractions (CPU
    // seconds) with microsecond precision and no float noise.
    if (v == std::floor(v) && std::fabs(v) < 9e15) {
      std::snprintf(b, sizeof b, " %.0f\n", v);
    } else {
      std::snprintf(b, sizeof b, " %.6f\n", v);
    }
    out += name;
    out += labels;
    out += b;
  }
  void one(const char* name, const char* type, const char* help, double v) {
    family(name, type, help);
    sample(name, {}, v);
  }
  void counter(const char* name, const char* help, uint64_t v) { one(name, "counter", help, double(v)); }
  void gauge(const char* name, const char* help, double v) { one(name, "gauge", help, v); }
};

// labelValue escapes v for a label value: backslash, double quote and
// newline, as the exposition format asks.
std::string labelValue(std::string_view v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      o += '\\';
      o += c;
    } else if (c == '\n') {
      o += "\\n";
    } else {
      o += c;
    }
  }
  return o;
}

// The process's resident memory (statm's second field, in pages) and open
// descriptors. Both read /proc: a scrape is rare, and the reads are short.
double residentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, rss = 0;
  int n = std::fscanf(f, "%lld %lld", &size, &rss);
  std::fclose(f);
  return n == 2 ? double(rss) * double(sysconf(_SC_PAGESIZE)) : 0;
}

double openFds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  long n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return double(n - 1);  // less the directory's own descriptor
}

}  // namespace

std::string MetricsText() {
  std::string out;
  out.reserve(8192);
  promText p{out};
  {
    auto s = ReadStats();
    p.counter("ringo_http_requests_total", "Handler calls started.", s.requests);
    p.gauge("ringo_http_requests_in_flight", "Handler calls not yet returned.", double(s.requests_in_flight));
    p.counter("ringo_http_requests_aborted_total", "Requests ended by Goexit.", s.requests_aborted);
    p.counter("ringo_http_requests_failed_total", "Requests whose handler threw.", s.requests_failed);
    p.counter("ringo_http_requests_rejected_total", "Bad requests answered without a handler.", s.requests_rejected);
    p.counter("ringo_http_tls_handshake_errors_total", "TLS connections closed in their handshake.",
              s.tls_handshake_errors);
    p.counter("ringo_http_connections_total", "Connections accepted.", s.conns_total);
    p.gauge("ringo_http_connections_open", "Connections open now.", double(s.conns_open));
    p.gauge("ringo_http_buffers_in_use", "Connection buffers out of the pool.", double(s.buffers_in_use));
    p.counter("ringo_http_buffers_reused_total", "Connection buffers taken from the pool's free list.",
              s.buffers_reused);
    p.counter("ringo_http_buffers_allocated_total", "Connection buffers made fresh.", s.buffers_allocated);
    p.counter("ringo_http_log_dropped_total", "Log lines dropped (queue full or rate limit).", s.log_dropped);
  }
  {
    auto s = netpoll::ReadStats();
    p.family("ringo_netpoll_backend_info", "gauge", "The poller in use, as a label.");
    p.sample("ringo_netpoll_backend_info", "{backend=\"" + labelValue(s.backend) + "\"}", 1);
    p.gauge("ringo_netpoll_parked", "Goroutines parked on an I/O operation now.", double(s.parked));
    p.counter("ringo_netpoll_waits_total", "I/O operations that parked their goroutine.", s.waits);
    p.counter("ringo_netpoll_sqes_total", "io_uring submission queue entries.", s.sqes());
    p.counter("ringo_netpoll_enters_total", "io_uring_enter calls.", s.enters);
    p.counter("ringo_netpoll_late_submits_total", "io_uring batches submitted at once after a goroutine ran long.",
              s.lateSubmits);
    p.counter("ringo_netpoll_aged_submits_total",
              "io_uring batches submitted once their oldest operation had waited 20 us (more than one P).",
              s.agedSubmits);
    p.counter("ringo_netpoll_cqes_total", "io_uring completions reaped.", s.cqes);
    p.gauge("ringo_netpoll_rings", "io_uring instances (one per thread that did I/O).", double(s.rings));
    p.counter("ringo_netpoll_polls_total", "Non-blocking polls that found work.", s.polls);
    p.counter("ringo_netpoll_blocking_polls_total", "Blocking polls.", s.blockingPolls);
    p.counter("ringo_netpoll_sysmon_polls_total", "Polls by sysmon when no thread had polled for 10 ms.",
              s.sysmonPolls);
    p.counter("ringo_netpoll_kicks_total", "Signals sysmon sent a busy ring owner.", s.kicks);
    p.counter("ringo_netpoll_recv_no_bufs_total", "Receives that found the provided buffers used up.",
              s.recvNoBufs);
    p.counter("ringo_netpoll_epoll_waits_total", "epoll_wait calls.", s.epollWaits);
  }
  {
    auto s = ReadRuntimeStats();
    p.gauge("ringo_goroutines", "Goroutines alive.", NumGoroutine());
    p.gauge("ringo_gomaxprocs", "Ps: goroutines running at once.", GOMAXPROCS());
    p.counter("ringo_goroutines_started_total", "Goroutines started.", s.goroutines_started);
    p.gauge("ringo_goroutine_objects", "G objects allocated, each with its stack (dead ones are reused).",
            double(s.gs_allocated));
    p.gauge("ringo_threads", "Ms: OS threads the scheduler started.", double(s.ms));
    p.counter("ringo_steals_total", "Successful steals from another P's run queue.", s.steals);
    p.gauge("ringo_runqueue_global", "Goroutines on the global run queue.", double(s.runq_global));
    p.family("ringo_runqueue_length", "gauge", "Goroutines on a P's local run queue.");
    for (size_t i = 0; i < s.runq.size(); i++) {
      p.sample("ringo_runqueue_length", "{p=\"" + std::to_string(i) + "\"}", s.runq[i]);
    }
    p.gauge("ringo_idle_procs", "Ps without an M.", s.idle_ps);
    p.gauge("ringo_spinning_threads", "Ms looking for work.", s.spinning_ms);
  }
  {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    p.one("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
          sec(ru.ru_utime) + sec(ru.ru_stime));
    p.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", residentBytes());
    p.gauge("process_open_fds", "Number of open file descriptors.", openFds());
  }
  {
    std::map<std::string, std::function<int64_t()>> vars;
    {
      std::lock_guard g(pub().mu);
      vars = pub().vars;
    }
    if (!vars.empty()) {
      p.family("ringo_var", "gauge", "Values published with http::Publish, by name.");
      for (auto& [k, f] : vars) p.sample("ringo_var", "{name=\"" + labelValue(k) + "\"}", double(f()));
    }
  }
  return out;
}

std::shared_ptr<Handler> MetricsHandler() {
  return std::make_shared<HandlerFunc>([](ResponseWriter& w, Request&) {
    w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    (void)w.Write(MetricsText());
  });
}

void Publish(std::string name, std::function<int64_t()> f) {
  std::lock_guard g(pub().mu);
  pub().vars[std::move(name)] = std::move(f);
}

std::shared_ptr<Handler> VarsHandler() {
  return std::make_shared<HandlerFunc>([](ResponseWriter& w, Request&) {
    w.Header().Set("Content-Type", "application/json; charset=utf-8");
    (void)w.Write(VarsJSON());
  });
}

std::shared_ptr<Handler> GoroutinesHandler() {
  return std::make_shared<HandlerFunc>([](ResponseWriter& w, Request&) {
    w.Header().Set("Content-Type", "text/plain; charset=utf-8");
    (void)w.Write(Stack(true));
  });
}

}  // namespace ringo::http
