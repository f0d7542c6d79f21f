//! The network poller: one edge-triggered epoll instance per runtime (Go's
//! `runtime/netpoll_epoll.go` and `netpoll.go`).
//!
//! The public API is the mechanism a network package builds on (`gort::net` does): a
//! [`Registration`] of a non-blocking descriptor, waiting for readiness of a [`Dir`]ection
//! with a deadline, [`DeadlineHandle`]s that move deadlines from anywhere, and
//! [`ErrClosed`]. The rest (who polls, when) is the scheduler's business, below.
//!
//! Every registered descriptor is registered once, for `EPOLLIN | EPOLLOUT | EPOLLRDHUP |
//! EPOLLET`, with a pointer to its `PollDesc` as the event's data. A descriptor has two
//! independent waiter slots (read and write) holding park [`Token`](crate::park::Token)s: an
//! I/O call that gets `EAGAIN` parks through the park seam until readiness (or its deadline)
//! ends the episode, so the same code blocks a plain thread and parks a goroutine.
//!
//! Who calls `epoll_wait`, as in Go:
//!
//! - `find_runnable` polls without blocking (`poll_now`) when there are waiters and it
//!   found nothing in the run queues; the goroutines it wakes land on its own P;
//! - the idle M that sleeps until the next timer (the *timer sleeper* of `sched::idle::stopm`)
//!   blocks in `epoll_wait` instead of on its note whenever there are waiters, with the next
//!   timer as timeout. Whatever pokes that M (a P handed to it, an earlier timer) also
//!   writes the poller's eventfd (`break_wait`), which breaks the wait. When a poll's
//!   goroutines find no idle P (they go to the global queue for the busy Ms), that M does
//!   not poll again at once, as in Go: the busy Ms poll as they run out of work, and the
//!   next M to go idle becomes the poller (unless plain threads wait, whose readiness
//!   nobody else would see);
//! - sysmon polls if nobody has for 10 ms (busy Ms never reach the idle path).
//!
//! Readiness wakes the token: a goroutine becomes runnable through `sched::ready` (onto the
//! polling M's P, or the global queue when it holds none), a thread's futex is signalled.
//! `waiters` counts park episodes on the poller; sysmon's deadlock check treats them as
//! wakeable.
//!
//! Uses (the module as a whole): `os_error`, `park`, `rlimit`, `sched`, `timer`.

mod desc;
mod registration;

pub use desc::{is_closed, DeadlineHandle, Dir, ErrClosed};
pub(crate) use desc::{PollDesc, Ready};
pub use registration::Registration;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Event data that marks the eventfd (descriptors are pointers, never 1).
const WAKE_DATA: u64 = 1;
/// Events fetched by one `epoll_wait`.
const BATCH: usize = 128;

struct Poller {
    epfd: libc::c_int,
    /// Written by [`break_wait`] to end a blocking `epoll_wait`; level-triggered.
    eventfd: libc::c_int,
}

static POLLER: OnceLock<Poller> = OnceLock::new();
/// Park episodes waiting on the poller now.
static WAITERS: AtomicUsize = AtomicUsize::new(0);
/// Those of them that are plain threads (no M of theirs will poll on its way to idle).
static THREAD_WAITERS: AtomicUsize = AtomicUsize::new(0);
/// When the poller was last polled (ns since the timer epoch).
static LAST_POLL: AtomicU64 = AtomicU64::new(0);
/// A `break_wait` is pending (the eventfd holds a count nobody has read yet).
static WAKE_PENDING: AtomicBool = AtomicBool::new(false);

fn poller() -> &'static Poller {
    POLLER.get_or_init(|| {
        crate::rlimit::raise_nofile();
        // SAFETY: plain system calls with valid flags; results are checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            fatal("epoll_create1", crate::last_os_error());
        }
        // SAFETY: as above.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if eventfd < 0 {
            fatal("eventfd", crate::last_os_error());
        }
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_DATA,
        };
        // SAFETY: both descriptors are valid; `ev` is a valid epoll_event.
        if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, eventfd, &mut ev) } < 0 {
            fatal("epoll_ctl(eventfd)", crate::last_os_error());
        }
        Poller { epfd, eventfd }
    })
}

fn fatal(what: &str, e: io::Error) -> ! {
    eprintln!("fatal error: gort: netpoll: {what} failed: {e}");
    std::process::abort();
}

/// Registers `fd` (edge-triggered, both directions) with descriptor `pd`.
pub(crate) fn register(fd: libc::c_int, pd: &'static PollDesc) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: pd as *const PollDesc as u64,
    };
    // SAFETY: `ev` is a valid epoll_event; a bad `fd` is reported as an error.
    if unsafe { libc::epoll_ctl(poller().epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(crate::last_os_error());
    }
    Ok(())
}

