// full_queue.h — a listener whose accept queue is full: the kernel drops
// the SYNs of the next connects, and they hang (resent for seconds). For
// tests of dials that a deadline or a context must end.
#pragma once

#include <ringo/net.h>

#include <chrono>
#include <string>
#include <vector>

namespace ringo::testing {

struct fullQueue;
inline bool FillAcceptQueue(const std::string& addr, std::vector<ringo::net::Conn>& queued);

// fullQueue is a listener with a backlog of 1 whose queue is full (when
// filled is true), and the connections holding it full.
struct fullQueue {
  ringo::net::Listener ln;
  std::string addr;
  std::vector<ringo::net::Conn> queued;
  bool filled = false;
};

// ListenWithAFullQueue listens on address ("127.0.0.1:0", or "[::1]:0"
// with "tcp6") and fills its accept queue; ln is empty if Listen failed.
inline fullQueue ListenWithAFullQueue(const char* network = "tcp", const char* address = "127.0.0.1:0") {
  fullQueue q;
  ringo::net::ListenConfig lc;
  lc.backlog = 1;
  auto [ln, err] = ringo::net::Listen(network, address, lc);
  if (err) return q;
  q.ln = std::move(ln);
  q.addr = q.ln.Address().String();
  q.filled = FillAcceptQueue(q.addr, q.queued);
  return q;
}

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
