//! # gort: Go's runtime as a Rust library
//!
//! Goroutines on stackful coroutines, scheduled by a work-stealing G/M/P scheduler; write
//! blocking-style concurrent code the way a Go programmer would, without `async`.
//!
//! ```
//! let total = gort::run(|| {
//!     let handles: Vec<_> = (1..=100u64).map(|i| gort::go(move || i)).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 5050);
//! ```
//!
//! ## Soundness: what a goroutine must not do
//!
//! A goroutine may resume on another OS thread at every scheduling point (any gort blocking
//! call, [`yield_now`], the return from [`syscall`]). Across one it must not keep using a
//! thread-local (use [`local!`] for goroutine-local storage, or [`lock_os_thread`] for code
//! that needs a fixed thread; the compiler may even reuse a thread-local's address, `errno`
//! included, after the switch), hold a std lock guard (`std::io::stdout().lock()` is owned
//! by a thread, so another goroutine on the old thread would take it too: use
//! [`sync::Mutex`]), or rely on the thread's identity. [`go`] lists each hazard with its
//! remedy, and why `go` stays a safe function.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Channels (Go's `chan`): `bounded(0)` is unbuffered; both ends are `Clone` (MPMC).
///
/// See the `gort_chan` crate's documentation for their lifetime (dropping the last `Sender`
/// closes the channel; dropping the last `Receiver` makes sends fail) and for how they
/// differ from crossbeam-channel's.
pub mod chan {
    pub use gort_chan::time::{after, at, tick};
    pub use gort_chan::{
        bounded, never, unbounded, CloseError, IntoIter, Iter, ReadyTimeoutError, Receiver,
        RecvError, RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation, SendError,
        SendTimeoutError, Sender, TryIter, TryReadyError, TryRecvError, TrySelectError,
        TrySendError,
    };
}

mod block_on;
pub use block_on::block_on;

pub use gort_chan::context;
pub use gort_chan::{select, select_biased, signal, time, JoinHandleExt};

/// Goroutine-aware synchronisation (Go's `sync`, `x/sync/semaphore` and `x/sync/errgroup`):
/// [`sync::Mutex`], [`sync::RwLock`], [`sync::WaitGroup`], [`sync::Once`],
/// [`sync::OnceLock`], [`sync::Cond`], [`sync::Semaphore`], [`sync::Barrier`] and
/// [`sync::Group`]. A goroutine that waits parks; a plain thread blocks. Drop-shaped
/// `defer`: [`sync::WaitGroup::add_guard`], [`sync::Semaphore::acquire_permit`].
pub mod sync {
    pub use gort_chan::sync::{Group, OwnedPermit, Permit, Semaphore};
    pub use gort_runtime::sync::*;
}

/// Networking (Go's `net`): TCP, UDP and Unix sockets on the netpoller, with deadlines.
/// Under a context: [`net::ContextIo`] (`with_ctx`, `read_ctx`,
/// `write_all_ctx`), [`net::accept_ctx`] and
/// [`net::connect_ctx`].
pub mod net {
    pub use gort_chan::net::*;
}

pub use gort_runtime::{
    debug, go, goroutine_id, last_os_error, local, lock_os_thread, num_goroutine, park, procs, run,
    scope, set_max_threads, set_procs, stack, stats, syscall, timer, unlock_os_thread, yield_now,
    Builder, JoinHandle, LocalKey, ProcStats, Scope, ScopedJoinHandle, Stats, MAX_PROCS,
};

/// The README's code blocks, compiled and run as doctests so the README stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
