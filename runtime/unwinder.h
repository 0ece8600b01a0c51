// unwinder.h — Goexit's fast unwinder (unwind.cc) and what it shares with the
// libgcc path in panic.cc and the stubs in asm_amd64.S.
#pragma once

#include <unwind.h>

#include <cstdint>

namespace ringo::runtime {

// unwindRegs is a frame as the walk sees it: the callee-saved registers, the
// stack pointer after the return, the return address; rax and rdx carry the
// exception and the selector into a landing pad. asm_amd64.S fills and reads
// it by offset (static_asserts in unwind.cc).
struct unwindRegs {
  uintptr_t rbx, rbp, r12, r13, r14, r15;
  uintptr_t rsp, rip;
  uintptr_t rax, rdx;
};

// kUnwindFast in G.exc.private_2 (the stop argument libgcc passes to
// goexitStop, which ignores it) tells ringo's _Unwind_Resume that the walk
// is ringo's to continue.
constexpr uintptr_t kUnwindFast = 0x52494e474f465354ULL;  // "RINGOFST"

void goexit();
extern "C" char ringo_goexit_end[];

// isgoexitpc reports whether ra is goexit's return address as unwinders see
// it: goexit+1, inside goexit (asm_amd64.S), where every walk ends.
inline bool isgoexitpc(uintptr_t ra) {
  return ra > reinterpret_cast<uintptr_t>(&goexit) && ra <= reinterpret_cast<uintptr_t>(ringo_goexit_end);
}

// goexitStop is the forced unwind's stop function (panic.cc).
_Unwind_Reason_Code goexitStop(int, _Unwind_Action, _Unwind_Exception_Class, _Unwind_Exception*, _Unwind_Context*,
                               void*);

// unwindFast runs Goexit's unwind with ringo's walker. It returns false,
// having changed nothing, when the fast path is off or the walk meets a
// frame it leaves to libgcc; otherwise it does not return.
bool unwindFast(_Unwind_Exception* exc);

// unwindinit reads RINGO_GOEXIT_UNWIND (schedinit, before any M starts).
void unwindinit();

// unwindStopArg is the stop argument of Goexit's libgcc unwind: kUnwindFast
// when the fast path is on, so that the landing pads after a frame libgcc
// had to take come back to ringo's walk.
void* unwindStopArg();

struct M;
// unwindcachefree frees the M's cache of frame rules (at teardown).
void unwindcachefree(M* mp);

}  // namespace ringo::runtime

extern "C" {
// asm_amd64.S: captures the caller's registers and calls ringo_unwind_walk;
// returns 0 when the walk gives up.
int ringo_unwind_goexit(_Unwind_Exception* exc);
}
