// tls.cc — TLS over OpenSSL 3, on goroutines.
//
// OpenSSL never touches the socket. Each SSL object talks to a BIO of ours
// that lives in memory:
//
//   read   hands OpenSSL the ciphertext the connection received last (the
//          poller's receive buffer, in place: no copy), or says "retry"
//          when it is used up;
//   write  appends the records OpenSSL makes to the connection's output.
//
// So no SSL_* call ever waits: it either finishes, or returns WANT_READ
// because it needs more ciphertext. Waiting happens between two calls, in
// net::Conn::Recv and Write, which park the goroutine on the netpoller. That
// is the rule OpenSSL needs here: it keeps per-thread state (the error
// queue, the per-thread random generators), and a goroutine that parked
// may resume on another M. Every call is bracketed: the error queue is
// cleared before it and read (and cleared) right after, on the same thread,
// with nothing that can park in between. (A BIO_s_mem pair would do the
// same with a copy each way and a buffer kept for the connection's life;
// ours lends OpenSSL the receive buffer and keeps nothing when idle, with
// SSL_MODE_RELEASE_BUFFERS letting OpenSSL drop its own.)
//
// Who owns what, in a conn:
//   - mu (a runtime lock, never held across a park) guards the SSL object,
//     the input the BIO reads (in) and the output it writes (out). One
//     goroutine may read while another writes (the HTTP server's background
//     read runs while a handler writes), so every SSL_* call holds mu.
//   - wmu (a ringo::Mutex, held across the park in Write) orders what goes
//     to the socket: whoever sends takes wmu, then swaps `out` away under
//     mu, then writes it. Records leave in the order OpenSSL made them,
//     whichever goroutine made them (a read can make records too: alerts,
//     TLS 1.3 key updates).
//   - raw (the receive buffer `in` points into) belongs to the reader; the
//     reader refills it only when `in` is empty, under mu.
//   - hsmu (a ringo::Mutex) makes the handshake run once, by whichever of
//     Read, Write or Handshake comes first.
//
// The server side also: looks at the first bytes before OpenSSL does, to
// answer plain HTTP sent to a TLS port with Go's 400; bounds the handshakes
// in progress (MaxHandshakes, a channel of slots); picks a certificate by
// SNI (a servername callback switching the SSL to that certificate's
// context); selects ALPN; issues session tickets (one per handshake, as Go).

#include "ringo/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "../runtime/lock.h"
#include "ringo/chan.h"
#include "ringo/sync.h"
#include "ringo/time.h"

// Under ThreadSanitizer: OpenSSL is not instrumented. Its reference counts
// are atomics TSan cannot see, and its per-thread state is shared in turn by
// the goroutines of one M, which TSan takes for threads; both read as races
// in the memcpy and malloc calls it makes. Those calls are left out; ours,
// including the BIO callbacks OpenSSL makes into this file, are checked.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libcrypto.so.3\ncalled_from_lib:libssl.so.3\n";
}
#endif

namespace ringo::tls {

// ---- errors -----------------------------------------------------------------

namespace {

class opensslCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.tls"; }
  std::string message(int c) const override {
    unsigned long e = ERR_PACK(unsigned(c) >> 23, 0, unsigned(c) & 0x7fffff);
    const char* lib = ERR_lib_error_string(e);
    const char* reason = ERR_reason_error_string(e);
    std::string m = "tls: ";
    if (lib) m += std::string(lib) + ": ";
    if (reason) {
      m += reason;
    } else {
      char buf[128];
      ERR_error_string_n(e, buf, sizeof buf);
      m += buf;
    }
    return m;
  }
};

class verifyCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.tls.verify"; }
  std::string message(int c) const override {
    return std::string("tls: failed to verify certificate: ") + X509_verify_cert_error_string(c);
  }
};

class ringoCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.tls.config"; }
  std::string message(int c) const override {
    switch (Errc(c)) {
      case Errc::handshakeTimeout: return "tls: handshake timeout";
      case Errc::notTLS: return "tls: first record does not look like a TLS handshake";
      case Errc::httpToHTTPS: return "tls: client sent an HTTP request to an HTTPS server";
      case Errc::noCertificate: return "tls: no certificates configured";
      case Errc::badPEM: return "tls: failed to parse certificate or key PEM data";
      case Errc::keyMismatch: return "tls: private key does not match public key";
      case Errc::protocolVersion: return "tls: no protocol version in common";
      case Errc::noServerName: return "tls: either ServerName or InsecureSkipVerify must be specified in the tls.Config";
      case Errc::unexpectedEOF: return "tls: unexpected EOF: the connection ended inside a record";
    }
    return "tls: unknown error";
  }
};

// clearErrors empties this thread's OpenSSL error queue. Nearly always it
// is empty already (every call's errors are taken right after it), and
// looking is cheaper than ERR_clear_error's sweep of all 16 slots (3.5% of
// the server's time at 256 HTTPS keep-alive connections).
void clearErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// takeError returns the first error on this thread's OpenSSL queue (the
// cause; later ones are context) and clears the queue.
std::error_code takeError() {
  unsigned long e = ERR_get_error();
  clearErrors();
  if (e == 0) return {};
  if (ERR_SYSTEM_ERROR(e)) return {int(ERR_GET_REASON(e)), std::generic_category()};
  int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
  if (lib == ERR_LIB_SSL && (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
                             reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_VERSION_TOO_LOW ||
                             reason == SSL_R_NO_PROTOCOLS_AVAILABLE))
    return make_error_code(Errc::protocolVersion);
  return {int((unsigned(lib) << 23) | unsigned(reason)), ErrorCategory()};
}

std::error_code lastErrorOr(std::error_code fallback) {
  auto e = takeError();
  return e ? e : fallback;
}

template <class T, void (*Free)(T*)>
struct freer {
  void operator()(T* p) const noexcept { Free(p); }
};
using bioPtr = std::unique_ptr<BIO, freer<BIO, BIO_free_all>>;
using x509Ptr = std::unique_ptr<X509, freer<X509, X509_free>>;
using pkeyPtr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY, EVP_PKEY_free>>;

