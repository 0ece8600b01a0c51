// log.cc — the default logger: lines go to a bounded queue that one writer
// thread drains to stderr, so a goroutine never waits for the terminal.

#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "internal.h"
#include "ringo/http/log.h"

namespace ringo::http {

namespace detail {
namespace {

// 4096 lines: picked; a burst of errors fits, a flood is dropped and
// counted rather than buffered without end.
constexpr size_t kQueueCap = 4096;

// The queue's std::mutex is held for a push or a swap, never across a
// park, so goroutines may take it.
struct lineQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> q;
  bool started = false;

  void push(std::string line) {
    std::unique_lock lk(mu);
    if (q.size() >= kQueueCap) {
      count(cLogDropped);
      return;
    }
    q.push_back(std::move(line));
    if (!started) {
      started = true;
      std::thread([this] { drain(); }).detach();
    }
    lk.unlock();
    cv.notify_one();
  }

  void drain() {
    std::deque<std::string> batch;
    for (;;) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return !q.empty(); });
        batch.swap(q);
      }
      std::string out;
      for (auto& l : batch) out += l;
      batch.clear();
      for (size_t off = 0; off < out.size();) {
        ssize_t n = ::write(2, out.data() + off, out.size() - off);
        if (n <= 0) break;  // stderr gone: nothing to tell anyone
        off += size_t(n);
      }
    }
  }
};

lineQueue& queue() {
  static lineQueue* q = new lineQueue;  // never destroyed: the writer thread outlives statics
  return *q;
}

}  // namespace

void writeLine(std::string line) noexcept {
  try {
    queue().push(std::move(line));
  } catch (...) {  // bad_alloc or a thread that would not start: drop the line
    count(cLogDropped);
  }
}

}  // namespace detail

namespace {

const char* levelName(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}

// quoted appends v, in quotes if it has a space, quote or '=' (logfmt).
void quoted(std::string& out, std::string_view v) {
  bool q = v.empty() || v.find_first_of(" \"=\t") != std::string_view::npos;
  if (!q) {
    for (char c : v) out += (c == '\n' || c == '\r') ? ' ' : c;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  out += '"';
}

class stderrLogger final : public Logger {
 public:
  void Log(Level level, std::string_view msg, std::span<const Field> fields) override {
    if (level < Level::Info) return;  // Debug is for loggers that ask for it
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &t);
    std::string line = stamp;
    line += " level=";
    line += levelName(level);
    line += " msg=";
    quoted(line, msg);
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      quoted(line, f.value);
    }
    line += '\n';
    detail::writeLine(std::move(line));
  }
};

}  // namespace

std::shared_ptr<Logger> StderrLogger() {
  static auto l = std::make_shared<stderrLogger>();
  return l;
}

}  // namespace ringo::http
