/* Checks the context switch of x86_64.S / aarch64.S on its own, built by check.sh with a C
 * compiler for each CPU (and run under an emulator for the one this machine is not), so
 * that the aarch64 switch is exercised on x86_64 machines too. It builds contexts the way
 * `Context::init` in mod.rs does (the frame layout below must match `mod frame` there)
 * and checks: the first switch runs the entry with its object and the message; messages
 * go both ways; contexts switch to each other directly; values held across switches in
 * callee-saved registers (integer and floating point) survive, in both contexts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uintptr_t word;
extern word gort_runtime_coroutine_switch(word msg, word *save, word to);
extern void gort_runtime_coroutine_start(void);

#if defined(__x86_64__)
enum { WORDS = 7, OBJECT = 3, ENTRY = 4, RESUME = 6 };
#elif defined(__aarch64__)
enum { WORDS = 20, ENTRY = 0, OBJECT = 1, RESUME = 11 };
#endif

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

/* Context::init: the object above a hand-written frame at the top of the stack. */
static word init(char *stack, size_t size, void (*entry)(word, void *), void *object) {
    word top = (word)(stack + size);
    word frame_end = (top - 64) & ~(word)15;
    word *w = (word *)(frame_end - WORDS * sizeof(word));
    memset(w, 0, WORDS * sizeof(word));
    w[ENTRY] = (word)entry;
    w[OBJECT] = (word)object;
    w[RESUME] = (word)gort_runtime_coroutine_start;
    return (word)w;
}

static word main_ctx, a_ctx, b_ctx;
static word log_[8];
static int nlog;

struct obj { word magic; };

static void pingpong(word msg, void *object) {
    struct obj *o = object;
    log_[nlog++] = o->magic;
    for (int i = 0; i < 3; i++) {
        log_[nlog++] = msg;
        msg = gort_runtime_coroutine_switch(msg * 10, &a_ctx, main_ctx);
    }
    log_[nlog++] = msg;
    gort_runtime_coroutine_switch(0, &a_ctx, main_ctx);
    abort();
}

static void direct_a(word m, void *o) {
    (void)o;
    m = gort_runtime_coroutine_switch(m + 1, &a_ctx, b_ctx);
    gort_runtime_coroutine_switch(m + 1, &a_ctx, b_ctx);
    abort();
}

static void direct_b(word m, void *o) {
    (void)o;
    m = gort_runtime_coroutine_switch(m + 1, &b_ctx, a_ctx);
    gort_runtime_coroutine_switch(m + 1, &b_ctx, main_ctx);
    abort();
}

/* Many values live across each switch: the compiler keeps them in callee-saved registers
 * or spills them, both of which must survive. */
static volatile word sink;
static volatile double start = 0.25;
static void registers(word m, void *o) {
    (void)o;
    word i0 = m, i1 = m * 3, i2 = m * 5, i3 = m * 7, i4 = m * 11, i5 = m * 13;
    word i6 = m * 17, i7 = m * 19, i8 = m * 23, i9 = m * 29, i10 = m * 31, i11 = m * 37;
    double d0 = 0.5, d1 = 1.5, d2 = 2.5, d3 = 3.5, d4 = 4.5, d5 = 5.5, d6 = 6.5, d7 = 7.5;
    for (int r = 0; r < 1000; r++) {
        gort_runtime_coroutine_switch(r, &a_ctx, main_ctx);
        i0 += 1; i1 += 1; i2 += 1; i3 += 1; i4 += 1; i5 += 1;
        i6 += 1; i7 += 1; i8 += 1; i9 += 1; i10 += 1; i11 += 1;
        d0 += 1; d1 += 1; d2 += 1; d3 += 1; d4 += 1; d5 += 1; d6 += 1; d7 += 1;
    }
    word sum = i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8 + i9 + i10 + i11 +
               (word)(d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7);
    gort_runtime_coroutine_switch(sum, &a_ctx, main_ctx);
    abort();
}


