// mux.cc — ServeMux: Go 1.22's patterns, precedence and conflicts.
//
// Patterns. "[METHOD ][HOST]/PATH" parses into a method, a host and a list
// of segments, each one of: a literal (stored unescaped), a wildcard
// "{name}" (one whole segment), "{$}" (the path ends here, after a slash),
// or a rest-wildcard, which is either "{name...}" or the anonymous one a
// trailing '/' stands for ("/static/" is "/static/{...}" without a name).
//
// Precedence and conflicts. Two patterns relate as the sets of requests
// they match: equal, one a strict subset of the other (the subset is more
// specific and wins), disjoint, or overlapping (some request matches both,
// neither is a subset). Methods and paths are compared apart and combined
// (compareMethods, comparePaths, combine below); a host pattern always
// beats a hostless one, and different hosts never meet. Handle throws when
// the new pattern is equal to or overlaps one of the same host: so among
// the patterns that match any request, one is more specific than all the
// others, and matching only has to find that one.
//
// Matching. The tree is hosts -> methods -> a trie of path segments. Hosts
// and methods are tried in precedence order: the request's host, then
// hostless; within it the request's method, then GET for a HEAD, then
// method-less patterns. In the trie a depth-first walk tries, at each
// segment, the literal child, then the wildcard child, then a rest-wildcard
// ending here. The first leaf found is the most specific pattern: a
// literal-first walk can only reach a less specific pattern before a more
// specific one if the two overlapped, and Handle refused that. The walk
// looks at string_views into the request's path and allocates nothing
// unless a segment holds a %-escape (a path that matches only inexactly,
// say by a catch-all "/", is copied once with a '/' added, to look for a
// trailing-slash redirect); path values are taken afterwards, by walking
// the winner's segments along the path once more.
//
// Escaped paths. Go matches against the escaped path, unescaping each
// segment, so "%2F" inside a segment is not a separator. A request whose
// URL has no RawPath is its default encoding: splitting the decoded Path
// gives the same segments, already unescaped, so the walk uses Path as it
// is. With a (valid) RawPath, the walk splits RawPath and unescapes
// segments and values.
//
// Registering while serving. Go guards its tree with an RWMutex, a read
// lock per request. Here a request takes no lock: it reads a tree that
// nobody changes any more. Until the first request, Handle changes the
// one tree in place (start-up registration costs nothing extra). After
// it, Handle builds the next tree from the current one, copying only the
// nodes on the new pattern's path (the rest is shared), publishes it, and
// keeps the old one: a request that began on it may still be walking it,
// and nothing says when the last has left. So each Handle made while
// serving keeps a path's worth of nodes (its segments' nodes with their
// child lists) until the mux is destroyed. The first request takes mu_
// once, so it cannot meet an in-place change half done.
//
// The mux's own answers, in Go's order: the trailing-slash redirect (when
// "/x" matches nothing exactly but "/x/" does), the clean-path redirect
// (for "//", "." and "..", except CONNECT), then 405 with Allow when some
// pattern with an explicit method matches the path, else 404.

#include "ringo/http/mux.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "internal.h"
#include "urlpath.h"