std::string readFile(std::string_view path, std::error_code& err) {
  std::ifstream f{std::string(path), std::ios::binary};
  if (!f) {
    err = {errno ? errno : ENOENT, std::generic_category()};
    return {};
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// parsedPair is a Certificate in OpenSSL's objects.
struct parsedPair {
  x509Ptr leaf;
  std::vector<x509Ptr> chain;
  pkeyPtr key;
};

std::error_code parsePair(const Certificate& c, parsedPair& p, std::string* detail) {
  ERR_clear_error();
  bioPtr cb(BIO_new_mem_buf(c.CertPEM.data(), int(c.CertPEM.size())));
  p.leaf.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!p.leaf) {
    ERR_clear_error();
    if (detail) *detail = "no certificate in the PEM data";
    return make_error_code(Errc::badPEM);
  }
  while (X509* x = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) p.chain.emplace_back(x);
  ERR_clear_error();  // the end of the PEM data reads as an error
  bioPtr kb(BIO_new_mem_buf(c.KeyPEM.data(), int(c.KeyPEM.size())));
  // No passphrase callback would make OpenSSL ask for one on the terminal.
  p.key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr));
  ERR_clear_error();
  if (!p.key) {
    if (detail)
      *detail = c.KeyPEM.find("ENCRYPTED") != std::string::npos
                    ? "the private key is encrypted (passphrases are not supported: decrypt it first)"
                    : "no private key in the PEM data";
    return make_error_code(Errc::badPEM);
  }
  if (X509_check_private_key(p.leaf.get(), p.key.get()) != 1) {
    ERR_clear_error();
    if (detail) *detail = "the private key does not belong to the certificate";
    return make_error_code(Errc::keyMismatch);
  }
  return {};
}

bool isIP(std::string_view host) {
  std::string h(host);
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

}  // namespace

const std::error_category& ErrorCategory() noexcept {
  static const opensslCategory c;
  return c;
}
const std::error_category& VerifyCategory() noexcept {
  static const verifyCategory c;
  return c;
}
const std::error_category& RingoCategory() noexcept {
  static const ringoCategory c;
  return c;
}

// ---- certificates -------------------------------------------------------------

net::Result<Certificate> X509KeyPair(std::string certPEM, std::string keyPEM, std::string* detail) {
  Certificate c{std::move(certPEM), std::move(keyPEM)};
  parsedPair p;
  if (auto err = parsePair(c, p, detail)) return {{}, err};
  return {std::move(c), {}};
}

net::Result<Certificate> LoadX509KeyPair(std::string_view certFile, std::string_view keyFile, std::string* detail) {
  std::error_code err;
  std::string cert = readFile(certFile, err);
  if (err) {
    if (detail) *detail = "open " + std::string(certFile) + ": " + err.message();
    return {{}, err};
  }
  std::string key = readFile(keyFile, err);
  if (err) {
    if (detail) *detail = "open " + std::string(keyFile) + ": " + err.message();
    return {{}, err};
  }
  std::string why;
  auto r = X509KeyPair(std::move(cert), std::move(key), &why);
  if (r.err && detail) *detail = std::string(certFile) + ", " + std::string(keyFile) + ": " + why;
  return r;
}

namespace {

std::string toPEM(X509* x) {
  bioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(b.get(), x);
  char* p = nullptr;
  long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, size_t(n));
}

std::string toPEM(EVP_PKEY* k) {
  bioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, size_t(n));
}

void addExt(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
  if (X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str())) {
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
}

[[noreturn]] void generateFailed(const char* what) {
  std::fprintf(stderr, "fatal error: tls.GenerateSelfSigned: %s\n", what);
  std::abort();
}

}  // namespace

