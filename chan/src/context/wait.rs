//! Waiting for something *or* a context: [`sleep_ctx`] and [`Receiver::recv_ctx`]. Each is
//! the `select!` idiom Go code writes by hand (write it out for sends, or to wait on
//! several channels):
//!
//! ```
//! # use gort_chan::{bounded, context, select};
//! # let ctx = context::background();
//! # let (tx, rx) = bounded::<i32>(1);
//! # tx.send(1).unwrap();
//! select! {
//!     recv(rx) -> v => println!("got {v:?}"),
//!     recv(ctx.done()) -> _ => println!("gave up: {:?}", ctx.err()),
//! }
//! ```
//!
//! except that a context that is already done wins over a ready channel (Go's `select`
//! would pick at random), so a loop that checks its context stops promptly.

use super::error::Error;
use super::Context;
use crate::channel::Receiver;
use std::fmt;
use std::time::Duration;

/// Sleeps for `d`, or until `ctx` is done, whichever comes first (Go's
/// `select { case <-ctx.Done(): ...; case <-time.After(d): }`). `Err` with the context's
/// error if it ended the sleep (or was done already).
#[track_caller]
pub fn sleep_ctx(ctx: &Context, d: Duration) -> Result<(), Error> {
    if let Some(e) = ctx.err() {
        return Err(e);
    }
    if ctx.never_done() {
        crate::time::sleep(d);
        return Ok(());
    }
    let done = ctx.done();
    crate::select! {
        recv(done) -> _ => Err(ctx_err(ctx)),
        default(d) => Ok(()),
    }
}

/// The error of a context whose `done()` fired.
fn ctx_err(ctx: &Context) -> Error {
    ctx.err().unwrap_or(Error::Canceled) // only a broken custom context says nothing
}

/// Why [`Receiver::recv_ctx`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvCtxError {
    /// The channel is closed and drained.
    Disconnected,
    /// The context is done, with this error.
    Done(Error),
}

impl fmt::Display for RecvCtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvCtxError::Disconnected => f.write_str("receiving on a closed channel"),
            RecvCtxError::Done(e) => write!(f, "receive abandoned: {e}"),
        }
    }
}

impl std::error::Error for RecvCtxError {}

impl Context {
    /// Blocks until this context is done and returns why: Go's `<-ctx.Done()` followed by
    /// `ctx.Err()`. A context that can never be done (`background()`) blocks forever, as in
    /// Go.
    ///
    /// `done()` is a channel that is *closed*, never sent on, so a receive from it returns
    /// `Err(RecvError)` once the context is done: that `Err` is the signal, not a failure
    /// (Go's `<-ctx.Done()` yields the zero value there). Write `let _ = ctx.done().recv();`
    /// or this method, not `ctx.done().recv().unwrap()`.
    #[track_caller]
    pub fn wait(&self) -> Error {
        if let Some(e) = self.err() {
            return e;
        }
        // Closed when done: Err is the wake-up.
        let _ = self
            .done()
            .chan
            .recv_until(None, gort_runtime::park::WaitReason::ContextDone);
        // A gort context sets its error before closing the channel; a custom one must too
        // (see `CustomContext::err`): `Canceled` covers one that does not.
        self.err().unwrap_or(Error::Canceled)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, or gives up once `ctx` is done. A context that is already done
    /// wins over a ready value.
    pub fn recv_ctx(&self, ctx: &Context) -> Result<T, RecvCtxError> {
        if let Some(e) = ctx.err() {
            return Err(RecvCtxError::Done(e));
        }
        if ctx.never_done() {
            return self.recv().map_err(|_| RecvCtxError::Disconnected);
        }
        let done = ctx.done();
        crate::select! {
            recv(self) -> v => v.map_err(|_| RecvCtxError::Disconnected),
            recv(done) -> _ => Err(RecvCtxError::Done(ctx_err(ctx))),
        }
    }
}
