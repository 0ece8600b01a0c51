// A consumer of ringo: it only includes the umbrella header and runs two
// goroutines, so a broken install (missing header, missing link flag) fails.
#include <ringo/ringo.h>

#include <cstdio>

int main() {
  int sum = 0;
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
    return sum;
  });
  std::printf("ringo %s consumer: %d\n", ringo::Version(), rc);
  return rc == 3 ? 0 : 1;
}
