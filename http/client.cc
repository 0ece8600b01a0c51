// client.cc — the HTTP/1.1 client: Go's http.Client and Transport, on
// goroutines.
//
// The shape. Do runs on the caller's goroutine from start to finish: it
// takes a connection from the pool (or dials one), writes the request,
// reads the response head, and returns with the connection inside the
// response's Body. The Body's reads continue on the connection; when the
// reader reports the end of the message, the connection goes back to the
// pool at once (from inside the Read that returned the last bytes), so a
// caller that reads to the end never has to Close for the connection to be
// reused. Nothing runs in the background for a request: no read loop, no
// write loop per connection as in Go's Transport. Go needs them because a
// goroutine there cannot be woken from a blocked read except by closing;
// here too, but ringo's Conn deadlines and Close from another goroutine give
// the same reach without two goroutines and two channels per connection.
// The costs of that choice:
//
//   - An idle pooled connection is not watched. get looks at its socket
//     once before reusing it (a MSG_PEEK that does not wait): a server that
//     closed it, or wrote to it (a 408, then the close), is found out there
//     and the connection dropped; Go's read loop notices the same things
//     as they happen. A server that closes just as the request arrives is
//     found out when the request fails before any response byte (EOF,
//     reset, broken pipe); the request is then sent again, on the next
//     pooled connection or a new one, by Go's rule (isReplayable: an
//     idempotent method or an Idempotency-Key, and a body that can be
//     made again; or nothing of it was written — "nothingWrittenError").
//   - The request body is written before the response is read. A server
//     that answers early (413) and closes is still heard: after a failed
//     write the client tries to read a response head before giving up.
//     A server that streams a long answer while still reading a large
//     request body (full duplex) would fill both sides' socket buffers and
//     stall until the timeout. Go's Transport writes and reads on two
//     goroutines and copes. Handlers nearly always read a request's body
//     before they answer it, so the common case pays nothing for a second
//     goroutine. Full duplex would move
//     writeRequest's body loop onto its own goroutine, the connection
//     going back only after both ended.
//
// Cancellation. A request whose Context can be cancelled gets one small
// goroutine (the watcher) that waits for ctx.Done() or for the exchange to
// finish. If the context wins, it closes the connection: every parked read
// or write on it returns at once, and the error becomes ctx.Err(). The
// watcher and the finishing exchange race through one atomic (who moves it
// from "running" first), so a connection the watcher may have closed never
// goes back to the pool. Requests with Background (the common case) pay
// nothing. Deadlines need no goroutine: the whole-request deadline
// (ClientOptions::timeout, and the Context's deadline) is set on the
// connection for every write and read, the response header timeout only
// while the head is awaited, the dial timeout is net::Dial's.
//
// HTTPS is the same exchange over the TLS transport the server uses
// (transport.h): tls::Client runs the handshake, verifying the certificate
// for the URL's host, before the connection joins the pool; the pool's key
// has the scheme, so an http and an https connection to one host:port
// never mix.
//
// Parsing is the server's reader in response mode (reader.h): the same
// strict llhttp, the same caps, the same framing checks; a response body
// is delimited by Content-Length, chunks, or the connection's close.
// Bodies are handed out as views into the transport's receive buffer (the
// poller's, for plain TCP), copied once into the caller's buffer.
//
// The pool. Idle connections live in a map from "scheme://host:port" to a
// stack (the most recently used first: its peer is the least likely to
// have timed it out). Limits per host and overall cap what is kept; one
// janitor goroutine per Client, started when the first connection goes
// idle and ended when none is left, closes those idle longer than
// idle_conn_timeout. The pool's lock is the runtime's mutex, held for a
// few instructions; connections are closed outside it (a close may park).
#include "ringo/http/client.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include <sys/socket.h>

#include "../runtime/lock.h"
#include "internal.h"
#include "reader.h"
#include "ringo/chan.h"
#include "ringo/go.h"
#include "ringo/time.h"
#include "transport.h"
#include "urlpath.h"

