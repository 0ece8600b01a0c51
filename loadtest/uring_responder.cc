// uring_responder.cc — the ceiling for pipelined plaintext: a bare io_uring
// responder that does no HTTP work, the upper bound of what a server on this
// kernel and machine can answer with one thread (issue 9 measures ringo's
// pipeline16 against it).
//
//   build/loadtest/uring_responder --port 27395
//   wrk -t1 -c256 -d5s -s loadtest/wrk_http.lua http://127.0.0.1:27395/plaintext -- pipeline 16
//
// One thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN as
// ringo's rings), a multishot accept on 127.0.0.1:PORT, and per connection
// one operation in flight: a recv into a fixed 64 KiB buffer, then one send
// of as many copies of a canned 115-byte answer (the size of ringo hello's
// /plaintext answer) as the bytes held "\r\n\r\n"s. The match state carries
// across reads, so a terminator split between two reads counts once.
//
// Deliberately omitted, since each is work a real server must do: parsing
// (method, path, headers, bodies: a POST's body is not skipped, and a
// "\r\n\r\n" inside one would be answered), a Date that changes, routing,
// per-request allocation, copying the answer (every send points into one
// read-only buffer of canned copies), timeouts, backpressure beyond one
// operation per connection, provided buffer rings (liburing 2.3 lacks
// io_uring_setup_buf_ring), registered files and zero-copy send.
// SIGINT/SIGTERM (through a signalfd read on the ring) end it with status 0.
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kAnswer =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
    "Date: Mon, 23 Nov 2026 18:05:21 GMT\r\n\r\nHello, World!";
static_assert(kAnswer.size() == 115, "the size of ringo hello's GET /plaintext answer");

constexpr size_t kBufSize = 64 << 10;
// A read of kBufSize bytes holds at most kBufSize / 4 terminators, so one
// buffer of that many copies serves any read with a single send.
constexpr size_t kMaxAnswers = kBufSize / 4;

enum Op : uint64_t { kAccept = 0, kRecv = 1, kSend = 2, kSignal = 3 };  // user_data's low 2 bits

struct Conn {
  explicit Conn(int f) : fd(f) {}  // buf stays uninitialised: no 64 KiB memset per accept
  int fd;
  int matched = 0;            // how much of "\r\n\r\n" the bytes so far end with
  const char* out = nullptr;  // the rest of the current send
  size_t outLen = 0;
  alignas(64) char buf[kBufSize];
};

io_uring ring;
std::string answers;  // kMaxAnswers copies of kAnswer
int listenFd = -1;
signalfd_siginfo sigInfo;

uint64_t tag(void* p, Op op) { return reinterpret_cast<uint64_t>(p) | op; }

// sqe: a submission slot carrying ud (liburing 2.3's prep helpers leave user_data as it was).
io_uring_sqe* sqe(uint64_t ud) {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (!s) {  // the SQ is full: hand it to the kernel and take a fresh slot
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  if (!s) {
    std::fprintf(stderr, "uring_responder: sqe: no submission slot\n");
    std::exit(1);
  }
  io_uring_sqe_set_data64(s, ud);
  return s;
}

void armAccept() { io_uring_prep_multishot_accept(sqe(tag(nullptr, kAccept)), listenFd, nullptr, nullptr, SOCK_CLOEXEC); }

void postRecv(Conn* c) {
  io_uring_prep_recv(sqe(tag(c, kRecv)), c->fd, c->buf, kBufSize, 0);
}

void postSend(Conn* c) {
  io_uring_prep_send(sqe(tag(c, kSend)), c->fd, c->out, c->outLen, MSG_NOSIGNAL);
}

void drop(Conn* c) {
  close(c->fd);
  delete c;
}

// count: the "\r\n\r\n"s ending in p[0..n), given that the bytes before
// ended with c->matched of its characters; updates c->matched.
size_t count(Conn* c, const char* p, size_t n) {
  size_t found = 0;
  int m = c->matched;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch == '\r') {
      m = (m == 2) ? 3 : 1;
    } else if (ch == '\n' && (m == 1 || m == 3)) {
      if (++m == 4) found++, m = 0;
    } else {
      m = 0;
    }
  }
  c->matched = m;
  return found;
}

void onCqe(io_uring_cqe* cqe) {
  uint64_t ud = io_uring_cqe_get_data64(cqe);
  auto* c = reinterpret_cast<Conn*>(ud & ~uint64_t(3));
  int res = cqe->res;
  switch (Op(ud & 3)) {
    case kAccept:
      if (res >= 0) {
        auto* n = new Conn(res);
        postRecv(n);
      } else if (res != -EMFILE && res != -ENFILE && res != -ECONNABORTED) {
        std::fprintf(stderr, "uring_responder: accept: %s\n", std::strerror(-res));
      }
      if (!(cqe->flags & IORING_CQE_F_MORE)) armAccept();  // the kernel ended the multishot
      return;
    case kRecv: {
      if (res <= 0) return drop(c);  // EOF or error
      size_t k = count(c, c->buf, size_t(res));
      if (k == 0) return postRecv(c);
      c->out = answers.data();
      c->outLen = k * kAnswer.size();
      return postSend(c);
    }
    case kSend:
      if (res < 0) return drop(c);
      c->out += res, c->outLen -= size_t(res);
      return c->outLen ? postSend(c) : postRecv(c);  // a short send continues
    case kSignal:
      return;  // handled by the loop
  }
}

int listenOn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
    std::fprintf(stderr, "uring_responder: listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 27395;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
      return 2;
    }
  }
  answers.reserve(kMaxAnswers * kAnswer.size());
  for (size_t i = 0; i < kMaxAnswers; i++) answers += kAnswer;

  // Signals arrive as a read on the ring, so the loop never sees EINTR from them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigFd = signalfd(-1, &mask, SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);

  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  const char* mode = "SINGLE_ISSUER|DEFER_TASKRUN";
  if (io_uring_queue_init_params(1024, &ring, &p) < 0) {  // before 6.1
    p = io_uring_params{};
    p.flags = IORING_SETUP_COOP_TASKRUN;
    mode = "COOP_TASKRUN";
    if (int err = io_uring_queue_init_params(1024, &ring, &p); err < 0) {
      std::fprintf(stderr, "uring_responder: io_uring_queue_init: %s\n", std::strerror(-err));
      return 1;
    }
  }
  listenFd = listenOn(port);
  armAccept();
  io_uring_prep_read(sqe(tag(nullptr, kSignal)), sigFd, &sigInfo, sizeof sigInfo, 0);
  std::printf("uring_responder: listening on 127.0.0.1:%d (%s)\n", port, mode);
  std::fflush(stdout);

  for (;;) {
    int err = io_uring_submit_and_wait(&ring, 1);
    if (err < 0 && err != -EINTR) {
      std::fprintf(stderr, "uring_responder: io_uring_submit_and_wait: %s\n", std::strerror(-err));
      return 1;
    }
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    bool stop = false;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      if ((io_uring_cqe_get_data64(cqe) & 3) == kSignal) stop = true;
      onCqe(cqe);
    }
    io_uring_cq_advance(&ring, seen);
    if (stop) break;
  }
  std::printf("uring_responder: %s, bye\n", strsignal(int(sigInfo.ssi_signo)));
  // Open connections are not closed one by one: the process exit does it.
  io_uring_queue_exit(&ring);
  return 0;
}
