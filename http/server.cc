// server.cc — the HTTP/1.1 server: one goroutine per connection.
//
// Serve accepts and starts one goroutine per connection; that goroutine runs
// conn::serve, the whole life of the connection, in plain blocking style:
//
//   for (;;) {
//     readHead     feed bytes to the request reader until a head is in;
//                  park in recv when more is needed (flushing first)
//     handler      ServeHTTP on this same goroutine: the body is read on
//                  demand (readBody), the response buffered (Write)
//     finish       frame the response (Content-Length or chunked), drain
//                  what is left of the body, decide keep-alive
//   }
//
// One request at a time per connection, as Go's server: a handler owns the
// connection while it runs, so a body is streamed without copies or locks,
// and pipelined requests are answered in order by construction. Pipelined
// responses are not written one by one: the output buffer goes to the socket
// only when the loop is about to park for input (or the buffer is full), so
// 16 requests that came in one packet leave in one write.
//
// Nothing belongs to anyone but the connection's goroutine, except:
//  - state (idle or active), which Shutdown reads to close idle connections;
//  - the transport's close, which Shutdown and Close may call from their
//    goroutine (net::Conn's close is safe against a parked Recv or Write);
//  - the background read: while a handler that asked for its Context runs,
//    a second goroutine waits in recv so that a client that goes away
//    cancels the Context (Go's backgroundRead). The connection stops it (a
//    deadline in the past) and waits for it before it reads again.
//
// Everything a connection holds is released by destructors (conn::~conn), so
// the three ways a connection ends — the loop returns, a handler throws
// past us (never: we catch), a handler calls Goexit — all release the same
// things: the socket is closed, buffers go back to the pool, counters come
// down, and Shutdown is told.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <optional>

#include "../runtime/fatal.h"
#include "../runtime/lock.h"
#include "../runtime/runtime2.h"
#include "../runtime/stack.h"
#include "../runtime/tls.h"
#include "internal.h"
#include "reader.h"
#include "ringo/chan.h"
#include "ringo/defer.h"
#include "ringo/go.h"
#include "ringo/http/server.h"
#include "ringo/http/status.h"
#include "transport.h"

namespace ringo::http {

namespace detail {

namespace {

using std::chrono::steady_clock;
using namespace std::string_view_literals;  // "..."sv: appends with no strlen

// 4 KiB: a response body that fits is sent with a Content-Length (Go
// buffers 2 KiB before it chunks; a page of HTML fits in 4).
constexpr size_t kBodyBuffer = 4096;
// A write at least this big goes straight to the socket, not through the
// output buffer.
constexpr size_t kDirectWrite = 16 << 10;
// What is read and thrown away of a body the handler left, to keep the
// connection (Go: 256 KiB).
constexpr int64_t kMaxDrain = 256 << 10;
// An idle connection trims its stack after this long without a request
// (picked: longer than a keep-alive client's usual think time, so busy
// connections never pay the madvise), keeping this much below the frame
// that waits. Trimming below a live frame is always safe (the pages read
// as zero if touched again); a keep shorter than the wait's own frames
// only costs a page fault.
constexpr auto kTrimAfter = std::chrono::seconds(1);
constexpr size_t kTrimKeep = 512;
// How long a closing connection waits for the client to stop sending (so
// our last response is not lost to a reset).
constexpr auto kLinger = std::chrono::milliseconds(500);

const Time kLongAgo = Time(std::chrono::nanoseconds(1));  // a deadline in the past

Time now() { return steady_clock::now(); }
// orNow is t, or the clock when t is zero (a caller that has not read it).
Time orNow(Time t) { return t == Time{} ? now() : t; }

bool validFieldName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!isTokenByte(static_cast<unsigned char>(c))) return false;
  return true;
}

// validHostHeader: only the bytes a host, an IPv6 literal, a zone and a
// port are made of (Go's httpguts.ValidHostHeader). "a.com@evil.com" or a
// quote would otherwise reach a handler that builds a URL from Host.
bool validHostHeader(std::string_view h) {
  static constexpr auto ok = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; c++) t[size_t(c)] = true;
    for (int c = 'a'; c <= 'z'; c++) t[size_t(c)] = t[size_t(c - 'a' + 'A')] = true;
    for (char c : std::string_view("!$%&'()*+,-.:;=[]_~")) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  for (char c : h)
    if (!ok[static_cast<unsigned char>(c)]) return false;
  return true;
}

bool bodyAllowed(int status) { return !(status >= 100 && status < 200) && status != 204 && status != 304; }

template <class Out>
void appendStatusLine(Out& out, bool http10, int code) {
  out += http10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv;
  appendInt(out, code);
  out += ' ';
  std::string_view text = StatusText(code);
  if (text.empty()) {
    out += "status code "sv;
    appendInt(out, code);
  } else {
    out += text;
  }
  out += "\r\n"sv;
}

// headWriter gathers a response head in a stack buffer and appends it to
// the output at once: a dozen small std::string appends (each a capacity
// check and a memcpy call) were a sixth of a pipelined request's
// instructions. A piece that does not fit goes through as it comes.
class headWriter {
 public:
  explicit headWriter(std::string& out) : out_(out) {}
  ~headWriter() { flush(); }
  headWriter(const headWriter&) = delete;
  headWriter& operator=(const headWriter&) = delete;

  // Inlined, so that a literal's copy is a few moves, not a memcpy call.
  [[gnu::always_inline]] headWriter& append(std::string_view s) {
    if (s.size() > sizeof buf_ - n_) [[unlikely]] {
      flush();
      if (s.size() > sizeof buf_) {
        out_.append(s);
        return *this;
      }
    }
    std::memcpy(buf_ + n_, s.data(), s.size());
    n_ += s.size();
    return *this;
  }
  [[gnu::always_inline]] headWriter& append(const char* p, size_t n) { return append(std::string_view(p, n)); }
  [[gnu::always_inline]] headWriter& operator+=(std::string_view s) { return append(s); }
  [[gnu::always_inline]] headWriter& operator+=(char c) { return append(std::string_view(&c, 1)); }
  void flush() {
    out_.append(buf_, n_);
    n_ = 0;
  }

 private:
  std::string& out_;
  size_t n_ = 0;
  char buf_[512];
};

// sniff picks a Content-Type for a body the handler did not label: a small
// part of Go's DetectContentType (HTML, plain text, or bytes).
std::string_view sniff(std::string_view b) {
  size_t i = 0;
  while (i < b.size() && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
  auto startsFold = [&](std::string_view p) { return b.size() - i >= p.size() && EqualFold(b.substr(i, p.size()), p); };
  if (startsFold("<!doctype html") || startsFold("<html") || startsFold("<head") || startsFold("<body"))
    return "text/html; charset=utf-8";
  for (char c : b.substr(0, 512)) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r' && u != '\f' && u != 0x1b) || u == 0x7f)
      return "application/octet-stream";
  }
  return "text/plain; charset=utf-8";
}