/// Removes `fd` from the poller (before it is closed: a dup of it would keep it registered).
pub(crate) fn deregister(fd: libc::c_int) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: as in `register`; failure (already closed) is harmless.
    unsafe { libc::epoll_ctl(poller().epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
}

/// Park episodes waiting on the poller now (sysmon's deadlock check, `stopm`).
pub(crate) fn waiters() -> usize {
    WAITERS.load(SeqCst)
}

/// Plain threads among the [`waiters`] (`stopm`: after a poll whose goroutines found no
/// idle P, an idle M polls again at once only for them).
pub(crate) fn thread_waiters() -> usize {
    THREAD_WAITERS.load(SeqCst)
}

/// Counts a park episode on the poller while it lasts.
pub(crate) struct WaiterGuard {
    thread: bool,
}

impl WaiterGuard {
    pub(crate) fn new() -> WaiterGuard {
        let thread = crate::sched::current_g().is_none();
        WAITERS.fetch_add(1, SeqCst);
        if thread {
            THREAD_WAITERS.fetch_add(1, SeqCst);
        }
        crate::sched::idle::netpoll_waiter_added(thread);
        WaiterGuard { thread }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if self.thread {
            THREAD_WAITERS.fetch_sub(1, SeqCst);
        }
        WAITERS.fetch_sub(1, SeqCst);
    }
}

/// Time since the poller was last polled.
pub(crate) fn since_last_poll(now: Instant) -> Duration {
    let last = LAST_POLL.load(SeqCst);
    Duration::from_nanos(crate::timer::nanos(now).saturating_sub(last))
}

/// Polls without blocking and wakes the waiters of ready descriptors. Returns how many
/// episodes it woke.
pub(crate) fn poll_now() -> usize {
    if POLLER.get().is_none() {
        return 0;
    }
    poll(Some(Duration::ZERO), None)
}

/// Blocks in `epoll_wait` until readiness, `deadline`, or [`break_wait`]. The waiters of
/// ready descriptors are not woken but moved into `out` (like Go's `netpoll` returning a
/// list of Gs), so the idle M can take a P first and run them itself.
pub(crate) fn poll_until(deadline: Option<Instant>, out: &mut Vec<Ready>) {
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    poll(timeout, Some(out));
}

fn poll(timeout: Option<Duration>, mut out: Option<&mut Vec<Ready>>) -> usize {
    let p = poller();
    let ms: libc::c_int = match timeout {
        None => -1,
        Some(d) if d.is_zero() => 0,
        // Round up, so a sleeper does not wake just before its timer is due.
        Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
    // SAFETY: `events` has room for BATCH entries.
    let n = unsafe { libc::epoll_wait(p.epfd, events.as_mut_ptr(), BATCH as libc::c_int, ms) };
    LAST_POLL.store(crate::timer::nanos(Instant::now()), SeqCst);
    if n <= 0 {
        return 0; // timeout, or EINTR
    }
    let mut woken = 0;
    for ev in &events[..n as usize] {
        let (bits, data) = (ev.events, ev.u64);
        if data == WAKE_DATA {
            if ms != 0 {
                let mut buf = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer from our eventfd.
                unsafe { libc::read(p.eventfd, buf.as_mut_ptr().cast(), 8) };
                WAKE_PENDING.store(false, SeqCst);
            }
            continue;
        }
        // SAFETY: descriptors are leaked and pooled, never freed, so the pointer stays
        // valid even if the socket was closed after the event was queued (at worst the
        // event is stale and causes one spurious retry).
        let pd = unsafe { &*(data as *const PollDesc) };
        let err = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
        let mut ready = |dir| match out.as_deref_mut() {
            Some(out) => pd.take_waiters(dir, out),
            None => woken += pd.notify(dir),
        };
        if bits & (libc::EPOLLRDHUP as u32 | err) != 0 {
            pd.read_final();
        }
        if bits & (libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32 | err) != 0 {
            ready(Dir::Read);
        }
        if bits & (libc::EPOLLOUT as u32 | err) != 0 {
            ready(Dir::Write);
        }
    }
    woken
}

/// Ends a blocking [`poll_until`] now (or makes the next one return at once).
pub(crate) fn break_wait() {
    let Some(p) = POLLER.get() else { return };
    if WAKE_PENDING.swap(true, SeqCst) {
        return;
    }
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a u64 to our eventfd.
    unsafe { libc::write(p.eventfd, (&one as *const u64).cast(), 8) };
}
