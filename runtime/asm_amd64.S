// asm_amd64.S — the only assembly in ringo: the context switch, goexit,
// the frame every goroutine's stack ends in, and the entries of Goexit's
// fast unwinder. x86-64 System V, GNU as.
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

#ifndef RINGO_NO_FAST_UNWIND
// Goexit's fast unwinder (unwind.cc) enters and leaves through here.
//
// Both entries describe their caller's frame in an unwindRegs on their own
// stack and call ringo_unwind_walk, which either never returns (it installed
// a landing pad or reached goexit) or returns having changed nothing:
//
//   sp+0   rbx, rbp, r12, r13, r14, r15   (the caller's, untouched)
//   sp+48  rsp after the return (the caller's CFA-side stack pointer)
//   sp+56  return address into the caller
//   sp+64  rax, rdx (set by the walk for a landing pad)
//   sp+88  our return address
.macro UNWIND_CAPTURE
        subq    $88, %rsp
        .cfi_adjust_cfa_offset 88
        movq    %rbx, 0(%rsp)
        movq    %rbp, 8(%rsp)
        movq    %r12, 16(%rsp)
        movq    %r13, 24(%rsp)
        movq    %r14, 32(%rsp)
        movq    %r15, 40(%rsp)
        leaq    96(%rsp), %rax
        movq    %rax, 48(%rsp)
        movq    88(%rsp), %rax
        movq    %rax, 56(%rsp)
.endm

// int ringo_unwind_goexit(_Unwind_Exception* exc): from Goexit. Returns 0
// when the walk gives up; Goexit then calls _Unwind_ForcedUnwind.
        .globl  ringo_unwind_goexit
        .hidden ringo_unwind_goexit
        .type   ringo_unwind_goexit,@function
        .p2align 4
ringo_unwind_goexit:
        .cfi_startproc
        UNWIND_CAPTURE
        movq    %rsp, %rsi
        call    ringo_unwind_walk@PLT
        addq    $88, %rsp
        .cfi_adjust_cfa_offset -88
        xorl    %eax, %eax
        ret
        .cfi_endproc
        .size   ringo_unwind_goexit, .-ringo_unwind_goexit

// _Unwind_Resume(_Unwind_Exception* exc): every landing pad ends here. A
// Goexit's exception marked kUnwindFast ("RNGOEXIT" class, "RINGOFST" in
// private_2) continues the fast walk; anything else, or a walk that gives
// up, goes to libgcc's _Unwind_Resume with the stack and the callee-saved
// registers exactly as the landing pad left them. Weak, so a program that
// links libgcc's unwinder statically keeps libgcc's (Goexit is then only
// fast up to its first landing pad).
        .weak   _Unwind_Resume
        .type   _Unwind_Resume,@function
        .p2align 4
_Unwind_Resume:
        .cfi_startproc
        movabsq $0x524e474f45584954, %rax
        cmpq    %rax, (%rdi)
        jne     1f
        movabsq $0x52494e474f465354, %rax
        cmpq    %rax, 24(%rdi)
        jne     1f
        UNWIND_CAPTURE
        movq    %rdi, 64(%rsp)
        movq    %rsp, %rsi
        call    ringo_unwind_walk@PLT
        movq    64(%rsp), %rdi
        addq    $88, %rsp
        .cfi_adjust_cfa_offset -88
1:      movq    ringo_unwind_next_resume(%rip), %rax
        testq   %rax, %rax
        jz      2f
        jmp     *%rax
2:      pushq   %rdi
        .cfi_adjust_cfa_offset 8
        call    ringo_unwind_real_resume@PLT
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        jmp     *%rax
        .cfi_endproc
        .size   _Unwind_Resume, .-_Unwind_Resume

// void ringo_unwind_install(const unwindRegs* r): enters a landing pad with
// the frame r describes, the exception in rax and the selector in rdx.
// (A plain indirect jump, with no shadow-stack bookkeeping: like the switch
// above, this file is not CET-ready, and must not be marked so with a
// .note.gnu.property.)
        .globl  ringo_unwind_install
        .hidden ringo_unwind_install
        .type   ringo_unwind_install,@function
        .p2align 4
ringo_unwind_install:
        .cfi_startproc
        .cfi_undefined %rip
        movq    0(%rdi), %rbx
        movq    8(%rdi), %rbp
        movq    16(%rdi), %r12
        movq    24(%rdi), %r13
        movq    32(%rdi), %r14
        movq    40(%rdi), %r15
        movq    64(%rdi), %rax
        movq    72(%rdi), %rdx
        movq    56(%rdi), %rcx
        movq    48(%rdi), %rsp
        jmp     *%rcx
        .cfi_endproc
        .size   ringo_unwind_install, .-ringo_unwind_install
#endif

        .section .note.GNU-stack,"",@progbits