// The background read's state, shared with its goroutine (which may outlive
// the connection when a Goexit closes it).
struct bgRead {
  std::shared_ptr<transport> t;
  CancelFunc cancel;
  Chan<std::monostate> done;
  std::string_view data;
  std::error_code err;
};

}  // namespace

// ---- the server's shared state --------------------------------------------

struct conn;

struct server : std::enable_shared_from_this<server> {
  ServerOptions opts;
  Handler* handler = nullptr;
  std::shared_ptr<Logger> log;
  readLimits limits;
  int maxConns = 0;

  runtime::mutex lock;                // guards the fields below
  std::vector<net::Listener> listeners;
  conn* conns = nullptr;              // intrusive list of the connections' goroutines
  int nconns = 0;                     // connections accepted and not yet ended
  bool closedAll = false;             // Close (or Shutdown's deadline) ran
  std::vector<std::function<void()>> onShutdown;
  std::atomic<bool> shutting{false};  // Shutdown or Close started: written under lock
  std::atomic<bool> draining{false};  // Drain started (readiness only: serving goes on)

  Chan<std::monostate> quit;          // closed when Shutdown or Close starts
  Chan<std::monostate> allGone;       // closed by the last connection once shutting
  Chan<std::monostate> slots;         // one element per open connection (max_conns)
  std::optional<Context> base;        // parent of every request's Context (set by start)
  CancelFunc cancelBase;

  // Error and bad-input logs: at most 10 a second, bursts of 20 (picked).
  runtime::mutex rateLock;
  double tokens = 20;
  steady_clock::time_point lastRefill = steady_clock::now();

  explicit server(ServerOptions o) : opts(std::move(o)), slots(nullptr) {
    handler = opts.handler ? opts.handler : opts.owned.get();
    if (handler == nullptr) throw std::invalid_argument("http.Server: no handler (set handler or owned)");
    log = opts.logger ? opts.logger : StderrLogger();
    limits.maxHeaderBytes = opts.max_header_bytes;
    limits.maxHeaders = opts.max_headers;
    limits.maxURI = opts.max_uri_bytes;
    maxConns = opts.max_conns;
    if (maxConns <= 0) {
      rlimit rl{};
      getrlimit(RLIMIT_NOFILE, &rl);
      maxConns = int(std::clamp<rlim_t>(rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 1, 1, 1 << 20));
    }
  }

  // started is called on the first Serve (on a goroutine: channels and
  // Contexts need the runtime).
  void start() {
    runtime::lockGuard g(&lock);
    if (slots) return;
    slots = Chan<std::monostate>(size_t(maxConns));
    auto [c, cancel] = WithCancel(Background());
    base.emplace(c);
    cancelBase = cancel;
  }

  bool allow() {
    runtime::lockGuard g(&rateLock);
    auto t = steady_clock::now();
    tokens = std::min(20.0, tokens + std::chrono::duration<double>(t - lastRefill).count() * 10);
    lastRefill = t;
    if (tokens < 1) {
      count(cLogDropped);
      return false;
    }
    tokens -= 1;
    return true;
  }

  // logLimited logs at a rate limit (errors and bad input can be floods).
  void logLimited(Level lv, std::string_view msg, std::initializer_list<Field> f) {
    if (allow()) log->Log(lv, msg, std::span<const Field>(f.begin(), f.size()));
  }

  std::error_code serve(net::Listener ln, std::shared_ptr<const tls::Config> tlsCfg = nullptr);
  std::shared_ptr<const tls::Config> tlsConfig(std::string_view certFile, std::string_view keyFile, std::error_code& err);
  void beginShutdown(bool closeAll);
  void closeConns(bool idleOnly);
  std::error_code waitGone(const Context* ctx, std::optional<Time> deadline);
};

// ---- one connection ---------------------------------------------------------

enum connState : int { stIdle, stActive, stClosed };

struct conn final : bodySource, Request::contextSource, ResponseWriter {
  std::shared_ptr<server> srv;
  std::shared_ptr<transport> t;
  conn* next = nullptr;  // server's list, under srv->lock
  conn* prev = nullptr;
  std::atomic<int> state{stIdle};

  requestReader rd;
  std::string_view in;  // bytes received and not yet fed (inside t's buffer)
  std::string remote;
  int served = 0;       // requests read on this connection
  bool closeAfter = false;  // end the connection after this response
  bool hijacked = false;

  // The request.
  Request req;
  bool bodyDone = true;   // the reader reported the body's end
  std::error_code bodyErr;
  std::string_view bodyRest;  // a piece of body not yet handed out
  bool expectContinue = false, sent100 = false;
  bool isHead = false;
  std::optional<Context> ctx;
  CancelFunc cancel;
  std::shared_ptr<bgRead> bg;
  bool clientGone = false;

  // The response.
  http::Header resHeader;
  std::string out;      // bytes for the socket (from the pool while busy)
  size_t outDone = 0;   // out's bytes that end a finished response (pipelined answers not sent yet)
  std::string body;     // the body before it is framed (from the pool)
  bool haveOut = false, haveBody = false;
  int status = 0;
  bool wroteHeader = false, committed = false, chunking = false;
  int64_t declared = -1;  // Content-Length set by the handler
  int64_t written = 0;    // body bytes written by the handler

  conn(std::shared_ptr<server> s, std::shared_ptr<transport> tr)
      : srv(std::move(s)), t(std::move(tr)), rd(srv->limits) {
    remote = t->remoteAddr();
    runtime::lockGuard g(&srv->lock);
    next = srv->conns;
    if (next) next->prev = this;
    srv->conns = this;
  }

  ~conn() {
    if (bg) (void)t->setReadDeadline(kLongAgo);  // its goroutine holds what it needs
    if (cancel) cancel();
    if (!hijacked && haveOut && outDone > 0) {
      // Goexit (or an exception) ended a handler while earlier pipelined
      // requests' answers still waited in out: they are finished, and go
      // out; the aborted request's partial answer behind them does not.
      // Then the linger, so that requests still unread behind it do not
      // turn the close into a reset that destroys those answers.
      out.resize(outDone);
      if (flushOut(Time{}, true)) lingerClose();
    }
    if (!hijacked) t->close();
    t->drop();
    if (haveOut) bufput(std::move(out));
    if (haveBody) bufput(std::move(body));
    count(cConnsOpen, -1);
    (void)srv->slots.TryRecv();
    runtime::lockGuard g(&srv->lock);
    if (prev) prev->next = next;
    else srv->conns = next;
    if (next) next->prev = prev;
    if (--srv->nconns == 0 && srv->shutting.load()) srv->allGone.Close();
  }

