// The context switch of `runtime/src/coroutine/mod.rs` for x86_64 (System V ABI).
// Kept in a file of its own so that `runtime/tests/coroutine-asm/` can assemble the same
// text with a C compiler (Intel syntax: `-masm=intel`). See mod.rs for the design.

        .text

// usize gort_runtime_coroutine_switch(usize msg /* rdi */, usize *save /* rsi */,
//                                     usize to /* rdx */)
//
// Pushes the callee-saved registers (rbp, rbx, r12-r15) on the current stack, writes the
// stack pointer to *save, loads `to` as the stack pointer, pops the same six registers
// from there and returns `msg` (in rax) to whoever suspended on that stack. The caller's
// return address, pushed by its `call`, is the resume point: the `ret` at the end goes
// back into the code that suspended the target context, so a switch between contexts
// suspended at the same call site is a correctly predicted return. The frame below the
// return address is the same on both stacks, so one set of CFI rules describes both.
        .globl  gort_runtime_coroutine_switch
        .hidden gort_runtime_coroutine_switch
        .type   gort_runtime_coroutine_switch, @function
        .p2align 4
gort_runtime_coroutine_switch:
        .cfi_startproc
        push    rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        push    rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        push    r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        push    r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        push    r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        push    r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        mov     [rsi], rsp
        mov     rsp, rdx
        pop     r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        pop     r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        pop     r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        pop     r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        pop     rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        pop     rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        mov     rax, rdi
        ret
        .cfi_endproc
        .size   gort_runtime_coroutine_switch, .-gort_runtime_coroutine_switch

// The first code a new context runs: the first switch to it "returns" here, with the
// entry function in rbx, its object in r12 and the message in rdi (see `init` in mod.rs).
// Calls entry(msg, object), which never returns. The return address is undefined in its
// CFI: unwinders and backtraces stop here, at the bottom of the context's stack.
        .globl  gort_runtime_coroutine_start
        .hidden gort_runtime_coroutine_start
        .type   gort_runtime_coroutine_start, @function
        .p2align 4
gort_runtime_coroutine_start:
        .cfi_startproc
        .cfi_undefined rip
        mov     rsi, r12
        call    rbx
        ud2
        .cfi_endproc
        .size   gort_runtime_coroutine_start, .-gort_runtime_coroutine_start
