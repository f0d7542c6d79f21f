//! Poll descriptors: the per-socket state the poller and the I/O calls share (Go's
//! `pollDesc`).
//!
//! Each direction (read, write) has its own slot: a `ready` flag (an edge arrived while
//! nobody waited), the park tokens of the calls waiting for the next edge, and the
//! direction's deadline and per-call timeout. An I/O call first tries the system call; on
//! `EAGAIN` it calls [`PollDesc::wait`], which consumes a pending edge or parks until the
//! poller, a deadline change, or the deadline itself ends the episode, and then retries.
//!
//! **Drained reads (tokio does the same; Go does not).** A stream read that returns fewer
//! bytes than asked for emptied the socket's receive queue. The descriptor then remembers the
//! read edge count it saw before that read; the next read, if no edge arrived since, skips
//! the system call that would only return `EAGAIN` and waits for the edge at once. Any data
//! that arrives after the short read raises a new edge (the registration is edge-triggered,
//! and the kernel signals every arrival), so nothing is missed; an edge that races with the
//! read only costs one extra system call. End of stream, a peer's shutdown and socket errors
//! (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`) raise no further edges, so once one is seen the
//! shortcut is off for good. Echo servers save one of their three system calls per message.
//!
//! Descriptors are leaked and pooled, never freed: an event already fetched by one thread
//! may name a descriptor whose socket another thread just closed, and must still point at
//! valid memory. Such a stale event wakes at most one spurious retry. A generation number,
//! bumped on reuse, keeps stale [`DeadlineHandle`]s from touching the next socket.

use crate::park::{self, Token};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::time::{Duration, Instant};

/// A direction of I/O on a [`Registration`](super::Registration): each has its own
/// readiness, waiters, deadline and per-call timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Reading (and accepting).
    Read,
    /// Writing (and connecting).
    Write,
}

#[derive(Default)]
struct Slot {
    /// An edge arrived while nobody waited.
    ready: bool,
    /// Park tokens of the calls waiting for the next edge.
    waiters: Vec<Token>,
    /// Go-style absolute deadline.
    deadline: Option<Instant>,
    /// std-style per-call timeout.
    timeout: Option<Duration>,
}

impl Slot {
    /// Wakes every waiter; returns how many this woke.
    fn wake_all(&mut self) -> usize {
        self.waiters.drain(..).filter(|t| t.wake()).count()
    }

    fn effective_deadline(&self, call_start: &mut Option<Instant>) -> Option<Instant> {
        let by_timeout = self.timeout.map(|t| {
            let start = *call_start.get_or_insert_with(Instant::now);
            start
                .checked_add(t)
                .unwrap_or(start + Duration::from_secs(1 << 40))
        });
        match (self.deadline, by_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The poller's state for one socket.
pub(crate) struct PollDesc {
    gen: AtomicU64,
    /// The socket is being dropped (or taken apart by `into_inner`).
    closing: AtomicBool,
    /// The program closed the socket with `close` (Go's `Close`): every call fails with
    /// [`ErrClosed`] until the socket is dropped. Set under both slot locks.
    user_closed: AtomicBool,
    /// The socket's descriptor, for [`DeadlineHandle::close`].
    fd: AtomicI32,
    rd: Mutex<Slot>,
    wr: Mutex<Slot>,
    /// The slots' deadlines as ns since the timer epoch + 1 (0: none), for a lock-free
    /// check at the start of each call.
    rd_dl: AtomicU64,
    wr_dl: AtomicU64,
    /// Read edges seen so far (see "Drained reads" above).
    rd_edges: AtomicU64,
    /// The `rd_edges` value before the last short stream read (`NOT_DRAINED`: none).
    rd_drained_at: AtomicU64,
    /// End of stream, shutdown or an error was signalled: no more edges will come. Also set
    /// while the descriptor waits in the pool; `alloc` clears it for the next socket.
    rd_final: AtomicBool,
}

/// `rd_drained_at` when no short read is on record.
const NOT_DRAINED: u64 = u64::MAX;

/// A waiter found ready by a blocking poll, to be woken by the caller.
pub(crate) struct Ready {
    token: Token,
    pd: &'static PollDesc,
    dir: Dir,
}

impl Ready {
    /// Wakes the waiter; if its episode had ended, passes the edge on (see
    /// [`PollDesc::take_waiters`]).
    pub(crate) fn wake(self) {
        if !self.token.wake() {
            self.pd.notify(self.dir);
        }
    }
}

/// Descriptors of closed sockets, reused by new ones.
static POOL: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

/// The error of an I/O call whose deadline passed.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}

/// The error of every call on a socket that was closed (Go's `net.ErrClosed`): after
/// `close`, or on a blocked call whose socket was dropped. Its kind is
/// `io::ErrorKind::NotConnected`; recognise it with [`is_closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrClosed;

impl std::fmt::Display for ErrClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("use of closed network connection")
    }
}

impl std::error::Error for ErrClosed {}

/// Whether `err` says the socket was closed ([`ErrClosed`], Go's
/// `errors.Is(err, net.ErrClosed)`): what an accept or read loop checks to end quietly
/// after another goroutine called `close`.
pub fn is_closed(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<ErrClosed>())
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, ErrClosed)
}