Certificate GenerateSelfSigned(const std::vector<std::string>& hosts, std::chrono::seconds validFor, bool isCA,
                               const Certificate* signer) {
  ERR_clear_error();
  pkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) generateFailed("EVP_EC_gen");
  parsedPair sp;
  if (signer && parsePair(*signer, sp, nullptr)) generateFailed("the signer does not parse");
  x509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), long(validFor.count()));
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ringo"), -1, -1, 0);
  std::string cn = hosts.empty() ? std::string("ringo") : hosts[0];
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer = signer ? sp.leaf.get() : x.get();
  X509_set_issuer_name(x.get(), X509_get_subject_name(issuer));
  addExt(x.get(), issuer, NID_basic_constraints, isCA ? "critical,CA:TRUE" : "critical,CA:FALSE");
  addExt(x.get(), issuer, NID_key_usage,
         isCA ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature,keyEncipherment");
  if (!isCA) addExt(x.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
  addExt(x.get(), issuer, NID_subject_key_identifier, "hash");
  if (signer) addExt(x.get(), issuer, NID_authority_key_identifier, "keyid:always");
  std::string san;
  for (auto& h : hosts) {
    if (!san.empty()) san += ",";
    san += (isIP(h) ? "IP:" : "DNS:") + h;
  }
  if (!san.empty()) addExt(x.get(), issuer, NID_subject_alt_name, san);
  if (X509_sign(x.get(), signer ? sp.key.get() : key.get(), EVP_sha256()) == 0) generateFailed("X509_sign");
  ERR_clear_error();
  return {toPEM(x.get()), toPEM(key.get())};
}

// ---- Config: compiled into SSL_CTXs ---------------------------------------------

namespace detail {

// context is a Config compiled: one SSL_CTX per certificate on a server
// (the first is the default; SNI may switch to another), one on a client.
struct context {
  struct entry {
    SSL_CTX* ctx = nullptr;
    X509* leaf = nullptr;  // owned by ctx
  };
  bool server = false;
  std::vector<entry> ctxs;
  std::string alpn;            // NextProtos in ALPN wire format
  std::chrono::nanoseconds handshakeTimeout{};
  Chan<std::monostate> slots;  // handshakes in progress (server)
  // Client: the sessions to resume (null: none), and this context's
  // number in their keys (a session is resumed only where it was verified).
  std::shared_ptr<ClientSessionCache> cache;
  uint64_t id = 0;
  // Server: the session ticket keys, newest first (ticketMu, a runtime
  // lock: nothing under it parks), and whether they are random and rotate.
  struct ticketKey {
    unsigned char name[16];
    unsigned char aes[32];   // AES-256-CBC
    unsigned char hmac[16];  // HMAC-SHA256
    int64_t created;         // on the rotation clock
  };
  runtime::mutex ticketMu;
  std::vector<ticketKey> ticketKeys;
  bool ticketAuto = false;

  context() : slots(nullptr) {}
  ~context() {
    for (auto& e : ctxs) SSL_CTX_free(e.ctx);
    if (!ticketKeys.empty()) OPENSSL_cleanse(ticketKeys.data(), ticketKeys.size() * sizeof ticketKeys[0]);
  }
};

// lru is a ClientSessionCache's sessions: most recently used first, with
// an index by key. mu is a runtime lock: nothing under it parks.
struct lru {
  struct entry {
    std::string key;
    SSL_SESSION* s;  // a reference of the cache's
  };
  runtime::mutex mu;
  size_t capacity;
  std::list<entry> order;
  std::unordered_map<std::string, std::list<entry>::iterator> index;

  explicit lru(size_t cap) : capacity(cap) {}
  ~lru() {
    for (auto& e : order) SSL_SESSION_free(e.s);
  }
  static lru& of(ClientSessionCache& c) { return *c.l_; }

  // get returns a copy of key's session for a connection to use, or null.
  // A copy, never the cached one: the connection's end may mark its
  // session not resumable (see newSession).
  SSL_SESSION* get(const std::string& key) {
    runtime::lockGuard g(&mu);
    auto it = index.find(key);
    if (it == index.end()) return nullptr;
    order.splice(order.begin(), order, it->second);
    return SSL_SESSION_dup(it->second->s);
  }
  // put files s under key, taking the caller's reference; the session it
  // replaces, or the least recently used past capacity, is let go.
  void put(const std::string& key, SSL_SESSION* s) {
    SSL_SESSION* old = nullptr;
    {
      runtime::lockGuard g(&mu);
      if (auto it = index.find(key); it != index.end()) {
        old = std::exchange(it->second->s, s);
        order.splice(order.begin(), order, it->second);
      } else {
        order.push_front({key, s});
        index.emplace(key, order.begin());
        if (order.size() > capacity) {
          old = order.back().s;
          index.erase(order.back().key);
          order.pop_back();
        }
      }
    }
    if (old) SSL_SESSION_free(old);
  }
  size_t len() {
    runtime::lockGuard g(&mu);
    return order.size();
  }
};

}  // namespace detail

ClientSessionCache::ClientSessionCache(size_t capacity) : l_(std::make_unique<detail::lru>(capacity)) {}
ClientSessionCache::~ClientSessionCache() = default;
size_t ClientSessionCache::Len() const { return l_->len(); }

std::shared_ptr<ClientSessionCache> NewLRUClientSessionCache(int capacity) {
  return std::shared_ptr<ClientSessionCache>(new ClientSessionCache(capacity < 1 ? 64 : size_t(capacity)));
}

namespace {

int alpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
               void* arg) {
  auto* c = static_cast<detail::context*>(arg);
  unsigned char* o = nullptr;
  if (SSL_select_next_proto(&o, outlen, reinterpret_cast<const unsigned char*>(c->alpn.data()),
                            unsigned(c->alpn.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no protocol in common: go on without ALPN, as nginx
  *out = o;
  return SSL_TLSEXT_ERR_OK;
}

// kHostFlags: names are checked as Go does — the subject's CN never counts
// (only the SANs, since Go 1.15), and no partial wildcards ("f*.example.com").
constexpr unsigned kHostFlags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

int serverName(SSL* ssl, int*, void* arg) {
  auto* c = static_cast<detail::context*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || c->ctxs.size() < 2) return SSL_TLSEXT_ERR_OK;
  for (auto& e : c->ctxs) {
    if (X509_check_host(e.leaf, name, 0, kHostFlags, nullptr) == 1) {
      if (e.ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, e.ctx);
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;  // no match: the default certificate
}

// ---- session ticket keys ----------------------------------------------------
//
// OpenSSL seals tickets with one random key per SSL_CTX, made when the
// context is and kept for its life: whoever reads that key from a
// long-running server's memory opens every ticket it ever issued. Go
// rotates: a new key every 24 hours, each opening tickets for 7 days. Here
// the keys are the context's (shared by all of a Config's certificates, so
// SNI does not matter), sealed and opened by ticketKeyCb.

constexpr int64_t kTicketKeyRotation = int64_t(24) * 3600 * 1'000'000'000;
constexpr int64_t kTicketKeyLifetime = 7 * kTicketKeyRotation;

// The rotation clock counts suspended time too (Go's is the wall clock):
// a laptop asleep for a week must come back to new keys.
std::atomic<int64_t (*)()> ticketClock{nullptr};
int64_t ticketNow() {
  if (auto f = ticketClock.load(std::memory_order_relaxed)) return f();
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ticketKeyFrom makes a key from 32 secret bytes: the name and the two
// secrets are SHA-512 of them, cut in three (as Go's ticketKeyFromBytes).
detail::context::ticketKey ticketKeyFrom(const std::array<uint8_t, 32>& b, int64_t created) {
  unsigned char h[64];
  unsigned int n = 0;
  EVP_Digest(b.data(), b.size(), h, &n, EVP_sha512(), nullptr);
  detail::context::ticketKey k;
  std::memcpy(k.name, h, 16);
  std::memcpy(k.aes, h + 16, 32);
  std::memcpy(k.hmac, h + 48, 16);
  OPENSSL_cleanse(h, sizeof h);
  k.created = created;
  return k;
}

detail::context::ticketKey randomTicketKey(int64_t now) {
  std::array<uint8_t, 32> b;
  if (RAND_bytes(b.data(), int(b.size())) != 1) {
    std::fprintf(stderr, "ringo: tls: RAND_bytes failed making a session ticket key\n");
    std::abort();
  }
  auto k = ticketKeyFrom(b, now);
  OPENSSL_cleanse(b.data(), b.size());
  return k;
}

// rotateTicketKeys puts a new key in front when the newest is a rotation
// old, and drops keys past their lifetime (never the newest). ticketMu held.
void rotateTicketKeys(std::vector<detail::context::ticketKey>& keys, int64_t now) {
  if (keys.empty() || now - keys.front().created >= kTicketKeyRotation) keys.insert(keys.begin(), randomTicketKey(now));
  while (keys.size() > 1 && now - keys.back().created >= kTicketKeyLifetime) {
    OPENSSL_cleanse(&keys.back(), sizeof keys.back());
    keys.pop_back();
  }
}

// ticketKeyCb seals (enc) a ticket with the newest key, or opens one with
// the key its name names: 0 if none does (a full handshake), 2 if it is
// not the newest (OpenSSL then issues a ticket sealed with the newest),
// and 2 on TLS 1.3 always: OpenSSL's own keys issue a new ticket after
// every TLS 1.3 resumption, and without one a client that keeps its
// connection's session (wrk does) runs a full handshake every other time
// (tlsnew: 2.3k requests/s against 3.9k).
int ticketKeyCb(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx,
                int enc) {
  auto* c = static_cast<detail::context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (c == nullptr) return -1;
  static EVP_CIPHER* const aes = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);  // once, not per ticket
  if (aes == nullptr) return 0;  // no ticket (or none opened): a full handshake, not a failed one
  detail::context::ticketKey k;
  bool newest = true;
  {
    runtime::lockGuard g(&c->ticketMu);
    if (c->ticketAuto) rotateTicketKeys(c->ticketKeys, ticketNow());
    if (c->ticketKeys.empty()) return 0;  // (never: a context has one at least)
    if (enc) {
      k = c->ticketKeys.front();
    } else {
      auto it = std::find_if(c->ticketKeys.begin(), c->ticketKeys.end(),
                             [&](const auto& x) { return std::memcmp(x.name, name, 16) == 0; });
      if (it == c->ticketKeys.end()) return 0;
      k = *it;
      newest = it == c->ticketKeys.begin();
    }
  }
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof k.hmac),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
                         OSSL_PARAM_construct_end()};
  int rc;
  if (enc) {
    std::memcpy(name, k.name, 16);
    rc = RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) == 1 && EVP_EncryptInit_ex(cctx, aes, nullptr, k.aes, iv) == 1 &&
                 EVP_MAC_CTX_set_params(hctx, params) == 1
             ? 1
             : -1;
  } else {
    rc = EVP_DecryptInit_ex(cctx, aes, nullptr, k.aes, iv) == 1 && EVP_MAC_CTX_set_params(hctx, params) == 1
             ? (newest && SSL_version(ssl) < TLS1_3_VERSION ? 1 : 2)
             : -1;
  }
  OPENSSL_cleanse(&k, sizeof k);
  return rc;
}

// newSession files a copy of a session a server handed a client (the
// handshake's on TLS 1.2; each NewSessionTicket on TLS 1.3, read after the
// handshake) in the Config's ClientSessionCache.
int newSession(SSL* ssl, SSL_SESSION* sess);

std::error_code configure(SSL_CTX* ctx, const Config& cfg, detail::context* c, std::string* detail) {
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               (cfg.SessionTicketsDisabled ? SSL_OP_NO_TICKET : 0));
  if (SSL_CTX_set_min_proto_version(ctx, cfg.MinVersion) != 1 ||
      (cfg.MaxVersion && SSL_CTX_set_max_proto_version(ctx, cfg.MaxVersion) != 1)) {
    if (detail) *detail = "unsupported MinVersion or MaxVersion";
    return lastErrorOr(make_error_code(Errc::protocolVersion));
  }
  if (!cfg.CipherList.empty() && SSL_CTX_set_cipher_list(ctx, cfg.CipherList.c_str()) != 1) {
    if (detail) *detail = "no cipher matches CipherList \"" + cfg.CipherList + "\"";
    return lastErrorOr(std::make_error_code(std::errc::invalid_argument));
  }
  if (c->server) {
    SSL_CTX_set_num_tickets(ctx, cfg.SessionTicketsDisabled ? 0 : 1);
    // Resumption is by tickets alone, as Go's: no session-ID cache, whose
    // inserts and periodic sweeps (a walk of the whole cache every 255
    // handshakes) cost every handshake and memory per client.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // with tickets off too: no TLS 1.2 ID resumption
    if (!c->alpn.empty()) SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, c);
    SSL_CTX_set_tlsext_servername_callback(ctx, serverName);
    SSL_CTX_set_tlsext_servername_arg(ctx, c);
    if (!cfg.SessionTicketsDisabled) {
      SSL_CTX_set_app_data(ctx, c);
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCb);
    }
  } else {
    if (!c->alpn.empty())
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(c->alpn.data()), unsigned(c->alpn.size()));
    if (c->cache) {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx, newSession);
    } else {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (!cfg.InsecureSkipVerify) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      int ok = 1;
      if (!cfg.RootCAFile.empty()) {
        ok = SSL_CTX_load_verify_locations(ctx, cfg.RootCAFile.c_str(), nullptr);
        if (ok != 1 && detail) *detail = "cannot load CAs from " + cfg.RootCAFile;
      } else if (!cfg.RootCAPEM.empty()) {
        bioPtr b(BIO_new_mem_buf(cfg.RootCAPEM.data(), int(cfg.RootCAPEM.size())));
        X509_STORE* st = SSL_CTX_get_cert_store(ctx);
        int n = 0;
        while (X509* x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
          X509_STORE_add_cert(st, x);
          X509_free(x);
          n++;
        }
        ERR_clear_error();
        if (n == 0) {
          ok = 0;
          if (detail) *detail = "no certificate in RootCAPEM";
        }
      } else {
        ok = SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1 && detail) *detail = "cannot load the system's CA store";
      }
      if (ok != 1) return lastErrorOr(make_error_code(Errc::badPEM));
    }
  }
  return {};
}