  void serve();
  bool readHead();
  bool startRequest();
  void serveRequest();
  void handlerFailed(const char* what);
  void reject(int code, std::string_view why);
  void lingerClose(bool always = false);
  // allRead: every byte the client sent so far is read (as far as we know).
  bool allRead() const { return in.empty() && bodyDone && !bodyErr; }

  // input
  bool fill(Time deadline, bool idleWait = false, Time at = Time{});
  net::IOResult readBody(std::span<char> buf) override;
  void bodyTooLarge() noexcept override { closeAfter = true; }  // Go's requestTooLarge
  bool discardBody(int64_t limit);
  void send100();

  // output
  std::string& outbuf() {
    if (!haveOut) {
      out = bufget();
      haveOut = true;
    }
    return out;
  }
  bool flushOut(Time at = Time{}, bool last = false, bool peerDone = false);
  void idle(Time at);
  // commit: first is the write that made it (a body too large to
  // buffer), for the Content-Type sniff when nothing was buffered before.
  void commit(bool final, std::string_view first = {});
  void finishResponse();
  WriteResult writeBody(std::string_view data);
  void accessLog();

  // ResponseWriter
  http::Header& Header() override { return resHeader; }
  void WriteHeader(int code) override;
  WriteResult Write(std::string_view data) override;
  std::error_code Flush() override;
  net::Result<Hijacked> Hijack() override;

  // Context
  ringo::Context requestContext() override;
  void startBackgroundRead();
  void stopBackgroundRead();
};

void conn::serve() {
  if (auto err = t->handshake()) {
    // Go's "http: TLS handshake error from ADDR: ERR", once (rate-limited).
    if (!srv->shutting.load(std::memory_order_relaxed)) {
      count(cTLSHandshakeErrors);
      srv->logLimited(Level::Warn, "TLS handshake error", {{"remote", remote}, {"err", err.message()}});
    }
    return;
  }
  while (readHead()) {
    serveRequest();
    if (hijacked) return;
    if (closeAfter || srv->shutting.load(std::memory_order_relaxed)) {
      // The client said it sends nothing more, and all it sent is read:
      // the close may carry the last bytes (writeLast's peerDone).
      if (flushOut(Time{}, true, req.Close && allRead())) lingerClose();
      return;
    }
  }
}

// fill parks for more input (in is empty), flushing output first.
// deadline: the read deadline to set (Time{}: keep the one set). idleWait:
// the connection waits for its next request; if none comes within
// kTrimAfter, it gives back the stack pages the last request touched
// (stacktrim) and waits out the rest, so an idle connection holds the pages
// its wait needs and no more. at: the clock, if the caller just read it.
bool conn::fill(Time deadline, bool idleWait, Time at) {
  if (!flushOut(at)) return false;
  t->drop();
  Time first = deadline;
  if (idleWait) {
    const Time soon = orNow(at) + kTrimAfter;
    if (deadline == Time{} || soon < deadline) first = soon;
  }
  if (first != Time{}) (void)t->setReadDeadline(first);
  for (;;) {
    auto [v, err] = t->recv();
    if (!err) {
      in = v;
      return true;
    }
    if (err == net::ErrDeadlineExceeded && first != deadline) {
      runtime::stacktrim(kTrimKeep);
      t->trim();
      first = deadline;
      (void)t->setReadDeadline(deadline);  // Time{}: none
      continue;
    }
    if (!bodyErr) bodyErr = err;
    return false;
  }
}

// readHead reads until a request head is in; false when the connection
// should end (closed, timed out, rejected).
bool conn::readHead() {
  const auto& o = srv->opts;
  bool started = !in.empty();  // a pipelined request's bytes are here
  Time headStart{};            // when the head's first byte was seen (read lazily: most heads come whole)
  bool headDeadline = false;
  for (;;) {
    auto st = rd.feed(in.data(), in.size());
    in.remove_prefix(st.consumed);
    if (st.ev == readEvent::head) return startRequest();
    if (st.ev == readEvent::error) {
      reject(rd.errorStatus(), rd.errorReason());
      return false;
    }
    if (st.ev != readEvent::needMore) runtime::fatal("http: readHead: event %d before a head", int(st.ev));
    if (!in.empty()) continue;
    // Park for more. Idle (no byte of the next request yet): the idle
    // timeout (the header timeout before the first request); then the
    // header timeout from the first byte, set only if the head did not
    // arrive whole.
    Time deadline{};
    Time at{};  // the clock, read once for the deadlines set here
    if (!started) {
      at = now();
      idle(at);
      auto d = served == 0 || o.idle_timeout.count() == 0 ? o.read_header_timeout : o.idle_timeout;
      if (d.count() > 0) deadline = at + d;
      else (void)t->setReadDeadline(Time{});
    } else if (!headDeadline) {
      headDeadline = true;
      if (headStart == Time{}) headStart = now();  // its first bytes came with the last read, just now
      if (o.read_header_timeout.count() > 0) deadline = headStart + o.read_header_timeout;
      else (void)t->setReadDeadline(Time{});
    }
    if (!fill(deadline, /*idleWait=*/!started, at)) {
      if (started)
        srv->log->Log(Level::Debug, "request head not completed",
                      std::initializer_list<Field>{{"remote", remote}, {"err", bodyErr.message()}});
      return false;
    }
    if (!started) {
      started = true;  // headStart is read when the head turns out not to be whole
      int want = stIdle;
      if (!state.compare_exchange_strong(want, stActive)) return false;  // Shutdown closed us
    }
  }
}

// idle marks the connection idle (Shutdown may close it now) and gives its
// buffers back: an idle connection holds no buffer.
void conn::idle(Time at) {
  (void)flushOut(at);
  if (haveOut) {
    bufput(std::move(out));
    haveOut = false;
  }
  if (haveBody) {
    bufput(std::move(body));
    haveBody = false;
  }
  state.store(stIdle);
  if (srv->shutting.load()) {
    // Shutdown may have walked the list before we were idle: close now.
    int want = stIdle;
    if (state.compare_exchange_strong(want, stClosed)) t->close();
  }
}