namespace ringo::http {

namespace detail {

enum class segKind : uint8_t {
  literal,  // s is the segment, unescaped
  wild,     // "{s}": one segment
  dollar,   // "{$}": the path ends after this slash
  rest,     // "{s...}", or a trailing '/' (s empty): the rest of the path
};

struct muxSegment {
  segKind kind;
  std::string s;
};

struct muxPattern {
  std::string str;  // as registered: what Request::Pattern gets
  std::string method, host;
  std::vector<muxSegment> segs;  // never empty: a path has at least "/"
};

}  // namespace detail

using detail::muxPattern;
using detail::muxSegment;
using detail::segKind;

struct ServeMux::entry {
  muxPattern pat;
  std::shared_ptr<http::Handler> h;
};

namespace {

// ---- parsing ----------------------------------------------------------------

[[noreturn]] void bad(std::string_view pattern, std::string_view why) {
  std::string msg = "parsing \"";
  msg.append(pattern);
  msg.append("\": ");
  msg.append(why);
  throw std::invalid_argument(msg);
}

// validWildcardName: a Go identifier. Bytes >= 0x80 count as letters, so
// UTF-8 names pass (Go checks Unicode classes; this is looser there).
bool validWildcardName(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); i++) {
    const unsigned char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// parsePattern checks s and splits it into method, host and segments (see
// the top of this file); it throws std::invalid_argument with Go's reasons.
muxPattern parsePattern(std::string_view s) {
  if (s.empty()) bad(s, "empty pattern");
  muxPattern p;
  p.str.assign(s);
  std::string_view rest = s;
  // A method is followed by spaces or tabs (Go 1.22 takes any number, and
  // leading blanks as an empty method).
  if (const size_t sp = s.find_first_of(" \t"); sp != std::string_view::npos) {
    const std::string_view method = s.substr(0, sp);
    if (!std::all_of(method.begin(), method.end(), [](char c) { return detail::isTokenByte(static_cast<unsigned char>(c)); }))
      bad(s, "invalid method \"" + std::string(method) + "\"");
    p.method.assign(method);
    rest = s.substr(sp + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) bad(s, "host/path missing /");
  p.host.assign(rest.substr(0, slash));
  if (p.host.find('{') != std::string::npos) bad(s, "host contains '{' (missing initial '/'?)");
  rest = rest.substr(slash);
  // Requests are cleaned before matching, except CONNECT's; an unclean
  // path with another method could never match.
  if (!p.method.empty() && p.method != "CONNECT" && !detail::isCleanPath(rest))
    bad(s, "non-CONNECT pattern with unclean path can never match");

  std::vector<std::string_view> names;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/' before the segment
    if (rest.empty()) {
      p.segs.push_back({segKind::rest, {}});  // a trailing slash
      break;
    }
    const size_t end = std::min(rest.find('/'), rest.size());
    const std::string_view seg = rest.substr(0, end);
    rest = rest.substr(end);
    const size_t brace = seg.find('{');
    if (brace == std::string_view::npos) {
      std::string lit;
      if (!PathUnescape(seg, lit)) lit.assign(seg);  // a bad escape stays as written, as in Go
      p.segs.push_back({segKind::literal, std::move(lit)});
      continue;
    }
    if (brace != 0) bad(s, "bad wildcard segment (must start with '{')");
    if (seg.back() != '}') bad(s, "bad wildcard segment (must end with '}')");
    std::string_view name = seg.substr(1, seg.size() - 2);
    if (name == "$") {
      if (!rest.empty()) bad(s, "{$} not at end");
      p.segs.push_back({segKind::dollar, {}});
      break;
    }
    const bool multi = name.ends_with("...");
    if (multi) {
      name.remove_suffix(3);
      if (!rest.empty()) bad(s, "{...} wildcard not at end");
    }
    if (name.empty()) bad(s, "empty wildcard");
    if (!validWildcardName(name)) bad(s, "bad wildcard name \"" + std::string(name) + "\"");
    if (std::find(names.begin(), names.end(), name) != names.end())
      bad(s, "duplicate wildcard name \"" + std::string(name) + "\"");
    names.push_back(name);
    p.segs.push_back({multi ? segKind::rest : segKind::wild, std::string(name)});
  }
  return p;
}

// ---- relations between patterns ----------------------------------------------

// How the requests matched by a compare to those matched by b.
enum class rel { equivalent, moreGeneral, moreSpecific, disjoint, overlaps };

// inverse: if a relates to b as r, b relates to a as inverse(r).
rel inverse(rel r) noexcept {
  if (r == rel::moreGeneral) return rel::moreSpecific;
  if (r == rel::moreSpecific) return rel::moreGeneral;
  return r;
}

// combine gives the relation of two patterns from the relations of two
// independent parts of them (method and path, or two stretches of path):
// more general in one and more specific in the other is an overlap.
rel combine(rel a, rel b) noexcept {
  switch (a) {
    case rel::equivalent: return b;
    case rel::disjoint: return rel::disjoint;
    case rel::overlaps: return b == rel::disjoint ? rel::disjoint : rel::overlaps;
    case rel::moreGeneral:
    case rel::moreSpecific:
      if (b == rel::equivalent) return a;
      if (b == inverse(a)) return rel::overlaps;
      return b;
  }
  return rel::disjoint;
}

// compareMethods: no method matches every method; GET matches HEAD too.
rel compareMethods(const muxPattern& a, const muxPattern& b) noexcept {
  if (a.method == b.method) return rel::equivalent;
  if (a.method.empty()) return rel::moreGeneral;
  if (b.method.empty()) return rel::moreSpecific;
  if (a.method == "GET" && b.method == "HEAD") return rel::moreGeneral;
  if (a.method == "HEAD" && b.method == "GET") return rel::moreSpecific;
  return rel::disjoint;
}

// compareSegments relates two segments at the same position.
rel compareSegments(const muxSegment& a, const muxSegment& b) noexcept {
  const bool ar = a.kind == segKind::rest, br = b.kind == segKind::rest;
  if (ar || br) return ar && br ? rel::equivalent : ar ? rel::moreGeneral : rel::moreSpecific;
  const bool aw = a.kind == segKind::wild, bw = b.kind == segKind::wild;
  if (aw && bw) return rel::equivalent;
  // A single wildcard matches any segment but not the end-slash of {$}.
  if (aw) return b.kind == segKind::dollar ? rel::disjoint : rel::moreGeneral;
  if (bw) return a.kind == segKind::dollar ? rel::disjoint : rel::moreSpecific;
  return a.kind == b.kind && a.s == b.s ? rel::equivalent : rel::disjoint;
}

// comparePaths relates two paths segment by segment.
rel comparePaths(const muxPattern& a, const muxPattern& b) noexcept {
  const bool aRest = a.segs.back().kind == segKind::rest, bRest = b.segs.back().kind == segKind::rest;
  // Without a rest-wildcard a pattern matches paths of its own length only.
  if (a.segs.size() != b.segs.size() && !aRest && !bRest) return rel::disjoint;
  const size_t n = std::min(a.segs.size(), b.segs.size());
  rel r = rel::equivalent;
  for (size_t i = 0; i < n; i++) {
    r = combine(r, compareSegments(a.segs[i], b.segs[i]));
    if (r == rel::disjoint) return r;
  }
  if (a.segs.size() == b.segs.size()) return r;
  // The shorter one's rest-wildcard also covers the longer one's tail.
  if (a.segs.size() < b.segs.size() && aRest) return combine(r, rel::moreGeneral);
  if (b.segs.size() < a.segs.size() && bRest) return combine(r, rel::moreSpecific);
  return rel::disjoint;
}

// ---- conflict messages ----------------------------------------------------

// appendSample appends "/" and a segment seg matches (a wildcard's name
// stands for any value; rest and {$} need nothing more).
void appendSample(std::string& b, const muxSegment& seg) {
  b.push_back('/');
  if (seg.kind == segKind::literal || seg.kind == segKind::wild) b.append(seg.s);
}

// commonPath is a path both patterns match (they are known to overlap).
std::string commonPath(const muxPattern& a, const muxPattern& b) {
  std::string out;
  const size_t n = std::min(a.segs.size(), b.segs.size());
  for (size_t i = 0; i < n; i++) appendSample(out, a.segs[i].kind == segKind::literal ? a.segs[i] : b.segs[i]);
  const auto& longer = a.segs.size() > n ? a.segs : b.segs;
  for (size_t i = n; i < longer.size(); i++) appendSample(out, longer[i]);
  return out;
}

// differencePath is a path a matches and b does not (one is known to exist).
std::string differencePath(const muxPattern& a, const muxPattern& b) {
  std::string out;
  const size_t n = std::min(a.segs.size(), b.segs.size());
  for (size_t i = 0; i < n; i++) {
    const muxSegment &sa = a.segs[i], &sb = b.segs[i];
    if (sa.kind == segKind::rest) {
      // Here a takes anything. An empty rest escapes every b but "{$}"
      // and another rest; a non-empty one escapes "{$}".
      out.push_back('/');
      if (sb.kind == segKind::dollar) out.append(sa.s.empty() ? "x" : sa.s);
      return out;
    }
    if (sa.kind == segKind::wild && sb.kind == segKind::literal) {
      // Any value but b's literal.
      out.push_back('/');
      out.append(sa.s != sb.s ? sa.s : sb.s + "x");
      continue;
    }
    appendSample(out, sa);
  }
  for (size_t i = n; i < a.segs.size(); i++) appendSample(out, a.segs[i]);
  return out;
}

// quoted wraps s in double quotes, as Go's %q does for printable ASCII.
std::string quoted(std::string_view s) {
  std::string q = "\"";
  q.append(s);
  q.push_back('"');
  return q;
}

// describeConflict explains, as Go's panic does, why a (new) conflicts with
// b (registered).
std::string describeConflict(const muxPattern& a, const muxPattern& b) {
  const rel m = compareMethods(a, b), p = comparePaths(a, b);
  const std::string qa = quoted(a.str), qb = quoted(b.str);
  std::string msg = "pattern " + qa + " conflicts with pattern " + qb + ":\n";
  if (combine(m, p) == rel::equivalent) return msg + qa + " matches the same requests as " + qb;
  if (p == rel::overlaps)
    return msg + qa + " and " + qb + " both match some paths, like " + quoted(commonPath(a, b)) +
           ".\nBut neither is more specific than the other.\n" + qa + " matches " + quoted(differencePath(a, b)) +
           ", but " + qb + " doesn't.\n" + qb + " matches " + quoted(differencePath(b, a)) + ", but " + qa +
           " doesn't.";
  // Otherwise method and path pull opposite ways.
  if (m == rel::moreGeneral)
    return msg + qa + " matches more methods than " + qb + ", but has a more specific path pattern";
  return msg + qa + " matches fewer methods than " + qb + ", but has a more general path pattern";
}

// ---- request helpers ------------------------------------------------------------

// stripHostPort drops ":port" from a Host header, and the brackets of an
// IPv6 literal ("[::1]:80" is "::1"); anything malformed comes back as is.
std::string_view stripHostPort(std::string_view h) noexcept {
  if (h.find(':') == std::string_view::npos) return h;
  if (h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos) return h;
    if (close + 1 != h.size() && h[close + 1] != ':') return h;
    if (close + 1 == h.size()) return h;  // "[::1]" without a port
    return h.substr(1, close - 1);
  }
  const size_t colon = h.rfind(':');
  const std::string_view host = h.substr(0, colon);
  if (host.find(':') != std::string_view::npos) return h;  // bare IPv6: too many colons
  return host;
}

// The first segment of a path that starts with '/': what lies before the
// next '/', and the path from that '/' on ("" at the end).
struct split {
  std::string_view seg, after;
};
split firstSegment(std::string_view p) noexcept {
  const size_t j = p.find('/', 1);
  if (j == std::string_view::npos) return {p.substr(1), {}};
  return {p.substr(1, j - 1), p.substr(j)};
}

// unescaped is a segment or value as the handler sees it: decoded when it
// came from RawPath (a bad escape stays as written, as in Go).
std::string_view unescaped(std::string_view s, bool raw, std::string& buf) {
  if (!raw || s.find('%') == std::string_view::npos) return s;
  if (!PathUnescape(s, buf)) return s;
  return buf;
}

}  // namespace

