//! gort's channels and `select!`, after Go's `runtime/chan.go` and `runtime/select.go`,
//! with crossbeam-channel's Rust API; `time` (sleep, after, tick, `Timer`, `after_func`);
//! `context`; `signal` (Go's `os/signal`); `sync::Group` (errgroup); and
//! [`JoinHandleExt::done`], a goroutine's end as a channel.
//!
//! Every blocking operation works on a goroutine (which parks, letting its thread run other
//! goroutines) and on a plain thread (which blocks), and any mix of the two can share a
//! channel.

#![warn(missing_docs)]

mod channel;
pub mod context;
mod done;
mod errgroup;
mod error;
mod macros;
pub mod net_ctx;
mod select;
mod shim;
pub mod signal;
pub mod time;

/// Synchronisation built on channels and contexts: [`Group`](sync::Group) (Go's
/// `errgroup`). The facade merges this into `gort::sync`.
pub mod sync {
    pub use crate::errgroup::Group;
}
mod waiter;

pub use channel::{bounded, never, unbounded, IntoIter, Iter, Receiver, Sender, TryIter};
pub use done::JoinHandleExt;
pub use error::{
    CloseError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError, SendTimeoutError,
    TryRecvError, TrySelectError, TrySendError,
};
pub use select::{Select, SelectedOperation};

/// What `select!` expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{select, Case, Mode, RecvCase, SendCase};
    pub use crate::shim::RawLock;
}
