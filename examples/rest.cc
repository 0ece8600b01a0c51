// rest — a JSON REST API: items in memory, Go 1.22 routes, JSON with
// nlohmann::json (Debian's nlohmann-json3-dev).
//
//   build/examples/rest --addr 127.0.0.1:8081
//   curl -s -XPOST 127.0.0.1:8081/items -d '{"name":"tea","price":3}'   # 201 {"id":1,...}
//   curl -s 127.0.0.1:8081/items/1
//   curl -s 127.0.0.1:8081/items
//   curl -s -XPUT 127.0.0.1:8081/items/1 -d '{"name":"tea","price":4}'
//   curl -s -XDELETE 127.0.0.1:8081/items/1                           # 204
//
// Errors are JSON too: {"error": "..."} with 400 (bad JSON or fields),
// 404 (no such item), 405 (from the mux, with Allow), 413 (body > 1 MiB).
#include <ringo/http.h>
#include <ringo/ringo.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace http = ringo::http;
using json = nlohmann::json;

namespace {

struct item {
  std::string name;
  double price = 0;
};

// store holds the items. ringo::Mutex, not std::mutex: a handler may park
// while another holds it (see ringo/sync.h).
class store {
 public:
  int64_t add(item it) {
    std::lock_guard g(mu_);
    items_[++last_] = std::move(it);
    return last_;
  }
  bool get(int64_t id, item& out) {
    std::lock_guard g(mu_);
    auto i = items_.find(id);
    if (i == items_.end()) return false;
    out = i->second;
    return true;
  }
  bool put(int64_t id, item it) {
    std::lock_guard g(mu_);
    auto i = items_.find(id);
    if (i == items_.end()) return false;
    i->second = std::move(it);
    return true;
  }
  bool del(int64_t id) {
    std::lock_guard g(mu_);
    return items_.erase(id) == 1;
  }
  json list() {
    std::lock_guard g(mu_);
    json a = json::array();
    for (auto& [id, it] : items_) a.push_back({{"id", id}, {"name", it.name}, {"price", it.price}});
    return a;
  }

 private:
  ringo::Mutex mu_;
  std::map<int64_t, item> items_;
  int64_t last_ = 0;
};

void reply(http::ResponseWriter& w, int code, const json& j) {
  w.Header().Set("Content-Type", "application/json");
  w.WriteHeader(code);
  w.Write(j.dump());
}

void fail(http::ResponseWriter& w, int code, std::string_view msg) { reply(w, code, {{"error", msg}}); }

// readItem parses the body as {"name": string, "price": number}.
bool readItem(http::ResponseWriter& w, http::Request& r, item& it) {
  http::MaxBytesReader(w, r, 1 << 20);
  auto [body, err] = r.Body.ReadAll();
  if (err) {
    fail(w, err == http::ErrBodyTooLarge ? 413 : 400, err.message());
    return false;
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("price") ||
      !j["price"].is_number()) {
    fail(w, 400, R"(want {"name": string, "price": number})");
    return false;
  }
  it.name = j["name"].get<std::string>();
  it.price = j["price"].get<double>();
  return true;
}

bool pathID(http::ResponseWriter& w, http::Request& r, int64_t& id) {
  auto s = r.PathValue("id");
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size()) {
    fail(w, 400, "id: want an integer");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8081";
  ringo::Options opts;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--addr") && i + 1 < argc) {
      addr = argv[++i];
    } else if (!std::strcmp(argv[i], "--procs") && i + 1 < argc) {
      opts.maxprocs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--addr host:port] [--procs n]\n", argv[0]);
      return 2;
    }
  }
  return ringo::Run(
      [&]() -> int {
        store db;
        http::ServeMux mux;
        mux.HandleFunc("GET /items", [&](http::ResponseWriter& w, http::Request&) { reply(w, 200, db.list()); });
        mux.HandleFunc("POST /items", [&](http::ResponseWriter& w, http::Request& r) {
          item it;
          if (!readItem(w, r, it)) return;
          const int64_t id = db.add(it);
          w.Header().Set("Location", "/items/" + std::to_string(id));
          reply(w, 201, {{"id", id}, {"name", it.name}, {"price", it.price}});
        });
        mux.HandleFunc("GET /items/{id}", [&](http::ResponseWriter& w, http::Request& r) {
          int64_t id;
          item it;
          if (!pathID(w, r, id)) return;
          if (!db.get(id, it)) return fail(w, 404, "no such item");
          reply(w, 200, {{"id", id}, {"name", it.name}, {"price", it.price}});
        });
        mux.HandleFunc("PUT /items/{id}", [&](http::ResponseWriter& w, http::Request& r) {
          int64_t id;
          item it;
          if (!pathID(w, r, id) || !readItem(w, r, it)) return;
          if (!db.put(id, it)) return fail(w, 404, "no such item");
          reply(w, 200, {{"id", id}, {"name", it.name}, {"price", it.price}});
        });
        mux.HandleFunc("DELETE /items/{id}", [&](http::ResponseWriter& w, http::Request& r) {
          int64_t id;
          if (!pathID(w, r, id)) return;
          if (!db.del(id)) return fail(w, 404, "no such item");
          w.WriteHeader(204);
        });

        auto [ln, err] = ringo::net::Listen("tcp", addr);
        if (err) {
          std::fprintf(stderr, "rest: listen %s: %s\n", addr.c_str(), err.message().c_str());
          return 1;
        }
        std::printf("rest: listening on %s\n", ln.Address().String().c_str());
        std::fflush(stdout);
        http::Server srv({.handler = &mux});
        ringo::Chan<int> sigs(1);
        ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
        ringo::Chan<std::error_code> stopped(1);
        ringo::Go([&] {
          sigs.Recv();
          stopped.Send(srv.Shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(5)));
        });
        if (auto serr = srv.Serve(ln); serr != http::ErrServerClosed) return 1;
        // Serve returns as soon as Shutdown starts; the requests in flight
        // finish before Shutdown does. Returning from here earlier would end
        // the program under them (as returning from Go's main would).
        auto [serr, ok] = stopped.Recv();
        ringo::signal::Stop(sigs);
        return serr ? 1 : 0;
      },
      opts);
}
