// reverse_proxy — puts ringo in front of one HTTP service: every request is
// forwarded to the upstream with http::Client, both bodies streamed.
//
//   build/examples/reverse_proxy --upstream http://127.0.0.1:9000 --addr 127.0.0.1:8081 --procs 1
//   curl -s 127.0.0.1:8081/anything     # answered by the upstream
//
// What it does to each request, as Go's httputil.ReverseProxy:
//   - the target is the upstream's scheme and host, with the upstream's path
//     (if any) joined in front of the request's path; the query is kept
//   - headers are copied except the hop-by-hop ones (Connection and the
//     headers it names, Keep-Alive, Proxy-*, TE, Trailer,
//     Transfer-Encoding, Upgrade); X-Forwarded-For gets the client's
//     address appended, X-Forwarded-Host and X-Forwarded-Proto are set
//   - the request body streams to the upstream as it arrives (chunked when
//     its length is unknown); the response body streams back, flushed
//     piece by piece when the upstream did not give its length (events,
//     long polls), buffered by the server otherwise
//   - an upstream that cannot be reached, or fails before its head, gets
//     502 Bad Gateway; one that fails mid-body aborts the response (the
//     client sees the connection close, not a short body passed off as
//     whole)
//   - the client going away cancels the upstream request (its Context)
//
// SIGINT or SIGTERM shuts down gracefully, as examples/hello does.
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace http = ringo::http;

namespace {

bool isHopByHop(std::string_view name) {
  for (std::string_view h : {"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
                             "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"})
    if (http::EqualFold(name, h)) return true;
  return name.size() > 6 && http::EqualFold(name.substr(0, 6), "Proxy-");
}

// namedByConnection: a header the Connection header lists is hop-by-hop too.
bool namedByConnection(const http::Header& h, std::string_view name) {
  for (std::string_view v : h.Values("Connection")) {
    while (!v.empty()) {
      const size_t comma = v.find(',');
      std::string_view tok = v.substr(0, comma);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (http::EqualFold(tok, name)) return true;
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    }
  }
  return false;
}

void copyHeaders(const http::Header& from, http::Header& to) {
  for (const auto& f : from)
    if (!isHopByHop(f.name) && !namedByConnection(from, f.name)) to.Add(f.name, f.value);
}

// joinPath is Go's singleJoiningSlash: "/api" + "/items" -> "/api/items".
std::string joinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b.empty() ? "/" : b);
  const bool as = a.back() == '/', bs = !b.empty() && b.front() == '/';
  if (as && bs) return std::string(a) + std::string(b.substr(1));
  if (!as && !bs) return std::string(a) + "/" + std::string(b);
  return std::string(a) + std::string(b);
}

class proxy final : public http::Handler {
 public:
  proxy(http::URL upstream, http::Client& client) : up_(std::move(upstream)), client_(client) {}

  void ServeHTTP(http::ResponseWriter& w, http::Request& r) override {
    http::ClientRequest out;
    out.Method = r.Method;
    out.URL.Scheme = up_.Scheme;
    out.URL.Host = up_.Host;
    out.URL.Path = joinPath(up_.Path, r.URL.Path);
    if (!up_.RawPath.empty() || !r.URL.RawPath.empty())
      out.URL.RawPath = joinPath(up_.EscapedPath(), r.URL.EscapedPath());
    out.URL.RawQuery = r.URL.RawQuery;
    copyHeaders(r.Header, out.Header);

    std::string client = r.RemoteAddr;
    if (const size_t colon = client.rfind(':'); colon != std::string::npos) client.resize(colon);
    if (client.size() > 2 && client.front() == '[') client = client.substr(1, client.size() - 2);
    std::string xff;
    for (auto v : r.Header.Values("X-Forwarded-For")) {
      xff += v;
      xff += ", ";
    }
    out.Header.Set("X-Forwarded-For", xff + client);
    out.Header.Set("X-Forwarded-Host", r.Host);
    out.Header.Set("X-Forwarded-Proto", "http");

    // The body streams straight from the incoming connection.
    if (r.ContentLength != 0) {
      out.Body = [&r](std::span<char> buf) { return r.Body.Read(buf); };
      out.ContentLength = r.ContentLength;  // -1: chunked in, chunked out
    }
    auto [resp, err] = client_.Do(out.WithContext(r.Context()));
    if (err) {
      std::fprintf(stderr, "reverse_proxy: %s %s: %s\n", r.Method.c_str(), r.RequestURI.c_str(),
                   err.message().c_str());
      return http::Error(w, "Bad Gateway", http::StatusBadGateway);
    }

    copyHeaders(resp.Header, w.Header());
    w.WriteHeader(resp.StatusCode);
    if (r.Method == "HEAD") return;
    const bool stream = resp.ContentLength < 0;  // events and the like: pass each piece on at once
    std::string buf(32 << 10, '\0');
    for (;;) {
      auto [n, rerr] = resp.Body.Read(buf);
      if (n > 0) {
        if (w.Write(std::string_view(buf.data(), n)).err) return;  // the client went away
        if (stream && w.Flush()) return;
      }
      if (rerr == ringo::net::ErrEOF) return;
      if (rerr) {
        std::fprintf(stderr, "reverse_proxy: %s %s: upstream body: %s\n", r.Method.c_str(),
                     r.RequestURI.c_str(), rerr.message().c_str());
        ringo::Goexit();  // abort: the client must not take a cut body for a whole one
      }
    }
  }

 private:
  http::URL up_;
  http::Client& client_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8081", upstream = "http://127.0.0.1:9000";
  ringo::Options opts;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--addr") && i + 1 < argc) {
      addr = argv[++i];
    } else if (!std::strcmp(argv[i], "--upstream") && i + 1 < argc) {
      upstream = argv[++i];
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--upstream http://host:port[/prefix]] [--addr host:port] [--procs n]\n",
                   argv[0]);
      return 2;
    }
  }
  auto [probe, perr] = http::NewRequest("GET", upstream);
  if (perr) {
    std::fprintf(stderr, "reverse_proxy: --upstream %s: %s\n", upstream.c_str(), perr.message().c_str());
    return 2;
  }
  return ringo::Run(
      [&]() -> int {
        // No overall timeout: a streamed response may last; the incoming
        // request's Context ends the upstream one when the client leaves.
        http::Client client({.timeout = std::chrono::nanoseconds::zero(),
                             .dial_timeout = std::chrono::seconds(10),
                             .response_header_timeout = std::chrono::seconds(60),
                             .max_idle_conns = 1024,
                             .max_idle_conns_per_host = 1024});
        proxy p(probe.URL, client);
        http::Server srv({.addr = addr, .handler = &p});
        auto [ln, err] = ringo::net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "reverse_proxy: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("reverse_proxy: listening on %s, upstream %s\n", ln.Address().String().c_str(),
                    upstream.c_str());
        std::fflush(stdout);

        ringo::Chan<int> sigs(1);
        ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
        ringo::Chan<std::error_code> stopped(1);
        ringo::Go([&] {
          auto [sig, ok] = sigs.Recv();
          std::printf("reverse_proxy: %s, shutting down\n", strsignal(sig));
          std::fflush(stdout);
          stopped.Send(srv.Shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
        });
        if (auto err = srv.Serve(ln); err != http::ErrServerClosed) {
          std::fprintf(stderr, "reverse_proxy: serve: %s\n", err.message().c_str());
          return 1;
        }
        auto [serr, ok] = stopped.Recv();
        ringo::signal::Stop(sigs);
        std::printf("reverse_proxy: bye%s\n", serr ? " (shutdown deadline passed)" : "");
        return 0;
      },
      opts);
}
