//! [`Registration`]: a file descriptor registered with the netpoller, the mechanism that
//! `gort::net`'s sockets (and any other non-blocking descriptor a program wants to wait
//! on) are built on.
//!
//! A registration owns one poll descriptor (see `desc.rs`): the per-direction readiness
//! flags, the park tokens of the calls waiting for the next edge, and the Go-style deadline
//! and std-style per-call timeout of each direction. The I/O loop on top of it is the one
//! of Go's `fd.Read`:
//!
//! ```text
//! reg.check_deadline(dir)?;                 // closed, or deadline already passed
//! loop {
//!     match syscall() {
//!         Err(WouldBlock) => reg.wait(dir, &mut start)?,   // parks (or blocks a thread)
//!         r => return r,
//!     }
//! }
//! ```
//!
//! The descriptor stays the caller's: the registration never closes it. Dropping the
//! registration (or [`Registration::deregister_then`]) fails the blocked calls with
//! [`ErrClosed`](super::ErrClosed), removes the descriptor from the poller and recycles the
//! poll descriptor.

use super::desc::PollDesc;
use super::{DeadlineHandle, Dir};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// A non-blocking file descriptor registered with the netpoller (edge-triggered, both
/// directions), with Go-style deadlines; see the module docs.
pub struct Registration {
    pd: &'static PollDesc,
    fd: RawFd,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Registers `fd`, which must be an open descriptor in non-blocking mode, and stay open
    /// until the registration is dropped (closing it earlier would leave a registration
    /// that a reused descriptor number could reach). A descriptor registered twice fails
    /// with `EEXIST`.
    pub fn new(fd: RawFd) -> io::Result<Registration> {
        let pd = PollDesc::alloc();
        pd.set_fd(fd);
        if let Err(e) = super::register(fd, pd) {
            pd.release();
            return Err(e);
        }
        Ok(Registration { pd, fd })
    }

    /// Called after a system call on the descriptor failed with `EAGAIN`: returns once the
    /// call should be retried (an edge arrived, or a deadline moved), or fails with
    /// `io::ErrorKind::TimedOut` once the deadline (or the per-call timeout) of `dir` passed,
    /// or with [`ErrClosed`](super::ErrClosed) once the registration was closed. A goroutine
    /// parks meanwhile; a plain thread blocks. `call_start` is when the call began (for the
    /// per-call timeout): pass the same cell, starting at `None`, to every wait of one call.
    #[track_caller]
    pub fn wait(&self, dir: Dir, call_start: &mut Option<Instant>) -> io::Result<()> {
        self.pd.wait(dir, call_start)
    }

    /// Fails with [`ErrClosed`](super::ErrClosed) if the descriptor was
    /// [`close`](Self::close)d, or with `TimedOut` if the deadline of `dir` has passed (Go
    /// checks both before every call, even one that could complete).
    pub fn check_deadline(&self, dir: Dir) -> io::Result<()> {
        self.pd.check_deadline(dir)
    }

    /// Fails with [`ErrClosed`](super::ErrClosed) if the descriptor was
    /// [`close`](Self::close)d (what a call that failed for another reason checks: a call
    /// racing with `close` fails like the ones after it).
    pub fn check_closed(&self) -> io::Result<()> {
        self.pd.check_closed()
    }

    /// Go's `Close` from any goroutine or thread: shuts the socket down (`shutdown(2)`,
    /// both directions), wakes the blocked calls, and makes every call fail with
    /// [`ErrClosed`](super::ErrClosed) from now on. The descriptor itself stays open until
    /// the registration is dropped. Closing again does nothing.
    pub fn close(&self) {
        self.pd.close_by_user(None);
    }

    /// The read edge count, to pass to [`read_was_short`](Self::read_was_short) after a
    /// stream read.
    pub fn read_edges(&self) -> u64 {
        self.pd.read_edges()
    }

    /// A stream read that started when the edge count was `edges` returned fewer bytes than
    /// asked for: the receive queue is empty (see [`read_drained`](Self::read_drained)).
    pub fn read_was_short(&self, edges: u64) {
        self.pd.read_was_short(edges)
    }

    /// Whether a stream read now would only find the receive queue empty: the last read came
    /// back short and no read edge (nor end of stream) arrived since. The caller may then
    /// [`wait`](Self::wait) at once, skipping the system call that would fail with `EAGAIN`.
    pub fn read_drained(&self) -> bool {
        self.pd.read_drained()
    }

    /// Sets the absolute deadline of `dir` (`None` clears it); blocked calls re-evaluate it
    /// at once.
    pub fn set_deadline(&self, dir: Dir, deadline: Option<Instant>) {
        self.pd.set_deadline(dir, deadline)
    }

    /// The absolute deadline of `dir`.
    pub fn deadline(&self, dir: Dir) -> Option<Instant> {
        self.pd.deadline(dir)
    }

    /// Sets the per-call timeout of `dir` (std's `set_read_timeout`; `None`: none).
    pub fn set_timeout(&self, dir: Dir, timeout: Option<Duration>) {
        self.pd.set_timeout(dir, timeout)
    }

    /// The per-call timeout of `dir`.
    pub fn timeout(&self, dir: Dir) -> Option<Duration> {
        self.pd.timeout(dir)
    }

    /// A handle that moves the deadlines (or closes the descriptor) from anywhere.
    pub fn deadline_handle(&self) -> DeadlineHandle {
        self.pd.handle()
    }

    /// Ends the registration: fails the blocked calls with
    /// [`ErrClosed`](super::ErrClosed), removes the descriptor from the poller, runs `then`
    /// (where the owner closes the descriptor, if it is done with it), and only then
    /// recycles the poll descriptor. Dropping the registration does the same with nothing
    /// in between.
    pub fn deregister_then<R>(self, then: impl FnOnce() -> R) -> R {
        let me = ManuallyDrop::new(self);
        me.pd.close();
        super::deregister(me.fd);
        let r = then();
        me.pd.release();
        r
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.pd.close();
        super::deregister(self.fd);
        self.pd.release();
    }
}
