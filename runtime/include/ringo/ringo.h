// ringo.h — the whole public API of ringo: Go's way of writing services, in
// C++20.
//
//   #include <ringo/ringo.h>
//
//   int main() {
//     return ringo::Run([] {
//       ringo::WaitGroup wg;
//       wg.Add(1);
//       ringo::Go([&] {
//         RINGO_DEFER(wg.Done());
//         std::puts("hello from a goroutine");
//       });
//       wg.Wait();
//     });
//   }
#pragma once

#include <ringo/blocking.h>
#include <ringo/chan.h>
#include <ringo/context.h>
#include <ringo/debug.h>
#include <ringo/defer.h>
#include <ringo/foreign.h>
#include <ringo/go.h>
#include <ringo/goexit.h>
#include <ringo/net.h>
#include <ringo/netpoll.h>
#include <ringo/run.h>
#include <ringo/runtime_stats.h>
#include <ringo/signal.h>
#include <ringo/sync.h>
#include <ringo/time.h>
#include <ringo/version.h>
#include <ringo/waitgroup.h>