bool conn::startRequest() {
  auto& h = rd.head();
  served++;
  req.reset();
  req.Method.assign(h.method);
  req.RequestURI.assign(h.target);
  req.ProtoMajor = h.major;
  req.ProtoMinor = h.minor;
  req.Proto = h.minor == 0 ? "HTTP/1.0"sv : "HTTP/1.1"sv;
  req.Header.fields().swap(h.headers);  // the reader gets the last request's vector
  req.RemoteAddr = remote;
  req.Close = !h.keepAlive;
  isHead = req.Method == "HEAD"sv;
  if (h.major != 1) {
    reject(505, "unsupported HTTP version");
    return false;
  }
  // CONNECT names an authority ("example.com:443"), not a path: URL.Host
  // holds it and Path stays empty (Go's justAuthority).
  const bool authority = req.Method == "CONNECT"sv && !h.target.empty() && h.target[0] != '/';
  if (authority ? !ParseRequestURI("http://" + h.target, req.URL) || !req.URL.Path.empty() || !req.URL.RawQuery.empty()
                : !ParseRequestURI(h.target, req.URL)) {
    reject(400, "malformed request target");
    return false;
  }
  if (authority) req.URL.Scheme.clear();
  // One pass for the headers the server itself reads.
  auto& fields = req.Header.fields();
  size_t host = fields.size(), expect = fields.size();
  int hosts = 0;
  for (size_t i = 0; i < fields.size(); i++) {
    const std::string& n = fields[i].name;
    if (n.size() == 4 && EqualFold(n, "Host")) {
      host = i;
      hosts++;
    } else if (n.size() == 6 && EqualFold(n, "Expect")) {
      expect = i;
    }
  }
  if (hosts > 1) {
    reject(400, "too many Host headers");
    return false;
  }
  if (hosts == 0 && req.ProtoAtLeast(1, 1)) {
    reject(400, "missing required Host header");
    return false;
  }
  std::string expectValue;
  if (expect < fields.size()) expectValue = fields[expect].value;
  if (hosts == 1) {
    if (!validHostHeader(fields[host].value)) {
      reject(400, "malformed Host header");
      return false;
    }
    req.Host.swap(fields[host].value);
    fields.erase(fields.begin() + std::ptrdiff_t(host));  // Go moves Host out of the header map
  }
  if (!req.URL.Host.empty()) req.Host = req.URL.Host;  // absolute form wins, as RFC 9112 says

  req.ContentLength = h.chunked ? -1 : std::max<int64_t>(h.contentLength, 0);
  const int64_t maxBody = srv->opts.max_body_bytes;
  if (maxBody > 0 && req.ContentLength > maxBody) {
    reject(413, "request body larger than the server's limit");
    return false;
  }
  expectContinue = sent100 = false;
  // Expect means nothing before HTTP/1.1 (RFC 9110 10.1.1; Go ignores it).
  if (const std::string& e = expectValue; !e.empty() && req.ProtoAtLeast(1, 1)) {
    if (!EqualFold(e, "100-continue")) {
      reject(417, "unsupported Expect");
      return false;
    }
    expectContinue = true;
  }
  if (h.upgrade) closeAfter = true;  // unless hijacked, nothing after it is HTTP
  bodyErr.clear();
  bodyRest = {};
  bodyDone = false;
  req.Body.reset(this, maxBody > 0 ? maxBody : -1);
  req.setContextSource(this);
  if (req.ContentLength == 0) {
    // No body: the reader ends the message on the next feed.
    // With no bytes, so that a bad next request cannot be reported as this
    // one's end: the reader ends a bodiless message without input.
    auto st = rd.feed(in.data(), 0);
    if (st.ev != readEvent::done && !h.upgrade) runtime::fatal("http: startRequest: event %d after a bodiless head", int(st.ev));
    bodyDone = true;
    expectContinue = false;
  }
  return true;
}

void conn::serveRequest() {
  // The response.
  resHeader.Clear();
  status = 0;
  wroteHeader = committed = chunking = false;
  declared = -1;
  written = 0;
  if (served >= srv->opts.max_requests_per_conn && srv->opts.max_requests_per_conn > 0) closeAfter = true;

  count(cRequests);
  count(cInFlight);
  {
    auto guard = Defer([] {
      count(cInFlight, -1);
      // Goexit: this runs during the unwind, before the connection's own
      // destructor closes the socket.
      if (runtime::getg()->goexiting) count(cAborted);
    });
    try {
      srv->handler->ServeHTTP(*this, req);
    } catch (const std::exception& e) {
      handlerFailed(e.what());
    } catch (...) {
      if (runtime::getg()->goexiting) throw;  // Goexit: let it unwind
      handlerFailed("an exception not derived from std::exception");
    }
  }
  stopBackgroundRead();
  // Go cancels a request's Context when its handler returns. Before the
  // leftover body is read away: a Context still set there would start
  // another background read (readBody, at the body's end) that nobody
  // stops, racing the next request's reads for its bytes.
  if (cancel) {
    cancel();
    cancel = nullptr;
  }
  ctx.reset();
  if (hijacked) return;
  finishResponse();
  if (srv->opts.access_log) accessLog();
  if (!bodyDone && !closeAfter) {
    // The handler left some body: read it away if it is small, or close.
    if (expectContinue && !sent100) closeAfter = true;  // the client is still waiting to send it
    else if (!discardBody(kMaxDrain)) closeAfter = true;
  }
}

void conn::handlerFailed(const char* what) {
  count(cFailed);
  char id[24];
  std::snprintf(id, sizeof id, "%llu", static_cast<unsigned long long>(runtime::getg()->goid));
  srv->logLimited(Level::Error, "handler threw",
                  {{"goroutine", id}, {"what", what}, {"method", req.Method}, {"uri", req.RequestURI}});
  closeAfter = true;
  if (committed) {
    // Part of it went out: only closing tells the client, and it must not
    // look complete (no last chunk: finishResponse would write one).
    chunking = false;
    return;
  }
  resHeader.Clear();
  if (haveBody) body.clear();
  written = 0;
  declared = -1;
  wroteHeader = false;
  resHeader.Set("Content-Type", "text/plain; charset=utf-8");
  WriteHeader(500);
  (void)Write("Internal Server Error\n");
}

// reject answers bad input that never reached a handler, and ends the
// connection: nothing after a rejected request is read as a request.
void conn::reject(int code, std::string_view why) {
  count(cRejected);
  char st[8];
  std::snprintf(st, sizeof st, "%d", code);
  srv->logLimited(Level::Warn, "bad request", {{"remote", remote}, {"status", st}, {"why", std::string(why)}});
  auto& o = outbuf();
  std::string text(StatusText(code));
  std::string msg = std::string(st) + " " + text;
  if (code == 400 && !why.empty()) msg += std::string(": ") + std::string(why);
  appendStatusLine(o, false, code);
  o += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "sv;
  appendInt(o, int64_t(msg.size()));
  o += "\r\n\r\n"sv;
  o += msg;
  closeAfter = true;
  if (flushOut(Time{}, true)) lingerClose(true);
}

// lingerClose half-closes and reads what the client still sends, briefly,
// so our last response is not destroyed by a reset (unread input at close
// makes the kernel send RST, and the client may lose the response).
void conn::lingerClose(bool always) {
  if (!always && allRead()) return;  // nothing unread: a plain close does
  (void)t->closeWrite();
  in = {};
  const Time end = now() + kLinger;
  (void)t->setReadDeadline(end);
  for (int64_t n = 0; n < (256 << 10);) {
    auto [v, err] = t->recv();
    if (err) break;
    n += int64_t(v.size());
  }
}