/* word magic_switch(word salt, word *save, word to): sets every callee-saved register to
 * salt + a number of its own, switches to `to` (passing `salt` as the message) and, once
 * switched back, returns how many of those registers lost their value. Two contexts that
 * call it with different salts check that a switch restores every callee-saved register,
 * whatever the compiler happens to keep in them. */
word magic_switch(word salt, word *save, word to);
#if defined(__x86_64__)
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    "magic_switch:\n"
    "   push rbp\n push rbx\n push r12\n push r13\n push r14\n push r15\n"
    "   sub rsp, 8\n"
    "   mov [rsp], rdi\n"
    "   lea rbp, [rdi + 1]\n lea rbx, [rdi + 2]\n lea r12, [rdi + 3]\n"
    "   lea r13, [rdi + 4]\n lea r14, [rdi + 5]\n lea r15, [rdi + 6]\n"
    "   call gort_runtime_coroutine_switch\n"
    "   mov rcx, [rsp]\n"
    "   xor eax, eax\n"
    "   lea r8, [rcx + 1]\n cmp rbp, r8\n je 1f\n inc eax\n1:\n"
    "   lea r8, [rcx + 2]\n cmp rbx, r8\n je 1f\n inc eax\n1:\n"
    "   lea r8, [rcx + 3]\n cmp r12, r8\n je 1f\n inc eax\n1:\n"
    "   lea r8, [rcx + 4]\n cmp r13, r8\n je 1f\n inc eax\n1:\n"
    "   lea r8, [rcx + 5]\n cmp r14, r8\n je 1f\n inc eax\n1:\n"
    "   lea r8, [rcx + 6]\n cmp r15, r8\n je 1f\n inc eax\n1:\n"
    "   add rsp, 8\n"
    "   pop r15\n pop r14\n pop r13\n pop r12\n pop rbx\n pop rbp\n"
    "   ret\n"
    ".att_syntax prefix\n");
#elif defined(__aarch64__)
#define SET(r, n) "   add " r ", x0, #" #n "\n"
#define CMP(r, n) "   add x10, x9, #" #n "\n cmp " r ", x10\n cinc x11, x11, ne\n"
#define FSET(d, n) "   add x10, x0, #" #n "\n scvtf " d ", x10\n"
#define FCMP(d, n) "   add x10, x9, #" #n "\n scvtf d0, x10\n fcmp " d ", d0\n cinc x11, x11, ne\n"
__asm__(
    ".text\n"
    "magic_switch:\n"
    "   stp x29, x30, [sp, #-176]!\n"
    "   stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n"
    "   stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
    "   stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n"
    "   stp d12, d13, [sp, #128]\n stp d14, d15, [sp, #144]\n"
    "   str x0, [sp, #160]\n"
    SET("x19", 19) SET("x20", 20) SET("x21", 21) SET("x22", 22) SET("x23", 23)
    SET("x24", 24) SET("x25", 25) SET("x26", 26) SET("x27", 27) SET("x28", 28)
    FSET("d8", 8) FSET("d9", 9) FSET("d10", 10) FSET("d11", 11)
    FSET("d12", 12) FSET("d13", 13) FSET("d14", 14) FSET("d15", 15)
    "   bl gort_runtime_coroutine_switch\n"
    "   ldr x9, [sp, #160]\n"
    "   mov x11, #0\n"
    CMP("x19", 19) CMP("x20", 20) CMP("x21", 21) CMP("x22", 22) CMP("x23", 23)
    CMP("x24", 24) CMP("x25", 25) CMP("x26", 26) CMP("x27", 27) CMP("x28", 28)
    FCMP("d8", 8) FCMP("d9", 9) FCMP("d10", 10) FCMP("d11", 11)
    FCMP("d12", 12) FCMP("d13", 13) FCMP("d14", 14) FCMP("d15", 15)
    "   mov x0, x11\n"
    "   ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
    "   ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
    "   ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n"
    "   ldp d12, d13, [sp, #128]\n ldp d14, d15, [sp, #144]\n"
    "   ldp x29, x30, [sp], #176\n"
    "   ret\n");
