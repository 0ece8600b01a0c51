/* unwind_c_frames.c — a C frame with a cleanup, for unwind_test.cc. Built
 * with -fexceptions: its cleanup runs during an unwind, through GCC's C
 * personality, which ringo's own Goexit unwinder leaves to libgcc. */

static void countCleanup(int** counter) { **counter += 1; }

void ringo_test_c_frame(void (*fn)(void*), void* arg, int* cleaned) {
  int* guard __attribute__((cleanup(countCleanup))) = cleaned;
  fn(arg);
  /* keeps the call out of tail position, so this frame is on the stack */
  __asm__ volatile("" ::: "memory");
}
