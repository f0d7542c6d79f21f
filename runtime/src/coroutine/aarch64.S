// The context switch of `runtime/src/coroutine/mod.rs` for aarch64 (AAPCS64).
// Kept in a file of its own so that `runtime/tests/coroutine-asm/` can assemble the same
// text with a C compiler and run it under an emulator. See mod.rs for the design.

        .text

// usize gort_runtime_coroutine_switch(usize msg /* x0 */, usize *save /* x1 */,
//                                     usize to /* x2 */)
//
// Stores the callee-saved registers (x19-x28, the frame pointer x29, the link register
// x30, d8-d15) in a 160-byte frame on the current stack, writes the stack pointer to
// *save, loads `to` as the stack pointer, loads the same frame from there and returns
// `msg` (in x0, untouched) through the restored link register: into the code that
// suspended the target context. The frame is the same on both stacks, so one set of CFI
// rules describes both.
        .globl  gort_runtime_coroutine_switch
        .hidden gort_runtime_coroutine_switch
        .type   gort_runtime_coroutine_switch, %function
        .p2align 4
gort_runtime_coroutine_switch:
        .cfi_startproc
        sub     sp, sp, #160
        .cfi_def_cfa_offset 160
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        .cfi_offset x29, -80
        .cfi_offset x30, -72
        mov     x9, sp
        str     x9, [x1]
        mov     sp, x2
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #160
        .cfi_def_cfa_offset 0
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30
        ret
        .cfi_endproc
        .size   gort_runtime_coroutine_switch, .-gort_runtime_coroutine_switch

// The first code a new context runs: the first switch to it returns here (its link
// register), with the entry function in x19, its object in x20 and the message in x0
// (see `init` in mod.rs). Calls entry(msg, object), which never returns. The return
// address is undefined in its CFI: unwinders and backtraces stop here, at the bottom of
// the context's stack.
        .globl  gort_runtime_coroutine_start
        .hidden gort_runtime_coroutine_start
        .type   gort_runtime_coroutine_start, %function
        .p2align 4
gort_runtime_coroutine_start:
        .cfi_startproc
        .cfi_undefined x30
        mov     x1, x20
        blr     x19
        brk     #1
        .cfi_endproc
        .size   gort_runtime_coroutine_start, .-gort_runtime_coroutine_start