impl PollDesc {
    /// A fresh descriptor (from the pool if one is free).
    pub(crate) fn alloc() -> &'static PollDesc {
        if let Some(pd) = POOL.lock().pop() {
            pd.closing.store(false, SeqCst);
            pd.user_closed.store(false, SeqCst);
            // `release` marked the old socket's reads final (no shortcut while the descriptor
            // is between sockets); the new socket's end has not been seen.
            pd.rd_final.store(false, SeqCst);
            return pd;
        }
        Box::leak(Box::new(PollDesc {
            gen: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            user_closed: AtomicBool::new(false),
            fd: AtomicI32::new(-1),
            rd: Mutex::new(Slot::default()),
            wr: Mutex::new(Slot::default()),
            rd_dl: AtomicU64::new(0),
            wr_dl: AtomicU64::new(0),
            rd_edges: AtomicU64::new(0),
            rd_drained_at: AtomicU64::new(NOT_DRAINED),
            rd_final: AtomicBool::new(false),
        }))
    }

    /// Returns the descriptor to the pool (its socket is deregistered and closed).
    pub(crate) fn release(&'static self) {
        {
            let mut rd = self.rd.lock();
            let mut wr = self.wr.lock();
            self.gen.fetch_add(1, SeqCst);
            for s in [&mut *rd, &mut *wr] {
                s.wake_all();
                s.ready = false;
                s.deadline = None;
                s.timeout = None;
            }
            self.rd_dl.store(0, SeqCst);
            self.wr_dl.store(0, SeqCst);
            self.rd_drained_at.store(NOT_DRAINED, SeqCst);
            self.rd_final.store(true, SeqCst);
        }
        POOL.lock().push(self);
    }

    fn slot(&self, dir: Dir) -> &Mutex<Slot> {
        match dir {
            Dir::Read => &self.rd,
            Dir::Write => &self.wr,
        }
    }

    /// The poller saw an edge for `dir`: wake its waiters, or remember it. Returns how many
    /// waiters it woke.
    pub(crate) fn notify(&self, dir: Dir) -> usize {
        self.count_edge(dir);
        let mut s = self.slot(dir).lock();
        let woken = s.wake_all();
        if woken == 0 {
            s.ready = true;
        }
        woken
    }

    /// Like [`notify`](Self::notify), but moves the waiters' tokens into `out` instead of
    /// waking them, so the caller can first take a P (see `sched::idle::stopm`). Each token
    /// that then fails to wake (its episode ended meanwhile) must be followed by another
    /// `notify`, so the edge is not lost for a waiter that arrived in between.
    pub(crate) fn take_waiters(&'static self, dir: Dir, out: &mut Vec<Ready>) {
        self.count_edge(dir);
        let mut s = self.slot(dir).lock();
        if s.waiters.is_empty() {
            s.ready = true;
            return;
        }
        out.extend(s.waiters.drain(..).map(|token| Ready {
            token,
            pd: self,
            dir,
        }));
    }

    fn count_edge(&self, dir: Dir) {
        if dir == Dir::Read {
            self.rd_edges.fetch_add(1, SeqCst);
        }
    }

    /// The poller saw end of stream, a shutdown or an error: reads must always try the
    /// system call from now on.
    pub(crate) fn read_final(&self) {
        self.rd_final.store(true, SeqCst);
    }

    /// The read edge count, to pass to [`read_was_short`](Self::read_was_short) after a read.
    pub(crate) fn read_edges(&self) -> u64 {
        self.rd_edges.load(SeqCst)
    }

    /// A stream read that started when the edge count was `edges` returned less than asked.
    pub(crate) fn read_was_short(&self, edges: u64) {
        self.rd_drained_at.store(edges, Relaxed);
    }

    /// Whether a read now would only find the receive queue empty: the last stream read
    /// came back short and no read edge (nor end of stream) arrived since.
    pub(crate) fn read_drained(&self) -> bool {
        self.rd_drained_at.load(Relaxed) == self.rd_edges.load(SeqCst)
            && !self.rd_final.load(SeqCst)
    }

    /// Records the socket's descriptor (for [`DeadlineHandle::close`]).
    pub(crate) fn set_fd(&self, fd: i32) {
        self.fd.store(fd, SeqCst);
    }

    /// The program closes the socket (Go's `Close`): shuts the connection down (the peer
    /// sees end of stream; a listener stops listening), makes every call fail with
    /// [`ErrClosed`] from now on, and wakes the blocked ones. The descriptor stays open
    /// until the socket is dropped, so no call can reach another file that reused its
    /// number. `gen`: the generation the caller saw (a [`DeadlineHandle`]'s), or `None`
    /// for the socket's owner.
    pub(crate) fn close_by_user(&self, gen: Option<u64>) {
        let mut rd = self.rd.lock();
        let mut wr = self.wr.lock();
        // Under both locks: `release` bumps the generation under them, and a dropping
        // socket sets `closing` before it takes them to wake its waiters, which it does
        // before it closes the descriptor. So here the descriptor is still this socket's.
        if gen.is_some_and(|g| g != self.gen.load(SeqCst)) || self.closing.load(SeqCst) {
            return;
        }
        if self.user_closed.swap(true, SeqCst) {
            return;
        }
        let fd = self.fd.load(SeqCst);
        // SAFETY: `fd` is this socket's open descriptor (see above); shutdown only changes
        // the connection's state. Its error (ENOTCONN on an unconnected socket) is moot.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        rd.wake_all();
        wr.wake_all();
    }

    /// Fails with [`ErrClosed`] if the program closed the socket.
    pub(crate) fn check_closed(&self) -> io::Result<()> {
        if self.user_closed.load(SeqCst) {
            return Err(closed());
        }
        Ok(())
    }

    /// The socket is being closed: fail its blocked calls.
    pub(crate) fn close(&self) {
        self.closing.store(true, SeqCst);
        for dir in [Dir::Read, Dir::Write] {
            self.slot(dir).lock().wake_all();
        }
    }

    /// Called after `EAGAIN`: returns once the call should retry (an edge arrived, or the
    /// deadline changed), or fails with `TimedOut` once the deadline passed, or when the
    /// socket is closed. `call_start` is when the call began (for the per-call timeout);
    /// pass the same cell to every wait of one call.
    #[track_caller]
    pub(crate) fn wait(&self, dir: Dir, call_start: &mut Option<Instant>) -> io::Result<()> {
        let slot = self.slot(dir);
        let token = park::prepare_for(park::WaitReason::IoWait);
        let deadline = {
            let mut s = slot.lock();
            if self.closing.load(SeqCst) || self.user_closed.load(SeqCst) {
                drop(s);
                park::cancel();
                return Err(closed());
            }
            if s.ready {
                s.ready = false;
                drop(s);
                park::cancel();
                return Ok(());
            }
            let deadline = s.effective_deadline(call_start);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                drop(s);
                park::cancel();
                return Err(timed_out());
            }
            s.waiters.push(token.clone());
            deadline
        };
        let woken = {
            let _counted = super::WaiterGuard::new();
            park::park_until(deadline)
        };
        let mut s = slot.lock();
        if !woken {
            s.waiters.retain(|t| !t.same_waiter(&token));
        }
        if self.closing.load(SeqCst) || self.user_closed.load(SeqCst) {
            return Err(closed());
        }
        if !woken {
            // Timed out, unless the deadline was moved meanwhile (then retry).
            let deadline = s.effective_deadline(call_start);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out());
            }
        }
        Ok(())
    }

    /// Sets the absolute deadline of `dir`; blocked calls re-evaluate it at once.
    pub(crate) fn set_deadline(&self, dir: Dir, deadline: Option<Instant>) {
        let mut s = self.slot(dir).lock();
        self.store_deadline(dir, &mut s, deadline);
    }

    /// Sets the deadline (caller holds the slot's lock) and wakes the blocked calls.
    fn store_deadline(&self, dir: Dir, s: &mut Slot, deadline: Option<Instant>) {
        s.deadline = deadline;
        let mirror = match dir {
            Dir::Read => &self.rd_dl,
            Dir::Write => &self.wr_dl,
        };
        mirror.store(deadline.map_or(0, |d| crate::timer::nanos(d) + 1), SeqCst);
        s.wake_all();
    }

    /// Fails with [`ErrClosed`] if the program closed the socket, or with `TimedOut` if the
    /// deadline of `dir` has passed (Go checks both before every call, even if the call
    /// could complete).
    pub(crate) fn check_deadline(&self, dir: Dir) -> io::Result<()> {
        self.check_closed()?;
        let mirror = match dir {
            Dir::Read => &self.rd_dl,
            Dir::Write => &self.wr_dl,
        };
        let dl = mirror.load(SeqCst);
        if dl != 0 && crate::timer::nanos(Instant::now()) + 1 >= dl {
            return Err(timed_out());
        }
        Ok(())
    }

    /// The absolute deadline of `dir`.
    pub(crate) fn deadline(&self, dir: Dir) -> Option<Instant> {
        self.slot(dir).lock().deadline
    }

    /// Sets the per-call timeout of `dir` (std's `set_read_timeout`).
    pub(crate) fn set_timeout(&self, dir: Dir, timeout: Option<Duration>) {
        self.slot(dir).lock().timeout = timeout;
    }

    /// The per-call timeout of `dir`.
    pub(crate) fn timeout(&self, dir: Dir) -> Option<Duration> {
        self.slot(dir).lock().timeout
    }

    /// A handle that can move this socket's deadlines from anywhere.
    pub(crate) fn handle(&'static self) -> DeadlineHandle {
        DeadlineHandle {
            pd: self,
            gen: self.gen.load(SeqCst),
        }
    }
}

