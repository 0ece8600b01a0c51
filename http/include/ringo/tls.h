// tls.h — TLS on goroutines, over OpenSSL 3: Go's crypto/tls, in its shape.
//
//   tls::Config cfg;
//   auto [cert, err] = tls::LoadX509KeyPair("cert.pem", "key.pem");
//   cfg.Certificates.push_back(cert);
//   ...
//   auto [c, err] = ln.Accept();
//   tls::Conn tc = tls::Server(std::move(c), cfg);
//   if (auto err = tc.Handshake()) { ... }        // or let the first Read do it
//   auto [n, err] = tc.Read(buf);
//
//   auto [tc, err] = tls::Dial("tcp", "example.com:443", cfg);   // verified
//
// OpenSSL never sees the socket. Its records go through an in-memory BIO
// that the Conn fills from net::Conn::Recv and empties with net::Conn::Write,
// so every wait parks the goroutine (on the netpoller) between two SSL_*
// calls, never inside one: OpenSSL keeps per-thread state (the error queue,
// per-thread random generators), and a goroutine may resume on another M.
// Each call clears the error queue before it and reads it right after.
//
// Errors are std::error_codes: ErrorCategory() ("ringo.tls") carries
// OpenSSL's reason (its message is OpenSSL's text), VerifyCategory()
// ("ringo.tls.verify") a certificate verification result
// ("certificate has expired", "hostname mismatch", ...).
// kTLS is not used: this kernel offers no "tls" upper-layer protocol.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ringo/net.h"

namespace ringo::tls {

using namespace std::chrono_literals;

// ---- errors ---------------------------------------------------------------

// ErrorCategory: an OpenSSL error, packed as OpenSSL 3's ERR_PACK(lib, 0,
// reason); message() is OpenSSL's "lib: reason" text.
const std::error_category& ErrorCategory() noexcept;
// VerifyCategory: X509_V_ERR_* from certificate verification.
const std::error_category& VerifyCategory() noexcept;

enum class Errc {
  handshakeTimeout = 1,  // the handshake did not finish in Config::HandshakeTimeout
  notTLS,                // the peer does not speak TLS (a first record that is not a handshake)
  httpToHTTPS,           // the peer sent a plain HTTP request to a TLS port
  noCertificate,         // a server Config without Certificates
  badPEM,                // a certificate or key that does not parse
  keyMismatch,           // a private key that does not belong to its certificate
  protocolVersion,       // the peer offered no version in [MinVersion, MaxVersion]
  noServerName,          // a client with no name to verify and verification on
  unexpectedEOF,         // the connection ended inside a record (a FIN at a record boundary is net::ErrEOF)
};
const std::error_category& RingoCategory() noexcept;  // "ringo.tls.config" for Errc
inline std::error_code make_error_code(Errc e) noexcept { return {int(e), RingoCategory()}; }

// ---- configuration ----------------------------------------------------------

// Protocol versions, as on the wire (Go's tls.VersionTLS12, ...).
inline constexpr uint16_t VersionTLS10 = 0x0301;
inline constexpr uint16_t VersionTLS11 = 0x0302;
inline constexpr uint16_t VersionTLS12 = 0x0303;
inline constexpr uint16_t VersionTLS13 = 0x0304;

// Certificate is a chain (leaf first, then the intermediates) and its
// private key, both PEM.
struct Certificate {
  std::string CertPEM;
  std::string KeyPEM;
};

// LoadX509KeyPair reads a PEM chain and its key from files and checks that
// they parse and belong together. On failure, *detail (if given) gets a
// sentence naming the file and the reason.
net::Result<Certificate> LoadX509KeyPair(std::string_view certFile, std::string_view keyFile,
                                         std::string* detail = nullptr);
// X509KeyPair is LoadX509KeyPair on PEM text.
net::Result<Certificate> X509KeyPair(std::string certPEM, std::string keyPEM, std::string* detail = nullptr);

// GenerateSelfSigned makes a throw-away certificate for hosts (DNS names or
// IP addresses; the first is the subject), valid for `validFor` from now,
// with an ECDSA P-256 key: for examples and tests, as Go's
// generate_cert.go. With a `signer`, the certificate is signed by it (a CA
// made with isCA = true) instead of by itself.
Certificate GenerateSelfSigned(const std::vector<std::string>& hosts,
                               std::chrono::seconds validFor = std::chrono::hours(24 * 365),
                               bool isCA = false, const Certificate* signer = nullptr);

namespace detail {
struct context;   // the OpenSSL SSL_CTXs a Config compiles into (tls.cc)
struct compiled;  // a Config's compiled context, made once (tls.cc)
struct lru;       // a ClientSessionCache's entries (tls.cc)
// SetTicketKeyClock replaces the clock (monotonic ns) that session ticket
// key rotation reads, null restoring the real one: for tests of the
// rotation, which otherwise take days.
void SetTicketKeyClock(int64_t (*now)()) noexcept;
}

// ClientSessionCache keeps the sessions servers hand a client (TLS 1.3
// tickets, TLS 1.2 tickets), so that the client's next connection to the
// same server resumes one instead of running a full handshake: no
// certificate to send or verify, and on TLS 1.2 a round trip fewer (Go's
// tls.ClientSessionCache; as in Go, a client has none unless it is given
// one). Sessions are filed by server name (SNI, else the address dialled),
// and by Config: a session is only offered by connections made with the
// Config whose handshake verified it (that Config, or a move of it, not a
// copy), so a cache shared by Configs that trust different CAs never
// resumes past a check. Safe to share between goroutines.
class ClientSessionCache {
 public:
  ~ClientSessionCache();
  ClientSessionCache(const ClientSessionCache&) = delete;
  ClientSessionCache& operator=(const ClientSessionCache&) = delete;
  // Len is the number of sessions held.
  size_t Len() const;