// ---- the body ---------------------------------------------------------------

void conn::send100() {
  sent100 = true;
  if (committed) return;
  auto& o = outbuf();
  o += "HTTP/1.1 100 Continue\r\n\r\n"sv;
  (void)flushOut();
}

net::IOResult conn::readBody(std::span<char> buf) {
  if (bodyDone) return {0, net::ErrEOF};
  if (bodyErr) return {0, bodyErr};
  if (buf.empty()) return {0, {}};
  if (expectContinue && !sent100) send100();
  for (;;) {
    if (!bodyRest.empty()) {
      const size_t n = std::min(buf.size(), bodyRest.size());
      std::memcpy(buf.data(), bodyRest.data(), n);
      bodyRest.remove_prefix(n);
      return {n, {}};
    }
    auto st = rd.feed(in.data(), in.size());
    in.remove_prefix(st.consumed);
    switch (st.ev) {
      case readEvent::body:
        bodyRest = st.body;
        continue;
      case readEvent::done:
        bodyDone = true;
        if (ctx && in.empty() && !bg) startBackgroundRead();
        return {0, net::ErrEOF};
      case readEvent::error:
        bodyErr = make_error_code(Errc::bodyMalformed);
        closeAfter = true;
        srv->logLimited(Level::Warn, "bad request body", {{"remote", remote}, {"why", rd.errorReason()}});
        return {0, bodyErr};
      case readEvent::needMore: {
        const auto d = srv->opts.read_timeout;
        // No read_timeout: no deadline at all, not the one the last wait
        // left (the idle wait's stack trim, a stopped background read).
        if (d.count() == 0) (void)t->setReadDeadline(Time{});
        if (!fill(d.count() > 0 ? now() + d : Time{})) {
          closeAfter = true;
          // A body cut short stays cut short: every later Read says so too,
          // never a clean EOF.
          if (bodyErr == net::ErrEOF) bodyErr = std::make_error_code(std::errc::connection_aborted);
          return {0, bodyErr};
        }
        continue;
      }
      case readEvent::head:
        runtime::fatal("http: readBody: a head inside a body");
    }
  }
}

// discardBody reads the rest of the body away, up to limit bytes; true when
// it ended (the connection can go on).
bool conn::discardBody(int64_t limit) {
  if (req.ContentLength > 0 && req.ContentLength - req.Body.BytesRead() > limit) return false;
  char scratch[4096];
  for (int64_t n = 0; n <= limit;) {
    auto r = readBody(scratch);
    if (r.err == net::ErrEOF) return true;
    if (r.err) return false;
    n += int64_t(r.n);
  }
  return false;
}

// ---- the response -----------------------------------------------------------

// flushOut writes what is buffered. last: the connection closes next, and
// the last bytes leave with the FIN (writeLast): a Connection: close
// response is one packet. (Sent alone, with the FIN at the close a round
// later, it let the client read it and close first about half the time:
// the server then took the FIN and closed after, both ends paying for a
// packet more. Server CPU per request, Connection: close at 16
// connections, 16.5 -> 14.3 µs.) peerDone: see writeLast.
bool conn::flushOut(Time at, bool last, bool peerDone) {
  if (!haveOut || out.empty()) return true;
  const auto d = srv->opts.write_timeout;
  if (d.count() > 0) (void)t->setWriteDeadline(orNow(at) + d);
  auto r = last ? t->writeLast(out, peerDone) : t->write(out);
  out.clear();
  outDone = 0;
  if (r.err) {
    closeAfter = true;
    return false;
  }
  return true;
}

