// https_hello — examples/hello's routes over HTTPS (TLS on OpenSSL 3).
//
//   build/examples/https_hello --addr 127.0.0.1:8443 --cert cert.pem --key key.pem
//   build/examples/https_hello            # a self-signed certificate made at start
//   curl -sk https://127.0.0.1:8443/      # Hello, World! (-k: self-signed)
//
// Flags: --addr HOST:PORT (default 127.0.0.1:8443), --procs N,
// --cert FILE and --key FILE (PEM; both or neither), --write-cert FILE
// (with no --cert: also write the generated certificate there, for a
// client's --cacert). Routes: those of hello (hello_routes.h).
// SIGINT or SIGTERM shuts down gracefully, as hello does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "hello_routes.h"

namespace http = ringo::http;
namespace tls = ringo::tls;

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8443", certFile, keyFile, writeCert;
  ringo::Options opts;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--addr") && i + 1 < argc) {
      addr = argv[++i];
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--cert") && i + 1 < argc) {
      certFile = argv[++i];
    } else if (!std::strcmp(argv[i], "--key") && i + 1 < argc) {
      keyFile = argv[++i];
    } else if (!std::strcmp(argv[i], "--write-cert") && i + 1 < argc) {
      writeCert = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--addr host:port] [--procs n] [--cert file --key file] [--write-cert file]\n",
                   argv[0]);
      return 2;
    }
  }
  if (certFile.empty() != keyFile.empty()) {
    std::fprintf(stderr, "https_hello: give both --cert and --key, or neither\n");
    return 2;
  }
  return ringo::Run(
      [&]() -> int {
        http::ServeMux mux;
        hello::Routes(mux);
        http::ServerOptions o{.addr = addr, .handler = &mux};
        if (certFile.empty()) {
          // No certificate given: a throw-away one for localhost.
          o.tls.Certificates.push_back(tls::GenerateSelfSigned({"localhost", "127.0.0.1", "::1"}));
          if (!writeCert.empty()) std::ofstream(writeCert) << o.tls.Certificates.back().CertPEM;
          std::printf("https_hello: using a self-signed certificate for localhost\n");
        }
        http::Server srv(std::move(o));
        auto [ln, err] = ringo::net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "https_hello: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("https_hello: listening on %s\n", ln.Address().String().c_str());
        std::fflush(stdout);
        // A certificate that does not load fails here, with its reason logged.
        return hello::ServeUntilSignal("https_hello", srv, [&] { return srv.ServeTLS(ln, certFile, keyFile); });
      },
      opts);
}