 private:
  friend std::shared_ptr<ClientSessionCache> NewLRUClientSessionCache(int);
  explicit ClientSessionCache(size_t capacity);
  std::unique_ptr<detail::lru> l_;
  friend struct detail::lru;
};

// NewLRUClientSessionCache makes a cache of at most capacity sessions (one
// per server: the newest ticket), dropping the least recently used past it.
// capacity < 1: 64, as Go's.
std::shared_ptr<ClientSessionCache> NewLRUClientSessionCache(int capacity = 0);

// Config configures servers and clients (Go's tls.Config). It is compiled
// into OpenSSL contexts at its first use; it must not be changed after that
// (copy it to change it: a copy compiles anew).
struct Config {
  // Server: the first certificate is the default; a ClientHello's SNI name
  // picks the first certificate whose names (SANs, wildcards too) match it.
  std::vector<Certificate> Certificates;
  // Both sides.
  uint16_t MinVersion = VersionTLS12;
  uint16_t MaxVersion = 0;                              // 0: the newest (1.3, preferred)
  std::vector<std::string> NextProtos = {"http/1.1"};   // ALPN, in preference order
  std::string CipherList;                               // TLS 1.2 ciphers, OpenSSL syntax ("": OpenSSL's default)
  bool SessionTicketsDisabled = false;                  // no resumption: no tickets (server), none used (client)
  // Server: the keys session tickets are sealed with (Go's
  // SetSessionTicketKeys): the first seals new tickets, every one opens
  // them (a ticket sealed with another is renewed with the first). Servers
  // given the same keys resume each other's sessions: several processes
  // behind one balancer. Empty: random keys rotated as Go's, a new one
  // every 24 hours, each opening tickets for 7 days, so a stolen key
  // exposes a week of sessions at most (OpenSSL's default is one key for
  // the life of the process).
  std::vector<std::array<uint8_t, 32>> SessionTicketKeys;
  std::chrono::nanoseconds HandshakeTimeout = 10s;      // 0: none
  // Server: handshakes in progress at once; a connection past it waits
  // (its HandshakeTimeout running) for one to finish. 0: 1024.
  int MaxHandshakes = 0;
  // Client.
  std::string ServerName;          // SNI and the name verified ("": the dialled host)
  std::string RootCAFile;          // PEM file of trusted CAs ("": the system's store)
  std::string RootCAPEM;           // or trusted CAs as PEM text
  bool InsecureSkipVerify = false; // no verification at all (tests only)
  // Sessions to resume (null: every connection runs a full handshake).
  std::shared_ptr<tls::ClientSessionCache> ClientSessionCache;

