// goexit — the seeds' program: a goroutine that stops half-way with Goexit,
// and its deferred call still runs.
//
//   $ ./build/examples/goexit            # prints 4, 1, 2
//   $ ./build/examples/goexit --no-goexit # prints 4, 1, 3, 2
//
// Go's version (shared/seeds):
//
//   func Foo() {
//       fmt.Println("print 1")
//       defer fmt.Println("print 2")
//       runtime.Goexit()
//       fmt.Println("print 3")
//   }
//   func main() {
//       go Foo()
//       fmt.Println("print 4")
//       time.Sleep(time.Second)
//   }
#include <ringo/ringo.h>

#include <chrono>
#include <cstdio>
#include <cstring>

static void Foo(bool goexit) {
  std::printf("print 1\n");
  RINGO_DEFER(std::printf("print 2\n"));
  if (goexit) ringo::Goexit();
  std::printf("print 3\n");
}

int main(int argc, char** argv) {
  bool goexit = true;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--no-goexit") == 0) {
      goexit = false;
    } else {
      std::fprintf(stderr, "usage: %s [--no-goexit]\n", argv[0]);
      return 2;
    }
  }
  // One P, so the output is the seeds' exactly: the new goroutine runs when
  // main parks in Sleep. With more Ps an idle P may steal Foo at once and
  // "print 1" may come before "print 4" (in Go too).
  ringo::Options opts;
  opts.maxprocs = 1;
  return ringo::Run([goexit] {
    ringo::Go(Foo, goexit);
    std::printf("print 4\n");
    ringo::Sleep(std::chrono::milliseconds(100));
    return 0;
  }, opts);
}
