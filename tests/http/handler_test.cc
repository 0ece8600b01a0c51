// handler_test.cc — Error, NotFound, Redirect and StripPrefix
// (http/handler.cc), called directly with a recording ResponseWriter.
#include <gtest/gtest.h>

#include <string>

#include "recorder.h"
#include "ringo/http/handler.h"

using namespace ringo::http;
using ringo::http::test::NewRequest;
using ringo::http::test::Recorder;

namespace {

TEST(Error, WritesPlainTextWithANewlineAndDropsContentLength) {
  Recorder w;
  w.Header().Set("Content-Length", "999");
  w.Header().Set("Content-Type", "application/json");
  Error(w, "nope", StatusForbidden);
  EXPECT_EQ(w.code, 403);
  EXPECT_EQ(w.body, "nope\n");
  EXPECT_FALSE(w.sent.Has("Content-Length"));
  EXPECT_EQ(w.sent.Get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(w.sent.Get("X-Content-Type-Options"), "nosniff");
}

TEST(NotFound, Answers404PageNotFound) {
  Recorder w;
  Request r = NewRequest("GET", "/x");
  NotFound(w, r);
  EXPECT_EQ(w.code, 404);
  EXPECT_EQ(w.body, "404 page not found\n");
  Recorder w2;
  NotFoundHandler()->ServeHTTP(w2, r);
  EXPECT_EQ(w2.code, 404);
  EXPECT_EQ(w2.body, w.body);
}

std::string LocationFor(std::string_view reqPath, std::string_view url) {
  Recorder w;
  Request r = NewRequest("GET", reqPath);
  Redirect(w, r, url, StatusFound);
  EXPECT_EQ(w.code, 302);
  return std::string(w.sent.Get("Location"));
}

TEST(Redirect, ResolvesRelativeURLsAgainstTheRequestPath) {
  EXPECT_EQ(LocationFor("/a/b/c", "d"), "/a/b/d");
  EXPECT_EQ(LocationFor("/a/b/c", "../x?q=1"), "/a/x?q=1");
  EXPECT_EQ(LocationFor("/a/b/", "d/"), "/a/b/d/");
  EXPECT_EQ(LocationFor("/a/b/c", "/abs//p/./q/"), "/abs/p/q/");
  EXPECT_EQ(LocationFor("/a/b/c", ""), "/a/b/");
  EXPECT_EQ(LocationFor("/a", "../../.."), "/");
}

TEST(Redirect, LeavesAbsoluteURLsAlone) {
  EXPECT_EQ(LocationFor("/a/b", "http://other.example/x/../y"), "http://other.example/x/../y");
  EXPECT_EQ(LocationFor("/a/b", "//cdn.example/x/../y"), "//cdn.example/x/../y");
  EXPECT_EQ(LocationFor("/a/b", "mailto:x@y"), "mailto:x@y");
}

TEST(Redirect, EscapesNonASCIIInLocation) { EXPECT_EQ(LocationFor("/", "/é"), "/%C3%A9"); }

TEST(Redirect, GetGetsAShortHtmlBodyHeadOnlyItsTypeOthersNeither) {
  Recorder get;
  Request r = NewRequest("GET", "/old");
  Redirect(get, r, "/new?a=<b>", StatusMovedPermanently);
  EXPECT_EQ(get.code, 301);
  EXPECT_EQ(get.sent.Get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get.body, "<a href=\"/new?a=&lt;b&gt;\">Moved Permanently</a>.\n\n");

  Recorder head;
  Request h = NewRequest("HEAD", "/old");
  Redirect(head, h, "/new", StatusMovedPermanently);
  EXPECT_EQ(head.sent.Get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(head.body, "");

  Recorder post;
  Request p = NewRequest("POST", "/old");
  Redirect(post, p, "/new", StatusSeeOther);
  EXPECT_EQ(post.code, 303);
  EXPECT_EQ(post.sent.Get("Location"), "/new");
  EXPECT_FALSE(post.sent.Has("Content-Type"));
  EXPECT_EQ(post.body, "");
}

TEST(Redirect, AHandlersOwnContentTypeSuppressesTheBody) {
  Recorder w;
  w.Header().Set("Content-Type", "application/json");
  Request r = NewRequest("GET", "/old");
  Redirect(w, r, "/new", StatusTemporaryRedirect);
  EXPECT_EQ(w.sent.Get("Content-Type"), "application/json");
  EXPECT_EQ(w.body, "");
}

TEST(RedirectHandler, RedirectsEveryRequest) {
  auto h = RedirectHandler("/there", StatusPermanentRedirect);
  Recorder w;
  Request r = NewRequest("GET", "/here/x");
  h->ServeHTTP(w, r);
  EXPECT_EQ(w.code, 308);
  EXPECT_EQ(w.sent.Get("Location"), "/there");
}

// pathEcho records the path it was given.
struct pathEcho : Handler {
  std::string path, raw;
  void ServeHTTP(ResponseWriter& w, Request& r) override {
    path = r.URL.Path;
    raw = r.URL.RawPath;
    (void)w.Write("ok");
  }
};

TEST(StripPrefix, ServesWithThePrefixRemovedAndRestoresTheRequest) {
  auto echo = std::make_shared<pathEcho>();
  auto h = StripPrefix("/static", echo);
  Recorder w;
  Request r = NewRequest("GET", "/static/css/a%2Fb.css");
  h->ServeHTTP(w, r);
  EXPECT_EQ(w.code, 200);
  EXPECT_EQ(echo->path, "/css/a/b.css");
  EXPECT_EQ(echo->raw, "/css/a%2Fb.css");
  // The caller's request is as it was.
  EXPECT_EQ(r.URL.Path, "/static/css/a/b.css");
  EXPECT_EQ(r.URL.RawPath, "/static/css/a%2Fb.css");
}

TEST(StripPrefix, AnswersNotFoundWithoutThePrefix) {
  auto echo = std::make_shared<pathEcho>();
  auto h = StripPrefix("/static", echo);
  Recorder w;
  Request r = NewRequest("GET", "/other/x");
  h->ServeHTTP(w, r);
  EXPECT_EQ(w.code, 404);
  EXPECT_EQ(echo->path, "");
  // The escaped path must carry the prefix too.
  Recorder w2;
  Request r2 = NewRequest("GET", "/st%61tic/x%2F");  // Path "/static/x/", RawPath without "/static"
  h->ServeHTTP(w2, r2);
  EXPECT_EQ(w2.code, 404);
}

TEST(StripPrefix, AnEmptyPrefixIsTheHandlerItself) {
  auto echo = std::make_shared<pathEcho>();
  EXPECT_EQ(StripPrefix("", echo).get(), echo.get());
}

}  // namespace
