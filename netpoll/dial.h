// dial.h — DialContext's two ways of dialing (net.cc), declared apart so
// that tests can race address lists a resolver would not give them (this
// machine's /etc/hosts has no name with both ::1 and 127.0.0.1).
#pragma once

#include <vector>

#include "ringo/context.h"
#include "ringo/net.h"

namespace ringo::net::detail {

struct dialer {
  // serial tries each address in turn, each with its share of the time
  // left (Go's dialSerial); the first address's error if all fail.
  static Result<Conn> serial(const Context& ctx, const std::vector<Addr>& addrs, Deadline deadline, bool tcp);
  // parallel races primaries against fallbacks, which start 300 ms later
  // or as soon as the primaries have failed (Go's dialParallel); the
  // first connection wins and the other dial is cancelled.
  static Result<Conn> parallel(const Context& ctx, std::vector<Addr> primaries, std::vector<Addr> fallbacks,
                               Deadline deadline);
};

}  // namespace ringo::net::detail
