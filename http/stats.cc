// stats.cc — the HTTP counters (sharded by thread) and /debug/vars.

#include "ringo/http/stats.h"

#include <atomic>
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

// 16 shards: picked; more than the Ps of machines this runs on, and a
// thread that shares a shard only costs a contended add.
constexpr int kShards = 16;
struct alignas(64) shard {
  std::atomic<int64_t> v[kCounters] = {};
};
shard shards[kShards];
std::atomic<int> nextShard{0};
thread_local int myShard = nextShard.fetch_add(1, std::memory_order_relaxed) % kShards;

}  // namespace

void count(counter c, int64_t delta) noexcept {
  int i;
  {
    mLocal g(&myShard);
    i = myShard;
  }
  // Relaxed: counters order nothing; a reader sums whatever it sees.
  shards[i].v[c].fetch_add(delta, std::memory_order_relaxed);
}

int64_t sum(counter c) noexcept {
  int64_t s = 0;
  for (auto& sh : shards) s += sh.v[c].load(std::memory_order_relaxed);
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