/// Moves the deadlines of one socket from anywhere (another goroutine, a timer callback, a
/// context's `after_func`): what context cancellation of network I/O is built on. Setting a
/// deadline in the past wakes the socket's blocked calls with `io::ErrorKind::TimedOut`.
///
/// The handle outliving its socket is harmless: it then does nothing.
#[derive(Clone, Copy)]
pub struct DeadlineHandle {
    pd: &'static PollDesc,
    gen: u64,
}

impl std::fmt::Debug for DeadlineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineHandle")
            .field("gen", &self.gen)
            .finish()
    }
}

impl DeadlineHandle {
    fn with_slot<R>(&self, dir: Dir, f: impl FnOnce(&PollDesc, &mut Slot) -> R) -> Option<R> {
        let mut s = self.pd.slot(dir).lock();
        // `release` bumps the generation while holding both slot locks.
        (self.pd.gen.load(SeqCst) == self.gen).then(|| f(self.pd, &mut s))
    }

    /// Sets the read deadline (`None` clears it).
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.with_slot(Dir::Read, |pd, s| pd.store_deadline(Dir::Read, s, deadline));
    }

    /// Sets the write deadline (`None` clears it).
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.with_slot(Dir::Write, |pd, s| {
            pd.store_deadline(Dir::Write, s, deadline)
        });
    }

    /// Sets both deadlines.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// The read deadline, or `None` if none is set (or the socket is gone).
    pub fn read_deadline(&self) -> Option<Instant> {
        self.with_slot(Dir::Read, |_, s| s.deadline).flatten()
    }

    /// The write deadline, or `None` if none is set (or the socket is gone).
    pub fn write_deadline(&self) -> Option<Instant> {
        self.with_slot(Dir::Write, |_, s| s.deadline).flatten()
    }

    /// Wakes every blocked call of the socket with `TimedOut` (sets both deadlines to now).
    pub fn interrupt(&self) {
        self.set_deadline(Some(Instant::now()));
    }

    /// Closes the socket as its `close` method does (Go's `Close` from another goroutine):
    /// blocked and later calls fail with [`ErrClosed`]. Does nothing if the socket is gone,
    /// even if a new socket got its descriptor number.
    pub fn close(&self) {
        self.pd.close_by_user(Some(self.gen));
    }
}