std::error_code build(const Config& cfg, bool server, detail::context& c, std::string* detail) {
  c.server = server;
  c.handshakeTimeout = cfg.HandshakeTimeout;
  for (auto& p : cfg.NextProtos) {
    if (p.empty() || p.size() > 255) {
      if (detail) *detail = "bad ALPN protocol name \"" + p + "\"";
      return std::make_error_code(std::errc::invalid_argument);
    }
    c.alpn += char(p.size());
    c.alpn += p;
  }
  ERR_clear_error();
  if (server) {
    if (cfg.Certificates.empty()) {
      if (detail) *detail = "a server needs at least one certificate";
      return make_error_code(Errc::noCertificate);
    }
    c.slots = Chan<std::monostate>(size_t(cfg.MaxHandshakes > 0 ? cfg.MaxHandshakes : 1024));
    if (!cfg.SessionTicketsDisabled) {
      const int64_t now = ticketNow();
      for (const auto& k : cfg.SessionTicketKeys) c.ticketKeys.push_back(ticketKeyFrom(k, now));
      c.ticketAuto = c.ticketKeys.empty();
      // Room for every key rotation keeps (7 days of dailies, and the one
      // made on the 8th), so no insert moves them and leaves a copy in
      // freed memory.
      if (c.ticketAuto) c.ticketKeys.reserve(size_t(kTicketKeyLifetime / kTicketKeyRotation) + 2);
      if (c.ticketAuto) rotateTicketKeys(c.ticketKeys, now);
    }
    for (size_t i = 0; i < cfg.Certificates.size(); i++) {
      parsedPair p;
      std::string why;
      if (auto err = parsePair(cfg.Certificates[i], p, &why)) {
        if (detail) *detail = "certificate " + std::to_string(i) + ": " + why;
        return err;
      }
      SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
      if (!ctx) return lastErrorOr(std::make_error_code(std::errc::not_enough_memory));
      c.ctxs.push_back({ctx, p.leaf.get()});
      if (auto err = configure(ctx, cfg, &c, detail)) return err;
      if (SSL_CTX_use_certificate(ctx, p.leaf.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, p.key.get()) != 1) {
        if (detail) *detail = "certificate " + std::to_string(i) + ": OpenSSL refused it";
        return lastErrorOr(make_error_code(Errc::badPEM));
      }
      for (auto& x : p.chain) SSL_CTX_add1_chain_cert(ctx, x.get());
      if (SSL_CTX_check_private_key(ctx) != 1) {
        if (detail) *detail = "certificate " + std::to_string(i) + ": the key does not match";
        return lastErrorOr(make_error_code(Errc::keyMismatch));
      }
      // Sessions (and tickets) are keyed by the first context, which SNI
      // switches from; the id context makes stateful resumption valid.
      static const unsigned char sid[] = "ringo";
      SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    }
  } else {
    static std::atomic<uint64_t> ids{0};
    c.id = ids.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!cfg.SessionTicketsDisabled) c.cache = cfg.ClientSessionCache;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return lastErrorOr(std::make_error_code(std::errc::not_enough_memory));
    c.ctxs.push_back({ctx, nullptr});
    if (auto err = configure(ctx, cfg, &c, detail)) return err;
  }
  ERR_clear_error();
  return {};
}

}  // namespace

