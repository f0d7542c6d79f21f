//! Spawning goroutines: [`go`] and [`Builder`].
//!
//! Uses: `join`, `sched`.

use crate::join::JoinHandle;
use crate::sched::spawn;
use std::io;

/// Options for a goroutine: name and stack size.
///
/// ```
/// let h = gort_runtime::Builder::new().name("worker").stack_size(256 << 10).spawn(|| 6 * 7).unwrap();
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// Default options: no name, the runtime's default stack size
    /// (see [`crate::stack::set_default_stack_size`]).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine (shown by `JoinHandle::name` and in diagnostics).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Reserves `bytes` of stack for the goroutine instead of the default
    /// ([`crate::stack::default_stack_size`], 192 KiB unless changed), rounded up to whole
    /// pages, at least [`crate::stack::MIN_STACK_SIZE`]. Pages are committed only when
    /// touched. Use it for a goroutine that runs deep code (large recursion, TLS or
    /// compression libraries in debug builds): a goroutine that overflows its stack ends
    /// the process with `fatal error: stack overflow`.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the goroutine. Fails if its stack cannot be mapped or the process is exiting.
    /// See [`go`] for what may run on a goroutine.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn::spawn(
            f,
            self.name.map(Into::into),
            self.stack_size,
            std::panic::Location::caller(),
        )
    }
}

/// Starts a goroutine running `f` (Go's `go f()`), from a goroutine or a plain thread.
///
/// The goroutine is scheduled on the runtime's Ps (see [`crate::procs`]); the runtime starts
/// on first use. Its result, or its panic, is returned by [`JoinHandle::join`]; dropping the
/// handle detaches it.
///
/// # Soundness: what a goroutine must not do
///
/// A goroutine may resume on another OS thread at every scheduling point: any gort blocking
/// call (channel operations and `select!`, `join`, `gort::sync`, `time`, `net`, context
/// waits), [`crate::yield_now`], the return from [`crate::syscall`], and `go` itself when the
/// spawning P's run queue is full. Code that ties state to the thread breaks there, in four
/// ways, each with its remedy:
///
/// 1. **A thread-local read before and after a scheduling point** may be two different
///    variables. Worse, a reference into one kept across the scheduling point (a park inside
///    `LOCAL.with(|v| ..)`, an `Rc` cloned out of a thread-local) still points into the old
///    thread's variable, which the next goroutine on that thread uses at the same time: a
///    data race. Remedy: goroutine-local storage ([`crate::local!`]), which follows the
///    goroutine; or [`crate::lock_os_thread`] around code that needs one fixed thread.
/// 2. **The compiler may keep a thread-local's address across the switch.** Within one
///    function (after inlining), LLVM assumes the thread does not change, so it may compute
///    a thread-local's address once and reuse it after a call that parked and resumed on
///    another thread: code that reads a thread-local, parks, and reads it again can read the
///    old thread's variable even though the source looks it up again. `errno` is the common
///    case: std declares `__errno_location` constant, so a loop that makes a system call,
///    parks, and retries can report the old thread's `errno` through
///    `io::Error::last_os_error()` (gort's own socket code met this). Remedies: the same two;
///    and for a system call, read `errno` with [`last_os_error`](crate::last_os_error)
///    (never inlined, so each call looks `errno` up on the thread it runs on) right after
///    the call, with no park in between.
/// 3. **A std lock guard whose owner is a thread.** `std::io::stdout().lock()` and
///    `std::io::stderr().lock()` are reentrant locks owned by a thread id: held across a
///    scheduling point, the goroutine that runs next on the old thread takes the lock again
///    at once (the thread "owns" it), and two goroutines hold one lock. A
///    `std::sync::Mutex` or `RwLock` guard held across a scheduling point makes every other
///    goroutine that wants the lock block its whole thread until the holder resumes. Remedy:
///    drop std lock guards before any scheduling point; use [`crate::sync::Mutex`] (or
///    `RwLock`), whose guard may be held across one and whose waiters park.
/// 4. **Thread identity and thread-bound state** describe the thread, not the goroutine,
///    and change at a scheduling point: `std::thread::current()` and its `ThreadId`,
///    `gettid`/`pthread_self`, per-thread OS state (signal mask, thread name, `unshare`,
///    CPU affinity, `uselocale`), libraries that bind state to a thread (an OpenGL context, a
///    Python thread state). `std::thread::park` parks the whole thread, and an `unpark` sent
///    to it may wake whichever goroutine runs there later. Thread-local destructors run when
///    the thread exits, not when the goroutine ends (a scheduler thread exits only when a
///    goroutine ends while locked to it), and a value a goroutine leaves in a
///    `thread_local!` is seen by the next goroutine on that thread. Remedies:
///    [`crate::goroutine_id`] for identity; [`crate::lock_os_thread`] for thread-bound
///    state (Go's rule for the same problem); [`crate::park`] or a channel instead of
///    `std::thread::park`; [`crate::local!`], whose values are dropped when the goroutine
///    ends.
///
/// Values that are `!Send` for other reasons are fine across a scheduling point (an `Rc`
/// the goroutine made itself, a [`crate::sync::MutexGuard`]): the goroutine carries them
/// along, and no other goroutine can reach them. The runtime's own code never keeps a
/// thread-local's value or address across a scheduling point.
///
/// `go` is nevertheless a safe function. By Rust's rules, items 1 to 3 let safe code in a
/// goroutine race on one variable from two threads, which would argue for `unsafe`; but
/// starting a goroutine is one keyword in Go, gort's promise is Go's ergonomics, and
/// no bound on `f` can catch these patterns (`F: Send` covers what the goroutine starts
/// with, not what it takes from a thread-local later). may makes its `spawn` `unsafe` for
/// these reasons, and its `go!` macro wraps the unsafe call: that hides the hazard at every
/// call site without removing it. gort keeps `go` safe and states the rules here instead.
///
/// # Panics
/// If the goroutine cannot be created (its stack cannot be mapped, or the process is
/// exiting); [`Builder::spawn`] returns these as errors instead.
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match spawn::spawn(f, None, None, std::panic::Location::caller()) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}
