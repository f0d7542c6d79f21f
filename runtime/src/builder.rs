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
/// # Soundness: goroutines move between threads
///
/// A goroutine that parks (a channel operation, `join`, `yield_now`, any gort blocking call)
/// may resume on another OS thread. Hence:
///
/// - thread-locals are per thread, not per goroutine: a `thread_local!` read before a
///   scheduling point and after it may be two different variables. Use goroutine-local
///   storage ([`crate::local!`]) for per-goroutine state, or [`crate::lock_os_thread`] for
///   code that needs one fixed thread;
/// - a value that is not `Send` (a `MutexGuard` of `std`, an `Rc` shared with another
///   goroutine, a handle tied to its thread) must not be held across a scheduling point.
///   The compiler checks `F: Send` for what the goroutine starts with, not for what it
///   creates and keeps across a park.
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