namespace detail {

// compiled is a Config's compilation, made by the first Server, Client or
// Build under mu (a runtime lock: building never parks).
struct compiled {
  runtime::mutex mu;
  bool done = false;
  bool server = false;
  std::shared_ptr<context> ctx;
  std::error_code err;
  std::string detail;
};

}  // namespace detail

Config::Config() : compiled_(std::make_shared<detail::compiled>()) {}

void detail::SetTicketKeyClock(int64_t (*now)()) noexcept { ticketClock.store(now, std::memory_order_relaxed); }

Config::Config(const Config& o)
    : Certificates(o.Certificates),
      MinVersion(o.MinVersion),
      MaxVersion(o.MaxVersion),
      NextProtos(o.NextProtos),
      CipherList(o.CipherList),
      SessionTicketsDisabled(o.SessionTicketsDisabled),
      SessionTicketKeys(o.SessionTicketKeys),
      HandshakeTimeout(o.HandshakeTimeout),
      MaxHandshakes(o.MaxHandshakes),
      ServerName(o.ServerName),
      RootCAFile(o.RootCAFile),
      RootCAPEM(o.RootCAPEM),
      InsecureSkipVerify(o.InsecureSkipVerify),
      ClientSessionCache(o.ClientSessionCache),
      compiled_(std::make_shared<detail::compiled>()) {}

Config& Config::operator=(const Config& o) {
  if (this != &o) *this = Config(o);
  return *this;
}

Config::~Config() = default;

// compile returns cfg's contexts for one side, built on first use. A
// Config used for the other side too (rare) gets a build of its own each
// time; so does a moved-from one.
std::shared_ptr<detail::context> compile(const Config& cfg, bool server, std::error_code* err, std::string* why) {
  auto fresh = [&]() -> std::shared_ptr<detail::context> {
    auto c = std::make_shared<detail::context>();
    std::string d;
    if (auto e = build(cfg, server, *c, &d)) {
      if (err) *err = e;
      if (why) *why = d;
      return nullptr;
    }
    return c;
  };
  auto* k = cfg.compiled_.get();
  if (k == nullptr) return fresh();
  runtime::lockGuard g(&k->mu);
  if (!k->done) {
    k->done = true;
    k->server = server;
    k->ctx = std::make_shared<detail::context>();
    k->err = build(cfg, server, *k->ctx, &k->detail);
    if (k->err) k->ctx.reset();
  }
  if (k->server != server) return fresh();
  if (err) *err = k->err;
  if (why) *why = k->detail;
  return k->ctx;
}

std::error_code Config::Build(bool isServer, std::string* detail) const {
  std::error_code err;
  auto c = compile(*this, isServer, &err, detail);
  return c ? std::error_code{} : (err ? err : std::make_error_code(std::errc::invalid_argument));
}

// ---- connections --------------------------------------------------------------

namespace detail {

struct conn {
  net::Conn nc;
  std::shared_ptr<context> ctx;
  std::error_code buildErr;
  bool server = false;

  runtime::mutex mu;  // guards ssl, in, out (see the top of the file)
  SSL* ssl = nullptr;
  std::string_view in;  // ciphertext OpenSSL has not read yet (in raw)
  std::string out;      // records OpenSSL made, not yet sent
  bool sentShutdown = false;

  Mutex wmu;             // orders sends; held across the park in Write
  std::string sending;   // out, swapped away for sending (under wmu)
  std::error_code werr;  // the first failed send: later writes fail with it

  std::string sessionKey;  // client with a ClientSessionCache: where its sessions go

  net::Buffer raw;  // the receive buffer `in` points into (the reader's)
  bool readEnded = false;  // SSL_read failed or saw close_notify: it answers without input (the reader's)
  std::string plain;  // Recv's plaintext (the reader's)
  bool sniffed = false;

  Mutex hsmu;  // the handshake runs once
  std::atomic<bool> hsDone{false};
  std::error_code hsErr;
  net::Deadline rdl{}, wdl{};  // the deadlines the user set

  ~conn() {
    if (ssl) SSL_free(ssl);
  }

  // detail::keepBuffers and awaitInput (http/transport.h)
  static void keepBuffers(Conn& c, bool keep) noexcept;
  static std::error_code awaitInput(Conn& c);
  static bool holdsInput(Conn& c) noexcept;

  // call runs one SSL_* call under mu with a clean error queue, and returns
  // its result, SSL_get_error's verdict and the queue's first error.
  template <class F>
  std::tuple<int, int, std::error_code> call(F f) {
    runtime::lockGuard g(&mu);
    clearErrors();
    int r = f(ssl);
    if (r > 0) return {r, SSL_ERROR_NONE, {}};  // success leaves nothing to read (the next call clears anyway)
    int e = SSL_get_error(ssl, r);
    auto err = takeError();
    return {r, e, err};
  }

  // flush sends whatever OpenSSL has made so far, in order.
  std::error_code flush() {
    std::lock_guard g(wmu);
    {
      runtime::lockGuard l(&mu);
      std::swap(out, sending);
    }
    if (!sending.empty() && !werr) {
      auto [n, err] = nc.Write(sending);
      if (err) werr = err;
    }
    sending.clear();
    return werr;
  }

  // fill waits for more ciphertext once OpenSSL has used what it had.
  std::error_code fill() {
    {
      runtime::lockGuard g(&mu);
      if (!in.empty()) return {};
      in = {};
    }
    raw = net::Buffer();
    auto [b, err] = nc.Recv();
    if (err) return err;
    runtime::lockGuard g(&mu);
    raw = std::move(b);
    in = raw.view();
    return {};
  }

  // partialRecord: does OpenSSL hold the start of a record it has not
  // been able to finish? Bytes of it buffered (SSL_has_pending), or a whole
  // header read and none of the body ("RB": the record layer is reading a
  // body; its header is no longer counted as buffered).
  bool partialRecord() {
    runtime::lockGuard g(&mu);
    return !in.empty() || SSL_has_pending(ssl) != 0 || std::strcmp(SSL_rstate_string(ssl), "RB") == 0;
  }

