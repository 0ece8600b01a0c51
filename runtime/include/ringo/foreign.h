// foreign.h — calling into ringo from a thread ringo did not start.
//
// A callback from a foreign library runs on that library's thread, not on a
// goroutine. Two things work there while ringo::Run runs:
//
//   ringo::Go(fn)         starts a goroutine (it goes to the global run
//                         queue and an idle M is woken for it);
//   ch.TrySend(v)         hands a value to a channel without blocking, and
//                         wakes the goroutine waiting for it. (Close, and
//                         a Context's cancel, work there too.)
//
// Nothing that parks works there (Send, Recv, Select without a default,
// Sleep, Mutex::Lock): there is no goroutine to park. Calling Go after Run
// returned throws std::logic_error.
//
// The deadlock detector cannot see foreign threads: a goroutine that waits
// for a callback looks asleep forever. Hold a ForeignThread for as long as a
// foreign thread may still call in, and the detector stays quiet:
//
//   ringo::Chan<Event> events(64);
//   std::thread t([events, keep = std::make_shared<ringo::ForeignThread>()] {
//     library_run([&](Event e) { events.TrySend(e); });
//   });
//   for (auto& e : events) handle(e);
#pragma once

namespace ringo {

// ForeignThread marks, for its lifetime, that a thread outside ringo may
// still make a goroutine runnable. While any exists, "all goroutines are
// asleep - deadlock!" is not reported (Go is in the same position with cgo
// callbacks). Create it where the foreign thread is started; destroy it when
// that thread can no longer call in.
class ForeignThread {
 public:
  ForeignThread();
  ~ForeignThread();
  ForeignThread(const ForeignThread&) = delete;
  ForeignThread& operator=(const ForeignThread&) = delete;
};

}  // namespace ringo
