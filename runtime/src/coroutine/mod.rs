//! Execution contexts on stacks of their own, and the switch between them.
//!
//! A goroutine runs on its own stack; the scheduler runs on the M's thread stack (g0). A
//! [`Context`] is the state of a suspended one: the stack pointer below which its
//! callee-saved registers and its resume address were pushed. [`switch`] suspends the
//! running code into one context and resumes another, passing a word from one to the
//! other. It is symmetric: any context can switch to any suspended one, goroutine to
//! goroutine as well as goroutine to g0, which is what lets a goroutine that yields, parks
//! or ends hand its M straight to the next one (`sched::m::yield_direct`, `park_direct`,
//! `exit_direct`) without a trip through g0.
//!
//! # Why not a coroutine crate
//!
//! Until this module the goroutines were `corosensei` coroutines. Its switch is asymmetric
//! (a coroutine can only return to the context that resumed it) and is built on a
//! `call` into the coroutine and a `ret` out of it: that keeps the one switch pair balanced
//! for the CPU's return-stack predictor, but the returns the coroutine then executes on its
//! own stack, and the `ret` out of it, never match the predictor's stack. Two coroutines
//! resumed in turn from one loop cost 17.7 ns a resume-and-suspend on the 2-core Intel Xeon
//! of BENCHMARKS.md (three mispredicted returns), where the switch itself is a dozen
//! instructions. Here a switch is an ordinary call of an assembly function that returns
//! into whatever called it in the *target* context: when that is the same call site as the
//! one that just suspended (two goroutines yielding to each other, two channel partners),
//! the return stack predicts it and every return after it. `corosensei` stays for
//! `stack::grow` (`on_stack`, a call on another stack, which must unwind through it).
//!
//! # The switch (`x86_64.S`, `aarch64.S`)
//!
//! `switch(msg, save, to)` is a C-ABI function: the compiler saves the caller-saved
//! registers around the call as for any call, and the assembly pushes the callee-saved
//! ones (x86_64: rbp, rbx, r12-r15; aarch64: x19-x30 and d8-d15), stores the stack
//! pointer in `*save`, loads `to`, pops the same registers from the target stack and
//! returns `msg`. The stack of a suspended context is therefore, from its saved stack
//! pointer up: the callee-saved registers, the return address (on aarch64 inside the same
//! frame, as x30), then the frames of the code that called `switch`.
//!
//! A new context ([`Context::init`]) gets a frame of the same shape, written by hand at
//! the top of its stack: its "return address" is `gort_runtime_coroutine_start`, and two of
//! its "callee-saved registers" hold the entry function and the entry closure, which
//! `init` moves to the stack just above that frame. The first switch to it therefore
//! returns into the start trampoline, which calls `entry::<F>(msg, closure)`. The entry
//! reads the closure off the stack and calls it; the closure must never return (a goroutine
//! ends by switching away for the last time; returning would abort). The trampoline's CFI
//! marks its return address undefined, so backtraces and unwinders stop there: a panic
//! cannot unwind out of a context (the goroutine entry catches it first), and a
//! backtrace taken on a goroutine shows the goroutine's frames and ends.
//!
//! Not saved: the x87 control word and MXCSR on x86_64, FPCR on aarch64 (as with
//! `corosensei`, and as Go does): code that changes the floating-point environment must
//! restore it before it blocks.
//!
//! Uses no other module of the crate.

use std::cell::Cell;
use std::mem::{align_of, size_of};

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(include_str!("x86_64.S"));
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(include_str!("aarch64.S"));

extern "C" {
    fn gort_runtime_coroutine_switch(msg: usize, save: *mut usize, to: usize) -> usize;
    fn gort_runtime_coroutine_start();
}

/// The hand-written frame of a new context, from its stack pointer up: what `switch`
/// pops, in order. `ENTRY` and `OBJECT` are the slots of the registers the start
/// trampoline calls through; `RESUME` is the return address.
#[cfg(target_arch = "x86_64")]
mod frame {
    /// Words in the frame: r15, r14, r13, r12 (object), rbx (entry), rbp, return address.
    pub const WORDS: usize = 7;
    pub const OBJECT: usize = 3;
    pub const ENTRY: usize = 4;
    pub const RESUME: usize = 6;
}
#[cfg(target_arch = "aarch64")]
mod frame {
    /// Words in the frame: x19 (entry), x20 (object), x21-x28, x29, x30 (return), d8-d15.
    pub const WORDS: usize = 20;
    pub const ENTRY: usize = 0;
    pub const OBJECT: usize = 1;
    pub const RESUME: usize = 11;
}

