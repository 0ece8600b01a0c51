// echo — a TCP echo server: one goroutine per connection, shut down cleanly
// on SIGINT or SIGTERM.
//
//   build/examples/echo --addr 127.0.0.1:7000 --procs 2
//   printf 'hello\n' | nc -q1 127.0.0.1 7000
//
// On a signal it stops accepting, closes every open connection (their
// goroutines' parked Reads return ErrClosed), waits for them, and exits 0.
#include <ringo/ringo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace net = ringo::net;

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:7000";
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
        auto [ln, err] = net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "echo: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("echo: listening on %s\n", ln.Address().String().c_str());
        std::fflush(stdout);

        // The open connections, so shutdown can close them.
        ringo::Mutex mu;
        std::map<int, net::Conn> open;
        int next = 0;
        ringo::WaitGroup conns;

        ringo::Chan<int> sigs(1);
        ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
        ringo::Go([&, ln]() mutable {
          auto [sig, ok] = sigs.Recv();
          std::printf("echo: %s, shutting down\n", strsignal(sig));
          ln.Close();  // the accept loop's Accept returns ErrClosed
          std::lock_guard g(mu);
          for (auto& [id, c] : open) c.Close();
        });

        for (;;) {
          auto [c, err] = ln.Accept();
          if (err == net::ErrClosed) break;
          if (err) {  // EMFILE and the like: back off briefly, as Go's server does
            std::fprintf(stderr, "echo: accept: %s\n", err.message().c_str());
            ringo::Sleep(std::chrono::milliseconds(5));
            continue;
          }
          int id;
          {
            std::lock_guard g(mu);
            id = next++;
            open.emplace(id, c);
          }
          conns.Add(1);
          ringo::Go([&, c = std::move(c), id]() mutable {
            RINGO_DEFER({
              std::lock_guard g(mu);
              open.erase(id);
              conns.Done();
            });
            char buf[16 << 10];
            for (;;) {
              auto [n, err] = c.Read(buf);
              if (err) return;  // EOF, reset, or closed by shutdown
              if (c.Write({buf, n}).err) return;
            }
          });
        }
        conns.Wait();
        std::puts("echo: bye");
        return 0;
      },
      opts);
}