// appendFieldValue writes a header value set by a handler. No response
// splitting: CR, LF and NUL become spaces (Go does the same).
template <class Out>
void appendFieldValue(Out& o, std::string_view v) {
  // (A loop, not find_first_of: libstdc++'s calls memchr per byte.)
  bool clean = true;
  for (char c : v) clean &= c != '\r' && c != '\n' && c != '\0';
  if (clean) {
    o.append(v);
    return;
  }
  for (char c : v) o += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

void conn::WriteHeader(int code) {
  if (hijacked) {
    srv->logLimited(Level::Warn, "WriteHeader on a hijacked connection", {{"remote", remote}});
    return;
  }
  if (code < 100 || code > 999) throw std::invalid_argument("http: invalid WriteHeader code " + std::to_string(code));
  if (wroteHeader) {
    srv->logLimited(Level::Warn, "superfluous WriteHeader call", {{"uri", req.RequestURI}});
    return;
  }
  if (code >= 100 && code < 200 && code != 101) {
    // An interim response (103 Early Hints): now, with the headers so far.
    if (code == 100) sent100 = true;
    auto& o = outbuf();
    appendStatusLine(o, false, code);
    for (const auto& f : resHeader) {
      if (!validFieldName(f.name)) continue;
      o.append(f.name).append(": "sv);
      appendFieldValue(o, f.value);
      o += "\r\n"sv;
    }
    o += "\r\n"sv;
    (void)flushOut();
    return;
  }
  wroteHeader = true;
  status = code;
  if (auto cl = resHeader.Get("Content-Length"); !cl.empty()) {
    int64_t v = -1;
    auto r = std::from_chars(cl.data(), cl.data() + cl.size(), v);
    if (r.ec == std::errc() && r.ptr == cl.data() + cl.size() && v >= 0) declared = v;
    else {
      srv->logLimited(Level::Warn, "invalid Content-Length set by handler", {{"value", std::string(cl)}});
      resHeader.Del("Content-Length");
    }
  }
}

WriteResult conn::Write(std::string_view data) {
  if (hijacked) return {0, ErrHijacked};
  if (!wroteHeader) WriteHeader(StatusOK);
  if (!bodyAllowed(status)) return {0, make_error_code(Errc::notSupported)};
  if (data.empty()) return {0, {}};
  if (declared >= 0 && written + int64_t(data.size()) > declared) return {0, ErrContentLength};
  written += int64_t(data.size());
  if (isHead) return {data.size(), {}};
  if (!committed) {
    if (!haveBody) {
      body = bufget();
      haveBody = true;
    }
    if (body.size() + data.size() <= kBodyBuffer) {
      body.append(data);
      return {data.size(), {}};
    }
    commit(false, data);
  }
  return writeBody(data);
}

WriteResult conn::writeBody(std::string_view data) {
  auto& o = outbuf();
  if (chunking) {
    appendHex(o, data.size());
    o += "\r\n"sv;
  }
  if (data.size() >= kDirectWrite) {
    if (!flushOut()) return {0, make_error_code(Errc::abortHandler)};
    const auto d = srv->opts.write_timeout;
    if (d.count() > 0) (void)t->setWriteDeadline(now() + d);
    if (auto r = t->write(data); r.err) {
      closeAfter = true;
      return {0, make_error_code(Errc::abortHandler)};
    }
  } else {
    o.append(data);
  }
  if (chunking) o += "\r\n"sv;
  if (o.size() >= srv->opts.max_output_bytes && !flushOut()) return {0, make_error_code(Errc::abortHandler)};
  return {data.size(), {}};
}

// commit writes the status line and headers to the output buffer, choosing
// the framing: final (the handler returned) allows a Content-Length for the
// buffered body; otherwise the body is chunked (HTTP/1.1) or ends at close.
void conn::commit(bool final, std::string_view first) {
  committed = true;
  headWriter o(outbuf());
  const bool http10 = !req.ProtoAtLeast(1, 1);
  const size_t buffered = haveBody ? body.size() : 0;
  // 101 Switching Protocols, or a 2xx to CONNECT, before a Hijack: the
  // handler's Connection ("Upgrade") is what the client checks, nothing
  // after it is HTTP, and a 2xx to CONNECT has no framing headers (RFC
  // 9110 9.3.6).
  const bool switching = status == 101 || (req.Method == "CONNECT"sv && status / 100 == 2);
  const bool hasBody = bodyAllowed(status) && !switching;

  if (srv->shutting.load(std::memory_order_relaxed) || req.Close) closeAfter = true;
  // A body the handler left unread decides the connection's fate before
  // the headers say it (Go does the same in writeHeader): the client still
  // waiting to send it (no 100 Continue went out), or a large one, close.
  // (A small one is read away first, by finishResponse.)
  if (!bodyDone && !closeAfter) {
    if (expectContinue && !sent100) closeAfter = true;
    else if (req.ContentLength > kMaxDrain + req.Body.BytesRead()) closeAfter = true;
  }

  int64_t length = -1;
  if (!hasBody) {
  } else if (declared >= 0) {
    length = declared;
  } else if (final) {
    length = isHead ? (written > 0 ? written : -1) : int64_t(buffered);
  } else if (isHead) {
  } else if (!http10) {
    chunking = true;
  } else {
    closeAfter = true;  // HTTP/1.0 without a length: the body ends at close
  }

  appendStatusLine(o, http10, status);
  bool haveDate = false, haveType = false, haveConnection = false;
  for (const auto& f : resHeader) {
    const std::string& n = f.name;
    if (!validFieldName(n)) {
      srv->logLimited(Level::Warn, "invalid header name dropped", {{"name", n}});
      continue;
    }
    // The framing headers are ours to set; a handler's "Connection: close"
    // (its first Connection value, as Header.Get reads) closes after this.
    switch (n.size()) {
      case 14:
        if (EqualFold(n, "Content-Length")) continue;
        break;
      case 17:
        if (EqualFold(n, "Transfer-Encoding")) continue;
        break;
      case 10:
        if (!EqualFold(n, "Connection") || switching) break;
        if (!haveConnection && EqualFold(f.value, "close")) closeAfter = true;
        haveConnection = true;
        continue;
      case 4:
        haveDate = haveDate || EqualFold(n, "Date");
        break;
      case 12:
        haveType = haveType || EqualFold(n, "Content-Type");
        break;
    }
    o.append(n).append(": "sv);
    appendFieldValue(o, f.value);
    o += "\r\n"sv;
  }
  if (!haveDate) {
    char date[32];
    o.append("Date: "sv).append(std::string_view(date, dateValue(date))).append("\r\n"sv);
  }
  if (!haveType && hasBody && (buffered > 0 || !final) && !isHead)
    o.append("Content-Type: "sv).append(sniff(buffered > 0 ? std::string_view(body) : first)).append("\r\n"sv);
  if (length >= 0) {
    o += "Content-Length: "sv;
    appendInt(o, length);
    o += "\r\n"sv;
  } else if (chunking) {
    o += "Transfer-Encoding: chunked\r\n"sv;
  }
  if (switching) {
  } else if (closeAfter) {
    o += "Connection: close\r\n"sv;
  } else if (http10) {
    o += "Connection: keep-alive\r\n"sv;
  }
  o += "\r\n"sv;

  if (buffered > 0) {
    std::string_view b = body;
    if (chunking) {
      appendHex(o, b.size());
      o += "\r\n"sv;
      o.append(b);
      o += "\r\n"sv;
    } else {
      o.append(b);
    }
    body.clear();
  }
}

void conn::finishResponse() {
  if (!wroteHeader) WriteHeader(StatusOK);
  if (!committed) {
    // The handler is done with a body it left unread: a small one is read
    // away now, so that a failure shows as "Connection: close" — unless
    // the connection closes after this answer anyway (commit's reasons:
    // the client's or the handler's Connection: close, HTTP/1.0 without
    // keep-alive, Shutdown), which then goes out at once.
    // (Looked at only when a body is left: commit looks at them anyway.)
    if (!bodyDone && (srv->shutting.load(std::memory_order_relaxed) || req.Close ||
                      EqualFold(resHeader.Get("Connection"), "close")))
      closeAfter = true;
    if (!bodyDone && !closeAfter && !(expectContinue && !sent100) &&
        req.ContentLength <= kMaxDrain + req.Body.BytesRead() && !discardBody(kMaxDrain))
      closeAfter = true;
    commit(true);
  } else if (chunking) {
    outbuf() += "0\r\n\r\n"sv;
  } else if (declared >= 0 && written < declared && !isHead) {
    closeAfter = true;  // the client would wait for bytes that never come
    srv->logLimited(Level::Warn, "handler wrote less than its Content-Length", {{"uri", req.RequestURI}});
  }
  if (haveOut) outDone = out.size();
  if (haveOut && out.size() >= srv->opts.max_output_bytes) (void)flushOut();
}

std::error_code conn::Flush() {
  if (hijacked) return ErrHijacked;
  if (!wroteHeader) WriteHeader(StatusOK);
  if (!committed) commit(false);
  if (!flushOut()) return make_error_code(Errc::abortHandler);
  return {};
}

net::Result<Hijacked> conn::Hijack() {
  if (hijacked) return {{}, ErrHijacked};
  stopBackgroundRead();
  // What the handler wrote goes out first, as in Go: the 101 of an upgrade
  // (WriteHeader(101), then Hijack), or a whole response.
  if (wroteHeader && !committed) commit(true);
  if (!flushOut()) return {{}, make_error_code(Errc::abortHandler)};
  // The new owner starts with no deadline: the server's (a body read's,
  // the last flush's write timeout, the long-past one that stopped the
  // background read) were for HTTP. Go leaves them for the caller to clear,
  // but its timeouts default to none and ours do not.
  (void)t->setReadDeadline(Time{});
  (void)t->setWriteDeadline(Time{});
  Hijacked h;
  if (t->hijack(h)) return {{}, ErrNotSupported};
  hijacked = true;
  h.buffered = std::string(in);
  if (!bodyRest.empty()) h.buffered.insert(0, bodyRest);
  in = {};
  bodyRest = {};
  return {std::move(h), {}};
}

void conn::accessLog() {
  // Common log format: host ident authuser [date] "request" status bytes
  std::string_view host = remote;
  if (auto p = host.rfind(':'); p != std::string_view::npos) host = host.substr(0, p);
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char stamp[40];
  strftime(stamp, sizeof stamp, "[%d/%b/%Y:%H:%M:%S +0000]", &t);
  std::string line;
  line.reserve(128);
  line.append(host).append(" - - "sv).append(stamp).append(" \"").append(req.Method).append(" "sv);
  line.append(req.RequestURI).append(" "sv).append(req.Proto).append("\" ");
  appendInt(line, status);
  line += ' ';
  appendInt(line, written);
  line += '\n';
  writeLine(std::move(line));
}

// ---- the request's Context ----------------------------------------------------

ringo::Context conn::requestContext() {
  if (!ctx) {
    auto [c, cf] = WithCancel(*srv->base);
    ctx = c;
    cancel = cf;
    if (bodyDone && in.empty() && !clientGone) startBackgroundRead();
    if (clientGone) cancel();
  }
  return *ctx;
}

void conn::startBackgroundRead() {
  t->drop();
  (void)t->setReadDeadline(Time{});  // none: the handler may run long
  bg = std::make_shared<bgRead>();
  bg->t = t;
  bg->cancel = cancel;
  Go([b = bg] {
    auto [v, err] = b->t->recv();
    b->data = v;
    b->err = err;
    if (err && err != net::ErrDeadlineExceeded) b->cancel();  // the client went away
    b->done.Close();
  });
}

void conn::stopBackgroundRead() {
  if (!bg) return;
  (void)t->setReadDeadline(kLongAgo);
  (void)bg->done.Recv();
  if (!bg->err) {
    in = bg->data;  // the next request's first bytes
  } else if (bg->err != net::ErrDeadlineExceeded) {
    clientGone = true;
    closeAfter = true;
  }
  bg.reset();
}

// ---- Date ---------------------------------------------------------------------

size_t dateValue(char (&out)[32]) {
  struct cache {
    time_t sec = -1;
    char buf[32];
    size_t len = 0;
  };
  thread_local cache c;
  mLocal g;
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != c.sec) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    int n = std::snprintf(c.buf, sizeof c.buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday], t.tm_mday,
                          kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    c.len = size_t(std::clamp(n, 0, int(sizeof c.buf) - 1));
    c.sec = ts.tv_sec;
  }
  std::memcpy(out, c.buf, c.len);
  return c.len;
}

