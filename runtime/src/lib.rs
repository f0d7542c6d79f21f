//! gort's runtime: goroutines on stackful coroutines, scheduled by a work-stealing G/M/P
//! scheduler after Go's `runtime/proc.go`.
//!
//! Users depend on the `gort` facade crate, which re-exports this one. Module map:
//!
//! - `g`: the goroutine control block; `stack`: goroutine stacks;
//! - `sched`: the scheduler (global state and wake-up protocol), with `sched::p` (processors
//!   and their run queues), `sched::m` (OS threads and the scheduler loop), `sched::idle`
//!   (where an M with nothing to do waits), `sched::spawn` (goroutine creation and exit);
//! - `park`: the one seam through which everything blocks; `timer`: deadlines;
//!   `note`: M sleep/wake-up; `sysmon`: the watchdog thread (syscall hand-off, retake,
//!   deadlock check); `deadlock`: the deadlock check itself;
//!   `shim`: the `cfg(loom)` shim for protocol code (the workspace's one);
//! - `netpoll`: the epoll network poller (its registration API is public: `gort-chan`'s
//!   `net` builds on it);
//! - `signal`: the one signal mechanism (a permanent hook per signal and the signal
//!   thread); `panic_hook`: panic messages that name the goroutine;
//! - the public API: `api` (the free functions on the scheduler: `procs`, `set_procs`,
//!   `num_goroutine`, `goroutine_id`, `yield_now`, `lock_os_thread`, `unlock_os_thread`,
//!   `set_max_threads`, `syscall`), `builder` (`go`, `Builder`), `join` (`JoinHandle`),
//!   `run`, `scope`, `stats`, and the public modules `local`, `park`, `timer`, `stack`,
//!   `sync`, `net`, `signal`, `debug`. The crate root re-exports the free functions and
//!   types, so `gort::yield_now` is `api::yield_now`.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!(
    "gort runs on Linux (x86_64 and aarch64) only: its scheduler, stacks and netpoller use \
     epoll, futex, /proc and Linux's madvise and membarrier (see the README's Platforms)"
);

mod api;
mod builder;
mod coroutine;
mod deadlock;
pub mod debug;
mod fork;
mod g;
mod join;
pub mod local;
mod membarrier;
pub mod netpoll;
mod note;
mod os_error;
pub mod pad;
mod panic_hook;
pub mod park;
mod rlimit;
mod run;
mod sched;
mod scope;
pub mod shim;
pub mod signal;
pub mod stack;
mod stats;
pub mod sync;
mod sysmon;
mod thread_probe;
pub mod timer;
pub mod waitq;

pub use api::{
    goroutine_id, lock_os_thread, num_goroutine, procs, set_max_threads, set_procs, syscall,
    unlock_os_thread, yield_now, MAX_PROCS,
};
pub use builder::{go, Builder};
pub use join::JoinHandle;
pub use local::LocalKey;
pub use os_error::last_os_error;
pub use run::run;
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use stats::{stats, ProcStats, Stats};

/// The P's run queue and `runnext` slot, public in loom builds only, for the models in
/// `loom-tests/tests/runq.rs`. Not part of the API.
#[cfg(loom)]
#[doc(hidden)]
pub use sched::runq;

/// The count and wait of a scope's goroutines, public in loom builds only, for the models in
/// `loom-tests/tests/scope.rs`. Not part of the API.
#[cfg(loom)]
#[doc(hidden)]
pub use scope::running as scope_running;
