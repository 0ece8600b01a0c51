// asm_amd64.S — the only assembly in ringo: the context switch, and goexit,
// the frame every goroutine's stack ends in. x86-64 System V, GNU as.
//
// A goroutine that is not running is described by one word, its saved stack
// pointer (G.sched.sp). Everything else the switch must keep lives on the
// goroutine's own stack, pushed by ringo_swapcontext:
//
//   sp+0   MXCSR (4 bytes) | x87 control word (2 bytes) | pad
//   sp+8   r15, r14, r13, r12, rbx, rbp      (callee-saved, SysV)
//   sp+56  return address
//
// newproc lays a fresh stack out in the same shape, so the first switch into
// a goroutine "returns" into ringo::runtime::gostart with a zeroed frame
// pointer, and gostart's own return address is goexit+1 (see below).

        .text

// void ringo_swapcontext(void** save_sp, void* new_sp)
//
// Saves the callee-saved state on the current stack, stores the stack pointer
// in *save_sp, loads new_sp and restores the state found there. The caller
// handles everything that is not a register (sanitizer fibers, libstdc++'s
// exception globals): see gogo in proc.cc.
        .globl  ringo_swapcontext
        .type   ringo_swapcontext,@function
        .p2align 4
ringo_swapcontext:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)

        // The switch. Both stacks have the layout above, so the CFI that
        // describes this frame stays true across the move.
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp

        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        ret
        .cfi_endproc
        .size   ringo_swapcontext, .-ringo_swapcontext

// ringo::runtime::goexit()
//
// Never called: newproc stores goexit+1 as the return address of a
// goroutine's first frame, so returning from the goroutine's function lands
// on the call below. The leading nop makes goexit+1 fall inside goexit, and
// unwinders, which look up return address - 1, name this frame goexit, as
// Go's tracebacks do. The return address is marked undefined: this is the
// outermost frame, and every unwinder (backtrace(), gdb, libgcc's forced
// unwind for Goexit) stops here.
        .globl  _ZN5ringo7runtime6goexitEv
        .type   _ZN5ringo7runtime6goexitEv,@function
        .p2align 4
_ZN5ringo7runtime6goexitEv:
        .cfi_startproc
        .cfi_undefined %rip
        nop
        // Here rsp is 16-byte aligned (gostart returned), as a call needs.
        call    ringo_goexit1@PLT
        ud2
        .cfi_endproc
        .globl  ringo_goexit_end
ringo_goexit_end:
        .size   _ZN5ringo7runtime6goexitEv, .-_ZN5ringo7runtime6goexitEv

        .section .note.GNU-stack,"",@progbits