// ---- the tree ----------------------------------------------------------------

// One position in a path trie: the patterns that end here, and the
// children by next segment. Written by Handle only, and once a request
// may read it, never again (nodes are shared between trees; see the top).
struct ServeMux::tree {
  struct node {
    const entry* end = nullptr;    // the path ends here: "/a"
    const entry* slash = nullptr;  // ends here with "/{$}": "/a/{$}"
    const entry* rest = nullptr;   // "/a/" or "/a/{r...}": takes a non-empty rest
    std::vector<std::pair<std::string, std::shared_ptr<node>>> lits;  // sorted by literal
    std::shared_ptr<node> wild;  // "/a/{x}"
  };
  struct methodTrie {
    std::string method;  // "" for patterns without one
    std::shared_ptr<node> root;
  };
  struct hostTable {
    std::string host;  // "" for hostless patterns
    std::vector<methodTrie> methods;
  };
  std::vector<hostTable> hosts;

  // The result of a walk: the pattern, and whether it matched the path
  // exactly (not by a rest-wildcard taking a non-empty rest).
  struct hit {
    const entry* e = nullptr;
    bool exact = false;
  };

  const hostTable* findHost(std::string_view h) const noexcept {
    for (const auto& t : hosts)
      if (t.host == h) return &t;
    return nullptr;
  }
  static const node* findMethod(const hostTable* t, std::string_view m) noexcept {
    if (t == nullptr) return nullptr;
    for (const auto& mt : t->methods)
      if (mt.method == m) return mt.root.get();
    return nullptr;
  }

