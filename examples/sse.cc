// sse — server-sent events fed by a channel: every message POSTed to
// /publish goes to every client streaming /events, until that client goes
// away (its request Context ends) or the server shuts down.
//
//   build/examples/sse --addr 127.0.0.1:8082
//   curl -N 127.0.0.1:8082/events &          # data: hello
//   curl -d hello 127.0.0.1:8082/publish
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace http = ringo::http;

namespace {

// hub fans messages out to subscribers, each a buffered channel. A slow
// subscriber whose buffer is full misses messages rather than stalling the
// others (TrySend).
class hub {
 public:
  std::pair<int, ringo::Chan<std::string>> subscribe() {
    std::lock_guard g(mu_);
    ringo::Chan<std::string> ch(16);
    subs_.emplace(++next_, ch);
    return {next_, ch};
  }
  void unsubscribe(int id) {
    std::lock_guard g(mu_);
    subs_.erase(id);
  }
  int publish(const std::string& msg) {
    std::lock_guard g(mu_);
    int n = 0;
    for (auto& [id, ch] : subs_) n += ch.TrySend(msg) ? 1 : 0;
    return n;
  }
  // closeAll ends every stream (shutdown).
  void closeAll() {
    std::lock_guard g(mu_);
    for (auto& [id, ch] : subs_) ch.Close();
    subs_.clear();
  }

 private:
  ringo::Mutex mu_;
  std::map<int, ringo::Chan<std::string>> subs_;
  int next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8082";
  ringo::Options opts;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--addr") && i + 1 < argc) {
      addr = argv[++i];
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--addr host:port] [--procs n]\n", argv[0]);
      return 2;
    }
  }
  return ringo::Run(
      [&]() -> int {
        hub h;
        http::ServeMux mux;
        mux.HandleFunc("GET /events", [&](http::ResponseWriter& w, http::Request& r) {
          auto ctx = r.Context();  // ends when the client goes away
          auto [id, ch] = h.subscribe();
          auto leave = ringo::Defer([&, id = id] { h.unsubscribe(id); });
          w.Header().Set("Content-Type", "text/event-stream");
          w.Header().Set("Cache-Control", "no-cache");
          w.Write(": subscribed\n\n");
          if (w.Flush()) return;
          for (;;) {
            std::string msg;
            bool open = true, gone = false;
            ringo::Select(ringo::Recv(ch, [&](std::string m, bool ok) { msg = std::move(m), open = ok; }),
                          ringo::Recv(ctx.Done(), [&] { gone = true; }));
            if (gone || !open) return;
            w.Write("data: " + msg + "\n\n");
            if (w.Flush()) return;  // the client is gone
          }
        });
        mux.HandleFunc("POST /publish", [&](http::ResponseWriter& w, http::Request& r) {
          http::MaxBytesReader(w, r, 4096);
          auto [msg, err] = r.Body.ReadAll();
          if (err) return http::Error(w, err.message(), 400);
          if (msg.find_first_of("\r\n") != std::string::npos) return http::Error(w, "one line, please", 400);
          w.Write("delivered to " + std::to_string(h.publish(msg)) + "\n");
        });

        auto [ln, err] = ringo::net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "sse: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("sse: listening on %s\n", ln.Address().String().c_str());
        std::fflush(stdout);
        http::Server srv({.handler = &mux});
        srv.RegisterOnShutdown([&] { h.closeAll(); });  // streams end, so Shutdown need not wait for them
        ringo::Chan<int> sigs(1);
        ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
        ringo::Chan<std::error_code> stopped(1);
        ringo::Go([&] {
          sigs.Recv();
          stopped.Send(srv.Shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(5)));
        });
        if (auto serr = srv.Serve(ln); serr != http::ErrServerClosed) return 1;
        // Serve returns as soon as Shutdown starts; the requests in flight
        // finish before Shutdown does. Returning from here earlier would end
        // the program under them (as returning from Go's main would).
        auto [serr, ok] = stopped.Recv();
        ringo::signal::Stop(sigs);
        return serr ? 1 : 0;
      },
      opts);
}
