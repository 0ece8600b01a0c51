// reader_test.cc — the request reader (http/reader.h) on bytes: framing,
// pipelining, byte-at-a-time input, and every bad-input class answered
// with its status, with nothing after a rejected request read as a
// request.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../http/reader.h"

using ringo::http::detail::readEvent;
using ringo::http::detail::readLimits;
using ringo::http::detail::requestReader;
using ringo::http::detail::responseReader;

namespace {

struct Parsed {
  std::vector<std::string> targets;  // one per request head
  std::vector<std::string> bodies;   // one per completed request
  int error = 0;
  std::string reason;
};

// Feed feeds input in pieces of `step` bytes, as a connection would, and
// collects what the reader reports.
Parsed Feed(const std::string& input, size_t step = 1 << 20, readLimits limits = {}) {
  requestReader r(limits);
  Parsed out;
  std::string pending, body;
  size_t fed = 0;
  bool hungry = true;  // the last event was needMore: only new input helps
  while (out.error == 0) {
    if (pending.empty() && hungry) {
      if (fed == input.size()) break;
      size_t k = std::min(step, input.size() - fed);
      pending = input.substr(fed, k);
      fed += k;
    }
    auto st = r.feed(pending.data(), pending.size());
    switch (st.ev) {
      case readEvent::head: out.targets.push_back(r.head().method + " " + r.head().target); break;
      case readEvent::body: body.append(st.body); break;
      case readEvent::done: out.bodies.push_back(body); body.clear(); break;
      case readEvent::error: out.error = r.errorStatus(); out.reason = r.errorReason(); break;
      case readEvent::needMore: break;
    }
    pending.erase(0, st.consumed);
    hungry = st.ev == readEvent::needMore;  // after any other event, feed again (even nothing)
    if (st.ev == readEvent::needMore && !pending.empty()) {
      ADD_FAILURE() << "needMore left " << pending.size() << " bytes unconsumed";
      break;
    }
  }
  return out;
}

TEST(Reader, ASimpleGetWithHeaders) {
  requestReader r;
  std::string req = "GET /items/7?x=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  padded \r\nx-a: two\r\n\r\n";
  auto st = r.feed(req.data(), req.size());
  ASSERT_EQ(st.ev, readEvent::head);
  EXPECT_EQ(r.head().method, "GET");
  EXPECT_EQ(r.head().target, "/items/7?x=1");
  EXPECT_EQ(r.head().major, 1);
  EXPECT_EQ(r.head().minor, 1);
  ASSERT_EQ(r.head().headers.size(), 3u);
  EXPECT_EQ(r.head().headers[1].name, "X-A");
  EXPECT_EQ(r.head().headers[1].value, "padded");
  EXPECT_TRUE(r.head().keepAlive);
  auto st2 = r.feed(req.data() + st.consumed, req.size() - st.consumed);
  EXPECT_EQ(st2.ev, readEvent::done);
  EXPECT_EQ(st.consumed + st2.consumed, req.size());
}

TEST(Reader, ContentLengthAndChunkedBodies) {
  auto p = Feed("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
               "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(p.error, 0) << p.reason;
  ASSERT_EQ(p.bodies.size(), 2u);
  EXPECT_EQ(p.bodies[0], "hello");
  EXPECT_EQ(p.bodies[1], "abcde");
}

TEST(Reader, HundredPipelinedRequestsInOneBufferAndOneByteAtATime) {
  std::string all;
  for (int i = 0; i < 100; i++) all += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t step : {size_t(1) << 20, size_t(1), size_t(7)}) {
    auto p = Feed(all, step);
    EXPECT_EQ(p.error, 0) << p.reason;
    ASSERT_EQ(p.targets.size(), 100u) << "step " << step;
    EXPECT_EQ(p.targets[99], "GET /99");
    EXPECT_EQ(p.bodies.size(), 100u);
  }
}

TEST(Reader, Http10AndConnectionCloseAreNotKeepAlive) {
  requestReader a;
  std::string r1 = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(a.feed(r1.data(), r1.size()).ev, readEvent::head);
  EXPECT_FALSE(a.head().keepAlive);
  requestReader b;
  std::string r2 = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(b.feed(r2.data(), r2.size()).ev, readEvent::head);
  EXPECT_FALSE(b.head().keepAlive);
}

struct Bad {
  const char* name;
  std::string input;
  int status;
};

class BadInput : public ::testing::TestWithParam<Bad> {};

// Each bad request is followed by a good one in the same bytes: it must
// never be read as a request.
TEST_P(BadInput, GetsItsStatusAndNothingAfterIsARequest) {
  const Bad& b = GetParam();
  for (size_t step : {size_t(1) << 20, size_t(1)}) {
    auto p = Feed(b.input + "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", step);
    EXPECT_EQ(p.error, b.status) << b.name << " (step " << step << "): " << p.reason;
    for (auto& t : p.targets) EXPECT_NE(t, "GET /smuggled") << b.name << ": a request after the bad one was parsed";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Reader, BadInput,
    ::testing::Values(
        Bad{"BareLF", "GET / HTTP/1.1\nHost: h\n\n", 400},
        Bad{"BareLFInHeader", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400},
        Bad{"NulByte", std::string("GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n", 29), 400},
        Bad{"SpaceBeforeHeaderName", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
        Bad{"ContentLengthAndChunked", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Bad{"ConflictingContentLength", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        Bad{"InvalidContentLength", "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc", 400},
        Bad{"UnknownTransferCoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        Bad{"InvalidChunkSize", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400},
        Bad{"BareLFAfterChunkData", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n", 400},
        Bad{"BareLFAfterChunkSize", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", 400},
        // The trailer section is a head: llhttp 8.1 ends it at a bare LF.
        Bad{"BareLFEndingTheTrailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\n", 400},
        Bad{"BareLFInATrailerField", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", 400},
        Bad{"NulInATrailerField",
            std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \0\r\n\r\n", 58), 400},
        Bad{"LongChunkExtension",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(1000, 'e') + "\r\na\r\n0\r\n\r\n", 400},
        Bad{"MalformedRequestLine", "GET/HTTP/1.1\r\n\r\n", 400},
        // An empty name would glue its value to the header before it.
        Bad{"EmptyHeaderName", "GET / HTTP/1.1\r\nHost: a.com\r\n:.evil.net\r\n\r\n", 400},
        Bad{"ObsFold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400},
        Bad{"ObsFoldWithASpace", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
        Bad{"ObsFoldInATrailer",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", 400},
        // HTTP/1.0 has no chunked framing (RFC 9112 6.1): Go would read the
        // chunks as the next request.
        Bad{"ChunkedInHTTP10",
            "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
        Bad{"TLSClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400},
        Bad{"URITooLong", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414},
        Bad{"HeadTooLarge", "GET / HTTP/1.1\r\nX: " + std::string(70000, 'v') + "\r\n\r\n", 431},
        // Spaces are not names or values, yet they are head bytes.
        Bad{"HeadTooLargeInSpaces", "GET / HTTP/1.1\r\nX:" + std::string(70000, ' ') + "v\r\n\r\n", 431},
        Bad{"TrailerTooLargeInSpaces",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX:" + std::string(70000, ' ') + "v\r\n\r\n", 431},
        Bad{"TooManyHeaders",
            [] {
              std::string s = "GET / HTTP/1.1\r\n";
              for (int i = 0; i < 101; i++) s += "H" + std::to_string(i) + ": v\r\n";
              return s + "\r\n";
            }(),
            431}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Reader, AfterAnErrorTheReaderStaysInError) {
  requestReader r;
  std::string bad = "GET / HTTP/1.1\nHost: h\n\n";
  EXPECT_EQ(r.feed(bad.data(), bad.size()).ev, readEvent::error);
  std::string good = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(r.feed(good.data(), good.size()).ev, readEvent::error);
}

TEST(Reader, TheFirstBadByteOfAHeadIsTheOneReported) {
  // llhttp 8.1 takes the request line's bare LF and stops at the NUL: the
  // scan of what it took reports the LF.
  auto lfFirst = Feed(std::string("GET / HTTP/1.1\nA: \0\r\n\r\n", 23));
  EXPECT_EQ(lfFirst.error, 400);
  EXPECT_NE(lfFirst.reason.find("bare LF"), std::string::npos) << lfFirst.reason;
  // A NUL before any bare LF: no LF is blamed.
  auto nulFirst = Feed(std::string("GET /\0 HTTP/1.1\nA: b\r\n\r\n", 24));
  EXPECT_EQ(nulFirst.error, 400);
  EXPECT_EQ(nulFirst.reason.find("bare LF"), std::string::npos) << nulFirst.reason;
  // A CR that ends one feed still pairs with the LF that starts the next.
  auto split = Feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1);
  EXPECT_EQ(split.error, 0) << split.reason;
}

TEST(Reader, AGoodTrailerAndTheRequestAfterItAreRead) {
  for (size_t step : {size_t(1) << 20, size_t(1)}) {
    auto p = Feed(
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na\nb\r\n0\r\nX-Sum: 1\r\n\r\n"
        "GET /b HTTP/1.1\r\n\r\n",
        step);
    EXPECT_EQ(p.error, 0) << p.reason << " (step " << step << ")";
    ASSERT_EQ(p.targets.size(), 2u) << step;
    EXPECT_EQ(p.targets[1], "GET /b");
    ASSERT_EQ(p.bodies.size(), 2u);
    EXPECT_EQ(p.bodies[0], "a\nb");  // a bare LF in chunk data is data
  }
}

TEST(Reader, BodyBytesAreNotScannedAsHead) {
  // A body may hold NULs and bare LFs.
  std::string body("a\nb\0c", 5);
  auto p = Feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n" + body);
  EXPECT_EQ(p.error, 0) << p.reason;
  ASSERT_EQ(p.bodies.size(), 1u);
  EXPECT_EQ(p.bodies[0], body);
}


// ---- responses (the client's side of the same reader) ------------------------

struct ParsedResponse {
  std::vector<int> statuses;        // one per head, interim ones included
  std::vector<std::string> bodies;  // one per completed response
  int error = 0;
  std::string reason;
  bool keepAlive = false;
};

// FeedResponse feeds input `step` bytes at a time; at the end of the input
// it calls finish(), as a client does at EOF. head: the request was HEAD.
ParsedResponse FeedResponse(const std::string& input, size_t step = 1 << 20, bool head = false,
                            readLimits limits = {}) {
  responseReader r(limits);
  if (head) r.expectNoBody();
  ParsedResponse out;
  std::string pending, body;
  size_t fed = 0;
  bool hungry = true;
  auto on = [&](const responseReader::step& st) {
    switch (st.ev) {
      case readEvent::head:
        out.statuses.push_back(r.head().status);
        out.keepAlive = r.head().keepAlive;
        break;
      case readEvent::body: body.append(st.body); break;
      case readEvent::done: out.bodies.push_back(body); body.clear(); break;
      case readEvent::error: out.error = r.errorStatus(); out.reason = r.errorReason(); break;
      case readEvent::needMore: break;
    }
  };
  while (out.error == 0) {
    if (pending.empty() && hungry) {
      if (fed == input.size()) {
        on(r.finish());
        break;
      }
      size_t k = std::min(step, input.size() - fed);
      pending = input.substr(fed, k);
      fed += k;
    }
    auto st = r.feed(pending.data(), pending.size());
    on(st);
    pending.erase(0, st.consumed);
    hungry = st.ev == readEvent::needMore;
  }
  return out;
}

TEST(ResponseReader, ReadsLengthChunkedAndCloseDelimitedBodiesByteAtATime) {
  for (size_t step : {size_t(1), size_t(3), size_t(1 << 20)}) {
    auto a = FeedResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step);
    EXPECT_EQ(a.error, 0) << a.reason;
    EXPECT_EQ(a.statuses, std::vector<int>{200});
    EXPECT_EQ(a.bodies, std::vector<std::string>{"hello"});
    EXPECT_TRUE(a.keepAlive);
    auto b = FeedResponse("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", step);
    EXPECT_EQ(b.error, 0) << b.reason;
    EXPECT_EQ(b.bodies, std::vector<std::string>{"abcde"});
    auto c = FeedResponse("HTTP/1.1 200 OK\r\n\r\nuntil the close", step);
    EXPECT_EQ(c.error, 0) << c.reason;
    EXPECT_EQ(c.bodies, std::vector<std::string>{"until the close"});
    EXPECT_FALSE(c.keepAlive);
  }
}

TEST(ResponseReader, NoBodyForHeadAndForInterim204And304) {
  auto h = FeedResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1, true);
  EXPECT_EQ(h.error, 0) << h.reason;
  EXPECT_EQ(h.bodies, std::vector<std::string>{""});
  EXPECT_TRUE(h.keepAlive);
  auto i = FeedResponse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(i.error, 0) << i.reason;
  EXPECT_EQ(i.statuses, (std::vector<int>{100, 204, 304, 200}));
  EXPECT_EQ(i.bodies, (std::vector<std::string>{"", "", "", "ok"}));
}

TEST(ResponseReader, EOFInsideAResponseIsAnError) {
  auto a = FeedResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  EXPECT_EQ(a.error, 400);
  EXPECT_NE(a.reason.find("unexpected EOF"), std::string::npos) << a.reason;
  auto b = FeedResponse("HTTP/1.1 200 OK\r\nContent-Le");
  EXPECT_NE(b.reason.find("unexpected EOF"), std::string::npos) << b.reason;
  auto c = FeedResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
  EXPECT_NE(c.reason.find("unexpected EOF"), std::string::npos) << c.reason;
}

TEST(ResponseReader, RefusesMalformedAndOversizedHeads) {
  EXPECT_EQ(FeedResponse("HTTP/1.1 abc OK\r\n\r\n").error, 400);
  EXPECT_EQ(FeedResponse("SPDY/3 200 OK\r\n\r\n").error, 400);
  EXPECT_EQ(FeedResponse("HTTP/1.1 200 OK\nContent-Length: 0\n\n").error, 400);
  EXPECT_EQ(FeedResponse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx").error, 400);
  EXPECT_EQ(FeedResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").error, 501);
  readLimits small;
  small.maxHeaderBytes = 1024;
  auto big = FeedResponse("HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'v') + "\r\n\r\n", 100, false, small);
  EXPECT_EQ(big.error, 431);
  EXPECT_EQ(big.reason, "response head too large");
}

}  // namespace