namespace ringo::http {

namespace detail {

bool peerSpoke(int fd) noexcept {
  if (fd < 0) return true;
  char b;
  const ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

namespace {

using std::chrono::steady_clock;

constexpr size_t kWriteChunk = 32 << 10;    // request body bytes per read from its Reader
constexpr int64_t kDrainMax = 64 << 10;     // Close discards at most this much to keep a connection
constexpr auto kDrainWait = std::chrono::milliseconds(100);
constexpr int64_t kReadAllReserve = 16 << 20;  // ReadAll trusts Content-Length up to this much
constexpr int kMaxInterim = 5;              // 1xx responses before the final one (Go's limit)

Time now() { return steady_clock::now(); }

Time earliest(Time a, Time b) {
  if (a == Time{}) return b;
  if (b == Time{}) return a;
  return std::min(a, b);
}

bool validFieldValue(std::string_view v) {
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// validTargetPart: what may go into a request line's target or the Host
// header as it is (no controls, no spaces): a URL built by hand, as a
// proxy does, cannot split the request.
bool validTargetPart(std::string_view s) {
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f) return false;
  return true;
}

bool validToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isTokenByte(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return out;
}

// hostPort adds the scheme's port to a URL's host when it has none:
// "example.com" -> "example.com:80", "[::1]" -> "[::1]:443".
std::string hostPort(const URL& u) {
  std::string h = lower(u.Host);
  const size_t bracket = h.rfind(']');
  const size_t colon = h.rfind(':');
  const bool hasPort = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  if (hasPort) {
    if (colon + 1 == h.size()) h += u.Scheme == "https" ? "443" : "80";  // "host:" means the default
    return h;
  }
  return h + (u.Scheme == "https" ? ":443" : ":80");
}

// hostname is the host without its port or brackets.
std::string hostname(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    return lower(host.substr(1, close == std::string_view::npos ? host.size() - 1 : close - 1));
  }
  const size_t colon = host.rfind(':');
  return lower(colon == std::string_view::npos ? host : host.substr(0, colon));
}

// parseURL is Go's url.Parse for what a client accepts: an absolute http or
// https URL with a host. The fragment is dropped.
std::error_code parseURL(std::string_view raw, URL& u) {
  if (const size_t hash = raw.find('#'); hash != std::string_view::npos) raw = raw.substr(0, hash);
  if (!ParseRequestURI(raw, u) || u.Scheme.empty()) return Errc::badURL;
  if (u.Scheme != "http" && u.Scheme != "https") return Errc::unsupportedScheme;
  if (u.Host.empty() || hostname(u.Host).empty()) return Errc::badURL;
  return {};
}

// hasScheme: s starts with "scheme:" (a letter, then letters, digits, + - .).
bool hasScheme(std::string_view s) {
  for (size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) continue;
    return c == ':' && i > 0;
  }
  return false;
}

// removeDots is RFC 3986's remove_dot_segments (section 5.2.4) for a path
// that starts with '/': "." and ".." segments go, empty ones stay ("/a//b"
// is another resource than "/a/b"), and a path ending in one of them ends
// in a slash ("/a/." is "/a/"), as Go's resolvePath.
std::string removeDots(std::string_view p) {
  std::string out;
  bool slash = false;
  for (size_t i = 0; i < p.size();) {  // p[i] == '/'
    size_t j = p.find('/', i + 1);
    if (j == std::string_view::npos) j = p.size();
    const std::string_view seg = p.substr(i + 1, j - i - 1);
    const bool last = j == p.size();
    if (seg == "." || seg == "..") {
      if (seg == "..") out.erase(std::min(out.size(), out.rfind('/')));
      slash = last;
    } else {
      out += '/';
      out += seg;
    }
    i = j;
  }
  if (slash || out.empty()) out += '/';
  return out;
}

// resolveLocation resolves a redirect's Location against the URL that was
// requested (RFC 3986 section 5.2, as Go's URL.ResolveReference).
std::error_code resolveLocation(const URL& base, std::string_view loc, URL& out) {
  if (const size_t hash = loc.find('#'); hash != std::string_view::npos) loc = loc.substr(0, hash);
  const std::string origin = base.Scheme + "://" + base.Host;
  std::string abs;
  if (hasScheme(loc)) {
    abs = loc;
  } else if (loc.substr(0, 2) == "//") {
    abs = base.Scheme + ":" + std::string(loc);
  } else if (!loc.empty() && loc[0] == '/') {
    abs = origin + removeDots(loc.substr(0, loc.find('?'))) +
          std::string(loc.find('?') == std::string_view::npos ? "" : loc.substr(loc.find('?')));
  } else if (!loc.empty() && loc[0] == '?') {
    abs = origin + escapedPath(base) + std::string(loc);
  } else if (loc.empty()) {
    abs = origin + base.RequestURI();
  } else {
    // A relative path: replace the base's last segment, then remove dot
    // segments.
    std::string dir = escapedPath(base);
    dir.erase(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/') + 1);
    if (dir.empty()) dir = "/";
    const size_t q = loc.find('?');
    abs = origin + removeDots(dir + std::string(loc.substr(0, q))) +
          std::string(q == std::string_view::npos ? "" : loc.substr(q));
  }
  if (auto err = parseURL(abs, out)) return err == Errc::unsupportedScheme ? err : Errc::badLocation;
  // A reference without an authority keeps the base's, userinfo included
  // (Go's ResolveReference): the credentials go on to /x/ after /x.
  if (!hasScheme(loc) && loc.substr(0, 2) != "//") out.User = base.User;
  return {};
}

std::shared_ptr<const std::string> shareString(std::string_view s) {
  return std::make_shared<const std::string>(s);
}

Reader sharedStringReader(std::shared_ptr<const std::string> s) {
  return [s = std::move(s), off = size_t(0)](std::span<char> buf) mutable -> net::IOResult {
    if (off >= s->size()) return {0, net::ErrEOF};
    const size_t n = std::min(buf.size(), s->size() - off);
    std::memcpy(buf.data(), s->data() + off, n);
    off += n;
    return {n, {}};
  };
}

// readerError maps the reader's refusal to the client's error.
std::error_code readerError(const messageReader& rd, bool inBody) {
  switch (rd.errorStatus()) {
    case 431: return Errc::headerTooLarge;
    case 501: return Errc::unsupportedEncoding;
    default: break;
  }
  if (rd.errorReason().find("unexpected EOF") != std::string::npos) return Errc::unexpectedEOF;
  return inBody ? Errc::malformedBody : Errc::malformedResponse;
}

// basicAuth is the Authorization value for a URL's userinfo ("name:secret",
// escaped as written, already checked by the parser): "Basic " and the
// base64 of the decoded "name:secret", as Go's.
std::string basicAuth(std::string_view userinfo) {
  std::string plain;
  for (size_t i = 0; i < userinfo.size(); i++) {
    const char c = userinfo[i];
    int v = 0;
    if (c == '%' && i + 2 < userinfo.size() &&
        std::from_chars(userinfo.data() + i + 1, userinfo.data() + i + 3, v, 16).ptr == userinfo.data() + i + 3) {
      plain += char(v);
      i += 2;
    } else {
      plain += c;
    }
  }
  if (userinfo.find(':') == std::string_view::npos) plain += ':';  // a name alone: no password
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  for (size_t i = 0; i < plain.size(); i += 3) {
    const size_t n = std::min<size_t>(3, plain.size() - i);
    uint32_t w = 0;
    for (size_t k = 0; k < 3; k++) w = (w << 8) | (k < n ? static_cast<unsigned char>(plain[i + k]) : 0u);
    for (size_t k = 0; k < 4; k++) out += k <= n ? kAlphabet[(w >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

bool isStale(std::error_code e) {
  return e == Errc::connClosedEarly || e == net::ErrEOF || e == std::errc::connection_reset ||
         e == std::errc::broken_pipe || e == std::errc::connection_aborted;
}

}  // namespace

// ---- one connection -------------------------------------------------------

// persistConn is a connection to one host, owned by exactly one place at a
// time: the pool, a Do in progress, or a response body.
struct persistConn {
  std::string key;               // "scheme://host:port"
  std::shared_ptr<transport> t;  // shared with a watcher, which may close it
  responseReader rd;
  std::string_view in;           // received and not yet fed (inside t's last recv)
  Time idleAt{};                 // when it went into the pool
  bool reused = false;           // it has carried a response before
  bool handshake = false;        // TLS: the handshake is still to run (roundTrip, under the watcher)

  persistConn(std::string k, std::shared_ptr<transport> tr, const readLimits& l)
      : key(std::move(k)), t(std::move(tr)), rd(l) {}
  ~persistConn() {
    if (t) t->close();
  }
};

// ---- cancellation ---------------------------------------------------------

// watcher closes a connection when a request's Context is cancelled (see
// the essay). state: 0 running, 1 fired (the connection is closed), 2
// stopped by the exchange. Whoever moves it from 0 decides.
struct watcher {
  std::atomic<int> state{0};
  Chan<std::monostate> stop;

  static std::shared_ptr<watcher> start(const Context& ctx, std::shared_ptr<transport> t) {
    auto w = std::make_shared<watcher>();
    Go([w, done = ctx.Done(), t = std::move(t)] {
      Select(Recv(done,
                  [&] {
                    int running = 0;
                    if (w->state.compare_exchange_strong(running, 1)) t->close();
                  }),
             Recv(w->stop));
    });
    return w;
  }
  // finish stops the watcher; false if it had already closed the connection.
  bool finish() {
    int running = 0;
    const bool won = state.compare_exchange_strong(running, 2);
    stop.Close();
    return won || running == 2;
  }
};

// exchange is what a request's reads and writes need to explain an error:
// its deadlines and its Context.
struct exchange {
  std::optional<Context> ctx;
  Time ctxDeadline{};     // the Context's own deadline (zero: none)
  Time clientDeadline{};  // start + ClientOptions::timeout (zero: none)
  Time deadline{};        // the earlier of the two

  // explain turns what a socket operation returned into what the caller
  // should see: the Context's error when it ended the wait, the client's
  // timeout when that deadline passed, else the error itself.
  std::error_code explain(std::error_code e, bool awaitingHead) const {
    if (ctx) {
      if (auto ce = ctx->Err()) return ce;
    }
    if (e == net::ErrDeadlineExceeded) {
      const Time t = now();
      if (ctxDeadline != Time{} && t >= ctxDeadline) return make_error_code(ContextError::DeadlineExceeded);
      if (clientDeadline != Time{} && t >= clientDeadline) return Errc::timeout;
      if (awaitingHead) return Errc::responseHeaderTimeout;
    }
    return e;
  }
};

// ---- the pool -------------------------------------------------------------

struct clientState : std::enable_shared_from_this<clientState> {
  ClientOptions opts;
  readLimits limits;
  std::atomic<int64_t> dials{0};

  runtime::mutex lock;  // guards the fields below
  std::unordered_map<std::string, std::vector<std::unique_ptr<persistConn>>> idle;
  int nidle = 0;
  bool closed = false;          // the Client is gone: nothing more is pooled
  // The TLS config, compiled once (an OpenSSL context and its CA store) for
  // every host: tls::Client takes the name to verify per connection.
  std::shared_ptr<const tls::Config> tlsConfig;
  bool janitorRunning = false;
  Chan<std::monostate> janitorQuit{nullptr};  // closed by shutdown
  Chan<std::monostate> janitorDone{nullptr};  // closed by the janitor as it ends

  explicit clientState(ClientOptions o) : opts(std::move(o)) {
    limits.maxHeaderBytes = opts.max_response_header_bytes;
    limits.maxHeaders = opts.max_response_headers;
  }

  bool expired(const persistConn& pc, Time t) const {
    return opts.idle_conn_timeout > std::chrono::nanoseconds::zero() && t - pc.idleAt >= opts.idle_conn_timeout;
  }

  // get takes the most recently idled connection to key, closing the ones
  // it meets that expired or that the server closed (or wrote to) while
  // they idled: those would fail the request, or hand it a response it
  // did not ask for (a 408 sent before the close).
  std::unique_ptr<persistConn> get(const std::string& key) {
    const Time t = now();
    for (;;) {
      std::unique_ptr<persistConn> pc;
      {
        runtime::lockGuard g(&lock);
        auto it = idle.find(key);
        if (it == idle.end()) return nullptr;
        pc = std::move(it->second.back());
        it->second.pop_back();
        if (it->second.empty()) idle.erase(it);
        nidle--;
      }
      // Looked at outside the lock; a bad one closes as pc goes.
      if (!expired(*pc, t) && !pc->t->spoiled()) return pc;
    }
  }

  // put pools a connection whose last response ended cleanly, or closes it
  // when the limits say no.
  void put(std::unique_ptr<persistConn> pc) {
    pc->idleAt = now();
    pc->reused = true;
    pc->in = {};
    pc->t->trim();
    (void)pc->t->setReadDeadline(Time{});
    (void)pc->t->setWriteDeadline(Time{});
    bool startJanitor = false;
    Chan<std::monostate> quit(nullptr), done(nullptr);
    std::unique_ptr<persistConn> evicted;
    {
      runtime::lockGuard g(&lock);
      auto it = idle.find(pc->key);
      const int forHost = it == idle.end() ? 0 : int(it->second.size());
      if (!closed && opts.max_idle_conns_per_host > 0 && forHost < opts.max_idle_conns_per_host &&
          opts.max_idle_conns > 0) {
        // At the overall limit, the connection idle longest makes room
        // (Go's LRU): the newest is the likeliest to be used again.
        if (nidle >= opts.max_idle_conns) evicted = evictOldestLocked();
        idle[pc->key].push_back(std::move(pc));
        nidle++;
        if (!janitorRunning) {
          janitorRunning = startJanitor = true;
          janitorQuit = Chan<std::monostate>();
          janitorDone = Chan<std::monostate>();
          quit = janitorQuit;
          done = janitorDone;
        }
      }
    }
    if (startJanitor) {
      Go([ws = weak_from_this(), quit, done] {
        janitor(ws, quit);
        done.Close();
      });
    }
    // pc, if still here, closes as it goes out of scope.
  }

  // evictOldestLocked takes the connection idle longest out of the pool
  // (lock held). Each host's stack has its oldest first.
  std::unique_ptr<persistConn> evictOldestLocked() {
    auto oldest = idle.end();
    for (auto it = idle.begin(); it != idle.end(); ++it)
      if (oldest == idle.end() || it->second.front()->idleAt < oldest->second.front()->idleAt) oldest = it;
    if (oldest == idle.end()) return nullptr;
    auto& v = oldest->second;
    auto pc = std::move(v.front());
    v.erase(v.begin());
    if (v.empty()) idle.erase(oldest);
    nidle--;
    return pc;
  }

  // janitor closes connections idle past idle_conn_timeout; it ends when
  // the pool is empty (put starts another) or the Client is destroyed.
  static void janitor(const std::weak_ptr<clientState>& ws, const Chan<std::monostate>& quit) {
    std::chrono::nanoseconds every;
    {
      auto s = ws.lock();
      if (!s) return;
      const auto idleFor = s->opts.idle_conn_timeout;
      every = idleFor <= std::chrono::nanoseconds::zero()
                  ? std::chrono::nanoseconds(std::chrono::seconds(1))
                  : std::clamp<std::chrono::nanoseconds>(idleFor / 4, std::chrono::milliseconds(5),
                                                         std::chrono::seconds(1));
    }
    for (;;) {
      bool quitNow = false;
      Select(Recv(quit, [&] { quitNow = true; }), Recv(After(every)));
      if (quitNow) return;
      auto s = ws.lock();
      if (!s) return;
      std::vector<std::unique_ptr<persistConn>> stale;
      bool empty;
      {
        runtime::lockGuard g(&s->lock);
        const Time t = now();
        for (auto it = s->idle.begin(); it != s->idle.end();) {
          auto& v = it->second;
          auto keep = std::remove_if(v.begin(), v.end(), [&](std::unique_ptr<persistConn>& c) {
            if (!s->expired(*c, t)) return false;
            stale.push_back(std::move(c));
            return true;
          });
          v.erase(keep, v.end());
          it = v.empty() ? s->idle.erase(it) : std::next(it);  // a host not talked to no longer costs a walk
        }
        s->nidle -= int(stale.size());
        empty = s->nidle == 0;
        if (empty) s->janitorRunning = false;
      }
      stale.clear();  // closes, outside the lock
      if (empty) return;
    }
  }

  // closeIdle closes every idle connection; with forever, the pool also
  // stops (the Client is going away) and the janitor is waited for.
  void closeIdle(bool forever) {
    std::unordered_map<std::string, std::vector<std::unique_ptr<persistConn>>> all;
    Chan<std::monostate> quit(nullptr), done(nullptr);
    {
      runtime::lockGuard g(&lock);
      all.swap(idle);
      nidle = 0;
      if (forever) {
        closed = true;
        if (janitorRunning) {
          quit = janitorQuit;
          done = janitorDone;
        }
      }
    }
    all.clear();
    if (quit) {
      quit.Close();
      (void)done.Recv();
    }
  }

  std::shared_ptr<const tls::Config> tlsFor() {
    runtime::lockGuard g(&lock);
    if (!tlsConfig) {
      auto c = std::make_shared<tls::Config>(opts.tls);
      c->HandshakeTimeout = opts.tls_handshake_timeout;
      tlsConfig = std::move(c);
    }
    return tlsConfig;
  }

  net::Result<std::unique_ptr<persistConn>> dial(const URL& u, const std::string& key, const exchange& x);
  net::Result<Response> roundTrip(ClientRequest& req, const exchange& x);
};

// ---- a response body --------------------------------------------------------

struct clientBody {
  std::shared_ptr<clientState> st;
  std::unique_ptr<persistConn> pc;  // null once given back or closed
  std::shared_ptr<watcher> w;       // null: nothing to cancel
  exchange x;
  std::string_view piece;           // body bytes not yet handed out (inside pc's buffer)
  bool hungry = false;              // the reader needs bytes from the network
  bool eof = false;
  bool closed = false;
  bool keepAlive = false;           // the response allows reuse
  int64_t remaining = -1;           // Content-Length not yet delivered (-1: unknown)
  std::error_code err;

  // release gives the connection back (reuse) or closes it.
  void release(bool reuse) {
    if (!pc) return;
    bool ok = reuse && keepAlive && pc->in.empty();
    if (w) {
      if (!w->finish()) ok = false;
      w.reset();
    }
    if (ok)
      st->put(std::move(pc));
    else
      pc.reset();
  }

  // fill advances the reader until a piece of body, the end, or an error;
  // without network it only uses bytes already received.
  std::error_code fill(bool network) {
    while (piece.empty() && !eof) {
      if (hungry) {
        if (!network) return {};
        auto [v, e] = pc->t->recv();
        if (e == net::ErrEOF) {
          auto f = pc->rd.finish();
          if (f.ev == readEvent::done) {  // the body ran to the connection's close
            eof = true;
            keepAlive = false;
            release(false);
            return {};
          }
          return Errc::unexpectedEOF;
        }
        if (e) return x.explain(e, false);
        pc->in = v;
        hungry = false;
      }
      auto s = pc->rd.feed(pc->in.data(), pc->in.size());
      pc->in.remove_prefix(s.consumed);
      switch (s.ev) {
        case readEvent::body: piece = s.body; break;
        case readEvent::done:
          eof = true;
          release(true);
          break;
        case readEvent::needMore: hungry = true; break;
        case readEvent::head: return Errc::malformedBody;  // a new message before this one ended
        case readEvent::error: return readerError(pc->rd, true);
      }
    }
    return {};
  }

  net::IOResult read(std::span<char> buf) {
    if (closed) return {0, ErrBodyReadAfterClose};
    if (err) return {0, err};
    if (piece.empty() && !eof) {
      if (auto e = fill(true)) {
        err = e;
        release(false);
        return {0, e};
      }
    }
    if (piece.empty()) return {0, net::ErrEOF};
    const size_t n = std::min(buf.size(), piece.size());
    std::memcpy(buf.data(), piece.data(), n);
    piece.remove_prefix(n);
    if (remaining >= 0) remaining -= int64_t(n);
    // The last bytes of a body give the connection back now, not on the
    // next Read (which a caller that knows the length may never make).
    if (piece.empty() && !eof) {
      if (auto e = fill(false)) {
        err = e;
        release(false);
      }
    }
    return {n, {}};
  }

  void close() {
    if (closed) return;
    if (pc && !eof && !err && (remaining < 0 || remaining <= kDrainMax)) {
      // Drain a little, so the connection can be reused.
      (void)pc->t->setReadDeadline(earliest(x.deadline, now() + kDrainWait));
      char scratch[4096];
      int64_t drained = 0;
      while (pc && drained <= kDrainMax) {
        auto [n, e] = read(scratch);
        if (e) break;
        drained += int64_t(n);
      }
    }
    closed = true;
    piece = {};
    release(false);
  }
};

// ---- dial, write, read --------------------------------------------------------

net::Result<std::unique_ptr<persistConn>> clientState::dial(const URL& u, const std::string& key,
                                                           const exchange& x) {
  auto timeout = opts.dial_timeout;
  if (x.deadline != Time{}) {
    const auto left = x.deadline - now();
    if (left <= std::chrono::nanoseconds::zero()) return {nullptr, x.explain(net::ErrDeadlineExceeded, false)};
    if (timeout <= std::chrono::nanoseconds::zero() || left < timeout)
      timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
  }
  net::Conn c;
  std::error_code err;
  if (!x.ctx && timeout <= std::chrono::nanoseconds::zero()) {
    auto [dc, de] = net::Dial("tcp", hostPort(u), timeout);
    c = std::move(dc);
    err = de;
  } else {
    // The dial runs on a goroutine of its own, so that the Context and the
    // timeout end the wait whatever the dial is doing: the timeout must
    // bound the name lookup too, which net::Dial's deadline does not
    // cover (getaddrinfo cannot be interrupted). A dial the caller left
    // ends with the Context (net::DialContext stops its connect) or its
    // timeout, and a connection nobody wants closes with the channel's
    // last handle.
    struct dialed {
      net::Conn c;
      std::error_code err;
    };
    Chan<dialed> done(1);
    Go([done, addr = hostPort(u), timeout, ctx = x.ctx ? *x.ctx : Background()] {
      auto [dc, de] = net::DialContext(ctx, "tcp", addr, timeout);
      (void)done.TrySend(dialed{std::move(dc), de});
    });
    bool cancelled = false, late = false;
    std::optional<Timer> timer;  // stopped below: a dial must not leave a timer pending for dial_timeout
    if (timeout > std::chrono::nanoseconds::zero()) timer.emplace(timeout);
    Select(Recv(done,
                [&](dialed d, bool) {
                  c = std::move(d.c);
                  err = d.err;
                }),
           Recv(x.ctx ? x.ctx->Done() : Chan<std::monostate>(nullptr), [&] { cancelled = true; }),
           Recv(timer ? timer->C : Chan<Time>(nullptr), [&] { late = true; }));
    if (timer) timer->Stop();
    if (cancelled) return {nullptr, x.ctx->Err()};
    if (late) err = net::ErrDeadlineExceeded;
  }
  if (err) {
    if (err == net::ErrDeadlineExceeded) {
      auto e = x.explain(err, false);
      return {nullptr, e == net::ErrDeadlineExceeded ? make_error_code(Errc::dialTimeout) : e};
    }
    return {nullptr, x.explain(err, false)};
  }
  dials.fetch_add(1, std::memory_order_relaxed);
  if (x.ctx) {
    if (auto ce = x.ctx->Err()) return {nullptr, ce};
  }
  if (u.Scheme != "https")
    return {std::make_unique<persistConn>(key, std::make_shared<plainTransport>(std::move(c)), limits), {}};

  // HTTPS: roundTrip runs the handshake once the Context's watcher is
  // on, within tls_handshake_timeout (the Config's) and the request's
  // deadline.
  auto pc = std::make_unique<persistConn>(
      key, std::make_shared<tlsTransport>(tls::Client(std::move(c), *tlsFor(), hostname(u.Host))), limits);
  pc->handshake = true;
  return {std::move(pc), {}};
}

namespace {

// writeRequest writes the head and streams the body (framed by its length
// or chunked). The head and the first piece of a body go out in one write.
std::error_code writeRequest(transport& t, const ClientRequest& req, Reader* body, const ClientOptions& o,
                             bool closeConn, bool& bodyFault, bool& wroteAny) {
  auto send = [&](std::string_view b) {
    auto r = t.write(b);
    if (r.n > 0) wroteAny = true;
    return r.err;
  };
  std::string out;
  out.reserve(512);
  out += req.Method;
  out += ' ';
  out += req.URL.RequestURI();
  out += " HTTP/1.1\r\nHost: ";
  out += req.Host.empty() ? req.URL.Host : req.Host;
  out += "\r\n";
  if (!req.URL.User.empty() && !req.Header.Has("Authorization")) {
    out += "Authorization: ";
    out += basicAuth(req.URL.User);
    out += "\r\n";
  }
  if (!o.user_agent.empty() && !req.Header.Has("User-Agent")) {
    out += "User-Agent: ";
    out += o.user_agent;
    out += "\r\n";
  }
  for (const auto& f : req.Header) {
    if (EqualFold(f.name, "Host") || EqualFold(f.name, "Content-Length") ||
        EqualFold(f.name, "Transfer-Encoding") || EqualFold(f.name, "Trailer"))
      continue;
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  // The body's first piece is read before the framing is chosen: a body of
  // unknown length that ends at once is no body (Go's probe), not an empty
  // chunked one, which some servers refuse (411).
  bool hasBody = body != nullptr && *body;
  std::string buf;
  net::IOResult first{};
  if (hasBody) {
    // A small body is read in one call (plus the one that says EOF).
    buf.assign(req.ContentLength > 0 ? size_t(std::min<int64_t>(kWriteChunk, req.ContentLength + 1)) : kWriteChunk,
               '\0');
    first = (*body)(std::span<char>(buf.data(), buf.size()));
    if (first.n > buf.size()) {  // a Reader that lies
      bodyFault = true;
      return Errc::requestBodyLength;
    }
    if (first.err && first.err != net::ErrEOF) {
      bodyFault = true;
      return first.err;
    }
    if (first.n == 0 && first.err == net::ErrEOF && req.ContentLength <= 0) hasBody = false;
  }
  const bool chunked = hasBody && req.ContentLength <= 0;
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (hasBody) {
    out += "Content-Length: ";
    appendInt(out, req.ContentLength);
    out += "\r\n";
  } else if (req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH") {
    out += "Content-Length: 0\r\n";  // as Go: some servers want a length on these
  }
  // The caller's Connection header goes as it is (it may name other
  // hop-by-hop headers, for a proxy); "close" is added unless it says so.
  if (closeConn && !hasToken(req.Header.Get("Connection"), "close")) out += "Connection: close\r\n";
  out += "\r\n";
  if (!hasBody) return send(out);

  int64_t sent = 0;
  for (bool firstPiece = true;; firstPiece = false) {
    auto [n, e] = firstPiece ? first : (*body)(std::span<char>(buf.data(), buf.size()));
    bodyFault = true;
    if (n > buf.size()) return Errc::requestBodyLength;  // a Reader that lies
    if (e && e != net::ErrEOF) return e;
    if (n > 0) {
      sent += int64_t(n);
      if (!chunked && sent > req.ContentLength) return Errc::requestBodyLength;
      if (chunked) {
        appendHex(out, n);
        out += "\r\n";
      }
      out.append(buf.data(), n);
      if (chunked) out += "\r\n";
    }
    if (e == net::ErrEOF) break;
    bodyFault = false;
    if (out.size() >= kWriteChunk) {
      if (auto we = send(out)) return we;
      out.clear();
    }
  }
  if (!chunked && sent != req.ContentLength) return Errc::requestBodyLength;
  bodyFault = false;
  if (chunked) out += "0\r\n\r\n";
  return send(out);
}

// readHead reads up to the final response's head, skipping 1xx interim
// responses. gotAny says whether any byte arrived (a reused connection
// that ends before one is stale, and the request may be retried).
std::error_code readHead(persistConn& pc, bool headRequest, bool& gotAny) {
  if (headRequest) pc.rd.expectNoBody();
  bool hungry = pc.in.empty();
  int interim = 0;
  for (;;) {
    if (hungry) {
      auto [v, e] = pc.t->recv();
      if (e == net::ErrEOF) {
        (void)pc.rd.finish();
        return gotAny ? Errc::unexpectedEOF : Errc::connClosedEarly;
      }
      if (e) return e;
      pc.in = v;
      gotAny = true;
      hungry = false;
    }
    auto s = pc.rd.feed(pc.in.data(), pc.in.size());
    pc.in.remove_prefix(s.consumed);
    switch (s.ev) {
      case readEvent::needMore: hungry = true; break;
      case readEvent::head: {
        const int code = pc.rd.head().status;
        if (code >= 100 && code < 200 && code != 101) {  // interim: its done follows
          if (++interim > kMaxInterim) return Errc::tooManyInterim;
          break;
        }
        return {};
      }
      case readEvent::done: break;  // the end of an interim response
      case readEvent::body: return Errc::malformedResponse;
      case readEvent::error: return readerError(pc.rd, false);
    }
  }
}

bool bodyAllowed(int status) { return !(status >= 100 && status < 200) && status != 204 && status != 304; }

}  // namespace

net::Result<Response> clientState::roundTrip(ClientRequest& req, const exchange& x) {
  const std::string key = req.URL.Scheme + "://" + hostPort(req.URL);
  const bool hasBody = static_cast<bool>(req.Body);
  // Go's isReplayable: a request whose server may have seen it is sent
  // again only if doing it twice is harmless (an idempotent method, or an
  // Idempotency-Key the server dedups by) and its body can be made again.
  const bool idempotent = req.Method == "GET" || req.Method == "HEAD" || req.Method == "OPTIONS" ||
                          req.Method == "TRACE" || req.Header.Has("Idempotency-Key") ||
                          req.Header.Has("X-Idempotency-Key");
  const bool replayable = (!hasBody || static_cast<bool>(req.GetBody)) && idempotent;
  const bool closeConn = req.Close || opts.disable_keep_alives || hasToken(req.Header.Get("Connection"), "close");
  const bool isHead = req.Method == "HEAD";
  for (int attempt = 0;; attempt++) {
    Reader body;
    if (hasBody) body = attempt == 0 ? std::move(req.Body) : req.GetBody();
    if (x.ctx) {
      if (auto ce = x.ctx->Err()) return {{}, ce};
    }
    auto pc = get(key);
    const bool reused = pc != nullptr;
    if (!pc) {
      auto [c, err] = dial(req.URL, key, x);
      if (err) return {{}, err};
      pc = std::move(c);
    }
    std::shared_ptr<watcher> w;
    if (x.ctx && x.ctx->Done()) w = watcher::start(*x.ctx, pc->t);
    auto drop = [&] {
      if (w) w->finish();
      pc.reset();
    };
    (void)pc->t->setWriteDeadline(x.deadline);
    if (pc->handshake) {
      (void)pc->t->setReadDeadline(x.deadline);
      if (auto herr = pc->t->handshake()) {
        drop();
        return {{}, x.explain(herr, false)};
      }
      pc->handshake = false;
    }
    bool bodyFault = false, wroteAny = false;
    auto werr = writeRequest(*pc->t, req, hasBody ? &body : nullptr, opts, closeConn, bodyFault, wroteAny);
    bool gotAny = false;
    if (werr && (bodyFault || werr == net::ErrDeadlineExceeded || werr == net::ErrClosed)) {
      // The body's Reader failed or lied about its length (the request is
      // broken, not the peer), or the deadline or the Context ended it.
      drop();
      return {{}, x.explain(werr, false)};
    }
    // The response header timeout counts from the request's last byte.
    Time headDeadline = x.deadline;
    if (opts.response_header_timeout > std::chrono::nanoseconds::zero())
      headDeadline = earliest(headDeadline, now() + opts.response_header_timeout);
    (void)pc->t->setReadDeadline(headDeadline);
    // After a failed write the server may still have answered (a 413
    // before reading the whole body) and closed: read what it said.
    if (auto rerr = readHead(*pc, isHead, gotAny)) {
      drop();
      // A pooled connection the server closed as the request went out (it
      // looked alive in get): the request goes again, on the next pooled
      // connection or a new one, if the server cannot have acted on it.
      // Each retry uses up a pooled connection, so this ends at a dial.
      if (reused && !gotAny && isStale(werr ? werr : rerr) && (replayable || (!wroteAny && (!hasBody || req.GetBody))))
        continue;
      return {{}, x.explain(werr && !gotAny ? werr : rerr, !werr)};
    }

    auto& h = pc->rd.head();
    if (h.status == 101) {
      drop();
      return {{}, Errc::switchingProtocols};
    }
    Response resp;
    resp.StatusCode = h.status;
    resp.Status = std::to_string(h.status);
    if (!h.reason.empty()) resp.Status += " " + h.reason;
    resp.ProtoMajor = h.major;
    resp.ProtoMinor = h.minor;
    resp.Proto = "HTTP/" + std::to_string(h.major) + "." + std::to_string(h.minor);
    resp.Header = http::Header(std::move(h.headers));
    h.headers = {};
    if (!bodyAllowed(h.status)) {
      resp.ContentLength = 0;
    } else if (h.chunked) {
      resp.ContentLength = -1;
      resp.TransferEncoding = {"chunked"};
    } else {
      resp.ContentLength = h.contentLength;
    }
    const bool keepAlive = h.keepAlive && !closeConn && !werr;
    resp.Close = !keepAlive;
    resp.Request = req;
    resp.Request.Body = nullptr;
    resp.Request.GetBody = nullptr;

    auto b = std::make_unique<clientBody>();
    b->st = shared_from_this();
    b->w = std::move(w);
    b->x = x;
    b->keepAlive = keepAlive;
    b->remaining = (h.chunked || isHead || !bodyAllowed(h.status)) ? -1 : h.contentLength;
    if (headDeadline != x.deadline) (void)pc->t->setReadDeadline(x.deadline);
    b->pc = std::move(pc);
    // A body that is already complete (none, or all of it received with the
    // head) ends now, and the connection is back in the pool before the
    // caller reads.
    if (auto e = b->fill(false)) {
      b->err = e;
      b->release(false);
    }
    resp.Body = ResponseBody(std::move(b));
    return {std::move(resp), {}};
  }
}

}  // namespace detail

// ---- the public API ---------------------------------------------------------

Reader StringReader(std::string s) { return detail::sharedStringReader(std::make_shared<const std::string>(std::move(s))); }

ringo::Context ClientRequest::Context() const { return ctx_ ? *ctx_ : Background(); }

ClientRequest ClientRequest::WithContext(const ringo::Context& ctx) const {
  ClientRequest r = *this;
  r.ctx_ = ctx;
  return r;
}

net::Result<ClientRequest> NewRequest(std::string_view method, std::string_view url, Reader body,
                                      int64_t contentLength) {
  ClientRequest r;
  if (!detail::validToken(method)) return {{}, Errc::badRequest};
  r.Method = method;
  if (auto err = detail::parseURL(url, r.URL)) return {{}, err};
  r.Body = std::move(body);
  r.ContentLength = r.Body ? contentLength : 0;
  return {std::move(r), {}};
}

net::Result<ClientRequest> NewRequest(std::string_view method, std::string_view url, std::string_view body) {
  auto [r, err] = NewRequest(method, url, Reader(), 0);
  if (err || body.empty()) return {std::move(r), err};
  auto s = detail::shareString(body);
  r.Body = detail::sharedStringReader(s);
  r.GetBody = [s] { return detail::sharedStringReader(s); };
  r.ContentLength = int64_t(body.size());
  return {std::move(r), {}};
}

net::Result<ClientRequest> NewRequestWithContext(const ringo::Context& ctx, std::string_view method,
                                                 std::string_view url, std::string_view body) {
  auto [r, err] = NewRequest(method, url, body);
  if (err) return {std::move(r), err};
  return {r.WithContext(ctx), {}};
}

ResponseBody::ResponseBody() noexcept = default;
ResponseBody::ResponseBody(std::unique_ptr<detail::clientBody> b) noexcept : b_(std::move(b)) {}
ResponseBody::ResponseBody(ResponseBody&&) noexcept = default;
ResponseBody& ResponseBody::operator=(ResponseBody&& o) noexcept {
  if (this != &o) {
    if (b_) {
      b_->closed = true;
      b_->release(false);
    }
    b_ = std::move(o.b_);
  }
  return *this;
}

// The destructor does not drain (it may run while a Goexit unwinds, and
// should not wait on the network): an unread body's connection is closed.
ResponseBody::~ResponseBody() {
  if (b_) {
    b_->closed = true;
    b_->release(false);
  }
}

net::IOResult ResponseBody::Read(std::span<char> buf) {
  if (!b_) return {0, net::ErrEOF};
  return b_->read(buf);
}

net::Result<std::string> ResponseBody::ReadAll() {
  std::string out;
  if (!b_) return {std::move(out), {}};
  if (b_->remaining > 0) out.reserve(size_t(std::min(b_->remaining, detail::kReadAllReserve)));
  for (;;) {
    if (out.capacity() - out.size() < 4096) out.reserve(std::max<size_t>(out.capacity() * 2, 16 << 10));
    const size_t at = out.size();
    out.resize(at + std::min<size_t>(out.capacity() - at, 64 << 10));
    auto [n, err] = b_->read(std::span<char>(out.data() + at, out.size() - at));
    out.resize(at + n);
    if (err == net::ErrEOF) return {std::move(out), {}};
    if (err) return {std::move(out), err};
  }
}

std::error_code ResponseBody::Close() {
  if (b_) b_->close();
  return {};
}

Client::Client(ClientOptions opts) : s_(std::make_shared<detail::clientState>(std::move(opts))) {}

Client::~Client() { s_->closeIdle(true); }

void Client::CloseIdleConnections() { s_->closeIdle(false); }

int64_t Client::Dials() const noexcept { return s_->dials.load(std::memory_order_relaxed); }

int Client::IdleConns() const noexcept {
  runtime::lockGuard g(&s_->lock);
  return s_->nidle;
}

net::Result<Response> Client::Do(ClientRequest req) {
  if (req.URL.Scheme != "http" && req.URL.Scheme != "https") return {{}, Errc::unsupportedScheme};
  if (req.URL.Host.empty()) return {{}, Errc::badURL};
  if (!detail::validToken(req.Method)) return {{}, Errc::badRequest};
  for (const auto& f : req.Header)
    if (!detail::validToken(f.name) || !detail::validFieldValue(f.value)) return {{}, Errc::badRequest};
  if (!detail::validTargetPart(req.Host) || !detail::validTargetPart(req.URL.Host) ||
      !detail::validTargetPart(req.URL.RawQuery) || !detail::validTargetPart(req.URL.RawPath))
    return {{}, Errc::badRequest};

  detail::exchange x;
  const auto& o = s_->opts;
  if (o.timeout > std::chrono::nanoseconds::zero()) x.clientDeadline = detail::now() + o.timeout;
  const ringo::Context ctx = req.Context();
  if (ctx.Done()) {
    x.ctx = ctx;
    if (auto d = ctx.Deadline()) x.ctxDeadline = *d;
  }
  x.deadline = detail::earliest(x.clientDeadline, x.ctxDeadline);

  std::vector<ClientRequest> via;
  for (;;) {
    const bool hadBody = req.Body || req.GetBody;
    auto [resp, err] = s_->roundTrip(req, x);
    if (err) return {{}, err};
    const int code = resp.StatusCode;
    if (code != 301 && code != 302 && code != 303 && code != 307 && code != 308) return {std::move(resp), {}};
    const std::string_view loc = resp.Header.Get("Location");
    if (loc.empty()) return {std::move(resp), {}};  // a 3xx without a target is an answer (Go)

    // The next request, by Go's rules.
    ClientRequest next = req;  // Context, Header, Host, Close
    next.Body = nullptr;
    next.GetBody = nullptr;
    next.ContentLength = 0;
    // A Host set by the caller goes along to a relative Location, where
    // the server meant the same host (Go, issue 22233); elsewhere it goes.
    if (detail::hasScheme(loc)) next.Host.clear();
    if (auto e = detail::resolveLocation(req.URL, loc, next.URL)) {
      (void)resp.Body.Close();
      return {{}, e};
    }
    bool keepBody = false;
    if (code == 307 || code == 308) {
      if (hadBody) {
        if (!req.GetBody) return {std::move(resp), {}};  // cannot send the body again: the answer stands
        keepBody = true;
      }
    } else if (req.Method != "GET" && req.Method != "HEAD") {
      next.Method = "GET";
    }
    if (keepBody) {
      next.Body = req.GetBody();
      next.GetBody = req.GetBody;
      next.ContentLength = req.ContentLength;
    } else {
      next.Header.Del("Content-Type");
      next.Header.Del("Content-Length");
    }
    // Credentials go only to the same host or its subdomains.
    const std::string from = detail::hostname(req.URL.Host), to = detail::hostname(next.URL.Host);
    if (to != from && !(to.size() > from.size() && to.ends_with(from) && to[to.size() - from.size() - 1] == '.')) {
      for (const char* h : {"Authorization", "Www-Authenticate", "Cookie", "Cookie2"}) next.Header.Del(h);
    }
    // Referer, unless going from https to http (Go).
    if (!(req.URL.Scheme == "https" && next.URL.Scheme == "http")) {
      URL ref = req.URL;
      ref.User.clear();  // never the credentials
      next.Header.Set("Referer", ref.String());
    }

    via.push_back(req);
    via.back().Body = nullptr;
    std::error_code cerr;
    if (o.check_redirect)
      cerr = o.check_redirect(next, via);
    else if (int(via.size()) >= o.max_redirects)
      cerr = Errc::tooManyRedirects;
    if (cerr == ErrUseLastResponse) return {std::move(resp), {}};
    (void)resp.Body.Close();  // drains a short body: the connection carries the next request
    if (cerr) return {{}, cerr};
    req = std::move(next);
  }
}

net::Result<Response> Client::Get(std::string_view url) {
  auto [req, err] = NewRequest("GET", url);
  if (err) return {{}, err};
  return Do(std::move(req));
}

net::Result<Response> Client::Head(std::string_view url) {
  auto [req, err] = NewRequest("HEAD", url);
  if (err) return {{}, err};
  return Do(std::move(req));
}

net::Result<Response> Client::Post(std::string_view url, std::string_view contentType, std::string_view body) {
  auto [req, err] = NewRequest("POST", url, body);
  if (err) return {{}, err};
  req.Header.Set("Content-Type", contentType);
  return Do(std::move(req));
}

net::Result<Response> Client::Post(std::string_view url, std::string_view contentType, Reader body,
                                   int64_t contentLength) {
  auto [req, err] = NewRequest("POST", url, std::move(body), contentLength);
  if (err) return {{}, err};
  req.Header.Set("Content-Type", contentType);
  return Do(std::move(req));
}

bool IsTimeout(std::error_code err) noexcept {
  return err == net::ErrDeadlineExceeded || err == Errc::timeout || err == Errc::dialTimeout ||
         err == Errc::responseHeaderTimeout || err == ContextError::DeadlineExceeded ||
         err == tls::Errc::handshakeTimeout;
}

}  // namespace ringo::http