// ---- serving, shutting down ----------------------------------------------------

namespace {

bool temporary(std::error_code e) {
  if (e.category() != std::generic_category() && e.category() != std::system_category()) return false;
  switch (e.value()) {
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM: case ECONNABORTED: case EPROTO: case EPERM:
      return true;
  }
  return false;
}

void serveConn(std::shared_ptr<server> s, std::shared_ptr<transport> t) {
  conn cn(std::move(s), std::move(t));
  cn.serve();
}

}  // namespace

void serverAccess::serve(Server& srv, std::shared_ptr<transport> t) {
  auto s = srv.s_;
  s->start();
  {
    runtime::lockGuard g(&s->lock);
    if (s->shutting.load()) {
      t->close();
      return;
    }
    s->nconns++;
  }
  (void)s->slots.TrySend(std::monostate{});  // released by the conn; never waits here
  count(cConnsTotal);
  count(cConnsOpen);
  serveConn(std::move(s), std::move(t));
}

std::error_code server::serve(net::Listener ln, std::shared_ptr<const tls::Config> tlsCfg) {
  start();
  {
    runtime::lockGuard g(&lock);
    if (shutting.load()) {
      (void)ln.Close();
      return ErrServerClosed;
    }
    listeners.push_back(ln);
  }
  auto self = shared_from_this();
  std::chrono::milliseconds backoff{0};
  for (;;) {
    // A slot per connection: past max_conns, accept waits (a free slot is
    // taken without the Select; Shutdown also closes the listener, so an
    // Accept after quit fails and the loop ends below).
    if (!slots.TrySend(std::monostate{})) {
      bool stop = false;
      Select(ringo::Send(slots, std::monostate{}), ringo::Recv(quit, [&] { stop = true; }));
      if (stop) return ErrServerClosed;
    }
    auto [c, err] = ln.Accept();
    if (err) {
      (void)slots.TryRecv();
      if (shutting.load()) return ErrServerClosed;
      if (!temporary(err)) return err;
      // Go's back-off: 5 ms doubling to 1 s.
      backoff = backoff.count() == 0 ? std::chrono::milliseconds(5) : std::min(backoff * 2, std::chrono::milliseconds(1000));
      char ms[24];
      std::snprintf(ms, sizeof ms, "%lld", static_cast<long long>(backoff.count()));
      logLimited(Level::Error, "accept error; retrying", {{"err", err.message()}, {"delay_ms", ms}});
      Select(ringo::Recv(After(backoff)), ringo::Recv(quit));
      continue;
    }
    backoff = {};
    {
      runtime::lockGuard g(&lock);
      if (shutting.load()) {
        (void)c.Close();
        (void)slots.TryRecv();
        return ErrServerClosed;
      }
      nconns++;
    }
    count(cConnsTotal);
    count(cConnsOpen);
    if (tlsCfg) {
      Go([self, tlsCfg, c = std::move(c)]() mutable {
        serveConn(self, std::make_shared<tlsTransport>(tls::Server(std::move(c), *tlsCfg)));
      });
    } else {
      Go([self, c = std::move(c)]() mutable { serveConn(self, std::make_shared<plainTransport>(std::move(c))); });
    }
  }
}

// closeConns closes the idle connections, or all of them. The closes run
// after the lock is dropped (a close may park until the connection's
// operations are cancelled); the transports outlive their connections.
void server::closeConns(bool idleOnly) {
  std::vector<std::shared_ptr<transport>> ts;
  {
    runtime::lockGuard g(&lock);
    for (conn* c = conns; c; c = c->next) {
      if (idleOnly) {
        int want = stIdle;
        if (!c->state.compare_exchange_strong(want, stClosed)) continue;
      } else {
        c->state.store(stClosed);
      }
      ts.push_back(c->t);
    }
  }
  for (auto& t : ts) t->close();
}

