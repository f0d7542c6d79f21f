//! The runtime's public functions on the scheduler: the number of Ps ([`procs`],
//! [`set_procs`]), goroutines ([`num_goroutine`], [`goroutine_id`], [`yield_now`]), thread
//! wiring ([`lock_os_thread`], [`unlock_os_thread`], [`set_max_threads`]) and blocking calls
//! ([`syscall`]); the crate root re-exports them (`gort::yield_now`, ...).
//!
//! Each is a thin, documented entry point: the mechanism stays in the modules that own the
//! state (`sched` for Ps, Ms and goroutine counts, `sysmon` for the syscall state it
//! watches).
//!
//! Uses: `sched` (the global state, the current M and G, P resizing), `sysmon` (the
//! syscall state), `g` (`Switch`, a goroutine's syscall flag), `fork` (the post-fork check).

use crate::sched::{self, current_g};
use crate::sysmon;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

pub use crate::sched::MAX_PROCS;

/// The number of Ps: how many goroutines can run at once (Go's `GOMAXPROCS`).
///
/// Defaults to the number of CPUs this process may use, or the `GOMAXPROCS` environment
/// variable if it holds a positive integer.
pub fn procs() -> usize {
    sched::sched().nprocs.load(Relaxed)
}

/// Sets the number of Ps and returns the previous value (Go's `runtime.GOMAXPROCS(n)`).
///
/// Values above [`MAX_PROCS`] are clamped with a warning. Lowering the count retires the
/// highest-numbered Ps: their queued goroutines move to the global queue as soon as their
/// M reaches the scheduler.
///
/// # What `procs` bounds under CPU hogs
///
/// In Go, `GOMAXPROCS` bounds the threads running Go code: Go preempts a goroutine that
/// computes for 10 ms (with a signal and safe points its compiler inserts) and puts it back
/// in a queue, so 4 spinning goroutines at `GOMAXPROCS=1` use one core. Rust code cannot be
/// preempted safely, so gort cannot do that: sysmon takes the P of a goroutine that ran
/// 10 ms without a scheduling point and gives it to another thread, and the hog runs on,
/// on its own thread, until its next scheduling point. `procs` then bounds the threads
/// running *scheduled* goroutines, not the hogs: 4 spinning goroutines at `procs = 1` use
/// up to 2 cores (Go: 1). To keep a process within a CPU quota, put a scheduling point
/// ([`yield_now`], any channel operation) in long loops, or size `procs` with the hogs
/// counted in.
///
/// Threads blocked in system calls (marked with `gort::syscall`, or unmarked calls that
/// sysmon finds blocked in the kernel) do not count either, as in Go.
///
/// # Panics
/// If `n` is 0 (use [`procs`] to read the current value).
pub fn set_procs(n: usize) -> usize {
    assert!(
        n >= 1,
        "gort::set_procs(0): procs must be at least 1 (gort::procs() reads it)"
    );
    sched::resize_procs(n)
}

/// Number of goroutines that exist now (Go's `runtime.NumGoroutine`).
pub fn num_goroutine() -> usize {
    sched::live_goroutines()
}

/// Yields the processor: the current goroutine goes to the back of its P's run queue and
/// others run first (Go's `runtime.Gosched`). On a plain thread, `std::thread::yield_now`.
pub fn yield_now() {
    match current_g() {
        Some(g) => g.suspend(crate::g::Switch::Yield),
        None => std::thread::yield_now(),
    }
}

/// The id of the calling goroutine, or `None` on a plain thread.
pub fn goroutine_id() -> Option<u64> {
    current_g().map(|g| g.id.load(Relaxed))
}

/// Wires the calling goroutine to its current OS thread (Go's `runtime.LockOSThread`):
/// until a matching [`unlock_os_thread`], the goroutine runs only on this thread and the
/// thread runs no other goroutine. Calls nest. If the goroutine ends while locked, the
/// thread exits with it (as in Go). On a plain thread this does nothing.
pub fn lock_os_thread() {
    if let (Some(m), Some(g)) = (sched::m::current_m(), current_g()) {
        m.lock_g(g);
    }
}

