// cookie_test.cc — Set-Cookie rendering and Cookie header parsing
// (http/cookie.cc), against what Go's net/http gives for the same cookies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "recorder.h"
#include "ringo/http/cookie.h"
#include "ringo/http/request.h"

using namespace ringo::http;
using ringo::http::test::Recorder;

namespace {

TEST(CookieString, RendersEveryAttributeInGosOrder) {
  Cookie c{.Name = "s", .Value = "x y,z", .Path = "/p", .Domain = ".example.com", .MaxAge = 60,
           .Secure = true, .HttpOnly = true, .SameSite = SameSite::Lax};
  c.Expires = "Wed, 21 Oct 2015 07:28:00 GMT";
  EXPECT_EQ(c.String(),
            "s=\"x y,z\"; Path=/p; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60; HttpOnly; "
            "Secure; SameSite=Lax");
  EXPECT_EQ((Cookie{.Name = "a", .Value = "1"}).String(), "a=1");
}

TEST(CookieString, AnInvalidNameGivesNothing) {
  for (const char* name : {"", "bad name", "a;b", "a=b", "a\r\nb", "é"})
    EXPECT_EQ((Cookie{.Name = name, .Value = "1"}).String(), "") << name;
}

TEST(CookieString, DropsBytesAValueOrPathMayNotHold) {
  // No attribute or header line can be smuggled in through a field.
  EXPECT_EQ((Cookie{.Name = "v", .Value = "a\"b;c\\d\r\ne"}).String(), "v=abcde");
  EXPECT_EQ((Cookie{.Name = "q", .Value = "\"quoted\""}).String(), "q=quoted");
  EXPECT_EQ((Cookie{.Name = "p", .Value = "1", .Path = "/p;q\n"}).String(), "p=1; Path=/pq");
  Cookie e{.Name = "e", .Value = "1"};
  e.Expires = "Wed;\r\n Set-Cookie: x";
  EXPECT_EQ(e.String(), "e=1; Expires=Wed Set-Cookie: x");
}

TEST(CookieString, KeepsValidDomainsAndDropsOthers) {
  auto withDomain = [](const char* d) { return Cookie{.Name = "d", .Value = "1", .Domain = d}.String(); };
  EXPECT_EQ(withDomain("1.2.3.4"), "d=1; Domain=1.2.3.4");
  EXPECT_EQ(withDomain("sub-1.example.com"), "d=1; Domain=sub-1.example.com");
  for (const char* bad : {"::1", "bad_domain.com", "01.2.3.4", "-a.com", "a-.com", "a..com", "1.2.3", "1.2.3.256"})
    EXPECT_EQ(withDomain(bad), "d=1") << bad;
}

TEST(CookieString, NegativeMaxAgeDeletesAndSameSiteModes) {
  EXPECT_EQ((Cookie{.Name = "m", .MaxAge = -1, .SameSite = SameSite::None}).String(), "m=; Max-Age=0; SameSite=None");
  EXPECT_EQ((Cookie{.Name = "m", .Value = "x", .SameSite = SameSite::Strict}).String(), "m=x; SameSite=Strict");
}

TEST(ReadCookies, ParsesPairsAcrossLinesAndSkipsMalformedOnes) {
  const std::vector<std::string_view> lines = {
      "a=1; b=2", " c=\"x y\" ;; d ; bad name=3; e=\"v;w\"; f=a\"b; =x; g=; h=\"\"; a=dup"};
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& c : ReadCookies(lines)) got.emplace_back(c.Name, c.Value);
  // Go 1.19's readCookies gives exactly these for the same header.
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"a", "1"}, {"b", "2"}, {"c", "x y"}, {"d", ""}, {"g", ""}, {"h", ""}, {"a", "dup"}}));
}

TEST(ReadCookies, FilterKeepsOnlyThatName) {
  auto v = ReadCookies({"a=1; b=2; a=3"}, "a");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].Value, "1");
  EXPECT_EQ(v[1].Value, "3");
  EXPECT_TRUE(ReadCookies({}).empty());
}

TEST(ReadCookies, RequestCookieFindsTheFirstOfAName) {
  Request r;
  r.Header.Add("Cookie", "session=abc; theme=dark");
  r.Header.Add("cookie", "session=later");
  auto c = r.Cookie("session");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->Value, "abc");
  EXPECT_FALSE(r.Cookie("missing").has_value());
  EXPECT_EQ(r.Cookies().size(), 3u);
}

TEST(SetCookie, AddsOneSetCookieHeaderPerCookie) {
  Recorder w;
  SetCookie(w, {.Name = "a", .Value = "1", .Path = "/"});
  SetCookie(w, {.Name = "b", .Value = "2", .HttpOnly = true});
  SetCookie(w, {.Name = "bad name", .Value = "3"});  // invalid: nothing added
  EXPECT_EQ(w.Header().Values("Set-Cookie"), (std::vector<std::string_view>{"a=1; Path=/", "b=2; HttpOnly"}));
}

}  // namespace
