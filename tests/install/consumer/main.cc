// A consumer of ringo, built by tests/install/run_install_test.sh against an
// installed ringo and a source tree. It includes only the umbrella header and
// runs two goroutines, so a missing header or link flag fails. The test wants
// exit status 0 and "ringo <version>" in the output; anything else may change.
#include <ringo/ringo.h>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> sum{0};
  int rc = ringo::Run([&] {
    ringo::WaitGroup wg;
    for (int i = 1; i <= 2; i++) {
      wg.Add(1);
      ringo::Go([&, i] {
        RINGO_DEFER(wg.Done());
        sum += i;
      });
    }
    wg.Wait();
    return sum.load();
  });
  std::printf("ringo %s consumer: %d\n", ringo::Version(), rc);
  return rc == 3 ? 0 : 1;
}
