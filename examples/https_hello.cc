// https_hello — examples/hello's routes over HTTPS (TLS on OpenSSL 3).
//
//   build/examples/https_hello --addr 127.0.0.1:8443 --cert cert.pem --key key.pem
//   build/examples/https_hello            # a self-signed certificate made at start
//   curl -sk https://127.0.0.1:8443/      # Hello, World! (-k: self-signed)
//
// Flags: hello's (--addr HOST:PORT, default 127.0.0.1:8443; --procs N;
// --drain SECONDS; --reuseport), and --cert FILE and --key FILE (PEM; both
// or neither), --write-cert FILE (with no --cert: also write the generated
// certificate there, for a client's --cacert). Routes: hello's
// (hello_routes.h). SIGTERM drains, then both it and SIGINT shut down
// gracefully, as hello does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "hello_routes.h"

namespace http = ringo::http;
namespace tls = ringo::tls;

int main(int argc, char** argv) {
  hello::Flags f{.addr = "127.0.0.1:8443", .opts = {}, .drain = std::chrono::seconds(5)};
  std::string certFile, keyFile, writeCert;
  bool bad = false;
  for (int i = 1; i < argc && !bad; i++) {
    if (f.parse(argc, argv, i, bad)) continue;
    if (!std::strcmp(argv[i], "--cert") && i + 1 < argc) {
      certFile = argv[++i];
    } else if (!std::strcmp(argv[i], "--key") && i + 1 < argc) {
      keyFile = argv[++i];
    } else if (!std::strcmp(argv[i], "--write-cert") && i + 1 < argc) {
      writeCert = argv[++i];
    } else {
      bad = true;
    }
  }
  if (bad) {
    std::fprintf(stderr, "usage: %s %s [--cert file --key file] [--write-cert file]\n", argv[0], hello::Flags::usage);
    return 2;
  }
  if (certFile.empty() != keyFile.empty()) {
    std::fprintf(stderr, "https_hello: give both --cert and --key, or neither\n");
    return 2;
  }
  return ringo::Run(
      [&]() -> int {
        http::ServeMux mux;
        http::ServerOptions o{.addr = f.addr, .handler = &mux};
        if (certFile.empty()) {
          // No certificate given: a throw-away one for localhost.
          o.tls.Certificates.push_back(tls::GenerateSelfSigned({"localhost", "127.0.0.1", "::1"}));
          if (!writeCert.empty()) std::ofstream(writeCert) << o.tls.Certificates.back().CertPEM;
          std::printf("https_hello: using a self-signed certificate for localhost\n");
        }
        http::Server srv(std::move(o));
        hello::Routes(mux);
        hello::Probes(mux, srv);
        auto ln = f.listen("https_hello");
        if (!ln) return 1;
        // A certificate that does not load fails here, with its reason logged.
        return hello::ServeUntilSignal("https_hello", srv, f.drain,
                                       [&] { return srv.ServeTLS(ln, certFile, keyFile); });
      },
      f.opts);
}
