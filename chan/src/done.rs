//! [`JoinHandleExt::done`]: a goroutine's end as a channel, for `select!`.
//!
//! The runtime's `JoinHandle` cannot name a channel (channels live in this crate), so the
//! channel side is an extension trait: the handle's exit callback drops the only sender,
//! which closes the channel, and every receiver (clones included) sees it, as with
//! `Context::done`.

use crate::channel::{bounded, Receiver};
use gort_runtime::JoinHandle;

/// Waiting for a goroutine in `select!`: `use gort::JoinHandleExt;`.
pub trait JoinHandleExt {
    /// A channel that is closed when the goroutine ends (its `recv` then fails with
    /// `RecvError`, and `select!`'s `recv(h.done()) -> _` fires). Each call makes a new
    /// channel; afterwards [`join`](JoinHandle::join) returns without blocking.
    ///
    /// ```
    /// use gort_chan::{select, JoinHandleExt};
    /// use std::time::Duration;
    ///
    /// let h = gort_runtime::go(|| 6 * 7);
    /// select! {
    ///     recv(h.done()) -> _ => assert_eq!(h.join().unwrap(), 42),
    ///     recv(gort_chan::time::after(Duration::from_secs(60))) -> _ => panic!("too slow"),
    /// }
    /// ```
    fn done(&self) -> Receiver<()>;
}

impl<T> JoinHandleExt for JoinHandle<T> {
    fn done(&self) -> Receiver<()> {
        let (tx, rx) = bounded::<()>(0);
        self.on_finish(Box::new(move || drop(tx)));
        rx
    }
}