  // insert adds e. With `copy`, the nodes on e's path are copied before
  // they change, and the copies replace them in this tree only: the tree
  // this one was copied from, which shares them, stays as it was.
  void insert(const entry* e, bool copy) {
    auto own = [copy](std::shared_ptr<node>& n) {
      if (!n) n = std::make_shared<node>();
      else if (copy) n = std::make_shared<node>(*n);
      return n.get();
    };
    const muxPattern& p = e->pat;
    auto ht = std::find_if(hosts.begin(), hosts.end(), [&](const hostTable& t) { return t.host == p.host; });
    if (ht == hosts.end()) ht = hosts.insert(hosts.end(), hostTable{p.host, {}});
    auto mt = std::find_if(ht->methods.begin(), ht->methods.end(),
                           [&](const methodTrie& t) { return t.method == p.method; });
    if (mt == ht->methods.end()) mt = ht->methods.insert(ht->methods.end(), methodTrie{p.method, {}});
    node* n = own(mt->root);
    const entry** slot = nullptr;
    for (const muxSegment& seg : p.segs) {
      switch (seg.kind) {
        case segKind::literal: {
          auto it = std::lower_bound(n->lits.begin(), n->lits.end(), seg.s,
                                     [](const auto& kv, const std::string& k) { return kv.first < k; });
          if (it == n->lits.end() || it->first != seg.s) it = n->lits.emplace(it, seg.s, nullptr);
          n = own(it->second);
          break;
        }
        case segKind::wild: n = own(n->wild); break;
        case segKind::dollar: slot = &n->slash; break;
        case segKind::rest: slot = &n->rest; break;
      }
    }
    if (slot == nullptr) slot = &n->end;
    if (*slot != nullptr) {
      // Equal patterns conflict; Handle checked. A second one here is a bug.
      std::fprintf(stderr, "ServeMux.Handle: %s and %s share a leaf\n", (*slot)->pat.str.c_str(), p.str.c_str());
      std::abort();
    }
    *slot = e;
  }

