// url_test.cc — request targets, queries and escaping (http/url.cc) against
// what Go's net/url gives for the same inputs, and the path cleaning the
// mux and Redirect use.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../http/urlpath.h"
#include "ringo/http/url.h"

using namespace ringo::http;

namespace {

std::vector<std::pair<std::string, std::string>> Pairs(const Values& v) {
  return {v.begin(), v.end()};
}

using P = std::vector<std::pair<std::string, std::string>>;

TEST(ParseQuery, DecodesPairsInOrderWithPlusAsSpace) {
  Values v;
  EXPECT_FALSE(ParseQuery("a=1&b=x+y&c=%2F&d&=e&a=2&&k=v=w", v));
  EXPECT_EQ(Pairs(v), (P{{"a", "1"}, {"b", "x y"}, {"c", "/"}, {"d", ""}, {"", "e"}, {"a", "2"}, {"k", "v=w"}}));
  EXPECT_EQ(v.Get("a"), "1");
  EXPECT_EQ(v.All("a"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_TRUE(v.Has("d"));
  EXPECT_EQ(v.Get("d"), "");
  EXPECT_FALSE(v.Has("z"));
}

TEST(ParseQuery, SkipsBadEscapesAndReturnsTheFirstError) {
  Values v;
  auto err = ParseQuery("f=%zz&g=1&h%2=2&i=3", v);
  EXPECT_TRUE(err);
  EXPECT_EQ(err, std::errc::invalid_argument);
  EXPECT_EQ(err.message(), "invalid URL escape");
  EXPECT_EQ(Pairs(v), (P{{"g", "1"}, {"i", "3"}}));
}

TEST(ParseQuery, SemicolonsAreNotSeparatorsAndMakeTheirPairAnError) {
  Values v;
  auto err = ParseQuery("a=1;b=2&c=3", v);
  EXPECT_EQ(err.message(), "invalid semicolon separator in query");
  EXPECT_EQ(Pairs(v), (P{{"c", "3"}}));
  // The first error wins: the bad escape came before the semicolon.
  Values w;
  EXPECT_EQ(ParseQuery("x=%g0&a;b&y=1", w).message(), "invalid URL escape");
  EXPECT_EQ(Pairs(w), (P{{"y", "1"}}));
}

TEST(ParseQuery, AddsToWhatIsThere) {
  Values v;
  v.Add("a", "0");
  EXPECT_FALSE(ParseQuery("a=1", v));
  EXPECT_EQ(v.All("a"), (std::vector<std::string_view>{"0", "1"}));
}

TEST(Values, SetKeepsThePlaceAndDropsOtherValues) {
  Values v;
  v.Add("a", "1");
  v.Add("b", "2");
  v.Add("a", "3");
  v.Set("a", "9");
  EXPECT_EQ(Pairs(v), (P{{"a", "9"}, {"b", "2"}}));
  v.Set("c", "new");
  EXPECT_EQ(v.Get("c"), "new");
  v.Del("a");
  EXPECT_EQ(Pairs(v), (P{{"b", "2"}, {"c", "new"}}));
}

TEST(Values, EncodeSortsTheKeysAsGoAndEscapes) {
  Values v;
  v.Add("q", "go lang");
  v.Add("page", "2");
  v.Add("q", "a&b=c");
  v.Add("ü", "/");
  EXPECT_EQ(v.Encode(), "page=2&q=go+lang&q=a%26b%3Dc&%C3%BC=%2F");  // a key's values keep their order
  EXPECT_EQ(Values().Encode(), "");
  // It round-trips through ParseQuery.
  Values back;
  EXPECT_FALSE(ParseQuery(v.Encode(), back));
  EXPECT_EQ(back.All("q"), (std::vector<std::string_view>{"go lang", "a&b=c"}));
  EXPECT_EQ(back.Get("ü"), "/");
}

// Go's cap on parameters (CVE-2025-61726): 10,000 or more separators and
// nothing is parsed; just under it, everything is.
TEST(Values, ParseQueryRefusesTenThousandParameters) {
  std::string many;
  for (int i = 0; i < 9999; i++) many += "a=1&";
  many += "b=2";  // 10,000 pairs, 9,999 separators
  Values v;
  EXPECT_FALSE(ParseQuery(many, v));
  EXPECT_EQ(v.All("a").size(), 9999u);
  EXPECT_EQ(v.Get("b"), "2");
  Values w;
  const auto err = ParseQuery(many + "&c=3", w);
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "number of URL query parameters exceeded limit");
  EXPECT_EQ(w.Get("b"), "");  // none stored
  Values x;
  EXPECT_TRUE(ParseQuery(std::string(10000, ';'), x));
}

TEST(Escape, QueryEscapeMatchesGo) {
  EXPECT_EQ(QueryEscape("a b/c?d=e&f+g~h_i.j-k*'()!é"), "a+b%2Fc%3Fd%3De%26f%2Bg~h_i.j-k%2A%27%28%29%21%C3%A9");
  EXPECT_EQ(QueryEscape(""), "");
  EXPECT_EQ(QueryEscape(std::string("\0\n", 2)), "%00%0A");
}

TEST(Escape, QueryUnescapeTurnsPlusIntoSpacePathUnescapeDoesNot) {
  std::string out;
  EXPECT_TRUE(QueryUnescape("a+b%20c%2b", out));
  EXPECT_EQ(out, "a b c+");
  EXPECT_TRUE(PathUnescape("a+b%20c%2F", out));
  EXPECT_EQ(out, "a+b c/");
  for (const char* bad : {"%", "%2", "a%zz", "%g1", "%1g", "x%"}) {
    EXPECT_FALSE(QueryUnescape(bad, out)) << bad;
    EXPECT_FALSE(PathUnescape(bad, out)) << bad;
  }
}

struct Accepted {
  const char* target;
  const char* scheme;
  const char* host;
  const char* path;
  const char* rawPath;
  const char* rawQuery;
  const char* requestURI;
  const char* string;
};

// Each row is what Go 1.19's url.ParseRequestURI gives for the target.
TEST(ParseRequestURI, AcceptsWhatGoAccepts) {
  const Accepted rows[] = {
      {"/", "", "", "/", "", "", "/", "/"},
      {"/a%20b?x=1", "", "", "/a b", "", "x=1", "/a%20b?x=1", "/a%20b?x=1"},
      {"/a%2Fb/c", "", "", "/a/b/c", "/a%2Fb/c", "", "/a%2Fb/c", "/a%2Fb/c"},
      {"/a%2fb", "", "", "/a/b", "/a%2fb", "", "/a%2fb", "/a%2fb"},
      {"/a%41", "", "", "/aA", "/a%41", "", "/a%41", "/a%41"},
      {"/a#b", "", "", "/a#b", "/a#b", "", "/a%23b", "/a%23b"},
      {"/a?b#c", "", "", "/a", "", "b#c", "/a?b#c", "/a?b#c"},
      {"*", "", "", "*", "", "", "*", "*"},
      {"http://Host.com/p?q", "http", "Host.com", "/p", "", "q", "/p?q", "http://Host.com/p?q"},
      {"HTTP://h:80", "http", "h:80", "", "", "", "/", "http://h:80"},
      {"http://[::1]:80/x", "http", "[::1]:80", "/x", "", "", "/x", "http://[::1]:80/x"},
      {"http://u:p@h/x", "http", "h", "/x", "", "", "/x", "http://u:p@h/x"},
      {"http://%C3%A9/", "http", "é", "/", "", "", "/", "http://%C3%A9/"},
      {"http://h/%2e%2e/", "http", "h", "/../", "/%2e%2e/", "", "/%2e%2e/", "http://h/%2e%2e/"},
      {"http:///p", "http", "", "/p", "", "", "/p", "http:///p"},
      {"//x/y", "", "", "//x/y", "", "", "//x/y", "//x/y"},
      {"/a;b=c", "", "", "/a;b=c", "", "", "/a;b=c", "/a;b=c"},
      {"/x?", "", "", "/x", "", "", "/x", "/x"},
      {"/x?a?b", "", "", "/x", "", "a?b", "/x?a?b", "/x?a?b"},
      {"/a%25b", "", "", "/a%b", "", "", "/a%25b", "/a%25b"},
      {"/a%C3%BC", "", "", "/aü", "", "", "/a%C3%BC", "/a%C3%BC"},
      {"/ü", "", "", "/ü", "/ü", "", "/%C3%BC", "/%C3%BC"},
      {"/~!$&'()*+,;=:@", "", "", "/~!$&'()*+,;=:@", "/~!$&'()*+,;=:@", "", "/~!$&'()*+,;=:@", "/~!$&'()*+,;=:@"},
      {"/a[b]", "", "", "/a[b]", "/a[b]", "", "/a[b]", "/a[b]"},
      {"/a\"b", "", "", "/a\"b", "/a\"b", "", "/a%22b", "/a%22b"},
      {"/a{b}|^`\\", "", "", "/a{b}|^`\\", "/a{b}|^`\\", "", "/a%7Bb%7D%7C%5E%60%5C", "/a%7Bb%7D%7C%5E%60%5C"},
  };
  for (const auto& row : rows) {
    URL u;
    ASSERT_TRUE(ParseRequestURI(row.target, u)) << row.target;
    EXPECT_EQ(u.Scheme, row.scheme) << row.target;
    EXPECT_EQ(u.Host, row.host) << row.target;
    EXPECT_EQ(u.Path, row.path) << row.target;
    EXPECT_EQ(u.RawPath, row.rawPath) << row.target;
    EXPECT_EQ(u.RawQuery, row.rawQuery) << row.target;
    EXPECT_EQ(u.RequestURI(), row.requestURI) << row.target;
    EXPECT_EQ(u.String(), row.string) << row.target;
  }
}

TEST(ParseRequestURI, RejectsControlsSpacesBadEscapesAndNonTargets) {
  const std::string rejected[] = {
      "",
      "foo",                     // not origin form
      ":foo",                    // missing scheme
      "mailto:x",                // opaque: a URL, not a request target
      "a:b",
      "http:",
      "/a b",                    // a space (Go's url package allows it; a request line cannot hold it)
      "/a%zz",                   // bad escapes
      "/a%2",
      "/%",
      "/q?x=1\x01",
      std::string("/a\0b", 4),   // controls anywhere
      "/a\x7f",
      "/\tx",
      "/a\r\nX-Injected: 1",
      "http://h:8a/",            // bad port
      "http://[::1/x",           // missing ']'
      "http://u^@h/",            // bad userinfo
      "http://%41/",             // a host may escape only non-ASCII
      "http://h%zz/",
      "http://a b/",
  };
  for (const auto& t : rejected) {
    URL u;
    EXPECT_FALSE(ParseRequestURI(t, u)) << "accepted: " << t;
  }
}

TEST(ParseRequestURI, KeepsTheUserinfoAsWritten) {
  URL u;
  ASSERT_TRUE(ParseRequestURI("http://alice:s%20cret@example.com/p", u));
  EXPECT_EQ(u.User, "alice:s%20cret");
  EXPECT_EQ(u.Host, "example.com");
  EXPECT_EQ(u.String(), "http://alice:s%20cret@example.com/p");
  ASSERT_TRUE(ParseRequestURI("/p", u));
  EXPECT_EQ(u.User, "");  // cleared with the rest
}

TEST(ParseRequestURI, AnEmptyPortIsAllowedAsInGo) {
  URL u;
  ASSERT_TRUE(ParseRequestURI("http://h:/x", u));
  EXPECT_EQ(u.Host, "h:");
  EXPECT_EQ(u.Path, "/x");
}

TEST(URL, QueryParsesRawQueryEachCall) {
  URL u;
  ASSERT_TRUE(ParseRequestURI("/search?q=go+lang&page=2", u));
  EXPECT_EQ(u.Query().Get("q"), "go lang");
  u.RawQuery = "q=c%2B%2B";
  EXPECT_EQ(u.Query().Get("q"), "c++");
}

TEST(URL, AStaleRawPathIsIgnored) {
  // A handler changed Path and left RawPath: Go's EscapedPath escapes Path.
  URL u;
  ASSERT_TRUE(ParseRequestURI("/a%2Fb", u));
  u.Path = "/c d";
  EXPECT_EQ(u.RequestURI(), "/c%20d");
  EXPECT_EQ(ringo::http::detail::escapedPath(u), "/c%20d");
}

TEST(URL, StringPrefixesAColonInTheFirstSegment) {
  URL u;
  u.Path = "a:b/c";
  EXPECT_EQ(u.String(), "./a:b/c");
}

TEST(PathClean, MatchesGosPathClean) {
  using ringo::http::detail::pathClean;
  const std::pair<const char*, const char*> rows[] = {
      {"", "."}, {"/", "/"}, {"abc", "abc"}, {"a/b/c", "a/b/c"}, {"a//b", "a/b"}, {"/a/b/", "/a/b"},
      {"./a", "a"}, {"a/./b", "a/b"}, {"a/..", "."}, {"a/../..", ".."}, {"../../a", "../../a"},
      {"a/../../b", "../b"}, {"/..", "/"}, {"/../a", "/a"}, {"/a/b/../../..", "/"}, {"a/b/../c/./d/", "a/c/d"},
      {"//a//b//", "/a/b"}, {"..", ".."}, {"../..", "../.."}, {"/.", "/"}, {".", "."},
  };
  for (auto [in, want] : rows) EXPECT_EQ(pathClean(in), want) << in;
}

TEST(CleanPath, KeepsTheTrailingSlashAndRootsThePath) {
  using ringo::http::detail::cleanPath;
  using ringo::http::detail::isCleanPath;
  const std::pair<const char*, const char*> rows[] = {
      {"", "/"}, {"/", "/"}, {"a", "/a"}, {"/a/", "/a/"}, {"//a//b//", "/a/b/"}, {"/a/./b/", "/a/b/"},
      {"/a/../", "/"}, {"/a/..", "/"}, {"/a/b/..", "/a"}, {"/a/b/../", "/a/"}, {"/.", "/"}, {"/./", "/"},
      {"/a/.b/..c/", "/a/.b/..c/"},
  };
  for (auto [in, want] : rows) {
    EXPECT_EQ(cleanPath(in), want) << in;
    EXPECT_EQ(isCleanPath(in), std::string(in) == want) << in;
  }
}

}  // namespace
