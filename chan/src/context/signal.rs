//! `notify_context`: a context cancelled by a signal (Go's `signal.NotifyContext`).
//!
//! A goroutine waits for the signal or for the context to end, and cancels it on the
//! signal. The relay itself (a `signal::notify` receiver) is also held by the returned
//! cancel function until it is called, which then `signal::stop`s it: as in Go, the signal
//! keeps being caught until `stop`, so a second Ctrl-C during a graceful shutdown does not
//! kill the process unless the program has called `stop` to ask for exactly that.

use super::{CancelFunc, Context};
use crate::select;
use crate::signal::{self, Signal};
use parking_lot::Mutex;
use std::sync::Arc;

/// A context derived from `parent` that is cancelled when one of `sigs` arrives, when
/// `parent` is, or when the returned function is called, whichever comes first (Go's
/// `signal.NotifyContext`). Its error is then [`Error::Canceled`](super::Error::Canceled).
///
/// While the context lives the signals are relayed to it and no longer have their usual
/// effect; calling the returned function (Go's `stop`) ends that, so that a second signal
/// ends the process as usual. Works on goroutines and plain threads.
///
/// ```no_run
/// use gort_chan::context;
/// use gort_chan::signal::Signal;
///
/// let (ctx, stop) = context::notify_context(&context::background(), &[Signal::SIGINT]);
/// let _ = ctx.done().recv(); // Ctrl-C
/// stop.cancel(); // from now on, Ctrl-C ends the process again
/// ```
///
/// # Panics
/// As [`signal::notify`].
pub fn notify_context(parent: &Context, sigs: &[Signal]) -> (Context, CancelFunc) {
    let (ctx, cancel) = parent.with_cancel();
    let relay = signal::notify(sigs);
    let held = Arc::new(Mutex::new(Some(relay.clone())));
    let watcher = cancel.clone();
    let done = ctx.done();
    drop(gort_runtime::go(move || {
        select! {
            recv(relay) -> _ => watcher.cancel(),
            recv(done) -> _ => {}
        }
    }));
    let stop = CancelFunc {
        core: cancel.core,
        also: Some(Arc::new(move || {
            if let Some(relay) = held.lock().take() {
                signal::stop(&relay);
            }
        })),
    };
    (ctx, stop)
}