  // walk matches p (empty, or starting with '/') below n, most specific
  // first (see the top of this file).
  static hit walk(const node* n, std::string_view p, bool raw) {
    if (p.empty()) return {n->end, true};
    if (p.size() == 1) {
      // The path ends in a slash: only "{$}" or a rest with nothing to take.
      if (n->slash != nullptr) return {n->slash, true};
      return {n->rest, true};
    }
    const split sp = firstSegment(p);
    if (!n->lits.empty()) {
      std::string buf;
      const std::string_view seg = unescaped(sp.seg, raw, buf);
      auto it = std::lower_bound(n->lits.begin(), n->lits.end(), seg,
                                 [](const auto& kv, std::string_view k) { return kv.first < k; });
      if (it != n->lits.end() && it->first == seg)
        if (hit h = walk(it->second.get(), sp.after, raw); h.e != nullptr) return h;
    }
    if (n->wild)
      if (hit h = walk(n->wild.get(), sp.after, raw); h.e != nullptr) return h;
    return {n->rest, false};
  }

  // match finds the pattern for (host, method, path) in precedence order.
  hit match(std::string_view host, std::string_view method, std::string_view path, bool raw) const {
    const hostTable* tables[2] = {host.empty() ? nullptr : findHost(host), findHost({})};
    for (const hostTable* t : tables) {
      if (t == nullptr) continue;
      if (const node* n = findMethod(t, method))
        if (hit h = walk(n, path, raw); h.e != nullptr) return h;
      if (method == "HEAD")
        if (const node* n = findMethod(t, "GET"))
          if (hit h = walk(n, path, raw); h.e != nullptr) return h;
      if (const node* n = findMethod(t, ""))
        if (hit h = walk(n, path, raw); h.e != nullptr) return h;
    }
    return {};
  }