/// Undoes one [`lock_os_thread`]; the goroutine is free to move once every call is undone.
/// Does nothing if it is not locked.
pub fn unlock_os_thread() {
    if let (Some(m), Some(g)) = (sched::m::current_m(), current_g()) {
        m.unlock_g(g);
    }
}

/// Sets the most OS threads the scheduler may start (Go's `debug.SetMaxThreads`; default
/// 10,000) and returns the previous limit. Threads blocked in `gort::syscall` or locked to
/// a goroutine count. Exceeding it is a fatal error, as in Go.
///
/// # Panics
/// If `n` is 0.
pub fn set_max_threads(n: usize) -> usize {
    assert!(
        n >= 1,
        "gort::set_max_threads(0): at least one thread is needed"
    );
    sched::sched().max_threads.swap(n, SeqCst)
}

/// Runs `f`, a call that may block its thread (a system call, blocking I/O, a lock of
/// another library), from a goroutine without stalling the others (Go's
/// `entersyscall`/`exitsyscall`).
///
/// The goroutine keeps its P while `f` runs, so a short call costs a few stores. If `f`
/// blocks for longer than one sysmon round (≥ 20 µs) while other goroutines could use the
/// P, sysmon hands the P to another thread. When `f` returns, the goroutine takes back a P
/// (an idle one if its own is gone), or waits in the run queue for one. On a plain thread
/// `syscall(f)` is just `f()`.
///
/// # What is automatic, and what this adds
///
/// A blocking call that is *not* marked (a std `read`, `std::thread::sleep`, a contended
/// `std::sync::Mutex`, `std::fs`, a database driver, FFI) is found by sysmon by itself: when
/// one goroutine has run 200 µs on an M whose thread CPU time has not moved since the last
/// look and whose thread the kernel reports asleep (`S` or `D`), its P is handed off as for
/// a marked call (counted in `Stats::blocked_handoffs`); the goroutine goes on without a P
/// when the call returns, until its next scheduling point. That costs sysmon a system call
/// or two per long-running goroutine, and never happens once the scheduler has started
/// half of its thread limit. `syscall` stays the precise and cheapest marker: the hand-off
/// comes after 20 µs instead of 200 µs, and needs no look at the thread.
///
/// `f` may itself park (a channel receive, a `join`): the goroutine then leaves the
/// syscall state while it waits and enters it again when it resumes, on whichever thread
/// that is. Nested calls are one syscall.
pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
    crate::fork::check();
    let Some(g) = current_g() else {
        return f();
    };
    if g.in_syscall.load(Relaxed) {
        return f(); // nested: the outer call marks it
    }
    sched::sched().syscalls.fetch_add(1, Relaxed);
    g.in_syscall.store(true, Relaxed);
    sysmon::enter_syscall_state();
    /// Leaves the syscall state if `f` unwinds (a G is reused: a mark left behind would
    /// make sysmon hand off the P of whatever the G and its M run next).
    struct Unwinding(&'static crate::g::G);
    impl Drop for Unwinding {
        fn drop(&mut self) {
            self.0.in_syscall.store(false, Relaxed);
            sysmon::leave_syscall_state();
        }
    }
    let unwinding = Unwinding(g);
    let r = f();
    std::mem::forget(unwinding);
    g.in_syscall.store(false, Relaxed);
    // The M we run on now: `f` may have parked and resumed on another one.
    let mm = sched::m::current_m().expect("gort: a goroutine runs on an M");
    mm.in_syscall.store(false, Relaxed);
    let kept = sched::m::with_p(|p| p.is_some());
    if !kept {
        sched::m::exit_syscall_slow(mm, g);
    }
    r
}
