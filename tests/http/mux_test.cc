// mux_test.cc — ServeMux (http/mux.cc): Go 1.22's pattern syntax,
// precedence, conflicts, and the mux's own answers (404, 405 with Allow,
// trailing-slash and clean-path redirects), on requests built directly.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "recorder.h"
#include "ringo/http/mux.h"

using namespace ringo::http;
using ringo::http::test::NewRequest;
using ringo::http::test::Recorder;

// Counting allocations: operator new is replaced for this test binary and
// counts while gCounting is set (see MatchingAPlainPathDoesNotAllocate).
static std::atomic<bool> gCounting{false};
static std::atomic<long> gAllocs{0};

// noinline: inlined, GCC pairs the malloc and the free across them and
// warns (-Wmismatched-new-delete) at every delete.
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (gCounting.load(std::memory_order_relaxed)) gAllocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

// Mux registers each pattern with a handler that answers with the pattern
// it was registered for (so a test sees which one won) and keeps the
// request's path values for the test to read.
struct Mux {
  ServeMux mux;
  explicit Mux(std::initializer_list<const char*> patterns) {
    for (const char* p : patterns) {
      std::string pat = p;
      mux.HandleFunc(p, [pat](ResponseWriter& w, Request& r) {
        EXPECT_EQ(r.Pattern, pat);
        (void)w.Write(pat);
      });
    }
  }
  // Serve runs one request and returns the recorder.
  Recorder Serve(std::string_view method, std::string_view target, std::string_view host = "example.com") {
    Recorder w;
    Request r = NewRequest(method, target, host);
    mux.ServeHTTP(w, r);
    return w;
  }
  // Winner is the pattern that served the request, or "<code>".
  std::string Winner(std::string_view method, std::string_view target, std::string_view host = "example.com") {
    Recorder w = Serve(method, target, host);
    if (w.code != 200) return "<" + std::to_string(w.code) + ">";
    return w.body;
  }
};

TEST(ServeMux, MatchesAnExactPathAndMethod) {
  Mux m({"GET /plaintext", "POST /json"});
  Recorder w = m.Serve("GET", "/plaintext");
  EXPECT_EQ(w.code, 200);
  EXPECT_EQ(w.body, "GET /plaintext");
  EXPECT_EQ(m.Winner("POST", "/json"), "POST /json");
  EXPECT_EQ(m.Winner("GET", "/plaintext/x"), "<404>");
}

TEST(ServeMux, TheMostSpecificPatternWins) {
  Mux m({"/", "/a/", "/a/b", "/a/{x}", "/a/{x}/c", "GET /a/b", "/k/{p}", "/a/{x}/{$}", "/a/b/d/"});
  const std::pair<const char*, const char*> rows[] = {
      {"/", "/"},
      {"/nothing/here", "/"},
      {"/a/", "/a/"},
      {"/a/q/r/s", "/a/"},
      {"/a/b", "GET /a/b"},  // a method beats none, on the same path
      {"/a/q", "/a/{x}"},
      {"/a/q/c", "/a/{x}/c"},
      {"/a/b/c", "/a/{x}/c"},  // the literal b leads nowhere: back to {x}
      {"/a/b/d/x/y", "/a/b/d/"},
      {"/a/q/", "/a/{x}/{$}"},
      {"/a/b/", "/a/{x}/{$}"},
      {"/k/v", "/k/{p}"},
  };
  for (auto [path, want] : rows) EXPECT_EQ(m.Winner("GET", path), want) << path;
  EXPECT_EQ(m.Winner("POST", "/a/b"), "/a/b");  // the method-less pattern for other methods
}

TEST(ServeMux, BacktracksFromALiteralThatLeadsNowhere) {
  Mux m({"/a/b/c", "/a/{x}/d", "/a/"});
  EXPECT_EQ(m.Winner("GET", "/a/b/d"), "/a/{x}/d");
  EXPECT_EQ(m.Winner("GET", "/a/b/c"), "/a/b/c");
  EXPECT_EQ(m.Winner("GET", "/a/b/e"), "/a/");
}