  // allowed lists, sorted, the methods of patterns that match the path
  // (GET bringing HEAD): the Allow header of a 405.
  // The path with a slash added counts too (Go's matchingMethods): "POST
  // /dir" is a 405 when only "GET /dir/" is registered, since a GET of it
  // would be redirected there.
  std::vector<std::string_view> allowed(std::string_view host, std::string_view path, bool raw) const {
    std::vector<std::string_view> out;
    const hostTable* tables[2] = {host.empty() ? nullptr : findHost(host), findHost({})};
    std::string slashed;
    if (path.empty() || path.back() != '/') slashed = std::string(path) + '/';
    for (const hostTable* t : tables) {
      if (t == nullptr) continue;
      for (const auto& mt : t->methods)
        if (!mt.method.empty() && (walk(mt.root.get(), path, raw).e != nullptr ||
                                   (!slashed.empty() && walk(mt.root.get(), slashed, raw).e != nullptr)))
          out.push_back(mt.method);
    }
    if (std::find(out.begin(), out.end(), "GET") != out.end()) out.push_back("HEAD");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
};

// What find decided. For a match, path and raw say how to read the
// wildcards' values.
struct ServeMux::route {
  enum kind { matched, notFound, notAllowed, redirect } k = notFound;
  const entry* e = nullptr;
  std::string_view path;  // the path matched (Path or RawPath: no copy when clean)
  bool raw = false;       // path is RawPath: segments need unescaping
  std::string location;   // redirect: where to
  std::string pattern;    // redirect: what ServeMux::Handler reports (Go's findHandler)
  std::string allow;      // notAllowed: the Allow header
};

namespace {

// ownAnswers is the Handler that ServeMux::Handler returns for the mux's
// own 405s and redirects: it routes the request again and answers.
class ownAnswers final : public Handler {
 public:
  explicit ownAnswers(ServeMux& m) : m_(m) {}
  void ServeHTTP(ResponseWriter& w, Request& r) override { m_.ServeHTTP(w, r); }