void server::beginShutdown(bool closeAll) {
  std::vector<net::Listener> lns;
  std::vector<std::function<void()>> hooks;
  bool first = false;
  {
    runtime::lockGuard g(&lock);
    if (!shutting.load()) {
      first = true;
      shutting.store(true);
      lns.swap(listeners);
      hooks = onShutdown;
      if (nconns == 0) allGone.Close();
    }
    if (closeAll) closedAll = true;
  }
  if (first) {
    quit.Close();
    for (auto& l : lns) (void)l.Close();
    for (auto& f : hooks) Go(f);
  }
  if (closeAll && cancelBase) cancelBase();
  closeConns(!closeAll);
}

std::error_code server::waitGone(const Context* ctx, std::optional<Time> deadline) {
  if (!ctx && !deadline) {
    (void)allGone.Recv();
    return {};
  }
  bool gone = false;
  if (ctx) {
    Select(ringo::Recv(allGone, [&] { gone = true; }), ringo::Recv(ctx->Done()));
    if (gone) return {};
    return ctx->Err();
  }
  auto d = *deadline - now();
  if (d.count() <= 0) {
    Select(ringo::Recv(allGone, [&] { gone = true; }), ringo::Default());
    return gone ? std::error_code() : net::ErrDeadlineExceeded;
  }
  Timer tm(d);
  Select(ringo::Recv(allGone, [&] { gone = true; }), ringo::Recv(tm.C));
  tm.Stop();
  return gone ? std::error_code() : net::ErrDeadlineExceeded;
}

}  // namespace detail

// ---- Server -------------------------------------------------------------------------

Server::Server(ServerOptions opts) : s_(std::make_shared<detail::server>(std::move(opts))) {}

Server::~Server() {
  bool serving;
  {
    runtime::lockGuard g(&s_->lock);
    serving = s_->slots && (!s_->closedAll || s_->nconns > 0);
  }
  if (serving && runtime::getg() != nullptr) (void)Close();
}

std::error_code Server::ListenAndServe() {
  auto [ln, err] = net::Listen("tcp", s_->opts.addr, s_->opts.listen);
  if (err) return err;
  return Serve(std::move(ln));
}

std::error_code Server::Serve(net::Listener ln) { return s_->serve(std::move(ln)); }

// tlsConfig is opts.tls with the files' certificate added, compiled now so
// that a bad certificate fails at start, with its reason in the log.
std::shared_ptr<const tls::Config> detail::server::tlsConfig(std::string_view certFile, std::string_view keyFile,
                                                     std::error_code& err) {
  auto cfg = std::make_shared<tls::Config>(opts.tls);
  std::string why;
  if (!certFile.empty() || !keyFile.empty()) {
    auto [cert, lerr] = tls::LoadX509KeyPair(certFile, keyFile, &why);
    if (lerr) {
      err = lerr;
      const Field f[] = {{"err", err.message()}, {"why", why}};
      log->Log(Level::Error, "http: TLS certificate", f);
      return nullptr;
    }
    cfg->Certificates.push_back(std::move(cert));
  }
  if ((err = cfg->Build(/*isServer=*/true, &why))) {
    const Field f[] = {{"err", err.message()}, {"why", why}};
    log->Log(Level::Error, "http: TLS configuration", f);
    return nullptr;
  }
  return cfg;
}

std::error_code Server::ServeTLS(net::Listener ln, std::string_view certFile, std::string_view keyFile) {
  std::error_code err;
  auto cfg = s_->tlsConfig(certFile, keyFile, err);
  if (!cfg) {
    (void)ln.Close();
    return err;
  }
  return s_->serve(std::move(ln), std::move(cfg));
}

std::error_code Server::ListenAndServeTLS(std::string_view certFile, std::string_view keyFile) {
  std::error_code err;
  auto cfg = s_->tlsConfig(certFile, keyFile, err);
  if (!cfg) return err;
  auto [ln, lerr] = net::Listen("tcp", s_->opts.addr, s_->opts.listen);
  if (lerr) return lerr;
  return s_->serve(std::move(ln), std::move(cfg));
}

std::error_code Server::Shutdown(Time deadline) {
  s_->start();
  s_->beginShutdown(false);
  if (auto err = s_->waitGone(nullptr, deadline); err) {
    s_->beginShutdown(true);
    (void)s_->waitGone(nullptr, std::nullopt);
    return err;
  }
  return {};
}

std::error_code Server::Shutdown(const ringo::Context& ctx) {
  s_->start();
  s_->beginShutdown(false);
  if (auto err = s_->waitGone(&ctx, std::nullopt); err) {
    s_->beginShutdown(true);
    (void)s_->waitGone(nullptr, std::nullopt);
    return err;
  }
  return {};
}

std::error_code Server::Close() {
  s_->start();
  s_->beginShutdown(true);
  (void)s_->waitGone(nullptr, std::nullopt);
  return {};
}

void Server::Drain(std::chrono::nanoseconds period) {
  s_->draining.store(true);
  if (period > std::chrono::nanoseconds::zero()) Select(ringo::Recv(After(period)), ringo::Recv(s_->quit));
}

bool Server::Ready() const { return !s_->draining.load() && !s_->shutting.load(); }

std::shared_ptr<Handler> HealthzHandler() {
  return std::make_shared<HandlerFunc>([](ResponseWriter& w, Request&) {
    w.Header().Set("Content-Type", "text/plain; charset=utf-8");
    w.Header().Set("Cache-Control", "no-store");
    (void)w.Write("ok\n");
  });
}

std::shared_ptr<Handler> ReadyzHandler(const Server& srv, std::function<bool()> ready) {
  return std::make_shared<HandlerFunc>([&srv, ready = std::move(ready)](ResponseWriter& w, Request&) {
    w.Header().Set("Content-Type", "text/plain; charset=utf-8");
    w.Header().Set("Cache-Control", "no-store");
    if (!srv.Ready() || (ready && !ready())) {
      w.WriteHeader(StatusServiceUnavailable);
      (void)w.Write("not ready\n");
      return;
    }
    (void)w.Write("ok\n");
  });
}

void Server::RegisterOnShutdown(std::function<void()> f) {
  runtime::lockGuard g(&s_->lock);
  s_->onShutdown.push_back(std::move(f));
}

net::Addr Server::Addr() const {
  runtime::lockGuard g(&s_->lock);
  if (s_->listeners.empty()) return {};
  return s_->listeners.front().Address();
}

std::error_code ListenAndServe(std::string_view addr, Handler& h) {
  ServerOptions o;
  o.addr = std::string(addr);
  o.handler = &h;
  Server s(std::move(o));
  return s.ListenAndServe();
}

std::error_code ListenAndServeTLS(std::string_view addr, std::string_view certFile, std::string_view keyFile,
                                  Handler& h) {
  ServerOptions o;
  o.addr = std::string(addr);
  o.handler = &h;
  Server s(std::move(o));
  return s.ListenAndServeTLS(certFile, keyFile);
}

}  // namespace ringo::http