/// The stack alignment both ABIs require at a call.
const STACK_ALIGN: usize = 16;

/// A context that is not running: where its registers were saved. Holds 0 while the
/// context runs (or before it was ever suspended or initialised).
#[derive(Debug, Default)]
pub(crate) struct Context {
    sp: Cell<usize>,
}

impl Context {
    /// A context with nothing saved yet (a thread's own stack before its first switch).
    pub(crate) const fn new() -> Context {
        Context { sp: Cell::new(0) }
    }

    /// The saved stack pointer, to pass to [`switch`] as the target.
    #[inline]
    pub(crate) fn sp(&self) -> usize {
        self.sp.get()
    }

    /// Prepares a new context on the stack whose highest address is `top`: the first
    /// [`switch`] to it runs `f(msg)` there, `msg` being what that switch passed. `f` must
    /// not return (it ends by switching away for good); if it does, the process aborts.
    ///
    /// # Safety
    ///
    /// `[top - n, top)` must be writable memory owned by the caller, where `n` is the size
    /// of `F` plus a few hundred bytes, and must stay so while the context exists; no
    /// context may be running on it.
    pub(crate) unsafe fn init<F: FnOnce(usize)>(&self, top: usize, f: F) {
        let align = align_of::<F>().max(STACK_ALIGN);
        let object = (top - size_of::<F>()) & !(align - 1);
        // The trampoline is entered with the stack pointer just above the frame, where it
        // calls the entry: that must be 16-byte aligned.
        let frame_end = object & !(STACK_ALIGN - 1);
        let sp = frame_end - frame::WORDS * size_of::<usize>();
        // SAFETY: the caller gave us `[top - n, top)`; `object` and the frame lie in it.
        unsafe {
            (object as *mut F).write(f);
            let words = sp as *mut usize;
            for i in 0..frame::WORDS {
                words.add(i).write(0);
            }
            words
                .add(frame::ENTRY)
                .write(entry::<F> as extern "C" fn(usize, *mut F) as *const () as usize);
            words.add(frame::OBJECT).write(object);
            words
                .add(frame::RESUME)
                .write(gort_runtime_coroutine_start as *const () as usize);
        }
        self.sp.set(sp);
    }
}

/// The first Rust code of a context: takes the closure off the stack and runs it.
extern "C" fn entry<F: FnOnce(usize)>(msg: usize, object: *mut F) {
    // SAFETY: `init` wrote an `F` there and this is the only read of it (a context starts
    // once); the caller of `init` keeps the memory alive.
    let f = unsafe { object.read() };
    f(msg);
    // A context must end by switching away for good; there is nothing to return to.
    eprintln!("fatal error: gort: a coroutine's entry function returned");
    std::process::abort();
}

