//! gort's channels and `select!`, after Go's `runtime/chan.go` and `runtime/select.go`,
//! with crossbeam-channel's Rust API; and `time` (sleep, after, tick).
//!
//! Every blocking operation works on a goroutine (which parks, letting its thread run other
//! goroutines) and on a plain thread (which blocks), and any mix of the two can share a
//! channel.

#![warn(missing_docs)]

mod channel;
pub mod context;
mod error;
mod macros;
pub mod net_ctx;
mod select;
mod shim;
pub mod time;
mod waiter;

pub use channel::{bounded, never, unbounded, IntoIter, Iter, Receiver, Sender, TryIter};
pub use error::{
    CloseError, ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use select::{Select, SelectedOperation};

/// What `select!` expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{select, select_biased, Case, Mode, RecvCase, SendCase};
    pub use crate::shim::RawLock;
}
