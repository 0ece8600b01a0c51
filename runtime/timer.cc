// timer.cc — Timer, Ticker, After and AfterFunc on the per-P timer heaps.
//
// A timerState is shared by the user's handle and the heap: it counts one
// reference for the handle and one while it is queued (or taken off the
// heap and about to fire). Its mu serialises Stop, Reset and the firing's
// own decisions; every change bumps timer.seq (timerModify), so a firing
// that was already taken off the heap when the user stopped or reset the
// timer sees a newer seq and does nothing: a timer never fires for a
// deadline it no longer has.
//
// Lock order: timerState.mu, then a P's heap lock (addtimer, timerModify),
// then sched.lock (wakeNetPoller). checkTimers calls fire with no lock held.
#include <stdexcept>

#include "fatal.h"
#include "lock.h"
#include "proc.h"
#include "ringo/go.h"
#include "ringo/time.h"
#include "runtime2.h"
#include "timers.h"
#include "tls.h"

namespace ringo::runtime {

struct timerState {
  timer t;
  std::atomic<int32_t> refs{1};
  mutex mu;
  bool active = false;  // pending: queued, or taken off the heap and not yet decided; mu
  int64_t period = 0;   // > 0 for a Ticker; mu
  Chan<Time> c{nullptr};
  std::function<void()> fn;  // AfterFunc's function, else empty
};

namespace {

void release(timerState* ts) {
  if (ts->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete ts;
}

// dropTimer is the heap's letting go of a timer that will never fire (Run
// is ending): an AfterFunc's function goes too, since what it holds (a
// Context's timer holds its node, which holds the Timer) would otherwise
// keep both alive past the Run.
void dropTimer(void* arg) {
  auto* ts = static_cast<timerState*>(arg);
  std::function<void()> fn;
  lock(&ts->mu);
  fn.swap(ts->fn);
  unlock(&ts->mu);
  release(ts);
}  // fn goes here, after the heap's reference

P* currentP(const char* what) {
  M* mp = getm();
  if (mp == nullptr || mp->p == nullptr)
    throw std::logic_error(std::string(what) + ": not on a goroutine");
  return mp->p;
}

int64_t deadline(std::chrono::nanoseconds d) {
  const int64_t delta = d.count() > 0 ? d.count() : 0;
  int64_t when;
  // Saturating, as Go's when(): a signed overflow is undefined, and the
  // compiler drops an after-the-fact check for it.
  if (__builtin_add_overflow(nanotime(), delta, &when)) when = INT64_MAX;
  return when;
}

// fire is the heap's callback, on g0 with a P. It owns the heap's
// reference: it keeps it for a ticker's next round, or releases it.
void fire(void* arg, uint64_t seq) {
  auto* ts = static_cast<timerState*>(arg);
  lock(&ts->mu);
  if (seq != ts->t.seq || !ts->active) {  // stopped or reset after it left the heap
    unlock(&ts->mu);
    release(ts);
    return;
  }
  const int64_t now = nanotime();
  const bool again = ts->period > 0;
  if (again) {
    // Next tick in phase with the first, skipping ticks that are past.
    int64_t next;
    if (__builtin_add_overflow(ts->t.when, ts->period, &next)) next = INT64_MAX;
    if (next <= now) next += (now - next) / ts->period * ts->period + ts->period;
    ts->t.when = next;
    addtimer(getm()->p, &ts->t);
  } else {
    ts->active = false;
  }
  // Copy what the send needs before dropping mu: with it dropped, a Reset
  // may change the state.
  Chan<Time> c = ts->c;
  std::function<void()> fn = ts->fn;
  unlock(&ts->mu);
  if (c) {
    // Buffer of one: drop if full, as Go. C is the user's to close (Go's
    // is receive-only, so this cannot happen there): a closed C gets
    // nothing, rather than an exception on g0 in the scheduler.
    try {
      c.TrySend(Time(std::chrono::nanoseconds(now)));
    } catch (const ChanClosedError&) {
    }
  } else if (fn) {
    ringo::Go(std::move(fn));
  }
  if (!again) release(ts);
}

// start queues ts on the current P, taking the heap's reference. mu held.
void start(timerState* ts, P* pp, int64_t when) {
  ts->refs.fetch_add(1, std::memory_order_relaxed);
  ts->active = true;
  ts->t.when = when;
  addtimer(pp, &ts->t);
}

timerState* newTimerState(Chan<Time> c) {
  auto* ts = new timerState;
  ts->c = std::move(c);
  ts->t.f = fire;
  ts->t.arg = ts;
  ts->t.drop = dropTimer;
  return ts;
}

// stop makes ts inactive; returns whether it was active. mu held.
bool stop(timerState* ts) {
  const bool was = ts->active;
  ts->active = false;
  if (timerModify(&ts->t)) release(ts);  // we took it off the heap: its reference is ours
  return was;
}

}  // namespace

}  // namespace ringo::runtime

namespace ringo {

using runtime::timerState;

Timer::Timer(std::chrono::nanoseconds d) : C(1), t_(runtime::newTimerState(C)) {
  runtime::P* pp = runtime::currentP("ringo::Timer");
  runtime::lockGuard g(&t_->mu);
  runtime::start(t_, pp, runtime::deadline(d));
}

Timer::Timer(timerState* t, Chan<Time> c) noexcept : C(std::move(c)), t_(t) {}

Timer::Timer(Timer&& o) noexcept : C(std::move(o.C)), t_(std::exchange(o.t_, nullptr)) {}

Timer& Timer::operator=(Timer&& o) noexcept {
  if (this != &o) {
    if (t_) runtime::release(t_);
    C = std::move(o.C);
    t_ = std::exchange(o.t_, nullptr);
  }
  return *this;
}

Timer::~Timer() {
  if (t_) runtime::release(t_);
}

bool Timer::Stop() {
  if (t_ == nullptr) throw std::logic_error("ringo::Timer::Stop: moved-from timer");
  runtime::lockGuard g(&t_->mu);
  return runtime::stop(t_);
}

bool Timer::Reset(std::chrono::nanoseconds d) {
  if (t_ == nullptr) throw std::logic_error("ringo::Timer::Reset: moved-from timer");
  runtime::P* pp = runtime::currentP("ringo::Timer::Reset");
  runtime::lockGuard g(&t_->mu);
  const bool was = runtime::stop(t_);
  runtime::start(t_, pp, runtime::deadline(d));
  return was;
}

Chan<Time> After(std::chrono::nanoseconds d) {
  runtime::P* pp = runtime::currentP("ringo::After");
  Chan<Time> c(1);
  timerState* ts = runtime::newTimerState(c);
  {
    runtime::lockGuard g(&ts->mu);
    runtime::start(ts, pp, runtime::deadline(d));
  }
  runtime::release(ts);  // no handle: the heap's reference is the only one
  return c;
}

Timer AfterFunc(std::chrono::nanoseconds d, std::function<void()> f) {
  if (!f) throw std::invalid_argument("ringo::AfterFunc: empty function");
  runtime::P* pp = runtime::currentP("ringo::AfterFunc");
  timerState* ts = runtime::newTimerState(nullptr);
  ts->fn = std::move(f);
  {
    runtime::lockGuard g(&ts->mu);
    runtime::start(ts, pp, runtime::deadline(d));
  }
  return Timer(ts, nullptr);
}

Ticker::Ticker(std::chrono::nanoseconds d) : C(1), t_(nullptr) {
  if (d.count() <= 0) throw std::invalid_argument("non-positive interval for ringo::Ticker");
  runtime::P* pp = runtime::currentP("ringo::Ticker");
  t_ = runtime::newTimerState(C);
  runtime::lockGuard g(&t_->mu);
  t_->period = d.count();
  runtime::start(t_, pp, runtime::deadline(d));
}

Ticker::~Ticker() {
  {
    runtime::lockGuard g(&t_->mu);
    runtime::stop(t_);
  }
  runtime::release(t_);
}

void Ticker::Stop() {
  runtime::lockGuard g(&t_->mu);
  runtime::stop(t_);
}

void Ticker::Reset(std::chrono::nanoseconds d) {
  if (d.count() <= 0) throw std::invalid_argument("non-positive interval for ringo::Ticker::Reset");
  runtime::P* pp = runtime::currentP("ringo::Ticker::Reset");
  runtime::lockGuard g(&t_->mu);
  runtime::stop(t_);
  t_->period = d.count();
  runtime::start(t_, pp, runtime::deadline(d));
}

}  // namespace ringo