/// Suspends the running code into `save` and resumes the context whose saved stack
/// pointer is `to`, handing it `msg`. Returns, once some context switches back to `save`,
/// the `msg` of that switch.
///
/// # Safety
///
/// `to` must be the saved stack pointer of a suspended context (from [`Context::sp`] of a
/// context suspended by `switch` or prepared by [`Context::init`]), and that context may
/// be resumed only once for each time it was suspended: no other thread may switch to it
/// concurrently. `save` must stay valid until something switches back to it. Thread-local
/// state read before the call may be stale after it (the context may come back on another
/// thread).
#[inline]
pub(crate) unsafe fn switch(save: &Context, to: usize, msg: usize) -> usize {
    debug_assert!(to != 0, "gort: switch to a context that is not suspended");
    // SAFETY: the caller guarantees `to` is a suspended context; `save.sp` is a valid word
    // for the assembly to write our stack pointer to.
    unsafe { gort_runtime_coroutine_switch(msg, save.sp.as_ptr(), to) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A heap block to run a context on.
    struct TestStack(Vec<u128>);
    impl TestStack {
        fn new() -> TestStack {
            TestStack(vec![0; 64 << 10 >> 4])
        }
        fn top(&mut self) -> usize {
            self.0.as_mut_ptr() as usize + self.0.len() * 16
        }
    }

    /// A context for a test; leaked, as a suspended context may be left behind.
    fn context() -> &'static Context {
        Box::leak(Box::new(Context::new()))
    }

    #[test]
    fn messages_go_both_ways_and_the_entry_sees_its_captures() {
        let mut stack = TestStack::new();
        let (main, co) = (context(), context());
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        // SAFETY: the stack outlives the context (the test waits for its last switch).
        unsafe {
            co.init(stack.top(), move |first| {
                let mut msg = first;
                for _ in 0..3 {
                    l.borrow_mut().push(msg);
                    msg = switch(co, main.sp(), msg * 10);
                }
                l.borrow_mut().push(msg);
                drop(l);
                switch(co, main.sp(), 0);
            });
        }
        let mut got = Vec::new();
        for i in 1..=4 {
            // SAFETY: `co` is suspended (initialised, or switched back to us).
            got.push(unsafe { switch(main, co.sp(), i) });
        }
        assert_eq!(got, [10, 20, 30, 0]);
        assert_eq!(*log.borrow(), [1, 2, 3, 4]);
        assert_eq!(Rc::strong_count(&log), 1, "the entry closure was dropped");
    }

    #[test]
    fn contexts_switch_to_each_other_directly() {
        // main -> a -> b -> a -> b -> main: symmetric transfer, no trip through main.
        let mut sa = TestStack::new();
        let mut sb = TestStack::new();
        let (main, a, b) = (context(), context(), context());
        // SAFETY: the stacks outlive both contexts (both end by switching to main, last).
        unsafe {
            a.init(sa.top(), move |m| {
                let m = switch(a, b.sp(), m + 1);
                switch(a, b.sp(), m + 1);
            });
            b.init(sb.top(), move |m| {
                let m = switch(b, a.sp(), m + 1);
                switch(b, main.sp(), m + 1);
            });
            assert_eq!(switch(main, a.sp(), 100), 104);
        }
    }

    #[test]
    fn callee_saved_registers_survive_switches() {
        // Floating-point and integer values held across switches in both contexts, with
        // enough of them live that the compiler keeps some in callee-saved registers.
        let mut stack = TestStack::new();
        let (main, co) = (context(), context());
        // SAFETY: as above.
        unsafe {
            co.init(stack.top(), move |_| {
                let mut f = [1.5f64, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5];
                let mut n = [3u64, 5, 7, 11, 13, 17];
                for round in 0..1000u64 {
                    std::hint::black_box(&mut f);
                    std::hint::black_box(&mut n);
                    switch(co, main.sp(), round as usize);
                    for x in &mut f {
                        *x += 1.0;
                    }
                    for x in &mut n {
                        *x += round;
                    }
                }
                let sum = f.iter().sum::<f64>() as usize + n.iter().sum::<u64>() as usize;
                switch(co, main.sp(), sum);
            });
            let mut g = [0.25f64, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];
            let mut k = [2u64, 4, 6, 8, 10, 12];
            for round in 0..1000 {
                assert_eq!(switch(main, co.sp(), 0), round);
                for x in &mut g {
                    *x += 0.5;
                }
                for x in &mut k {
                    *x += 1;
                }
                std::hint::black_box(&mut g);
                std::hint::black_box(&mut k);
            }
            // Each float went up by 1000 from a sum of 40, each integer by 0 + 1 + ... + 999.
            let expect = 40 + 8 * 1000 + 56 + 6 * (999 * 1000 / 2);
            assert_eq!(switch(main, co.sp(), 0), expect);
            assert_eq!(g.iter().sum::<f64>(), 9.0 + 8.0 * 0.5 * 1000.0);
            assert_eq!(k.iter().sum::<u64>(), 42 + 6 * 1000);
        }
    }

    #[test]
    fn panics_are_caught_inside_and_backtraces_end_at_the_context() {
        let mut stack = TestStack::new();
        let (main, co) = (context(), context());
        // SAFETY: as above.
        unsafe {
            co.init(stack.top(), move |_| {
                let caught = std::panic::catch_unwind(|| panic!("inside a context"));
                let bt = std::backtrace::Backtrace::force_capture().to_string();
                let ok = caught.is_err() && bt.contains("coroutine");
                switch(co, main.sp(), ok as usize);
            });
            assert_eq!(switch(main, co.sp(), 0), 1);
        }
    }
}
