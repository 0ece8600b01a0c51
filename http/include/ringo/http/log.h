// log.h — the server's logging: a small Logger interface with levels and
// key=value fields, and the default that never blocks a goroutine.
//
//   struct MyLog : http::Logger {
//     void Log(http::Level lv, std::string_view msg, std::span<const http::Field> f) override;
//   };
//   http::Server srv({.handler = &mux, .logger = std::make_shared<MyLog>()});
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringo::http {

enum class Level { Debug, Info, Warn, Error };

struct Field {
  std::string_view key;
  std::string value;
};

// Logger receives the server's log events. Log may be called from any
// goroutine at once; it must not park for long (the caller is serving a
// connection).
class Logger {
 public:
  virtual void Log(Level level, std::string_view msg, std::span<const Field> fields) = 0;
  virtual ~Logger() = default;
};

// StderrLogger returns the default logger: one line per event,
//   2026-11-23T11:40:00Z level=warn msg="bad request" remote=127.0.0.1:5000 status=400
// (Info and above; Debug events are dropped) handed to a writer thread
// through a bounded queue, so a goroutine never
// waits for stderr. When the queue is full the line is dropped and counted
// (ReadStats().log_dropped).
std::shared_ptr<Logger> StderrLogger();

}  // namespace ringo::http
