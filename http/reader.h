// reader.h — reading HTTP/1.1 requests (the server) and responses (the
// client) from bytes: llhttp, plus the checks llhttp 8.1 lacks. No
// scheduler, no sockets: bytes in, events out, so the server's connection
// loop, the client, TLS and the fuzzer all run this same code.
//
//   requestReader r(limits);
//   for (;;) {
//     auto st = r.feed(buf, n);   // consumes a prefix of buf: drop st.consumed bytes
//     switch (st.ev) {
//       case readEvent::needMore: ...read more, then feed again...
//       case readEvent::head:     ...r.head() is the request; feed again (even 0 bytes)...
//       case readEvent::body:     ...st.body (inside buf) is the next piece...
//       case readEvent::done:     ...the request ended; the next may follow...
//       case readEvent::error:    ...answer r.errorStatus(), close...
//     }
//   }
//
// Framing rules, stricter than llhttp 8.1 alone (it predates the fixes for
// CVE-2023-30589, CVE-2024-22019 and CVE-2024-27982): llhttp runs with
// LLHTTP_STRICT_MODE and no lenient flags; a line ending in a bare LF, a
// NUL byte or whitespace before a header name, a request with both
// Content-Length and Transfer-Encoding, two different Content-Lengths, a
// transfer coding other than chunked, and a chunk extension longer than
// limits.maxChunkExt are errors; every line and the whole head have byte
// caps. After an error the reader stays in error: nothing after a rejected
// request is ever parsed as a request.
//
// responseReader is the same reader with llhttp in response mode: the
// status line instead of the request line, a body delimited by the
// connection's close when no length is given (finish() at EOF ends it), no
// body for 1xx, 204, 304 and answers to HEAD (expectNoBody), and the same
// byte caps and framing checks. A 1xx interim response is reported as a
// head then done, like any other message; the caller skips it.
#pragma once

#include <llhttp.h>

#include "ringo/http/header.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringo::http::detail {

struct readLimits {
  size_t maxHeaderBytes = 64 << 10;  // request line and headers together (431)
  size_t maxHeaders = 100;           // header lines (431)
  size_t maxURI = 8 << 10;           // the request target (414)
  size_t maxChunkExt = 256;          // extensions of one chunk (400)
};

// A header line as received: the name as written, the value trimmed.
using header = HeaderField;

// messageHead is a request's head (method, target) or a response's (status,
// reason); both have the version, the headers and the framing.
struct messageHead {
  std::string method, target;  // requests
  int status = 0;              // responses: the status code (100..999)
  std::string reason;          // responses: the reason phrase
  int major = 1, minor = 1;
  std::vector<header> headers;
  int64_t contentLength = -1;  // -1: none given
  bool chunked = false;
  bool keepAlive = true;
  bool upgrade = false;

  // reset empties the head for the next message, keeping capacity.
  void reset() noexcept {
    method.clear();
    target.clear();
    status = 0;
    reason.clear();
    major = minor = 1;
    headers.clear();
    contentLength = -1;
    chunked = false;
    keepAlive = true;
    upgrade = false;
  }
};

using requestHead = messageHead;
using responseHead = messageHead;

enum class readEvent { needMore, head, body, done, error };

// messageReader is the shared machinery; requestReader and responseReader
// pick llhttp's mode.
class messageReader {
 public:
  messageReader(const messageReader&) = delete;
  messageReader& operator=(const messageReader&) = delete;

  struct step {
    readEvent ev;
    size_t consumed;        // bytes of the input used; feed the rest again
    std::string_view body;  // readEvent::body: points into the input
  };

  // feed parses a prefix of data and stops at the first event. needMore
  // consumes everything it was given (the reader keeps what it needs).
  // After any other event, call feed again with the rest, even if that is
  // nothing: a request without a body ends (done) on the call after its
  // head.
  step feed(const char* data, size_t n);

  const messageHead& head() const { return head_; }
  // The server takes the header vector (swapping in the last one's).
  messageHead& head() { return head_; }
  // After readEvent::error: the status to answer (400, 413, 414, 431, 501)
  // and why, for the log. (A client reads 431 as "head too large", 501 as
  // "unsupported coding", 400 as malformed.)
  int errorStatus() const { return errStatus_; }
  const std::string& errorReason() const { return errReason_; }

 protected:
  messageReader(llhttp_type_t type, const readLimits& limits);
  ~messageReader() = default;

  static int onMessageBegin(llhttp_t*);
  static int onStatus(llhttp_t*, const char*, size_t);
  static int onURL(llhttp_t*, const char*, size_t);
  static int onMethod(llhttp_t*, const char*, size_t);
  static int onHeaderField(llhttp_t*, const char*, size_t);
  static int onHeaderValue(llhttp_t*, const char*, size_t);
  static int onHeaderValueComplete(llhttp_t*);
  static int onHeaderFieldComplete(llhttp_t*);
  static int onHeadersComplete(llhttp_t*);
  static int onBody(llhttp_t*, const char*, size_t);
  static int onMessageComplete(llhttp_t*);
  static int onChunkExt(llhttp_t*, const char*, size_t);
  static int onChunkHeader(llhttp_t*);

  int fail(int status, std::string why);
  const char* scanRaw(const char* data, size_t n);

  llhttp_t parser_;
  llhttp_settings_t settings_;
  readLimits limits_;
  const char* what_;         // "request" or "response", for the reasons
  messageHead head_;
  bool fieldOpen_ = false;   // a header name is being read (its value not yet)
  size_t headBytes_ = 0;
  size_t rawHeadBytes_ = 0;  // every byte of the head (or trailer) so far: whitespace, CRLFs too
  size_t chunkExt_ = 0;
  char prev_ = '\n';         // the byte before the current input (bare-LF check)
  bool trailer_ = false;     // past the last chunk: the trailer section is scanned as a head is
  bool headDone_ = false;    // the current message's head has been read
  bool upgraded_ = false;    // an Upgrade request ended the HTTP stream
  bool headReady_ = false;   // set by onHeadersComplete, taken by feed
  bool doneReady_ = false;   // set by onMessageComplete
  std::string_view body_;    // set by onBody
  bool noBody_ = false;      // responses: the request was HEAD
  int errStatus_ = 0;
  std::string errReason_;
};

class requestReader final : public messageReader {
 public:
  explicit requestReader(const readLimits& limits = {}) : messageReader(HTTP_REQUEST, limits) {}
};

class responseReader final : public messageReader {
 public:
  explicit responseReader(const readLimits& limits = {}) : messageReader(HTTP_RESPONSE, limits) {}
  // expectNoBody says the next final response answers a HEAD request: its
  // Content-Length describes the body a GET would get, none follows. It
  // holds until that response is done.
  void expectNoBody() noexcept { noBody_ = true; }
  // finish tells the reader the connection reached EOF: done for a body
  // delimited by the close, needMore when no response had begun (the
  // server closed between messages), error (an unexpected EOF) anywhere
  // else, a head or a length-framed body cut short.
  step finish();
};

}  // namespace ringo::http::detail