TEST(ServeMux, SetsPathValuesAndPattern) {
  ServeMux mux;
  std::string got;
  mux.HandleFunc("GET /users/{user}/posts/{id}", [&](ResponseWriter&, Request& r) {
    got = std::string(r.PathValue("user")) + "|" + std::string(r.PathValue("id")) + "|" +
          std::string(r.PathValue("nope")) + "|" + r.Pattern;
  });
  Recorder w;
  Request r = NewRequest("GET", "/users/ann/posts/42");
  mux.ServeHTTP(w, r);
  EXPECT_EQ(got, "ann|42||GET /users/{user}/posts/{id}");
}

TEST(ServeMux, RestWildcardTakesEverySegmentLeft) {
  ServeMux mux;
  std::vector<std::string> seen;
  mux.HandleFunc("/files/{path...}", [&](ResponseWriter&, Request& r) { seen.emplace_back(r.PathValue("path")); });
  for (const char* t : {"/files/a/b/c.txt", "/files/", "/files/x", "/files/a%2Fb/c", "/files/sp%20ace/"}) {
    Recorder w;
    Request r = NewRequest("GET", t);
    mux.ServeHTTP(w, r);
    EXPECT_EQ(w.code, 200) << t;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a/b/c.txt", "", "x", "a/b/c", "sp ace/"}));
}

TEST(ServeMux, WildcardsMatchEscapedSegmentsAndValuesAreUnescaped) {
  // "%2F" is inside a segment: /x/a%2Fb/y has three segments, not four.
  ServeMux mux;
  std::string id;
  mux.HandleFunc("/x/{id}/y", [&](ResponseWriter&, Request& r) { id = r.PathValue("id"); });
  Recorder w;
  Request r = NewRequest("GET", "/x/a%2Fb/y");
  mux.ServeHTTP(w, r);
  EXPECT_EQ(w.code, 200);
  EXPECT_EQ(id, "a/b");
  Recorder w2;
  Request r2 = NewRequest("GET", "/x/a%20b%2F/y");
  mux.ServeHTTP(w2, r2);
  EXPECT_EQ(id, "a b/");
  // Decoded, /x/a/b/y has four segments: no match.
  Recorder w3;
  Request r3 = NewRequest("GET", "/x/a/b/y");
  mux.ServeHTTP(w3, r3);
  EXPECT_EQ(w3.code, 404);
}

TEST(ServeMux, LiteralSegmentsCompareUnescaped) {
  Mux m({"/a%2Fb", "/caf%C3%A9", "/sp%20ace"});
  EXPECT_EQ(m.Winner("GET", "/a%2Fb"), "/a%2Fb");
  EXPECT_EQ(m.Winner("GET", "/a%2fb"), "/a%2Fb");
  EXPECT_EQ(m.Winner("GET", "/a/b"), "<404>");  // two segments
  EXPECT_EQ(m.Winner("GET", "/caf%c3%a9"), "/caf%C3%A9");
  EXPECT_EQ(m.Winner("GET", "/sp%20ace"), "/sp%20ace");
}

TEST(ServeMux, DollarMatchesOnlyThePathEndingInTheSlash) {
  Mux m({"/{$}", "/a/{$}"});
  EXPECT_EQ(m.Winner("GET", "/"), "/{$}");
  EXPECT_EQ(m.Winner("GET", "/x"), "<404>");
  EXPECT_EQ(m.Winner("GET", "/a/"), "/a/{$}");
  EXPECT_EQ(m.Winner("GET", "/a/b"), "<404>");
  // "/a" has no pattern, but "/a/" would match exactly: redirect.
  Recorder w = m.Serve("GET", "/a");
  EXPECT_EQ(w.code, 301);
  EXPECT_EQ(w.sent.Get("Location"), "/a/");
}

TEST(ServeMux, GetPatternsServeHead) {
  Mux m({"GET /x", "GET /y", "HEAD /y"});
  EXPECT_EQ(m.Winner("HEAD", "/x"), "GET /x");
  EXPECT_EQ(m.Winner("HEAD", "/y"), "HEAD /y");  // HEAD is more specific than GET
  EXPECT_EQ(m.Winner("GET", "/y"), "GET /y");
}

TEST(ServeMux, MethodMismatchIs405WithSortedAllow) {
  Mux m({"PUT /r", "GET /r", "POST /r", "DELETE /other", "/any/{x}"});
  Recorder w = m.Serve("PATCH", "/r");
  EXPECT_EQ(w.code, 405);
  EXPECT_EQ(w.sent.Get("Allow"), "GET, HEAD, POST, PUT");
  EXPECT_EQ(w.body, "Method Not Allowed\n");
  EXPECT_EQ(w.sent.Get("Content-Type"), "text/plain; charset=utf-8");
  // Without a GET there is no HEAD.
  Recorder w2 = m.Serve("GET", "/other");
  EXPECT_EQ(w2.code, 405);
  EXPECT_EQ(w2.sent.Get("Allow"), "DELETE");
  // A method-less pattern takes every method: no 405.
  EXPECT_EQ(m.Winner("PATCH", "/any/1"), "/any/{x}");
}

TEST(ServeMux, UnmatchedPathIs404) {
  Mux m({"GET /a", "/b/{x}"});
  Recorder w = m.Serve("GET", "/nope");
  EXPECT_EQ(w.code, 404);
  EXPECT_EQ(w.body, "404 page not found\n");
  EXPECT_EQ(w.sent.Get("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(m.Winner("GET", "/b/1/2"), "<404>");
  EXPECT_EQ(m.Winner("GET", "/b/"), "<404>");  // a wildcard does not match an empty last segment
}

TEST(ServeMux, RedirectsToTheTrailingSlashKeepingTheQuery) {
  Mux m({"/dir/", "/"});
  Recorder w = m.Serve("GET", "/dir?x=1&y=a%20b");
  EXPECT_EQ(w.code, 301);
  EXPECT_EQ(w.sent.Get("Location"), "/dir/?x=1&y=a%20b");
  EXPECT_EQ(w.body, "<a href=\"/dir/?x=1&amp;y=a%20b\">Moved Permanently</a>.\n\n");
  // "/" matches "/dir" too, but not exactly: the redirect still wins.
  EXPECT_EQ(m.Winner("GET", "/dir/"), "/dir/");
  EXPECT_EQ(m.Winner("GET", "/dirx"), "/");
  // Not when "/dir" itself is registered.
  Mux n({"/dir/", "/dir"});
  EXPECT_EQ(n.Winner("GET", "/dir"), "/dir");
  // A rest wildcard asks for the slash too.
  Mux f({"/files/{p...}"});
  Recorder wf = f.Serve("GET", "/files");
  EXPECT_EQ(wf.code, 301);
  EXPECT_EQ(wf.sent.Get("Location"), "/files/");
}

TEST(ServeMux, TrailingSlashRedirectRespectsTheMethod) {
  Mux m({"POST /dir/"});
  EXPECT_EQ(m.Serve("POST", "/dir").code, 301);
  // No GET to redirect to; the slashed path's methods make it a 405 (Go's
  // matchingMethods looks at path + "/" too).
  Recorder w = m.Serve("GET", "/dir");
  EXPECT_EQ(w.code, 405);
  EXPECT_EQ(w.sent.Get("Allow"), "POST");
}

TEST(ServeMux, TheAllowOfA405CountsThePathWithASlashAdded) {
  Mux s({"GET /static/"});
  Recorder w = s.Serve("POST", "/static");
  EXPECT_EQ(w.code, 405);
  EXPECT_EQ(w.sent.Get("Allow"), "GET, HEAD");
  Mux i({"PUT /items", "POST /items/"});
  Recorder d = i.Serve("DELETE", "/items");
  EXPECT_EQ(d.code, 405);
  EXPECT_EQ(d.sent.Get("Allow"), "POST, PUT");
}

TEST(ServeMux, AMuxInsideAnotherSeesOnlyItsOwnWildcards) {
  ServeMux inner;
  std::string seen;
  inner.HandleFunc("GET /u/{uid}/x", [&](ResponseWriter& w, Request& r) {
    seen = "id=" + std::string(r.PathValue("id")) + " uid=" + std::string(r.PathValue("uid"));
    (void)w.Write("inner");
  });
  ServeMux outer;
  outer.Handle("/u/{id}/", inner);
  Recorder w;
  Request r = NewRequest("GET", "/u/7/x");
  outer.ServeHTTP(w, r);
  EXPECT_EQ(w.code, 200);
  EXPECT_EQ(seen, "id= uid=7");
  EXPECT_EQ(r.Pattern, "GET /u/{uid}/x");
  // The inner mux's own answer clears the outer's values as well.
  Recorder nf;
  Request r2 = NewRequest("GET", "/u/7/y");
  outer.ServeHTTP(nf, r2);
  EXPECT_EQ(nf.code, 404);
  EXPECT_EQ(r2.PathValue("id"), "");
}

TEST(ServeMux, RedirectsUncleanPathsToTheCleanedPath) {
  Mux m({"/a/b", "/"});
  const std::pair<const char*, const char*> rows[] = {
      {"//a//b", "/a/b"},
      {"/a/./b", "/a/b"},
      {"/x/../a/b?q=1", "/a/b?q=1"},
      {"/..", "/"},
      {"/a/b/.", "/a/b"},  // "." at the end drops the slash, as Go's cleanPath
      {"/a/b/./", "/a/b/"},
      {"/sp%20ace//x", "/sp%20ace/x"},      // the Location stays escaped once
      {"/p/a%2Fb//c", "/p/a%2Fb/c"},         // and keeps an escaped slash
  };
  for (auto [target, want] : rows) {
    Recorder w = m.Serve("GET", target);
    EXPECT_EQ(w.code, 301) << target;
    EXPECT_EQ(w.sent.Get("Location"), want) << target;
  }
}

TEST(ServeMux, ConnectPathsAreNotCleaned) {
  Mux m({"CONNECT //x", "/"});
  EXPECT_EQ(m.Winner("CONNECT", "//x"), "CONNECT //x");
  Recorder w = m.Serve("GET", "//x");
  EXPECT_EQ(w.code, 301);
  EXPECT_EQ(w.sent.Get("Location"), "/x");
}

TEST(ServeMux, HostPatternsWinOverHostlessOnes) {
  Mux m({"example.com/", "/v1/items", "api.example.com/v1/", "/"});
  EXPECT_EQ(m.Winner("GET", "/v1/items", "example.com:8080"), "example.com/");  // port removed
  EXPECT_EQ(m.Winner("GET", "/v1/items", "other.org"), "/v1/items");
  EXPECT_EQ(m.Winner("GET", "/v1/items", "api.example.com"), "api.example.com/v1/");
  EXPECT_EQ(m.Winner("GET", "/v2", "api.example.com"), "/");  // its host patterns miss: hostless ones
  EXPECT_EQ(m.Winner("GET", "/x", "[::1]:80"), "/");
}

TEST(ServeMux, HostPatternsMatchTheHostWithoutPort) {
  Mux m({"[::1]/", "::1/v", "/"});
  // "[::1]:80" strips to "::1", as Go's stripHostPort: the bracketed pattern
  // cannot match it, the bare one can.
  EXPECT_EQ(m.Winner("GET", "/v", "[::1]:80"), "::1/v");
  EXPECT_EQ(m.Winner("GET", "/x", "[::1]"), "[::1]/");  // no port: kept as is
}

TEST(ServeMux, AbsoluteFormTargetsUseTheirHost) {
  Mux m({"a.example/", "/"});
  EXPECT_EQ(m.Winner("GET", "http://a.example/p", "ignored"), "a.example/");
}

TEST(ServeMux, OptionsStarIs400AndCloses) {
  Mux m({"/"});
  Recorder w = m.Serve("OPTIONS", "*");
  EXPECT_EQ(w.code, 400);
  EXPECT_EQ(w.sent.Get("Connection"), "close");
}

// Conflict returns the message Handle throws when q is registered after p,
// or "" when it does not throw.
std::string Conflict(const char* p, const char* q) {
  ServeMux mux;
  auto h = [](ResponseWriter&, Request&) {};
  mux.HandleFunc(p, h);
  try {
    mux.HandleFunc(q, h);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ServeMuxConflicts, EquivalentPatternsConflict) {
  EXPECT_EQ(Conflict("GET /a/{x}", "GET /a/{y}"),
            "pattern \"GET /a/{y}\" conflicts with pattern \"GET /a/{x}\":\n"
            "\"GET /a/{y}\" matches the same requests as \"GET /a/{x}\"");
  EXPECT_NE(Conflict("/a", "/a"), "");
  EXPECT_NE(Conflict("/a%62", "/ab"), "");  // the same literal, escaped or not
  EXPECT_NE(Conflict("/x/{a...}", "/x/"), "");
  EXPECT_NE(Conflict("h.com/a", "h.com/a"), "");
}

TEST(ServeMuxConflicts, OverlappingPathsConflictWithExamples) {
  EXPECT_EQ(Conflict("/a/{x}", "/{y}/b"),
            "pattern \"/{y}/b\" conflicts with pattern \"/a/{x}\":\n"
            "\"/{y}/b\" and \"/a/{x}\" both match some paths, like \"/a/b\".\n"
            "But neither is more specific than the other.\n"
            "\"/{y}/b\" matches \"/y/b\", but \"/a/{x}\" doesn't.\n"
            "\"/a/{x}\" matches \"/a/x\", but \"/{y}/b\" doesn't.");
  EXPECT_NE(Conflict("/{x}/b", "/a/"), "");
  EXPECT_NE(Conflict("/a/{x}/c", "/a/b/{y...}"), "");
}

TEST(ServeMuxConflicts, MethodAndPathPullingOppositeWaysConflict) {
  EXPECT_EQ(Conflict("/a/b", "GET /a/{x}"),
            "pattern \"GET /a/{x}\" conflicts with pattern \"/a/b\":\n"
            "\"GET /a/{x}\" matches fewer methods than \"/a/b\", but has a more general path pattern");
  EXPECT_EQ(Conflict("GET /a/{x}", "/a/b"),
            "pattern \"/a/b\" conflicts with pattern \"GET /a/{x}\":\n"
            "\"/a/b\" matches more methods than \"GET /a/{x}\", but has a more specific path pattern");
  EXPECT_NE(Conflict("HEAD /a/{x}", "GET /a/b"), "");
}

TEST(ServeMuxConflicts, OrderedOrDisjointPatternsDoNotConflict) {
  const std::pair<const char*, const char*> ok[] = {
      {"GET /a", "POST /a"},          {"/a/{x}", "/a/b"},         {"/a/", "/a/{x}"},
      {"GET /a", "HEAD /a"},          {"GET /a", "/a"},           {"h.com/a", "/a"},
      {"h.com/a/{x}", "g.com/{y}/b"}, {"/a/{$}", "/a/{x}"},       {"/{$}", "/"},
      {"/a/b/c", "/a/{x}/d"},         {"/a/{x}/{y...}", "/a/b/"}, {"GET /a/{x}", "HEAD /a/{x}"},
  };
  for (auto [p, q] : ok) {
    EXPECT_EQ(Conflict(p, q), "") << p << " then " << q;
    EXPECT_EQ(Conflict(q, p), "") << q << " then " << p;
  }
}

TEST(ServeMuxPatterns, InvalidPatternsThrow) {
  const char* bad[] = {
      "", "GET", "example.com", "/a/{x", "/a/{x}b", "/a/x{y}", "/{$}/a", "/{a...}/b", "/{}", "/{...}", "/{1x}",
      "/{x-y}", "/{x}/{x}", "GET /a/../b", "GET //a", "GET /a/./b", "G(T /a", "host{x}/a",
  };
  for (const char* p : bad) {
    ServeMux mux;
    EXPECT_THROW(mux.HandleFunc(p, [](ResponseWriter&, Request&) {}), std::invalid_argument) << p;
  }
  ServeMux mux;
  try {
    mux.HandleFunc("/{x}/{x}", [](ResponseWriter&, Request&) {});
    ADD_FAILURE() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "parsing \"/{x}/{x}\": duplicate wildcard name \"x\"");
  }
  EXPECT_THROW(mux.Handle("/", std::shared_ptr<Handler>()), std::invalid_argument);
  EXPECT_THROW(mux.HandleFunc("/", nullptr), std::invalid_argument);
  // An unclean path without a method is allowed (it can match CONNECT).
  EXPECT_NO_THROW(mux.HandleFunc("/a/../b", [](ResponseWriter&, Request&) {}));
  EXPECT_NO_THROW(mux.HandleFunc("GET\t  /tabbed", [](ResponseWriter&, Request&) {}));
  EXPECT_NO_THROW(mux.HandleFunc(" /lead", [](ResponseWriter&, Request&) {}));  // no method, as in Go
}

TEST(ServeMuxHandler, ReturnsTheHandlerAndPatternAndSetsPathValues) {
  ServeMux mux;
  struct named : Handler {
    void ServeHTTP(ResponseWriter& w, Request&) override { (void)w.Write("named"); }
  } h;
  mux.Handle("GET /items/{id}", h);  // kept alive by the caller
  mux.HandleFunc("/dir/", [](ResponseWriter&, Request&) {});
  mux.HandleFunc("POST /only", [](ResponseWriter&, Request&) {});

  Request r = NewRequest("GET", "/items/7");
  auto [got, pattern] = mux.Handler(r);
  EXPECT_EQ(got, &h);
  EXPECT_EQ(pattern, "GET /items/{id}");
  EXPECT_EQ(r.PathValue("id"), "7");

  // The mux's own answers: a handler that gives them, and "" for the
  // pattern of a 404 or a 405.
  Request nf = NewRequest("GET", "/missing");
  auto [h404, p404] = mux.Handler(nf);
  EXPECT_EQ(p404, "");
  Recorder w404;
  h404->ServeHTTP(w404, nf);
  EXPECT_EQ(w404.code, 404);

  // A redirect's pattern is the path that will match after it (Go).
  Request rd = NewRequest("GET", "/dir");
  auto [h301, p301] = mux.Handler(rd);
  EXPECT_EQ(p301, "/dir/");
  ServeMux spaced;
  spaced.HandleFunc("/a%20b/", [](ResponseWriter&, Request&) {});
  Request rs = NewRequest("GET", "/a%20b");
  EXPECT_EQ(spaced.Handler(rs).second, "/a b/");  // unescaped, as Go's u.Path
  Recorder w301;
  h301->ServeHTTP(w301, rd);
  EXPECT_EQ(w301.code, 301);
  EXPECT_EQ(w301.sent.Get("Location"), "/dir/");

  Request na = NewRequest("GET", "/only");
  auto [h405, p405] = mux.Handler(na);
  Recorder w405;
  h405->ServeHTTP(w405, na);
  EXPECT_EQ(w405.code, 405);
  EXPECT_EQ(w405.sent.Get("Allow"), "POST");
}

TEST(ServeMux, MatchingAPlainPathDoesNotAllocate) {
  // The common case: a clean, unescaped path, a handful of patterns, a
  // pattern string short enough for the string's inline buffer.
  ServeMux mux;
  int served = 0;
  auto h = [&](ResponseWriter&, Request&) { served++; };
  for (const char* p : {"GET /plaintext", "GET /json", "/db/{id}", "POST /upd", "/", "x.com/"}) mux.HandleFunc(p, h);
  Recorder w;
  Request r = NewRequest("GET", "/plaintext", "example.com:8080");
  gAllocs = 0;
  gCounting = true;
  mux.ServeHTTP(w, r);
  gCounting = false;
  EXPECT_EQ(served, 1);
  EXPECT_EQ(r.Pattern, "GET /plaintext");
  EXPECT_EQ(gAllocs.load(), 0);
  // The count is live: a wildcard's value is copied into the request.
  Request r2 = NewRequest("GET", "/db/12345678901234567890");
  gAllocs = 0;
  gCounting = true;
  mux.ServeHTTP(w, r2);
  gCounting = false;
  EXPECT_EQ(r2.PathValue("id"), "12345678901234567890");
  EXPECT_GT(gAllocs.load(), 0);
}

TEST(ServeMux, ManyPatternsStillPickTheRightOne) {
  ServeMux mux;
  std::string got;
  for (int i = 0; i < 300; i++) {
    std::string p = "GET /r" + std::to_string(i) + "/{id}";
    mux.HandleFunc(p, [&got, p](ResponseWriter&, Request& r) { got = p + "=" + std::string(r.PathValue("id")); });
  }
  Recorder w;
  Request r = NewRequest("GET", "/r173/abc");
  mux.ServeHTTP(w, r);
  EXPECT_EQ(got, "GET /r173/{id}=abc");
}

// Handle while requests are served, as Go allows: readers on two threads
// route requests against the patterns registered so far while the main
// thread adds more under a shared prefix (so each Handle copies nodes
// that readers are walking). Every answer must be the registered
// pattern's or a 404 for one not there yet, and nothing registered before
// a request began may be missing from it. (The tsan build checks the
// races.)
TEST(ServeMux, HandleWhileServingIsSafe) {
  ServeMux mux;
  mux.HandleFunc("GET /fixed/{x}", [](ResponseWriter& w, Request& r) { (void)w.Write(r.PathValue("x")); });
  constexpr int kPatterns = 200;
  std::atomic<int> registered{0};  // patterns 0..registered-1 are in
  std::atomic<bool> done{false};
  std::atomic<long> wrong{0}, served{0};
  auto reader = [&](unsigned seed) {
    Recorder w0;
    Request r0 = NewRequest("GET", "/fixed/a");
    mux.ServeHTTP(w0, r0);  // the mux is served from here on
    if (w0.body != "a") wrong++;
    while (!done.load()) {
      seed = seed * 1103515245 + 12345;
      const int k = int((seed >> 8) % kPatterns);
      const int before = registered.load();
      Recorder w;
      Request r = NewRequest("GET", "/r/" + std::to_string(k) + "/v");
      mux.ServeHTTP(w, r);
      if (w.code == 200) {
        if (w.body != "GET /r/" + std::to_string(k) + "/{id} v") wrong++;
        served++;
      } else if (w.code != 404 || k < before) {
        wrong++;
      }
    }
  };
  std::thread a(reader, 1u), b(reader, 2u);
  // Wait (bounded) for a reader to have served the mux, so Handle copies.
  Recorder w;
  Request r = NewRequest("GET", "/fixed/b");
  mux.ServeHTTP(w, r);
  for (int i = 0; i < kPatterns; i++) {
    std::string p = "GET /r/" + std::to_string(i) + "/{id}";
    mux.HandleFunc(p, [p](ResponseWriter& w, Request& r) { (void)w.Write(p + " " + std::string(r.PathValue("id"))); });
    registered.store(i + 1);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (served.load() < 1000 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  done = true;
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(served.load(), 1000);
  for (int i = 0; i < kPatterns; i += 37) {  // and every one is there at the end
    Recorder wi;
    Request ri = NewRequest("GET", "/r/" + std::to_string(i) + "/z");
    mux.ServeHTTP(wi, ri);
    EXPECT_EQ(wi.body, "GET /r/" + std::to_string(i) + "/{id} z");
  }
  EXPECT_EQ(w.body, "b");
}

TEST(ServeMux, NestedMuxesSeeTheirOwnPatterns) {
  ServeMux inner;
  inner.HandleFunc("GET /api/v1/{name}", [](ResponseWriter& w, Request& r) {
    (void)w.Write(std::string(r.PathValue("name")) + " " + r.Pattern);
  });
  ServeMux outer;
  outer.Handle("/api/", inner);
  Recorder w;
  Request r = NewRequest("GET", "/api/v1/bob");
  outer.ServeHTTP(w, r);
  EXPECT_EQ(w.body, "bob GET /api/v1/{name}");
}

}  // namespace
