// client_bench — drives http::Client for bench_client.sh: `conns`
// goroutines share one Client and send GETs back to back (each reads its
// body to the end, so its connection goes back to the pool) until
// `requests` have been answered in all. goclient/main.go is its Go twin.
//
//   build/loadtest/client_bench --url http://127.0.0.1:27480/ --conns 64 --requests 200000 --procs 1
//   requests=200000 errors=0 seconds=3.512 rps=56947 dials=64
//
// The pool keeps up to `conns` idle connections to the host, so after the
// first round every request rides a kept-alive connection (dials says how
// many were made). A warm-up of one request per goroutine is not counted.
// For HTTPS: --cacert F trusts F's certificates (https_hello --write-cert
// F); --new-conns dials (and shakes hands) for every request;
// --session-cache gives the client a tls::ClientSessionCache, so those
// handshakes resume:
//
//   build/loadtest/client_bench --url https://localhost:8443/ --cacert /tmp/c.pem --new-conns --session-cache
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace http = ringo::http;

int main(int argc, char** argv) {
  std::string url = "http://127.0.0.1:8080/";
  int conns = 64;
  int64_t requests = 100000;
  ringo::Options opts;
  http::ClientOptions copts;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--url") && i + 1 < argc) {
      url = argv[++i];
    } else if (!std::strcmp(argv[i], "--conns") && i + 1 < argc) {
      conns = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--requests") && i + 1 < argc) {
      requests = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--cacert") && i + 1 < argc) {
      copts.tls.RootCAFile = argv[++i];
    } else if (!std::strcmp(argv[i], "--new-conns")) {
      copts.disable_keep_alives = true;
    } else if (!std::strcmp(argv[i], "--session-cache")) {
      copts.tls.ClientSessionCache = ringo::tls::NewLRUClientSessionCache();
    } else {
      std::fprintf(stderr,
                   "usage: %s [--url U] [--conns N] [--requests N] [--procs N] [--cacert F] [--new-conns] "
                   "[--session-cache]\n",
                   argv[0]);
      return 2;
    }
  }
  if (conns <= 0 || requests <= 0) return 2;
  return ringo::Run(
      [&]() -> int {
        copts.max_idle_conns = conns;
        copts.max_idle_conns_per_host = conns;
        http::Client client(std::move(copts));
        std::atomic<int64_t> left{requests}, errors{0};
        auto one = [&]() -> bool {
          auto [resp, err] = client.Get(url);
          if (err) return false;
          char buf[4096];
          for (;;) {
            auto [n, rerr] = resp.Body.Read(buf);
            if (rerr == ringo::net::ErrEOF) break;
            if (rerr) return false;
          }
          return resp.StatusCode == 200;
        };
        // Warm-up: every goroutine's connection is dialled before the clock starts.
        {
          ringo::WaitGroup wg;
          for (int g = 0; g < conns; g++) {
            wg.Add(1);
            ringo::Go([&] {
              if (!one()) errors++;
              wg.Done();
            });
          }
          wg.Wait();
        }
        const auto t0 = std::chrono::steady_clock::now();
        ringo::WaitGroup wg;
        for (int g = 0; g < conns; g++) {
          wg.Add(1);
          ringo::Go([&] {
            while (left.fetch_sub(1, std::memory_order_relaxed) > 0)
              if (!one()) errors++;
            wg.Done();
          });
        }
        wg.Wait();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("requests=%lld errors=%lld seconds=%.3f rps=%.0f dials=%lld\n", (long long)requests,
                    (long long)errors.load(), secs, double(requests) / secs, (long long)client.Dials());
        return errors.load() == 0 ? 0 : 1;
      },
      opts);
}
