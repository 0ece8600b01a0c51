// sigqueue.cc — Unix signals for goroutines (Go's sigqueue.go and
// os/signal): signal.Notify, and the default actions of signals nobody asked
// for.
//
// Go catches every signal with a handler and queues it for a goroutine.
// ringo blocks the signals a program may want (kNotifiable, those still at
// their default disposition) on m0 before any thread starts, so every M and
// sysmon inherit the mask, and reads them from a signalfd on a thread of its
// own. That thread is not an M and never parks: it hands each signal to the
// registered channels with TrySend, which works from any thread, or, when
// nobody registered for it, unblocks it and raises it again so its default
// action happens as if ringo were not there. It needs no poller and no P, so
// Ctrl-C works however busy or idle the scheduler is.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "fatal.h"
#include "proc.h"
#include "ringo/foreign.h"
#include "ringo/signal.h"

namespace ringo::runtime {
namespace {

constexpr int kNotifiable[] = {SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

struct handler {
  Chan<int> c;
  sigset_t want;
};

// state is written by sigqueueinit/fini (no signal thread then) and read by
// the signal thread; handlers by Notify/Stop and the signal thread, under mu.
struct {
  std::mutex mu;
  std::vector<handler> handlers;
  ForeignThread* keepalive = nullptr;  // while any handler exists (mu)
  sigset_t blocked;                    // what Run blocked: the signalfd's set
  sigset_t unignored;                  // SIGHUP/SIGINT ignored at start that Notify asked for (mu)
  sigset_t oldmask;
  int catchfd[2] = {-1, -1};           // catcher -> signal thread: one byte per signal
  struct sigaction oldpipe {};
  int sfd = -1;
  int stopfd = -1;
  pthread_t thread{};
  bool running = false;
} sq;

bool notifiable(int sig) {
  return std::find(std::begin(kNotifiable), std::end(kNotifiable), sig) != std::end(kNotifiable);
}

// defaultAction makes sig do what it does without ringo. Only terminating
// signals reach here (SIGWINCH's default is to ignore).
void defaultAction(int sig) {
  if (sig == SIGWINCH) return;
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigaction(sig, &sa, nullptr);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  raise(sig);  // pending on this thread, delivered when unblocked
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

void deliver(int sig) {
  bool sent = false;
  {
    std::lock_guard g(sq.mu);
    for (handler& h : sq.handlers)
      if (sigismember(&h.want, sig)) {
        (void)h.c.TrySend(int(sig));
        sent = true;
      }
  }
  if (!sent) defaultAction(sig);
}

// catcher is the handler of an ignored SIGHUP or SIGINT that Notify asked
// for (Go's rule: Notify takes those two back from SIG_IGN, as a program
// started under nohup or in the background wants its own shutdown). They
// are not in the signalfd's set: threads started before Notify do not
// block them. So a real handler runs, on any thread, and passes the number
// to the signal thread through a pipe (write is async-signal-safe).
void catcher(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  (void)!write(sq.catchfd[1], &b, 1);
  errno = saved;
}

void* sigloop(void*) {
  pollfd fds[3] = {{sq.sfd, POLLIN, 0}, {sq.stopfd, POLLIN, 0}, {sq.catchfd[0], POLLIN, 0}};
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fatal("sigloop: poll: %s", std::strerror(errno));
    }
    if (fds[1].revents) return nullptr;
    if (fds[2].revents) {
      unsigned char b[16];
      ssize_t n = read(sq.catchfd[0], b, sizeof b);
      for (ssize_t i = 0; i < n; i++) deliver(int(b[i]));
      if (!fds[0].revents) continue;
    }
    signalfd_siginfo si[8];
    ssize_t n = read(sq.sfd, si, sizeof si);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fatal("sigloop: read signalfd: %s", std::strerror(errno));
    }
    for (ssize_t i = 0; i < n / ssize_t(sizeof si[0]); i++) deliver(int(si[i].ssi_signo));
  }
}

}  // namespace

