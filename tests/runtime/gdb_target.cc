// gdb_target.cc — a program for gdb_test.sh: goroutines parked in named
// functions, then a trap so gdb stops with them parked.
#include <ringo/ringo.h>

#include <csignal>

void parkInRecv(ringo::Chan<int> ch) { ch.Recv(); }
void parkInLock(ringo::Mutex* mu) { mu->Lock(); }

int main() {
  ringo::Options one;
  one.maxprocs = 1;
  return ringo::Run([] {
    ringo::Chan<int> ch;
    ringo::Mutex mu;
    mu.Lock();
    ringo::Go(parkInRecv, ch);   // goroutine 2
    ringo::Go(parkInLock, &mu);  // goroutine 3
    for (int i = 0; i < 10; i++) ringo::Gosched();
    std::raise(SIGTRAP);  // gdb stops here
    ch.Close();
    mu.Unlock();
  }, one);
}