  Config();
  Config(const Config& o);
  Config& operator=(const Config& o);
  Config(Config&&) noexcept = default;
  Config& operator=(Config&&) noexcept = default;
  ~Config();

  // Build compiles the Config for a server (isServer) or a client now, so
  // a bad certificate or CA file is reported at start; Server and Client
  // call it. On failure, *detail gets a sentence.
  std::error_code Build(bool isServer, std::string* detail = nullptr) const;

 private:
  friend std::shared_ptr<detail::context> compile(const Config&, bool, std::error_code*, std::string*);
  std::shared_ptr<detail::compiled> compiled_;  // shared by moves, not by copies
};

// ---- connections ----------------------------------------------------------

// ConnectionState is what a handshake agreed on.
struct ConnectionState {
  bool HandshakeComplete = false;
  uint16_t Version = 0;              // VersionTLS12, VersionTLS13
  std::string CipherSuite;           // OpenSSL's name
  std::string NegotiatedProtocol;    // ALPN ("" if none)
  std::string ServerName;            // SNI the client sent
  bool DidResume = false;            // resumed a session (ticket)
};

namespace detail {
struct conn;  // the SSL object, its BIO and the net::Conn (tls.cc)
}

// Conn is a TLS connection over a net::Conn; its methods are net::Conn's.
// Copies are handles to one connection, which closes with its last handle
// (or Close). One goroutine may read while another writes; two readers (or
// two writers) at once are not allowed. Close may be called from anywhere.
class Conn {
 public:
  Conn() = default;  // no connection: every call returns net::ErrClosed
  explicit operator bool() const noexcept { return c_ != nullptr; }

  // Handshake runs the handshake now (Read and Write run it on first use),
  // within Config::HandshakeTimeout (and the deadlines set).
  std::error_code Handshake();
  // Read parks until plaintext arrives: its bytes, or ErrEOF after the
  // peer's close_notify (or FIN), or an error.
  net::IOResult Read(std::span<char> buf);
  // Recv returns a view of the next plaintext, valid until the next Recv
  // or Read (no copy into a caller's buffer).
  net::Result<std::string_view> Recv();
  net::IOResult Write(std::string_view buf);
  // WriteLast is Write followed by CloseWrite, in one step: the records,
  // close_notify and the FIN leave together (net::Conn::WriteLast).
  net::IOResult WriteLast(std::string_view buf);
  // Close sends close_notify if it can without waiting, then closes.
  std::error_code Close();
  std::error_code CloseWrite();  // close_notify, then FIN
  std::error_code SetDeadline(net::Deadline t);
  std::error_code SetReadDeadline(net::Deadline t);
  std::error_code SetWriteDeadline(net::Deadline t);
  net::Addr LocalAddr() const;
  net::Addr RemoteAddr() const;
  ConnectionState State() const;
  // NetConn is the underlying connection.
  net::Conn& NetConn() noexcept;

 private:
  friend Conn Server(net::Conn, const Config&);
  friend Conn Client(net::Conn, const Config&);
  friend Conn Client(net::Conn, const Config&, std::string_view);
  friend struct detail::conn;
  explicit Conn(std::shared_ptr<detail::conn> c) noexcept : c_(std::move(c)) {}
  net::IOResult write(std::string_view buf, bool last);
  std::shared_ptr<detail::conn> c_;
};

// Server wraps an accepted connection; Client a dialled one (set
// Config::ServerName, or use Dial, which takes it from the address). A
// Config that does not build gives a Conn whose Handshake returns why.
Conn Server(net::Conn c, const Config& cfg);
Conn Client(net::Conn c, const Config& cfg);
// Client for serverName (SNI and the name verified) when cfg.ServerName is
// empty: one Config (one OpenSSL context) serves many hosts.
Conn Client(net::Conn c, const Config& cfg, std::string_view serverName);

// Dial connects and runs the handshake, verifying the server's certificate
// for the host in address (unless Config::ServerName says otherwise).
// timeout bounds the dial and the handshake together (0: HandshakeTimeout
// for the handshake only).
net::Result<Conn> Dial(std::string_view network, std::string_view address, const Config& cfg,
                       std::chrono::nanoseconds timeout = {});

}  // namespace ringo::tls

template <>
struct std::is_error_code_enum<ringo::tls::Errc> : std::true_type {};