void sigqueueinit() {
  sigemptyset(&sq.blocked);
  sigemptyset(&sq.unignored);
  if (pipe2(sq.catchfd, O_CLOEXEC | O_NONBLOCK) != 0) fatal("sigqueueinit: pipe2: %s", std::strerror(errno));
  for (int sig : kNotifiable) {
    struct sigaction cur {};
    sigaction(sig, nullptr, &cur);
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) sigaddset(&sq.blocked, sig);
  }
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &sq.oldpipe);
  pthread_sigmask(SIG_BLOCK, &sq.blocked, &sq.oldmask);
  sq.sfd = signalfd(-1, &sq.blocked, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sq.sfd < 0) fatal("sigqueueinit: signalfd: %s", std::strerror(errno));
  sq.stopfd = eventfd(0, EFD_CLOEXEC);
  if (sq.stopfd < 0) fatal("sigqueueinit: eventfd: %s", std::strerror(errno));
  int rc = pthread_create(&sq.thread, nullptr, sigloop, nullptr);
  if (rc != 0) fatal("sigqueueinit: pthread_create: %s", std::strerror(rc));
  sq.running = true;
}

void sigqueuefini() {
  if (!sq.running) return;
  uint64_t one = 1;
  (void)!write(sq.stopfd, &one, sizeof one);
  pthread_join(sq.thread, nullptr);
  sq.running = false;
  {
    std::lock_guard g(sq.mu);
    sq.handlers.clear();  // channels from this Run die with it
    delete sq.keepalive;
    sq.keepalive = nullptr;
  }
  // Signals that arrived after the last read keep their meaning: take them
  // (the mask still blocks them) and act as if ringo were not there.
  signalfd_siginfo si[8];
  ssize_t n;
  while ((n = read(sq.sfd, si, sizeof si)) > 0)
    for (ssize_t i = 0; i < n / ssize_t(sizeof si[0]); i++) defaultAction(int(si[i].ssi_signo));
  close(sq.sfd);
  close(sq.stopfd);
  sq.sfd = sq.stopfd = -1;
  for (int sig : {SIGHUP, SIGINT}) {
    if (!sigismember(&sq.unignored, sig)) continue;
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(sig, &ign, nullptr);  // ignored again, as Run found it
  }
  sigemptyset(&sq.unignored);
  close(sq.catchfd[0]);
  close(sq.catchfd[1]);
  sq.catchfd[0] = sq.catchfd[1] = -1;
  sigaction(SIGPIPE, &sq.oldpipe, nullptr);
  pthread_sigmask(SIG_SETMASK, &sq.oldmask, nullptr);
}

}  // namespace ringo::runtime

namespace ringo::signal {

using runtime::sq;

void Notify(Chan<int> c, std::initializer_list<int> sigs) {
  // Go panics on a nil channel: sends to it would fail, yet count as
  // delivered, so a SIGTERM would neither reach anyone nor end the program.
  if (!c) throw std::invalid_argument("ringo::signal::Notify: nil channel");
  // Go's Notify(c) relays every signal; here the list is required.
  if (sigs.size() == 0) throw std::invalid_argument("ringo::signal::Notify: no signals given");
  for (int sig : sigs)
    if (!runtime::notifiable(sig))
      throw std::invalid_argument("ringo::signal::Notify: signal " + std::to_string(sig) +
                                  " cannot be notified (see ringo/signal.h for the list)");
  std::lock_guard g(sq.mu);
  auto it = std::find_if(sq.handlers.begin(), sq.handlers.end(), [&](auto& h) { return h.c == c; });
  if (it == sq.handlers.end()) {
    sq.handlers.push_back({c, {}});
    sigemptyset(&sq.handlers.back().want);
    it = sq.handlers.end() - 1;
  }
  for (int sig : sigs) {
    sigaddset(&it->want, sig);
    if ((sig != SIGHUP && sig != SIGINT) || sigismember(&sq.blocked, sig) || sigismember(&sq.unignored, sig))
      continue;
    struct sigaction cur {};
    sigaction(sig, nullptr, &cur);
    if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_IGN) continue;  // the program's own handler
    struct sigaction sa {};
    sa.sa_handler = runtime::catcher;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
    sigaddset(&sq.unignored, sig);
  }
  if (sq.keepalive == nullptr) sq.keepalive = new ForeignThread;
}

void Stop(Chan<int> c) {
  std::lock_guard g(sq.mu);
  std::erase_if(sq.handlers, [&](auto& h) { return h.c == c; });
  // An ignored SIGHUP or SIGINT that nobody wants any more is ignored again.
  for (int sig : {SIGHUP, SIGINT}) {
    if (!sigismember(&sq.unignored, sig)) continue;
    if (std::any_of(sq.handlers.begin(), sq.handlers.end(), [&](auto& h) { return sigismember(&h.want, sig); }))
      continue;
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(sig, &ign, nullptr);
    sigdelset(&sq.unignored, sig);
  }
  if (sq.handlers.empty()) {
    delete sq.keepalive;
    sq.keepalive = nullptr;
  }
}

}  // namespace ringo::signal
