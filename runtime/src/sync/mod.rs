//! Goroutine-aware synchronisation (Go's `sync`): [`Mutex`], [`RwLock`], [`WaitGroup`],
//! [`Once`], [`OnceLock`], [`Cond`] and [`Barrier`]. (x/sync's weighted semaphore and
//! errgroup take a context, so they live in `gort-chan`.)
//!
//! They look like `std::sync`'s (and Go's `sync`), but a goroutine that has to wait
//! **parks** through the park seam ([`crate::park`]), so its M runs other goroutines
//! meanwhile; on a plain OS thread the same call blocks the thread. Goroutines and threads
//! can share one primitive.
//!
//! Layout: one file per primitive, on two internal pieces, `lock` (a short thread lock
//! for waiter queues) and `runtime_sema` (`RuntimeSema`, Go's internal runtime semaphore
//! `semacquire`, on which the mutex, the reader-writer lock and the wait group sleep; not
//! the user-facing weighted `gort::sync::Semaphore`, which is gort-chan's `weighted.rs`),
//! and the runtime's waiter queue ([`crate::waitq`]: intrusive queues of waiters living on
//! their own stacks). Everything is written against the `cfg(loom)` shim (`crate::shim`), and
//! `loom-tests/tests/sync.rs` model-checks the protocols.
//!
//! Guards are `!Send` but may be held across scheduling points; see [`MutexGuard`].
//!
//! Uses (the module as a whole): `api`, `park`, `sched`, `shim`, `waitq`.

/// Declares a `const fn`, which is a plain `fn` under loom (loom's atomics and cells have
/// no `const` constructors).
macro_rules! loom_const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(loom)]
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}

mod barrier;
mod cond;
mod lock;
mod mutex;
mod once;
mod runtime_sema;
mod rwlock;
mod waitgroup;

pub use barrier::{Barrier, BarrierWaitResult};
pub use cond::Cond;
pub use mutex::{starvation_count, Mutex, MutexGuard};
pub use once::{Once, OnceLock};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use waitgroup::{Done, OwnedDone, WaitGroup};