  // queueCloseNotify puts close_notify in out, once (mu held).
  void queueCloseNotify() {
    if (sentShutdown) return;
    sentShutdown = true;
    clearErrors();
    SSL_shutdown(ssl);
    clearErrors();
  }

  std::error_code handshake();
  std::error_code runHandshake();
  std::error_code sniff();
  net::IOResult read(char* p, size_t n);
  // awaitInput parks until a read has input: ciphertext, or plaintext
  // OpenSSL holds (detail::awaitInput, for a reader that takes its buffer
  // only once there is something to read into it).
  std::error_code awaitInput();
};

namespace {

// The BIO: reads lend `in`, writes append to `out`. Called by OpenSSL
// inside an SSL_* call, so with mu held.
BIO_METHOD* bioMethod() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* b = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringo");
    BIO_meth_set_write_ex(b, [](BIO* bio, const char* data, size_t n, size_t* written) -> int {
      auto* c = static_cast<conn*>(BIO_get_data(bio));
      c->out.append(data, n);
      *written = n;
      return 1;
    });
    BIO_meth_set_read_ex(b, [](BIO* bio, char* data, size_t n, size_t* read) -> int {
      auto* c = static_cast<conn*>(BIO_get_data(bio));
      BIO_clear_retry_flags(bio);
      if (c->in.empty()) {
        BIO_set_retry_read(bio);
        *read = 0;
        return 0;
      }
      size_t k = std::min(n, c->in.size());
      std::memcpy(data, c->in.data(), k);
      c->in.remove_prefix(k);
      *read = k;
      return 1;
    });
    BIO_meth_set_ctrl(b, [](BIO*, int cmd, long, void*) -> long {
      return cmd == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(b, [](BIO* bio) -> int {
      BIO_set_init(bio, 1);
      return 1;
    });
    return b;
  }();
  return m;
}

// looksLikeHTTP: the first bytes of a plain HTTP request (Go's check on a
// record header that is not TLS).
bool looksLikeHTTP(std::string_view b) {
  for (std::string_view m : {"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "})
    if (b.substr(0, std::min(b.size(), m.size())) == m.substr(0, std::min(b.size(), m.size())) && b.size() >= 4)
      return true;
  return false;
}

}  // namespace

// sniff looks at the first bytes a client sent, before OpenSSL does: a
// handshake record starts with 0x16; plain HTTP gets Go's 400.
std::error_code conn::sniff() {
  sniffed = true;
  if (auto err = fill()) return err;
  std::string_view b;
  {
    runtime::lockGuard g(&mu);
    b = in;
  }
  if (b.empty() || static_cast<unsigned char>(b[0]) == 0x16) return {};
  if (looksLikeHTTP(b)) {
    (void)nc.Write("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
    return make_error_code(Errc::httpToHTTPS);
  }
  return make_error_code(Errc::notTLS);
}

std::error_code conn::runHandshake() {
  if (buildErr) return buildErr;
  if (server && !sniffed) {
    if (auto err = sniff()) return err;
  }
  for (;;) {
    auto [r, e, err] = call([](SSL* s) { return SSL_do_handshake(s); });
    auto ferr = flush();  // the records to send (a flight, or an alert)
    if (r == 1) {
      // A TLS 1.2 resumption may bring a renewed ticket (the server's key
      // rotated); OpenSSL tells the cache only of sessions from full
      // handshakes there, so the renewed one is filed here, as Go files it.
      if (!server && ctx && ctx->cache && SSL_session_reused(ssl) && SSL_version(ssl) < TLS1_3_VERSION) {
        runtime::lockGuard g(&mu);
        if (SSL_SESSION* sess = SSL_get_session(ssl)) (void)newSession(ssl, sess);
      }
      return ferr;
    }
    if (e == SSL_ERROR_WANT_READ) {
      if (ferr) return ferr;
      if (auto rerr = fill()) return rerr;  // ErrEOF: the peer left mid-handshake (Go logs "EOF" too)
      continue;
    }
    if (!server) {
      long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK) return {int(v), VerifyCategory()};
    }
    if (err) return err;
    return e == SSL_ERROR_SYSCALL ? std::make_error_code(std::errc::connection_aborted)
                                  : std::make_error_code(std::errc::protocol_error);
  }
}

std::error_code conn::handshake() {
  if (hsDone.load(std::memory_order_acquire)) return hsErr;
  std::lock_guard g(hsmu);
  if (hsDone.load(std::memory_order_relaxed)) return hsErr;
  // The handshake's deadline: HandshakeTimeout from now, or the user's.
  net::Deadline hd{};
  if (ctx && ctx->handshakeTimeout.count() > 0)
    hd = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx->handshakeTimeout);
  auto earlier = [](net::Deadline a, net::Deadline b) {
    if (a == net::Deadline{}) return b;
    if (b == net::Deadline{}) return a;
    return std::min(a, b);
  };
  (void)nc.SetReadDeadline(earlier(hd, rdl));
  (void)nc.SetWriteDeadline(earlier(hd, wdl));
  // A server takes its slot once the client has spoken: a connection that
  // sends nothing holds none (1,024 idle sockets would shut every client
  // out), and is ended by the handshake timeout like any other.
  if (buildErr) hsErr = buildErr;  // a Config that did not build: at once, not after the client speaks
  else if (server && !sniffed) hsErr = sniff();
  bool slot = false;
  if (server && ctx && !hsErr) {
    // A slot among MaxHandshakes; waiting for one counts against the timeout.
    if (!ctx->slots.TrySend(std::monostate{})) {
      auto limit = earlier(hd, rdl);
      bool timedOut = false;
      if (limit == net::Deadline{}) {
        ctx->slots.Send(std::monostate{});
      } else {
        auto left = limit - std::chrono::steady_clock::now();
        Select(ringo::Send(ctx->slots, std::monostate{}),
               ringo::Recv(After(std::max(left, std::chrono::steady_clock::duration::zero())), [&] { timedOut = true; }));
      }
      if (timedOut) {
        hsErr = make_error_code(Errc::handshakeTimeout);
        (void)nc.SetReadDeadline(rdl);
        (void)nc.SetWriteDeadline(wdl);
        hsDone.store(true, std::memory_order_release);
        return hsErr;
      }
    }
    slot = true;
  }
  if (!hsErr) hsErr = runHandshake();
  if (slot) (void)ctx->slots.TryRecv();
  if (hsErr == net::ErrDeadlineExceeded && hd != net::Deadline{} && std::chrono::steady_clock::now() >= hd &&
      (rdl == net::Deadline{} || hd < rdl))
    hsErr = make_error_code(Errc::handshakeTimeout);
  (void)nc.SetReadDeadline(rdl);
  (void)nc.SetWriteDeadline(wdl);
  hsDone.store(true, std::memory_order_release);
  return hsErr;
}

