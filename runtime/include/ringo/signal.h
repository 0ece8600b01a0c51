// signal.h — receiving Unix signals on a channel: Go's os/signal.
//
//   ringo::Chan<int> sigs(1);
//   ringo::signal::Notify(sigs, {SIGINT, SIGTERM});
//   ringo::Go([&] { sigs.Recv(); server.Shutdown(); });
//
// While ringo::Run runs, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM
// and SIGWINCH are blocked on every thread ringo starts (those whose
// disposition was the default when Run started: an ignored SIGHUP under
// nohup stays ignored, a handler you installed stays yours) and read from a
// signalfd by a thread of ringo's own. Go's one exception: Notify for SIGHUP
// or SIGINT takes it back from SIG_IGN (a program started under nohup, or
// in the background by a shell, which ignores SIGINT there, still gets its
// Ctrl-C/kill -INT shutdown); it is ignored again after Stop. A signal nobody asked for takes its
// default action, as without ringo: SIGINT and SIGTERM still end the
// program. SIGPIPE is ignored while Run runs (sockets send with
// MSG_NOSIGNAL; a write to a closed pipe returns EPIPE).
//
// Threads you start yourself do not block these signals; block them there
// (pthread_sigmask) or the kernel may deliver one to such a thread. A child
// process inherits the blocked mask: reset it with posix_spawnattr_setsigmask.
#pragma once

#include <signal.h>  // SIGINT, SIGTERM, ... for callers

#include <initializer_list>

#include "ringo/chan.h"

namespace ringo::signal {

// Notify makes the runtime send each of sigs to c when it arrives (Go's
// signal.Notify). The send never blocks: if c has no room the signal is
// dropped for c, so give c a buffer. Calling Notify again for the same c
// adds signals. A signal outside the list above, an empty list, or a nil
// channel throws std::invalid_argument. While any channel is registered, the deadlock
// detector stays quiet (a signal may come at any time).
void Notify(Chan<int> c, std::initializer_list<int> sigs);

// Stop ends all delivery to c (Go's signal.Stop). Signals that nobody
// else asked for take their default action again.
void Stop(Chan<int> c);

}  // namespace ringo::signal