 private:
  ServeMux& m_;
};

}  // namespace

// The tree starts empty; own_ points back at this mux, which never moves.
ServeMux::ServeMux() : own_(std::make_unique<ownAnswers>(*this)) {
  trees_.push_back(std::make_unique<tree>());
  tree_.store(trees_.back().get(), std::memory_order_release);
}

ServeMux::~ServeMux() = default;

void ServeMux::Handle(std::string_view pattern, std::shared_ptr<http::Handler> h) {
  if (pattern.empty()) throw std::invalid_argument("http: invalid pattern");
  if (!h) throw std::invalid_argument("http: nil handler");
  auto e = std::make_unique<entry>(entry{parsePattern(pattern), std::move(h)});
  std::lock_guard g(mu_);
  // Registration is start-up work: comparing with every pattern of the same
  // host is simpler than Go's index and fast enough for thousands.
  for (const auto& old : entries_) {
    if (old->pat.host != e->pat.host) continue;
    const rel m = compareMethods(e->pat, old->pat);
    if (m == rel::disjoint) continue;
    const rel r = combine(m, comparePaths(e->pat, old->pat));
    if (r == rel::equivalent || r == rel::overlaps) throw std::invalid_argument(describeConflict(e->pat, old->pat));
  }
  if (!served_.load(std::memory_order_relaxed)) {
    trees_.back()->insert(e.get(), false);  // nobody reads it yet
  } else {
    auto next = std::make_unique<tree>(*trees_.back());
    next->insert(e.get(), true);
    tree_.store(next.get(), std::memory_order_release);
    trees_.push_back(std::move(next));  // the old ones stay for requests still walking them
  }
  entries_.push_back(std::move(e));
}

// current is the tree a request reads. The first request waits for a
// Handle in progress and marks the mux served, after which Handle copies.
const ServeMux::tree* ServeMux::current() const {
  if (!served_.load(std::memory_order_acquire)) {
    std::lock_guard g(mu_);
    served_.store(true, std::memory_order_release);
  }
  return tree_.load(std::memory_order_acquire);
}

void ServeMux::Handle(std::string_view pattern, http::Handler& h) {
  // Aliasing an empty shared_ptr: a non-owning pointer the caller keeps alive.
  Handle(pattern, std::shared_ptr<http::Handler>(std::shared_ptr<http::Handler>(), &h));
}

void ServeMux::HandleFunc(std::string_view pattern, HandlerFunc::Fn f) {
  if (!f) throw std::invalid_argument("http: nil handler");
  Handle(pattern, std::make_shared<HandlerFunc>(std::move(f)));
}

// find routes r without changing it: a pattern, or one of the mux's own
// answers, in Go 1.22's order (see the top of this file).
ServeMux::route ServeMux::find(const Request& r) const {
  route rt;
  const URL& u = r.URL;
  // Go matches the escaped path; without a RawPath the decoded one splits
  // the same way (see the top of this file).
  rt.raw = !u.RawPath.empty() && detail::rawPathValid(u.RawPath, u.Path);
  const std::string_view escaped = rt.raw ? std::string_view(u.RawPath) : std::string_view(u.Path);
  // Locations are escaped paths: RawPath is one already.
  auto location = [&](std::string_view path, bool slash) {
    std::string loc = rt.raw ? std::string(path) : detail::escapePath(path);
    if (slash) loc.push_back('/');
    if (!u.RawQuery.empty()) {
      loc.push_back('?');
      loc.append(u.RawQuery);
    }
    return loc;
  };

  const bool connect = r.Method == "CONNECT";
  // CONNECT's target is not a path: neither it nor the host is normalised.
  const std::string_view host = connect ? std::string_view(r.Host) : stripHostPort(r.Host);
  std::string cleaned;
  std::string_view path = escaped;
  if (!connect && !detail::isCleanPath(escaped)) {
    cleaned = detail::cleanPath(escaped);
    path = cleaned;
  }

  const tree* t = current();
  tree::hit h = t->match(host, r.Method, path, rt.raw);
  // "/tree" matching nothing exactly, while "/tree/" would: redirect there.
  // (An empty path, CONNECT's authority form, is left alone.)
  if (!h.exact && !path.empty() && path.back() != '/') {
    std::string slashed(path);
    slashed.push_back('/');
    if (tree::hit h2 = t->match(host, r.Method, slashed, rt.raw); h2.e != nullptr && h2.exact) {
      rt.k = route::redirect;
      const std::string to = connect ? detail::cleanPath(escaped) : std::string(path);
      rt.location = location(to, true);
      std::string buf;
      rt.pattern = std::string(unescaped(to, rt.raw, buf)) + '/';  // the path that will match, unescaped (Go: u.Path)
      return rt;
    }
  }
  if (!cleaned.empty()) {
    rt.k = route::redirect;
    rt.location = location(cleaned, false);
    if (h.e != nullptr) rt.pattern = h.e->pat.str;  // what the cleaned path matches
    return rt;
  }
  if (h.e != nullptr) {
    rt.k = route::matched;
    rt.e = h.e;
    rt.path = escaped;  // == path: a cleaned copy would have redirected above
    return rt;
  }
  const auto methods = t->allowed(host, path, rt.raw);
  if (!methods.empty()) {
    rt.k = route::notAllowed;
    for (std::string_view m : methods) {
      if (!rt.allow.empty()) rt.allow.append(", ");
      rt.allow.append(m);
    }
  }
  return rt;
}

// setPathValues gives r the values of p's wildcards, read off path.
static void setPathValues(const muxPattern& p, std::string_view path, bool raw, Request& r) {
  std::string buf;
  for (const muxSegment& seg : p.segs) {
    if (seg.kind == segKind::dollar) return;
    if (seg.kind == segKind::rest) {
      if (!seg.s.empty()) r.SetPathValue(seg.s, unescaped(path.substr(1), raw, buf));
      return;
    }
    const split sp = firstSegment(path);
    if (seg.kind == segKind::wild) r.SetPathValue(seg.s, unescaped(sp.seg, raw, buf));
    path = sp.after;
  }
}

// serve carries out what find decided: the pattern's handler, with the
// request's Pattern and path values set, or the mux's own answer.
// A mux inside another's handler replaces the outer match: its own
// wildcards, none of the outer ones (Go sets r.pat and r.matches anew).
void ServeMux::serve(const route& rt, ResponseWriter& w, Request& r) {
  r.pathValues_.clear();
  switch (rt.k) {
    case route::matched:
      r.Pattern = rt.e->pat.str;
      setPathValues(rt.e->pat, rt.path, rt.raw, r);
      return rt.e->h->ServeHTTP(w, r);
    case route::notFound:
      r.Pattern.clear();
      return NotFound(w, r);
    case route::notAllowed:
      r.Pattern.clear();
      w.Header().Set("Allow", rt.allow);
      return Error(w, StatusText(StatusMethodNotAllowed), StatusMethodNotAllowed);
    case route::redirect:
      r.Pattern = rt.pattern;
      return Redirect(w, r, rt.location, StatusMovedPermanently);
  }
}

void ServeMux::ServeHTTP(ResponseWriter& w, Request& r) {
  // "OPTIONS *" is about the server, not a resource a pattern names.
  if (r.RequestURI == "*") {
    if (r.ProtoAtLeast(1, 1)) w.Header().Set("Connection", "close");
    w.WriteHeader(StatusBadRequest);
    return;
  }
  serve(find(r), w, r);
}

std::pair<http::Handler*, std::string> ServeMux::Handler(Request& r) {
  const route rt = find(r);
  r.pathValues_.clear();
  switch (rt.k) {
    case route::matched:
      setPathValues(rt.e->pat, rt.path, rt.raw, r);
      return {rt.e->h.get(), rt.e->pat.str};
    case route::notFound: return {NotFoundHandler().get(), {}};
    case route::notAllowed: return {own_.get(), {}};
    case route::redirect: return {own_.get(), rt.pattern};
  }
  return {NotFoundHandler().get(), {}};
}

}  // namespace ringo::http