std::error_code conn::awaitInput() {
  bool starved;
  {
    runtime::lockGuard g(&mu);
    starved = !readEnded && in.empty() && SSL_has_pending(ssl) == 0;
  }
  // Nothing for SSL_read to read (a keep-alive connection between
  // requests): wait for ciphertext first rather than hear WANT_READ.
  // (Records in `out` now are a writer's, which sends them itself.)
  return starved ? fill() : std::error_code{};
}

net::IOResult conn::read(char* p, size_t n) {
  if (auto err = handshake()) return {0, err};
  // A FIN inside a record is a cut, not an end (Go's io.ErrUnexpectedEOF):
  // a close-delimited body would otherwise read as complete. At a record
  // boundary it is EOF, as in Go, close_notify or not.
  auto cutOrEOF = [&](std::error_code e) {
    return e == net::ErrEOF && partialRecord() ? make_error_code(Errc::unexpectedEOF) : e;
  };
  for (;;) {
    if (auto rerr = awaitInput()) return {0, cutOrEOF(rerr)};
    size_t made = 0;  // the records this SSL_read adds (an alert, a post-handshake message)
    auto [r, e, err] = call([&](SSL* s) {
      const size_t before = out.size();
      int k = SSL_read(s, p, int(std::min<size_t>(n, INT32_MAX)));
      made = out.size() - before;
      return k;
    });
    if (made) (void)flush();  // records a writer left in out are the writer's to send
    if (r > 0) return {size_t(r), {}};
    if (e != SSL_ERROR_WANT_READ) readEnded = true;
    switch (e) {
      case SSL_ERROR_WANT_READ:
        if (auto rerr = fill()) return {0, cutOrEOF(rerr)};
        continue;
      case SSL_ERROR_ZERO_RETURN:
        return {0, net::ErrEOF};  // close_notify
      case SSL_ERROR_SYSCALL:
        return {0, err ? err : net::ErrEOF};
      default:
        return {0, err ? err : std::make_error_code(std::errc::protocol_error)};
    }
  }
}

void conn::keepBuffers(Conn& c, bool keep) noexcept {
  if (!c.c_) return;
  conn& d = *c.c_;
  runtime::lockGuard g(&d.mu);
  if (!d.ssl) return;
  if (keep) {
    SSL_clear_mode(d.ssl, SSL_MODE_RELEASE_BUFFERS);
    return;
  }
  SSL_set_mode(d.ssl, SSL_MODE_RELEASE_BUFFERS);
  (void)SSL_free_buffers(d.ssl);  // refused while a buffer holds bytes: released when it empties
}

void keepBuffers(Conn& c, bool keep) noexcept { conn::keepBuffers(c, keep); }

std::error_code conn::awaitInput(Conn& c) {
  if (!c.c_) return net::ErrClosed;
  if (auto err = c.c_->handshake()) return err;
  return c.c_->awaitInput();
}

std::error_code awaitInput(Conn& c) { return conn::awaitInput(c); }

bool conn::holdsInput(Conn& c) noexcept {
  if (!c.c_ || !c.c_->ssl) return false;
  runtime::lockGuard g(&c.c_->mu);
  return !c.c_->in.empty() || SSL_has_pending(c.c_->ssl) != 0;
}

bool holdsInput(Conn& c) noexcept { return conn::holdsInput(c); }

}  // namespace detail

namespace {

std::shared_ptr<detail::conn> newConn(net::Conn c, const Config& cfg, bool server) {
  auto d = std::make_shared<detail::conn>();
  d->nc = std::move(c);
  d->server = server;
  d->ctx = compile(cfg, server, &d->buildErr, nullptr);
  if (!d->ctx) {
    if (!d->buildErr) d->buildErr = std::make_error_code(std::errc::invalid_argument);
    return d;
  }
  d->ssl = SSL_new(d->ctx->ctxs[0].ctx);
  if (!d->ssl) {
    ERR_clear_error();
    d->buildErr = std::make_error_code(std::errc::not_enough_memory);
    return d;
  }
  BIO* b = BIO_new(detail::bioMethod());
  BIO_set_data(b, d.get());
  SSL_set_bio(d->ssl, b, b);
  if (server) SSL_set_accept_state(d->ssl);
  else SSL_set_connect_state(d->ssl);
  return d;
}

int newSession(SSL* ssl, SSL_SESSION* sess) {
  auto* d = static_cast<detail::conn*>(BIO_get_data(SSL_get_rbio(ssl)));
  if (d == nullptr || d->sessionKey.empty() || !d->ctx->cache || SSL_SESSION_is_resumable(sess) != 1) return 0;
  // A copy: OpenSSL marks a connection's session not resumable when the
  // connection ends without close_notify (as a TLS 1.2 truncation guard;
  // Go keeps such sessions, and HTTP's framing catches a cut response).
  SSL_SESSION* own = SSL_SESSION_dup(sess);
  if (own == nullptr) return 0;
  detail::lru::of(*d->ctx->cache).put(d->sessionKey, own);
  return 0;
}

}  // namespace

Conn Server(net::Conn c, const Config& cfg) { return Conn(newConn(std::move(c), cfg, true)); }

Conn Client(net::Conn c, const Config& cfg) { return Client(std::move(c), cfg, cfg.ServerName); }

Conn Client(net::Conn c, const Config& cfg, std::string_view serverName) {
  auto d = newConn(std::move(c), cfg, false);
  if (d->ssl) {
    std::string name(cfg.ServerName.empty() ? serverName : std::string_view(cfg.ServerName));
    if (!name.empty() && name.back() == '.') name.pop_back();  // "example.com." is example.com (Go)
    if (!name.empty() && !isIP(name)) SSL_set_tlsext_host_name(d->ssl, name.c_str());
    if (!cfg.InsecureSkipVerify) {
      // Nothing to verify the certificate against would accept any
      // trusted certificate for any host: Go refuses, and so do we.
      if (name.empty() && !d->buildErr) d->buildErr = make_error_code(Errc::noServerName);
      X509_VERIFY_PARAM* p = SSL_get0_param(d->ssl);
      if (name.empty()) {
      } else if (isIP(name)) {
        X509_VERIFY_PARAM_set1_ip_asc(p, name.c_str());
      } else {
        SSL_set_hostflags(d->ssl, kHostFlags);
        SSL_set1_host(d->ssl, name.c_str());
      }
    }
    if (auto& cache = d->ctx->cache) {
      // Go's key: the server name, else the address dialled.
      d->sessionKey = std::to_string(d->ctx->id) + '|' + (name.empty() ? d->nc.RemoteAddr().String() : name);
      if (SSL_SESSION* s = detail::lru::of(*cache).get(d->sessionKey)) {
        SSL_set_session(d->ssl, s);  // takes its own reference
        SSL_SESSION_free(s);
      }
    }
    ERR_clear_error();
  }
  return Conn(std::move(d));
}

