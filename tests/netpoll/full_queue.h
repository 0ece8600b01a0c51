// full_queue.h — a listener whose accept queue is full: the kernel drops
// the SYNs of the next connects, and they hang (resent for seconds). For
// tests of dials that a deadline or a context must end.
#pragma once

#include <ringo/net.h>

#include <chrono>
#include <string>
#include <vector>

namespace ringo::testing {

// FillAcceptQueue dials addr (a listener with a small backlog that never
// accepts) until a dial times out, its SYN dropped; the connections made
// go to queued and hold the queue full while they live. False if 16 dials
// went through: the queue never filled.
inline bool FillAcceptQueue(const std::string& addr, std::vector<ringo::net::Conn>& queued) {
  for (int i = 0; i < 16; i++) {
    auto [c, err] = ringo::net::Dial("tcp", addr, std::chrono::milliseconds(200));
    if (err) return true;
    queued.push_back(std::move(c));
  }
  return false;
}

}  // namespace ringo::testing
