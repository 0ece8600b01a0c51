// traceback_test.cc — every goroutine's stack ends in goexit, for any
// unwinder that walks it (here glibc's backtrace(), which uses libgcc).
#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <gtest/gtest.h>
#include <ringo/ringo.h>

#include <cstdlib>
#include <string>
#include <vector>

// The helpers have external linkage so that -rdynamic exports them and
// dladdr can name them.
std::string symbolize(void* pc) {
  Dl_info info{};
  if (!dladdr(static_cast<char*>(pc) - 1, &info) || !info.dli_sname) return "?";
  int status = 0;
  char* d = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
  std::string s = d ? d : info.dli_sname;
  std::free(d);
  return s;
}

[[gnu::noinline]] std::vector<std::string> tracebackFrames() {
  void* pcs[128];
  int n = backtrace(pcs, 128);
  std::vector<std::string> out;
  for (int i = 0; i < n; i++) out.push_back(symbolize(pcs[i]));
  return out;
}

[[gnu::noinline]] std::vector<std::string> tracebackNested(int depth) {
  if (depth == 0) return tracebackFrames();
  auto f = tracebackNested(depth - 1);
  asm volatile("" ::: "memory");  // keep the recursion a real call chain
  return f;
}

namespace {

TEST(Traceback, BottomFrameOfASpawnedGoroutineIsGoexit) {
  std::vector<std::string> f;
  ringo::Run([&] {
    ringo::WaitGroup wg;
    wg.Add(1);
    ringo::Go([&] {
      f = tracebackNested(5);
      wg.Done();
    });
    wg.Wait();
  });
  ASSERT_GE(f.size(), 8u);
  EXPECT_EQ(f.back(), "ringo::runtime::goexit()");
  EXPECT_EQ(f[f.size() - 2], "ringo::runtime::gostart()");
  int nestedFrames = 0;
  for (auto& s : f) nestedFrames += s.find("tracebackNested") != std::string::npos;
  EXPECT_EQ(nestedFrames, 6);
}

TEST(Traceback, BottomFrameOfTheMainGoroutineIsGoexit) {
  std::vector<std::string> f;
  ringo::Run([&] { f = tracebackFrames(); });
  ASSERT_GE(f.size(), 3u);
  EXPECT_EQ(f.back(), "ringo::runtime::goexit()");
  // Nothing of the thread that called Run (gtest, main) shows through.
  for (auto& s : f) EXPECT_EQ(s.find("testing::"), std::string::npos) << s;
}

}  // namespace