net::Result<Conn> Dial(std::string_view network, std::string_view address, const Config& cfg,
                       std::chrono::nanoseconds timeout) {
  auto start = std::chrono::steady_clock::now();
  auto [c, err] = net::Dial(network, address, timeout);
  if (err) return {{}, err};
  std::string host, port;
  if (net::SplitHostPort(address, host, port)) host = std::string(address);
  Conn tc = Client(std::move(c), cfg, host);  // cfg's own context: no copy per dial
  if (timeout.count() > 0)
    (void)tc.SetDeadline(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
  if (auto herr = tc.Handshake()) {
    (void)tc.Close();
    return {{}, herr};
  }
  (void)tc.SetDeadline({});
  return {std::move(tc), {}};
}

// ---- Conn --------------------------------------------------------------------

std::error_code Conn::Handshake() {
  if (!c_) return net::ErrClosed;
  return c_->handshake();
}

net::IOResult Conn::Read(std::span<char> buf) {
  if (!c_) return {0, net::ErrClosed};
  if (buf.empty()) return {0, {}};
  return c_->read(buf.data(), buf.size());
}

net::Result<std::string_view> Conn::Recv() {
  if (!c_) return {{}, net::ErrClosed};
  auto& p = c_->plain;
  if (p.size() < 16384) p.resize(16384);
  auto [n, err] = c_->read(p.data(), p.size());
  if (err) return {{}, err};
  return {std::string_view(p.data(), n), {}};
}

net::IOResult Conn::Write(std::string_view buf) { return write(buf, false); }

net::IOResult Conn::WriteLast(std::string_view buf) { return write(buf, true); }

net::IOResult Conn::write(std::string_view buf, bool last) {
  if (!c_) return {0, net::ErrClosed};
  if (auto err = c_->handshake()) return {0, err};
  auto& d = *c_;
  std::lock_guard g(d.wmu);
  if (d.werr) return {0, d.werr};
  // kWritePiece of plaintext per SSL_write, then out to the socket: a
  // large write costs no more memory than one piece's records, and mu (a
  // lock held for a call) is never held through megabytes of encryption.
  constexpr size_t kWritePiece = 256 << 10;
  size_t done = 0, sent = 0;  // encrypted, and sent
  for (;;) {
    const size_t chunk = std::min(buf.size() - done, kWritePiece);
    if (chunk > 0) {
      auto [r, e, err] = d.call([&](SSL* s) { return SSL_write(s, buf.data() + done, int(chunk)); });
      if (r <= 0) {
        d.werr = err ? err : std::make_error_code(std::errc::protocol_error);
        return {sent, d.werr};
      }
      done += size_t(r);
    }
    const bool end = done == buf.size();
    {
      runtime::lockGuard l(&d.mu);
      if (last && end) d.queueCloseNotify();  // it goes with the data
      std::swap(d.out, d.sending);
    }
    auto [n, err] = last && end ? d.nc.WriteLast(d.sending) : d.nc.Write(d.sending);
    d.sending.clear();
    if (err) {
      // What earlier pieces sent reached the peer; this piece did not (whole).
      d.werr = err;
      return {sent, err};
    }
    sent = done;
    if (end) return {buf.size(), {}};
  }
}

namespace {

// closeNotify queues close_notify and sends it if no write is in progress
// (a writer parked on a full socket would make us wait).
void closeNotify(detail::conn& d) {
  if (!d.hsDone.load(std::memory_order_acquire) || d.hsErr || !d.ssl) return;
  if (!d.wmu.TryLock()) return;
  bool send = false;
  {
    runtime::lockGuard g(&d.mu);
    if (!d.sentShutdown) {
      d.queueCloseNotify();
      std::swap(d.out, d.sending);
      send = !d.sending.empty();
    }
  }
  if (send && !d.werr) {
    (void)d.nc.SetWriteDeadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
    (void)d.nc.Write(d.sending);
  }
  d.sending.clear();
  d.wmu.Unlock();
}

}  // namespace

std::error_code Conn::Close() {
  if (!c_) return net::ErrClosed;
  closeNotify(*c_);
  return c_->nc.Close();
}

std::error_code Conn::CloseWrite() {
  if (!c_) return net::ErrClosed;
  closeNotify(*c_);
  return c_->nc.CloseWrite();
}

std::error_code Conn::SetDeadline(net::Deadline t) {
  if (!c_) return net::ErrClosed;
  c_->rdl = c_->wdl = t;
  return c_->nc.SetDeadline(t);
}

std::error_code Conn::SetReadDeadline(net::Deadline t) {
  if (!c_) return net::ErrClosed;
  c_->rdl = t;
  return c_->nc.SetReadDeadline(t);
}

std::error_code Conn::SetWriteDeadline(net::Deadline t) {
  if (!c_) return net::ErrClosed;
  c_->wdl = t;
  return c_->nc.SetWriteDeadline(t);
}

net::Addr Conn::LocalAddr() const { return c_ ? c_->nc.LocalAddr() : net::Addr{}; }
net::Addr Conn::RemoteAddr() const { return c_ ? c_->nc.RemoteAddr() : net::Addr{}; }

net::Conn& Conn::NetConn() noexcept {
  static net::Conn none;
  return c_ ? c_->nc : none;
}

ConnectionState Conn::State() const {
  ConnectionState s;
  if (!c_ || !c_->ssl) return s;
  auto& d = *c_;
  runtime::lockGuard g(&d.mu);
  s.HandshakeComplete = d.hsDone.load() && !d.hsErr;
  if (!s.HandshakeComplete) return s;
  s.Version = uint16_t(SSL_version(d.ssl));
  if (const SSL_CIPHER* c = SSL_get_current_cipher(d.ssl)) s.CipherSuite = SSL_CIPHER_get_name(c);
  const unsigned char* p = nullptr;
  unsigned n = 0;
  SSL_get0_alpn_selected(d.ssl, &p, &n);
  if (p) s.NegotiatedProtocol.assign(reinterpret_cast<const char*>(p), n);
  if (const char* sn = SSL_get_servername(d.ssl, TLSEXT_NAMETYPE_host_name)) s.ServerName = sn;
  s.DidResume = SSL_session_reused(d.ssl) == 1;
  return s;
}

}  // namespace ringo::tls
