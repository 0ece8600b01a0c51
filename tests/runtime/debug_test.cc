// debug_test.cc — goroutine dumps (ringo::Stack, SIGQUIT) and the gdb
// script's view of parked goroutines.
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <csignal>
#include <regex>
#include <string>

#include "test_util.h"

// Named, extern functions, so that traces can name them.
[[gnu::noinline]] void parkInRecv(ringo::Chan<int> ch) { ch.Recv(); }
[[gnu::noinline]] void parkInLock(ringo::Mutex* mu) { mu->Lock(); }
[[gnu::noinline]] void parkInSleep() { ringo::Sleep(std::chrono::hours(1)); }

namespace {

// section returns the dump's paragraph for goroutine id.
std::string section(const std::string& dump, uint64_t id) {
  const std::string head = "goroutine " + std::to_string(id) + " [";
  size_t b = dump.find(head);
  if (b == std::string::npos) return "";
  size_t e = dump.find("\n\n", b);
  return dump.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

TEST(Dump, TracesTheCallerDownToGoexit) {
  std::string d;
  ringo::Run([&] { d = ringo::Stack(false); });
  EXPECT_EQ(d.rfind("goroutine 1 [running]:\n", 0), 0u) << d;
  EXPECT_NE(d.find("ringo::runtime::gostart"), std::string::npos) << d;
  EXPECT_NE(d.find("ringo::runtime::goexit"), std::string::npos) << d;
  EXPECT_EQ(d.find("goroutine 2"), std::string::npos) << "all=false listed others";
}

TEST(Dump, ParkedGoroutinesNameWhereTheyWait) {
  std::string d;
  ringo::Run([&] {
    ringo::Chan<int> ch;
    ringo::Mutex mu;
    mu.Lock();
    ringo::WaitGroup wg;  // 2 and 3 end before Run does, so nothing they hold is dropped
    wg.Add(2);
    ringo::Go([&, ch] {  // goroutine 2
      parkInRecv(ch);
      wg.Done();
    });
    ringo::Go([&] {  // goroutine 3
      parkInLock(&mu);
      mu.Unlock();
      wg.Done();
    });
    ringo::Go(parkInSleep);  // goroutine 4, dropped at the end (holds nothing)
    while (ringo::NumGoroutine() < 4) ringo::Gosched();
    for (int i = 0; i < 10; i++) ringo::Gosched();  // let all three park (one P)
    d = ringo::Stack(true);
    ch.Close();
    mu.Unlock();
    wg.Wait();
  }, [] {
    ringo::Options o;
    o.maxprocs = 1;
    return o;
  }());
  const std::string g2 = section(d, 2), g3 = section(d, 3), g4 = section(d, 4);
  EXPECT_EQ(g2.rfind("goroutine 2 [chan receive]:\n", 0), 0u) << d;
  EXPECT_NE(g2.find("ringo::runtime::chanrecv"), std::string::npos) << g2;
  EXPECT_NE(g2.find("parkInRecv"), std::string::npos) << g2;
  EXPECT_EQ(g3.rfind("goroutine 3 [sync.Mutex.Lock]:\n", 0), 0u) << d;
  EXPECT_NE(g3.find("parkInLock"), std::string::npos) << g3;
  EXPECT_EQ(g4.rfind("goroutine 4 [sleep]:\n", 0), 0u) << d;
  EXPECT_NE(g4.find("ringo::Sleep"), std::string::npos) << g4;
  EXPECT_NE(g4.find("parkInSleep"), std::string::npos) << g4;
  for (const auto* g : {&g2, &g3, &g4}) {
    // Innermost first, ending at the goroutine's bottom frame.
    const size_t last = g->rfind("\n", g->size() - 2);
    EXPECT_NE(g->find("ringo::runtime::goexit", last == std::string::npos ? 0 : last - 40), std::string::npos)
        << *g;
  }
}

TEST(DumpDeathTest, SigquitDumpsEveryGoroutineAndExits) {
  EXPECT_EXIT(ringo::Run([] {
                ringo::Chan<int> ch;
                ringo::Go(parkInRecv, ch);
                ringo::Gosched();
                std::raise(SIGQUIT);
                ringo::Sleep(std::chrono::seconds(10));  // sysmon dumps and exits meanwhile
              }),
              ::testing::ExitedWithCode(2),
              "SIGQUIT: quit(.|\n)*goroutine 2 \\[chan receive\\]:(.|\n)*parkInRecv");
}

}  // namespace
