// reader.cc — requestReader and responseReader: llhttp in strict mode,
// paused at every event, with ringo's own checks on the raw bytes and the
// headers (see reader.h).
//
// Pausing: on_headers_complete, on_body and on_message_complete return
// HPE_PAUSED, so llhttp_execute stops right after the event; the error
// position tells how much input it used, and llhttp_resume continues from
// the next state. (llhttp's generated code resumes a paused data callback
// the same way as the others: it saves the next state before returning.)
#include "reader.h"

#include <algorithm>
#include <cstring>

namespace ringo::http::detail {
namespace {

messageReader* self(llhttp_t* p) { return static_cast<messageReader*>(p->data); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseLength(std::string_view v, int64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  out = n;
  return true;
}

}  // namespace

messageReader::messageReader(llhttp_type_t type, const readLimits& limits)
    : limits_(limits), what_(type == HTTP_REQUEST ? "request" : "response") {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = onMessageBegin;
  settings_.on_url = onURL;
  settings_.on_method = onMethod;
  settings_.on_status = onStatus;
  settings_.on_header_field = onHeaderField;
  settings_.on_header_field_complete = onHeaderFieldComplete;
  settings_.on_header_value = onHeaderValue;
  settings_.on_header_value_complete = onHeaderValueComplete;
  settings_.on_headers_complete = onHeadersComplete;
  settings_.on_body = onBody;
  settings_.on_message_complete = onMessageComplete;
  settings_.on_chunk_extension_name = onChunkExt;
  settings_.on_chunk_extension_value = onChunkExt;
  settings_.on_chunk_header = onChunkHeader;
  llhttp_init(&parser_, type, &settings_);
  parser_.data = this;
}

int messageReader::fail(int status, std::string why) {
  if (errStatus_ == 0) {
    errStatus_ = status;
    errReason_ = std::move(why);
  }
  return HPE_USER;
}

// scanRaw checks what llhttp 8.1 lets through in a head: NUL bytes, lines
// that end in a bare LF, and in a request a line that starts with a space
// or tab (obs-fold, which RFC 9112 5.2 lets a server reject; a client must
// take it, and llhttp joins the lines). Only the head's bytes are scanned
// (a body may hold anything). Returns why the bytes are bad, or null.
// memchr finds the few bytes that matter (a head has a handful of LFs)
// several times faster than a byte loop; the first bad byte is reported.
const char* messageReader::scanRaw(const char* data, size_t n) {
  if (n == 0) return nullptr;
  const char* end = data + n;
  const char* nul = static_cast<const char*>(std::memchr(data, '\0', n));
  const char* stop = nul != nullptr ? nul : end;
  const bool request = parser_.type == HTTP_REQUEST;
  auto folds = [](char c) { return c == ' ' || c == '\t'; };
  if (request && prev_ == '\n' && folds(data[0])) return "obsolete line folding in the request head";
  for (const char* p = data; (p = static_cast<const char*>(std::memchr(p, '\n', size_t(stop - p)))) != nullptr; p++) {
    if ((p > data ? p[-1] : prev_) != '\r')
      return request ? "bare LF in the request head (lines end in CRLF)"
                     : "bare LF in the response head (lines end in CRLF)";
    if (request && p + 1 < stop && folds(p[1])) return "obsolete line folding in the request head";
  }
  if (nul != nullptr)
    return parser_.type == HTTP_REQUEST ? "NUL byte in the request head" : "NUL byte in the response head";
  prev_ = end[-1];
  return nullptr;
}

messageReader::step messageReader::feed(const char* data, size_t n) {
  if (errStatus_ != 0) return {readEvent::error, 0, {}};
  if (upgraded_) {
    fail(400, "bytes after an upgrade request (the connection is no longer HTTP)");
    return {readEvent::error, 0, {}};
  }
  // Until a head is complete, the raw bytes get ringo's checks: llhttp
  // pauses at the end of the head, so what it consumed here is head bytes
  // only; later feeds (the body) are not scanned. A chunked body's trailer
  // section is a head too (llhttp 8.1 ends it at a bare LF): the feed that
  // reaches the last chunk is scanned whole, since llhttp pauses after
  // each piece of data and what precedes that chunk's size line here is
  // the CRLF that ends the data before it.
  const bool wasHead = !headDone_;
  llhttp_errno_t err = llhttp_execute(&parser_, data, n);
  size_t consumed = n;
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE || err != HPE_OK) {
    const char* pos = llhttp_get_error_pos(&parser_);
    if (pos != nullptr && pos >= data && pos <= data + n) consumed = size_t(pos - data);
  }
  // The scan covers the bytes before wherever llhttp or a callback stopped,
  // so a bad byte wins over a later error, however the input was cut.
  if (wasHead || trailer_) {
    if (const char* why = scanRaw(data, consumed)) {
      errStatus_ = 400;
      errReason_ = why;
      return {readEvent::error, 0, {}};
    }
    // The caps above count names, values and the request line; the bytes
    // between them (spaces, empty lines before the request) count here,
    // with Go's 4 KiB of room (its reader holds MaxHeaderBytes + 4096). A
    // trailer section is a head too.
    if ((rawHeadBytes_ += consumed) > limits_.maxHeaderBytes + 4096) {
      fail(431, std::string(what_) + (wasHead ? " head too large" : " trailer too large"));
      return {readEvent::error, 0, {}};
    }
  } else if (consumed > 0) {
    prev_ = data[consumed - 1];
  }
  if (doneReady_) trailer_ = false;
  if (err == HPE_PAUSED) {
    llhttp_resume(&parser_);
  } else if (err == HPE_PAUSED_UPGRADE) {
    // The head was delivered; what follows belongs to the new protocol.
    upgraded_ = true;
    headDone_ = false;
    return {readEvent::done, consumed, {}};
  } else if (err != HPE_OK) {
    if (errStatus_ == 0) {
      const char* reason = llhttp_get_error_reason(&parser_);
      fail(err == HPE_INVALID_TRANSFER_ENCODING ? 501 : 400,
           std::string("malformed ") + what_ + ": " + (reason ? reason : llhttp_errno_name(err)));
    }
    return {readEvent::error, consumed, {}};
  }
  if (errStatus_ != 0) return {readEvent::error, consumed, {}};
  if (headReady_) {
    headReady_ = false;
    rawHeadBytes_ = 0;  // the next head starts from nothing
    return {readEvent::head, consumed, {}};
  }
  if (!body_.empty()) {
    std::string_view b = body_;
    body_ = {};
    return {readEvent::body, consumed, b};
  }
  if (doneReady_) {
    doneReady_ = false;
    headDone_ = false;
    rawHeadBytes_ = 0;  // the trailer's count ends with its message
    if (head_.status < 100 || head_.status >= 200) noBody_ = false;  // an interim answer keeps it
    return {readEvent::done, consumed, {}};
  }
  return {readEvent::needMore, consumed, {}};
}

messageReader::step responseReader::finish() {
  if (errStatus_ != 0) return {readEvent::error, 0, {}};
  const llhttp_errno_t err = llhttp_finish(&parser_);
  if (doneReady_) {  // a body delimited by the close has ended
    doneReady_ = false;
    headDone_ = false;
    noBody_ = false;
    return {readEvent::done, 0, {}};
  }
  if (err == HPE_OK) return {readEvent::needMore, 0, {}};  // between messages
  fail(400, headDone_ ? "unexpected EOF in the response body" : "unexpected EOF in the response head");
  return {readEvent::error, 0, {}};
}

int messageReader::onMessageBegin(llhttp_t* p) {
  messageReader* r = self(p);
  r->head_.reset();
  r->fieldOpen_ = false;
  r->headBytes_ = 0;
  return 0;
}

int messageReader::onMethod(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  r->head_.method.append(at, n);
  if ((r->headBytes_ += n) > r->limits_.maxHeaderBytes) return r->fail(431, "request head too large");
  return 0;
}

int messageReader::onStatus(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  r->head_.reason.append(at, n);
  if ((r->headBytes_ += n) > r->limits_.maxHeaderBytes) return r->fail(431, "response head too large");
  return 0;
}

int messageReader::onURL(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  r->head_.target.append(at, n);
  if (r->head_.target.size() > r->limits_.maxURI) return r->fail(414, "request URI too long");
  if ((r->headBytes_ += n) > r->limits_.maxHeaderBytes) return r->fail(431, "request head too large");
  return 0;
}

int messageReader::onHeaderField(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  if (n == 0) return 0;  // an empty span at a buffer's edge is not a new header
  if (!r->fieldOpen_) {
    if (r->head_.headers.size() >= r->limits_.maxHeaders) return r->fail(431, "too many header lines");
    r->head_.headers.push_back({});
    r->fieldOpen_ = true;
    if (n > 0 && (at[0] == ' ' || at[0] == '\t')) return r->fail(400, "whitespace before a header name");
  }
  r->head_.headers.back().name.append(at, n);
  if ((r->headBytes_ += n) > r->limits_.maxHeaderBytes) return r->fail(431, std::string(r->what_) + " head too large");
  return 0;
}

// A line ": value" has a name of no bytes: llhttp takes it, and its value
// would be glued to the previous header's ("Host: a.com" then ":.evil.net").
int messageReader::onHeaderFieldComplete(llhttp_t* p) {
  messageReader* r = self(p);
  if (!r->fieldOpen_) return r->fail(400, std::string("empty header name in the ") + r->what_ + " head");
  return 0;
}

int messageReader::onHeaderValue(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  r->fieldOpen_ = false;
  if (r->head_.headers.empty()) return r->fail(400, "header value without a name");
  r->head_.headers.back().value.append(at, n);
  if ((r->headBytes_ += n) > r->limits_.maxHeaderBytes) return r->fail(431, std::string(r->what_) + " head too large");
  return 0;
}

int messageReader::onHeaderValueComplete(llhttp_t* p) {
  messageReader* r = self(p);
  r->fieldOpen_ = false;
  header& h = r->head_.headers.back();
  const std::string_view v = trim(h.value);
  if (v.size() != h.value.size()) h.value = std::string(v);
  if (iequals(h.name, "content-length")) {
    int64_t len;
    if (!parseLength(h.value, len)) return r->fail(400, "invalid Content-Length");
    if (r->head_.contentLength >= 0 && r->head_.contentLength != len)
      return r->fail(400, "conflicting Content-Length headers");
    r->head_.contentLength = len;
  } else if (iequals(h.name, "transfer-encoding")) {
    // Only "chunked" is understood, and only once (RFC 9112 6.1).
    if (!iequals(h.value, "chunked") || r->head_.chunked)
      return r->fail(501, "unsupported Transfer-Encoding: " + h.value);
    r->head_.chunked = true;
  }
  return 0;
}

int messageReader::onHeadersComplete(llhttp_t* p) {
  messageReader* r = self(p);
  if (r->head_.chunked && r->head_.contentLength >= 0)
    return r->fail(400, "both Content-Length and Transfer-Encoding");
  // HTTP/1.0 has no Transfer-Encoding: RFC 9112 6.1 calls such framing
  // faulty (Go ignores the header; nginx answers 400, as here).
  if (r->head_.chunked && p->type == HTTP_REQUEST && p->http_major == 1 && p->http_minor == 0)
    return r->fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  r->head_.major = p->http_major;
  r->head_.minor = p->http_minor;
  r->head_.status = p->status_code;
  // A response to HEAD, and a 1xx, 204 or 304, has no body whatever its
  // framing headers say (RFC 9112 section 6.3; llhttp alone would read a
  // 204's Content-Length worth of the next response). llhttp reads the
  // flag when it resumes after this pause, and in llhttp_should_keep_alive
  // below.
  if (p->type == HTTP_RESPONSE) {
    const int s = p->status_code;
    if (r->noBody_ || s / 100 == 1 || s == 204 || s == 304) p->flags |= F_SKIPBODY;
  }
  r->head_.keepAlive = llhttp_should_keep_alive(p) != 0;
  r->head_.upgrade = p->upgrade != 0;
  r->headDone_ = true;
  r->headReady_ = true;
  r->chunkExt_ = 0;
  return HPE_PAUSED;
}

int messageReader::onBody(llhttp_t* p, const char* at, size_t n) {
  messageReader* r = self(p);
  r->body_ = {at, n};
  return HPE_PAUSED;
}

int messageReader::onMessageComplete(llhttp_t* p) {
  self(p)->doneReady_ = true;
  return HPE_PAUSED;
}

int messageReader::onChunkHeader(llhttp_t* p) {
  messageReader* r = self(p);
  r->chunkExt_ = 0;
  if (p->content_length == 0) r->trailer_ = true;  // the last chunk
  return 0;
}

// Names and values of a chunk's extensions count against one cap.
int messageReader::onChunkExt(llhttp_t* p, const char*, size_t n) {
  messageReader* r = self(p);
  if ((r->chunkExt_ += n) > r->limits_.maxChunkExt) return r->fail(400, "chunk extensions too long");
  return 0;
}

}  // namespace ringo::http::detail