#endif

static word magic_lost;
static void magic_entry(word m, void *o) {
    (void)o;
    (void)m;
    for (int i = 0; i < 10; i++)
        magic_lost += magic_switch(2000 + i * 100, &a_ctx, main_ctx);
    gort_runtime_coroutine_switch(0, &a_ctx, main_ctx);
    abort();
}

static char stack_a[64 << 10] __attribute__((aligned(16)));
static char stack_b[64 << 10] __attribute__((aligned(16)));

int main(void) {
    struct obj o = { 0xfeed };
    a_ctx = init(stack_a, sizeof stack_a, pingpong, &o);
    word got[4];
    for (int i = 0; i < 4; i++)
        got[i] = gort_runtime_coroutine_switch(i + 1, &main_ctx, a_ctx);
    CHECK(got[0] == 10 && got[1] == 20 && got[2] == 30 && got[3] == 0);
    CHECK(nlog == 5 && log_[0] == 0xfeed && log_[1] == 1 && log_[2] == 2 && log_[3] == 3 &&
          log_[4] == 4);

    a_ctx = init(stack_a, sizeof stack_a, direct_a, NULL);
    b_ctx = init(stack_b, sizeof stack_b, direct_b, NULL);
    CHECK(gort_runtime_coroutine_switch(100, &main_ctx, a_ctx) == 104);

    a_ctx = init(stack_a, sizeof stack_a, registers, NULL);
    word k0 = sink + 2, k1 = k0 * 2, k2 = k0 * 3, k3 = k0 * 4, k4 = k0 * 5, k5 = k0 * 6;
    word k6 = k0 * 7, k7 = k0 * 8, k8 = k0 * 9, k9 = k0 * 10, k10 = k0 * 11, k11 = k0 * 12;
    double e0 = start, e1 = e0 * 2, e2 = e0 * 3, e3 = e0 * 4, e4 = e0 * 5, e5 = e0 * 6,
           e6 = e0 * 7, e7 = e0 * 8;
    const word m = 7; /* the first message: the entry's multiplier */
    CHECK(gort_runtime_coroutine_switch(m, &main_ctx, a_ctx) == 0);
    for (word r = 1; r < 1000; r++) {
        CHECK(gort_runtime_coroutine_switch(0, &main_ctx, a_ctx) == r);
        k0 += 1; k1 += 1; k2 += 1; k3 += 1; k4 += 1; k5 += 1;
        k6 += 1; k7 += 1; k8 += 1; k9 += 1; k10 += 1; k11 += 1;
        e0 += 0.5; e1 += 0.5; e2 += 0.5; e3 += 0.5; e4 += 0.5; e5 += 0.5; e6 += 0.5; e7 += 0.5;
    }
    word want = m * (1 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29 + 31 + 37) + 12 * 1000 +
                (word)(32.0 + 8 * 1000);
    CHECK(gort_runtime_coroutine_switch(0, &main_ctx, a_ctx) == want);
    CHECK(k0 + k1 + k2 + k3 + k4 + k5 + k6 + k7 + k8 + k9 + k10 + k11 == 2 * 78 + 12 * 999);
    CHECK(e0 + e1 + e2 + e3 + e4 + e5 + e6 + e7 == 9.0 + 8 * 0.5 * 999);
    sink = k0;

    a_ctx = init(stack_a, sizeof stack_a, magic_entry, NULL);
    word lost = 0;
    for (int i = 0; i < 11; i++)
        lost += magic_switch(1000 + i * 100, &main_ctx, a_ctx);
    CHECK(lost == 0);
    CHECK(magic_lost == 0);

    if (failures) {
        printf("coroutine switch check: %d failures\n", failures);
        return 1;
    }
    printf("coroutine switch check: ok\n");
    return 0;
}
