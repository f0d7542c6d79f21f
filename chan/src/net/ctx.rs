//! Network I/O under a context (Go's `DialContext`, and what `net/http` does with a
//! request's context): a call fails once the context is done.
//!
//! The mechanism is the socket's deadline: [`ctx_guard`] sets it to the context's deadline
//! and registers an `after_func` that moves it to the past when the context is cancelled,
//! which wakes a blocked call at once. No goroutine waits on the context meanwhile.
//!
//! ```no_run
//! // In the `gort` facade: gort::net::{ContextIo, TcpListener}, gort::context, gort::go.
//! use gort_chan::net::{ContextIo, TcpListener};
//! # fn main() -> std::io::Result<()> {
//! let (ctx, cancel) = gort_chan::context::background().with_cancel();
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! gort_runtime::go(move || cancel.cancel());
//! // Fails with the context's error once `cancel` runs.
//! let r = listener.with_ctx(&ctx, |l| l.accept());
//! assert!(r.is_err());
//! # Ok(()) }
//! ```
//!
//! The same works with `select!` for code that waits on channels and sockets alike: run
//! the socket call on its own goroutine and select on its result channel and `ctx.done()`.

use super::{DeadlineHandle, TcpListener, TcpStream, UdpSocket};
use super::{UnixDatagram, UnixListener, UnixStream};
use crate::context::{Context, Error};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Ties a socket's deadlines to a context while it lives; see [`ctx_guard`].
pub struct CtxGuard {
    handle: DeadlineHandle,
    prev: (Option<Instant>, Option<Instant>),
    /// Whether the guard is still in force (the `after_func` checks it under the lock).
    active: Arc<Mutex<bool>>,
    stop: crate::context::AfterFuncStop,
}

impl std::fmt::Debug for CtxGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtxGuard").finish_non_exhaustive()
    }
}

/// Makes the socket behind `handle` honour `ctx` until the guard drops: its deadlines
/// become the earlier of their own and the context's, and cancelling the context moves
/// them to the past (waking blocked calls with `TimedOut`). Dropping the guard restores the
/// deadlines the socket had before.
pub fn ctx_guard(ctx: &Context, handle: DeadlineHandle) -> CtxGuard {
    let prev = (handle.read_deadline(), handle.write_deadline());
    if let Some(d) = ctx.deadline() {
        let min = |a: Option<Instant>| Some(a.map_or(d, |a| a.min(d)));
        handle.set_read_deadline(min(prev.0));
        handle.set_write_deadline(min(prev.1));
    }
    let active = Arc::new(Mutex::new(true));
    let flag = active.clone();
    let stop = ctx.after_func(move || {
        let on = flag.lock().unwrap_or_else(|e| e.into_inner());
        if *on {
            handle.interrupt();
        }
    });
    CtxGuard {
        handle,
        prev,
        active,
        stop,
    }
}

impl Drop for CtxGuard {
    fn drop(&mut self) {
        self.stop.stop();
        let mut on = self.active.lock().unwrap_or_else(|e| e.into_inner());
        *on = false;
        self.handle.set_read_deadline(self.prev.0);
        self.handle.set_write_deadline(self.prev.1);
    }
}

/// The `io::Error` for a done context: `TimedOut` for a passed deadline, `Other` with the
/// message "context canceled" for a cancellation.
pub fn ctx_error(e: Error) -> io::Error {
    let kind = if e.is_timeout() {
        io::ErrorKind::TimedOut
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e)
}

/// Context variants of a socket's calls; implemented for every `gort::net` type.
pub trait ContextIo {
    /// The socket's deadline handle.
    fn handle(&self) -> DeadlineHandle;

    /// Runs `f` (any call on this socket) so that it fails once `ctx` is done, with
    /// [`ctx_error`] of the context's error.
    fn with_ctx<R>(&self, ctx: &Context, f: impl FnOnce(&Self) -> io::Result<R>) -> io::Result<R> {
        if let Some(e) = ctx.err() {
            return Err(ctx_error(e));
        }
        let guard = ctx_guard(ctx, self.handle());
        let r = f(self);
        drop(guard);
        match r {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => match ctx.err() {
                Some(ce) => Err(ctx_error(ce)),
                None => Err(e),
            },
            r => r,
        }
    }

    /// `read` that fails once `ctx` is done.
    fn read_ctx(&self, ctx: &Context, buf: &mut [u8]) -> io::Result<usize>
    where
        for<'a> &'a Self: io::Read,
    {
        self.with_ctx(ctx, |mut s| io::Read::read(&mut s, buf))
    }

    /// `write_all` that fails once `ctx` is done.
    fn write_all_ctx(&self, ctx: &Context, buf: &[u8]) -> io::Result<()>
    where
        for<'a> &'a Self: io::Write,
    {
        self.with_ctx(ctx, |mut s| io::Write::write_all(&mut s, buf))
    }
}

macro_rules! impl_context_io {
    ($($ty:ty),*) => {$(
        impl ContextIo for $ty {
            fn handle(&self) -> DeadlineHandle {
                self.deadline_handle()
            }
        }
    )*};
}

impl_context_io!(
    TcpListener,
    TcpStream,
    UdpSocket,
    UnixListener,
    UnixStream,
    UnixDatagram
);

/// `accept` that fails once `ctx` is done.
pub fn accept_ctx(ctx: &Context, l: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    l.with_ctx(ctx, |l| l.accept())
}

/// Connects (Go's `DialContext`): tries each address until one connects, failing once `ctx`
/// is done (its deadline bounds the handshake, its cancellation aborts it).
pub fn connect_ctx<A: ToSocketAddrs>(ctx: &Context, addr: A) -> io::Result<TcpStream> {
    if let Some(e) = ctx.err() {
        return Err(ctx_error(e));
    }
    let addrs: Vec<SocketAddr> = gort_runtime::syscall(|| addr.to_socket_addrs())?.collect();
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no addresses to connect to");
    for a in addrs {
        let mut guard = None;
        // The guard brings the context's deadline and restores "none" when it drops.
        let r = TcpStream::connect_with(&a, None, |h| guard = Some(ctx_guard(ctx, h)));
        drop(guard);
        match r {
            Ok(s) => return Ok(s),
            Err(e) => {
                if let Some(ce) = ctx.err() {
                    return Err(ctx_error(ce));
                }
                last = e;
            }
        }
    }
    Err(last)
}
