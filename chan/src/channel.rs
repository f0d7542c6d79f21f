//! The channel: Go's `hchan` (a buffer plus queues of blocked senders and receivers under
//! one lock), with crossbeam-channel's Rust API.
//!
//! Every operation takes the channel's lock, first looks for a parked peer to hand the value
//! to directly (or take it from), then at the buffer, and otherwise queues a [`Waiter`] on
//! its own stack and parks through the runtime's park seam, so the same code serves a
//! goroutine (which parks; its M runs others) and a plain thread (which sleeps). Wake-ups
//! are issued after the lock is released.
//!
//! A bounded channel of 1 to 1024 slots keeps its values in a lock-free ring instead
//! ([`crate::array`]): sends and receives that need not wait never take the lock, which
//! then guards only the waiter queues, close and `select` registration. Unbuffered and
//! unbounded channels, and larger bounded ones, keep the locked buffer.

use crate::array::Array;
use crate::error::*;
use crate::waiter::{self, WaitQueue, Waiter};
use gort_runtime::park::{self, Token};
use gort_runtime::shim::RawLock;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Capacity of an unbounded channel.
const UNBOUNDED: usize = usize::MAX;
/// A plain thread's back-off on a full or empty buffer (crossbeam's `Backoff`): rounds of
/// 2^step spins up to this step...
const SPIN_LIMIT: u32 = 6;
/// ...then yields up to this step, then it queues and sleeps.
pub(crate) const YIELD_LIMIT: u32 = 10;
/// Buffer slots allocated up front; a larger buffer grows on demand (once) up to capacity.
const PREALLOC: usize = 1024;
/// A buffer of more slots than this that empties after holding less than a quarter of them
/// since it last emptied gives the extra memory back: an unbounded channel's burst does not
/// pin its peak backlog's memory until the channel is dropped, and a backlog that keeps
/// coming back to the same size keeps its buffer (see [`Inner::try_recv`]).
const SHRINK_ABOVE: usize = 16 * PREALLOC;

/// Why a non-blocking attempt failed.
pub(crate) enum Fail {
    Full,
    Empty,
    Closed,
    /// A ring's slot is in another party's hands (reserved, not yet stamped): a try that
    /// may not wait for it (under the lock) cannot say full or empty; try again.
    Busy,
}

/// The shared state of a channel.
pub(crate) struct Chan<T> {
    lock: RawLock,
    inner: UnsafeCell<Inner<T>>,
    cap: usize,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    closed: AtomicBool,
    /// `buf.len()` as of the last unlock: lets a plain thread that waits for room or for a
    /// value, and `select`'s fast path, look without taking the lock (see [`Chan::backoff`],
    /// [`Chan::recv_hint`]). Every operation that completes, and every decision to block,
    /// is made under the lock; only a one-case non-blocking `select` (a `try_recv` or
    /// `try_send` in select form) may answer "not ready" from it alone, as Go's
    /// non-blocking fast path answers from the channel's count without its lock.
    len_hint: AtomicUsize,
    /// The lock-free ring of a bounded channel of 1 to `array::MAX_CAP` slots (then
    /// `inner.buf` stays empty and unused). Boxed: its head, tail and flags sit on cache
    /// lines of their own (128-byte aligned, over 500 bytes), which inline would make every
    /// channel that big and that aligned, unbuffered ones and a context's too.
    pub(crate) array: Option<Box<Array<T>>>,
    /// Creation number: under loom, `select` orders its locks by it (addresses differ
    /// between loom's executions, creation order does not).
    #[cfg(loom)]
    seq: usize,
}

// SAFETY: `inner` is only touched with `lock` held; values of `T` move between threads.
unsafe impl<T: Send> Sync for Chan<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Chan<T> {}

/// The state behind the lock.
pub(crate) struct Inner<T> {
    buf: VecDeque<T>,
    /// The most values `buf` has held since it last emptied (for giving memory back).
    peak: usize,
    /// Closed (Go's `close`, or every sender dropped): buffered values still drain.
    closed: bool,
    /// Every receiver dropped: sends fail with their value.
    no_receivers: bool,
    pub(crate) recvq: WaitQueue,
    pub(crate) sendq: WaitQueue,
    /// `Select::ready` callers waiting for this channel to change, woken (and removed) by
    /// every change that can make an operation on it ready. Usually empty: one branch on
    /// the paths that change the channel.
    watchers: Vec<Token>,
}

/// The channel's lock, held.
pub(crate) struct Guard<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = Inner<T>;
    fn deref(&self) -> &Inner<T> {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.chan.inner.get() }
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut Inner<T> {
        // SAFETY: the guard holds the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.chan.inner.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.chan.publish_len();
        // SAFETY: the guard was created by locking.
        unsafe { self.chan.lock.unlock() };
    }
}

/// A value moved through a waiter's slot.
///
/// # Safety
/// `slot` must be a waiter's `*mut Option<T>` for this channel's `T`; callers hold the lock.
unsafe fn slot<'a, T>(w: &Waiter) -> &'a mut Option<T> {
    // SAFETY: the caller's contract: `slot` is a live `Option<T>` that the waiter's owner
    // does not touch while it is queued, and we hold the lock that orders our access.
    unsafe { &mut *(w.data.slot as *mut Option<T>) }
}

/// Why a blocking send failed; the value stays with the caller (see
/// [`Inner::try_send_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendFail {
    Timeout,
    Disconnected,
}

/// Moves the value out of `value` (a `Some`) to the back of `buf`. Not inlined in debug
/// builds, so the copies a debug build makes of a large `T` live in this short frame only
/// (optimized builds inline it and make none).
#[cfg_attr(debug_assertions, inline(never))]
fn push_from<T>(buf: &mut VecDeque<T>, value: &mut Option<T>) {
    buf.push_back(value.take().expect("a value to send"));
}

/// Moves the front value of `buf`, if any, into `out` (a `None`). Not inlined, like
/// [`push_from`].
#[cfg_attr(debug_assertions, inline(never))]
fn pop_into<T>(buf: &mut VecDeque<T>, out: &mut Option<T>) -> bool {
    *out = buf.pop_front();
    out.is_some()
}

/// The value a receive put into `out`. Not inlined, like [`push_from`].
#[cfg_attr(debug_assertions, inline(never))]
fn take_received<T>(out: &mut Option<T>) -> T {
    out.take().expect("a received value")
}

/// The error of a failed [`Sender::send`], with its value taken back out of `value`.
#[cold]
#[inline(never)]
fn send_error<T>(value: &mut Option<T>) -> SendError<T> {
    SendError(value.take().expect("unsent value"))
}

/// The error of a failed timed send, with its value taken back out of `value`.
#[cold]
#[inline(never)]
fn timed_send_error<T>(f: SendFail, value: &mut Option<T>) -> SendTimeoutError<T> {
    let v = value.take().expect("unsent value");
    match f {
        SendFail::Timeout => SendTimeoutError::Timeout(v),
        SendFail::Disconnected => SendTimeoutError::Disconnected(v),
    }
}

impl<T> Inner<T> {
    /// Tries to send `v` without blocking. On success returns a waiter's token to wake after
    /// unlocking.
    pub(crate) fn try_send(&mut self, v: T, cap: usize) -> Result<Option<Token>, (T, Fail)> {
        let mut value = Some(v);
        self.try_send_from(&mut value, cap)
            .map_err(|f| (value.take().expect("unsent value"), f))
    }

    /// Like [`try_send`](Self::try_send), taking the value out of `value` (a `Some`) only
    /// when it is sent. The blocking send moves its value through here by reference: a
    /// large `T` is then copied once into the channel, not once per frame of the send path
    /// (in debug builds each frame holds its own copies: a 32 KiB value needed some 830 KiB
    /// of goroutine stack when it was passed down by value).
    pub(crate) fn try_send_from(
        &mut self,
        value: &mut Option<T>,
        cap: usize,
    ) -> Result<Option<Token>, Fail> {
        if self.closed || self.no_receivers {
            return Err(Fail::Closed);
        }
        if let Some(w) = self.recvq.claim_first() {
            // SAFETY: receivers of this channel queue `Option<T>` slots, empty while they
            // wait; we hold the lock. The swap moves the value without a copy on the stack.
            std::mem::swap(unsafe { slot::<T>(w) }, value);
            let wake = w.token().clone();
            self.changed();
            return Ok(Some(wake));
        }
        if self.buf.len() < cap {
            push_from(&mut self.buf, value);
            self.peak = self.peak.max(self.buf.len());
            self.changed();
            return Ok(None);
        }
        Err(Fail::Full)
    }

    /// Tries to receive without blocking. On success also returns a token to wake.
    pub(crate) fn try_recv(&mut self) -> Result<(T, Option<Token>), Fail> {
        let mut out = None;
        let wake = self.try_recv_into(&mut out)?;
        Ok((out.take().expect("a received value"), wake))
    }

    /// Like [`try_recv`](Self::try_recv), putting the value into `out` (a `None`): the
    /// blocking receive takes its value this way, for the reason given at
    /// [`try_send_from`](Self::try_send_from). On success also returns a token to wake.
    pub(crate) fn try_recv_into(&mut self, out: &mut Option<T>) -> Result<Option<Token>, Fail> {
        if pop_into(&mut self.buf, out) {
            if self.buf.is_empty() {
                // The buffer emptied: if it is large and its last fill used little of it,
                // give the rest back (a burst is over), keeping room for twice that fill.
                // Shrinking whenever it empties would make a backlog that keeps reaching
                // the same size regrow every time (measured: +22% per value at 50,000).
                if self.buf.capacity() > SHRINK_ABOVE && self.peak < self.buf.capacity() / 4 {
                    self.buf.shrink_to(PREALLOC.max(2 * self.peak));
                }
                self.peak = 0;
            }
            // A sender blocked on the full buffer can now put its value in.
            let wake = self.sendq.claim_first().map(|w| {
                // SAFETY: senders of this channel queue `Option<T>` slots holding a value.
                push_from(&mut self.buf, unsafe { slot::<T>(w) });
                w.token().clone()
            });
            self.changed();
            return Ok(wake);
        }
        if let Some(w) = self.sendq.claim_first() {
            // SAFETY: as above (an unbuffered hand-off); `out` is empty, the sender's slot
            // holds its value: the swap moves it without a copy on the stack.
            std::mem::swap(out, unsafe { slot::<T>(w) });
            debug_assert!(out.is_some(), "blocked sender has a value");
            let wake = w.token().clone();
            self.changed();
            return Ok(Some(wake));
        }
        Err(if self.closed {
            Fail::Closed
        } else {
            Fail::Empty
        })
    }

    /// Lock held: the channel changed (a value moved, a waiter was queued, it closed, its
    /// receivers went): wakes the `Select::ready` callers watching it. They are few and
    /// rare, so they are woken here rather than after unlocking.
    #[inline]
    pub(crate) fn changed(&mut self) {
        if !self.watchers.is_empty() {
            self.wake_watchers();
        }
    }

    #[cold]
    fn wake_watchers(&mut self) {
        for t in self.watchers.drain(..) {
            t.wake();
        }
    }

    /// Lock held: whether a receive could complete now (a value or a parked sender is
    /// there, or the channel is closed).
    pub(crate) fn recv_ready(&self) -> bool {
        !self.buf.is_empty() || self.closed || self.sendq.any_claimable()
    }

    /// Lock held: whether a send could complete now (room, a parked receiver, or a
    /// channel that fails sends at once).
    pub(crate) fn send_ready(&self, cap: usize) -> bool {
        self.closed || self.no_receivers || self.buf.len() < cap || self.recvq.any_claimable()
    }

    /// Lock held: `token` is to be woken at the channel's next change.
    pub(crate) fn watch(&mut self, token: &Token) {
        self.watchers.push(token.clone());
    }

    /// Lock held: withdraws the watches of `token`'s goroutine or thread.
    pub(crate) fn unwatch(&mut self, token: &Token) {
        if !self.watchers.is_empty() {
            self.watchers.retain(|t| !t.same_waiter(token));
        }
    }

    /// Lock held: whether some party waits for a value (a queued receiver, or a
    /// `Select::ready` watcher), and whether some party waits for room (a queued sender, or
    /// a watcher). Published for a ring channel's lock-free operations.
    pub(crate) fn waiting(&self) -> (bool, bool) {
        let watched = !self.watchers.is_empty();
        (
            self.recvq.len() > 0 || watched,
            self.sendq.len() > 0 || watched,
        )
    }
}

impl<T> Chan<T> {
    fn new(cap: usize) -> Chan<T> {
        let elem = std::mem::size_of::<T>().max(1);
        if cap != UNBOUNDED
            && cap
                .checked_mul(elem)
                .is_none_or(|b| b > isize::MAX as usize)
        {
            panic!(
                "gort::chan::bounded({cap}): a buffer of {cap} values of {} bytes does not fit \
                 in the address space",
                std::mem::size_of::<T>()
            );
        }
        let array = (1..=crate::array::MAX_CAP)
            .contains(&cap)
            .then(|| Box::new(Array::new(cap)));
        let prealloc = if cap == UNBOUNDED || array.is_some() {
            0
        } else {
            cap.min(PREALLOC)
        };
        Chan {
            lock: RawLock::new(),
            inner: UnsafeCell::new(Inner {
                buf: VecDeque::with_capacity(prealloc),
                peak: 0,
                closed: false,
                no_receivers: false,
                recvq: WaitQueue::default(),
                sendq: WaitQueue::default(),
                watchers: Vec::new(),
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
            len_hint: AtomicUsize::new(0),
            array,
            #[cfg(loom)]
            seq: {
                static SEQ: AtomicUsize = AtomicUsize::new(0);
                SEQ.fetch_add(1, Relaxed)
            },
        }
    }

    /// Identity for lock ordering and duplicate detection in `select`.
    pub(crate) fn id(&self) -> usize {
        #[cfg(loom)]
        return self.seq;
        #[cfg(not(loom))]
        return self as *const Chan<T> as usize;
    }

    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.lock.lock();
        Guard { chan: self }
    }

    /// The raw lock (for `select`, which locks several channels at once).
    pub(crate) fn raw_lock(&self) -> &RawLock {
        &self.lock
    }

    /// The state behind the lock.
    ///
    /// # Safety
    /// The caller holds the lock (via `raw_lock`) and no other reference to it is live.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn inner_locked(&self) -> &mut Inner<T> {
        // SAFETY: the caller holds the lock and no other reference to the state is live.
        unsafe { &mut *self.inner.get() }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Lock held: refreshes `len_hint`, or on a ring channel the flags that say whether
    /// parties wait (every path that unlocks calls this first; `select` also after it
    /// queues or withdraws a waiter or a watch).
    pub(crate) fn publish_len(&self) {
        if let Some(a) = &self.array {
            // SAFETY: the caller holds the lock; the reference ends here.
            a.publish_waiting(unsafe { &*self.inner.get() });
            return;
        }
        // SAFETY: the caller holds the lock; this reads one field and forms no lasting
        // reference.
        let len = unsafe { (*self.inner.get()).buf.len() };
        // Release, so that whoever reads this length (Acquire, in `recv_hint`) also sees the
        // `closed` flag set before it: after a close and a drain, 0 then closed.
        self.len_hint.store(len, Release);
    }

    /// Lock-free hint for `select`'s fast path: `false` only if, as of the last unlock,
    /// a receive could not complete (an empty buffer, not closed). An unbuffered channel's
    /// readiness depends on its queue of senders, which is not published: always `true`.
    #[inline]
    pub(crate) fn recv_hint(&self) -> bool {
        #[cfg(loom)]
        return true; // the models check the locked protocol; keep every poll in them
        #[cfg(not(loom))]
        return match &self.array {
            Some(a) => a.recv_ready(),
            None => self.cap == 0 || self.len_hint.load(Acquire) > 0 || self.closed.load(Relaxed),
        };
    }

    /// Like [`Chan::recv_hint`], for a send: `false` only if the buffer was full and the
    /// channel open with receivers.
    #[inline]
    pub(crate) fn send_hint(&self) -> bool {
        #[cfg(loom)]
        return true;
        #[cfg(not(loom))]
        return match &self.array {
            Some(a) => a.send_ready(),
            None => {
                self.cap == 0
                    || self.len_hint.load(Acquire) < self.cap
                    || self.closed.load(Relaxed)
                    || self.receivers.load(Relaxed) == 0
            }
        };
    }

    /// Whether a blocked send or receive on this channel should first spin (crossbeam's
    /// `Backoff`) instead of queueing a waiter at once: only plain threads (a goroutine's
    /// park is a cheap switch, a thread's is a futex sleep and wake-up) and only on a
    /// buffered channel, where a send needs room, not a partner (on an unbuffered channel
    /// one side must be queued for the other to complete).
    pub(crate) fn spins(&self) -> bool {
        #[cfg(loom)]
        return false; // the retries add nothing to the protocol and explode the model
        #[cfg(not(loom))]
        return self.cap != 0 && self.cap != UNBOUNDED && gort_runtime::goroutine_id().is_none();
    }

    /// Spins, then yields, until `ready` (a lock-free hint) holds or the budget in `step`
    /// runs out (`step > YIELD_LIMIT`; the caller then queues and parks).
    pub(crate) fn backoff(&self, step: &mut u32, ready: impl Fn(&Self) -> bool) {
        while *step <= YIELD_LIMIT {
            if *step <= SPIN_LIMIT {
                for _ in 0..1u32 << *step {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
            *step += 1;
            if ready(self) {
                return;
            }
        }
    }

    /// Sends the value in `value` (a `Some`), waiting until `deadline` at most. On success
    /// `value` is `None`; on failure it still holds the value (see [`Inner::try_send_from`]
    /// for why the value travels by reference).
    #[track_caller]
    fn send_until(&self, value: &mut Option<T>, deadline: Option<Instant>) -> Result<(), SendFail> {
        if let Some(a) = &self.array {
            return self.send_ring(a, value, deadline);
        }
        // Whether this operation backs off before queueing: decided at its first miss, so
        // the fast path does not pay for the check.
        let mut spins = None;
        let mut step = 0;
        let mut g = self.lock();
        loop {
            match g.try_send_from(value, self.cap) {
                Ok(wake) => {
                    drop(g);
                    if let Some(t) = wake {
                        t.wake();
                    }
                    return Ok(());
                }
                Err(Fail::Closed) => return Err(SendFail::Disconnected),
                Err(_) => {}
            };
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(SendFail::Timeout);
            }
            if !*spins.get_or_insert_with(|| self.spins()) || step > YIELD_LIMIT {
                break; // out of budget: that was the last look, queue now
            }
            drop(g);
            let room = |c: &Self| c.len_hint.load(Relaxed) < c.cap || c.closed.load(Relaxed);
            self.backoff(&mut step, room);
            g = self.lock();
        }
        let mut place = WaiterPlace::new();
        // SAFETY: this operation is the only user of the scratch space until it returns:
        // no code that could block on a channel runs meanwhile, and by then the waiter is
        // dequeued (by its completer, or by us after a timeout) and nobody touches it.
        let w = unsafe {
            place.arm(
                value as *mut Option<T> as *mut u8,
                park::WaitReason::ChanSend,
            )
        };
        // SAFETY: we hold the lock; the waiter stays in the scratch space until it is
        // dequeued, by its completer or by us below.
        unsafe { g.sendq.push(w) };
        g.changed();
        drop(g);
        let woken = if spins == Some(true) {
            park::park_until_no_spin(deadline) // we spun already
        } else {
            park::park_until(deadline)
        };
        // SAFETY (the `remove`): under the lock; `w` was queued in this channel's sendq.
        if !woken && unsafe { self.lock().sendq.remove(w) } {
            return Err(SendFail::Timeout);
        }
        // Completed: a receiver took the value; or failed (closed, receivers gone): the
        // value is still there. The wake-up, or the lock taken above, orders the
        // completer's writes before this read.
        match value {
            None => Ok(()),
            Some(_) => Err(SendFail::Disconnected),
        }
    }

    /// [`send_until`](Self::send_until) for a value passed by value, with the error of the
    /// timed sends.
    #[track_caller]
    fn send_timed(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut value = Some(v);
        self.send_until(&mut value, deadline)
            .map_err(|f| timed_send_error(f, &mut value))
    }

    #[track_caller]
    pub(crate) fn recv_until(
        &self,
        deadline: Option<Instant>,
        why: park::WaitReason,
    ) -> Result<T, RecvTimeoutError> {
        let mut out = None;
        self.recv_into(&mut out, deadline, why)?;
        Ok(take_received(&mut out))
    }

    /// Receives into `out` (a `None`), waiting until `deadline` at most; the value travels
    /// by reference (see [`Inner::try_send_from`]).
    #[track_caller]
    fn recv_into(
        &self,
        out: &mut Option<T>,
        deadline: Option<Instant>,
        why: park::WaitReason,
    ) -> Result<(), RecvTimeoutError> {
        if let Some(a) = &self.array {
            return self.recv_ring(a, out, deadline, why);
        }
        // Whether this operation backs off before queueing: decided at its first miss, so
        // the fast path does not pay for the check.
        let mut spins = None;
        let mut step = 0;
        let mut g = self.lock();
        loop {
            match g.try_recv_into(out) {
                Ok(wake) => {
                    drop(g);
                    if let Some(t) = wake {
                        t.wake();
                    }
                    return Ok(());
                }
                Err(Fail::Closed) => return Err(RecvTimeoutError::Disconnected),
                Err(_) => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            if !*spins.get_or_insert_with(|| self.spins()) || step > YIELD_LIMIT {
                break; // out of budget: that was the last look, queue now
            }
            drop(g);
            let value = |c: &Self| c.len_hint.load(Relaxed) > 0 || c.closed.load(Relaxed);
            self.backoff(&mut step, value);
            g = self.lock();
        }
        // SAFETY: this operation is the only user of the scratch space until it returns:
        // no code that could block on a channel runs meanwhile, and by then the waiter is
        // dequeued (by its completer, or by us after a timeout) and nobody touches it.
        let mut place = WaiterPlace::new();
        let w = unsafe { place.arm(out as *mut Option<T> as *mut u8, why) };
        // SAFETY: as in `send_until`.
        unsafe { g.recvq.push(w) };
        g.changed();
        drop(g);
        let woken = if spins == Some(true) {
            park::park_until_no_spin(deadline) // we spun already
        } else {
            park::park_until(deadline)
        };
        // SAFETY (the `remove`): under the lock; `w` was queued in this channel's recvq.
        if !woken && unsafe { self.lock().recvq.remove(w) } {
            return Err(RecvTimeoutError::Timeout);
        }
        // A value arrived, or the channel closed and the slot stayed empty (see `send_until`
        // for the ordering).
        match out {
            Some(_) => Ok(()),
            None => Err(RecvTimeoutError::Disconnected),
        }
    }

    fn close(&self) -> Result<(), CloseError> {
        let mut wakes = Vec::new();
        let r = self.close_into(&mut wakes);
        match wakes.len() {
            0 => {}
            1 => {
                wakes[0].wake();
            }
            _ => park::wake_all(wakes),
        }
        r
    }

    /// Closes the channel like `close`, but leaves the tokens of the waiters it completed
    /// in `wakes` for the caller to wake (after releasing its own locks).
    fn close_into(&self, wakes: &mut Vec<Token>) -> Result<(), CloseError> {
        let mut g = self.lock();
        if g.closed {
            return Err(CloseError);
        }
        g.closed = true;
        self.closed.store(true, Release);
        if let Some(a) = &self.array {
            a.mark(); // no push gets in after this: woken receivers drain what is there
        }
        g.changed();
        g.recvq.fail_all(wakes);
        g.sendq.fail_all(wakes);
        Ok(())
    }

    /// The last receiver went away: every send fails from now on, blocked senders get
    /// their values back, and the buffered values, which nobody can receive any more, are
    /// dropped now (as crossbeam-channel does), not when the last sender goes too. They are
    /// dropped after the lock is released and the senders are woken, so a value's `Drop`
    /// may use the channel (its sends fail) and a `Drop` that panics loses no wake-up.
    fn receivers_gone(&self) {
        let mut wakes = Vec::new();
        let buffered = {
            let mut g = self.lock();
            g.no_receivers = true;
            g.changed();
            g.sendq.fail_all(&mut wakes);
            match &self.array {
                Some(a) => {
                    a.mark(); // woken and later senders fail
                    a.drain()
                }
                None => std::mem::take(&mut g.buf),
            }
        };
        for t in wakes {
            t.wake();
        }
        drop_values(buffered);
    }

    fn len(&self) -> usize {
        match &self.array {
            Some(a) => a.len(),
            None => self.lock().buf.len(),
        }
    }

    /// Buffer slots allocated now.
    fn buffer_slots(&self) -> usize {
        match &self.array {
            Some(_) => self.cap,
            None => self.lock().buf.capacity(),
        }
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        // Empty once the last receiver is gone (see `receivers_gone`); drained the same
        // way regardless, so that no path frees values with a plain `VecDeque` drop.
        drop_values(std::mem::take(&mut self.inner.get_mut().buf));
        if let Some(a) = &self.array {
            drop_values(a.drain());
        }
    }
}

/// Drops every value in `values`. A `Drop` that panics does not stop the others from being
/// dropped (nothing leaks, nothing is dropped twice); the first panic then continues
/// unwinding from here, as dropping a crossbeam-channel or std `mpsc` channel lets the
/// first panic propagate. (A plain `VecDeque` drop would abort the process at the second
/// panicking value: a panic while unwinding.) The later panics' payloads are discarded.
fn drop_values<T>(values: VecDeque<T>) {
    if !std::mem::needs_drop::<T>() {
        return;
    }
    let mut first = None;
    for v in values {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(v))) {
            first.get_or_insert(p);
        }
    }
    if let Some(p) = first {
        std::panic::resume_unwind(p);
    }
}

/// Where the waiter of a plain send or receive lives: the parker's scratch space (see
/// `park::scratch`) rather than its stack, so a completer touches the parked goroutine's
/// control block only, which it must touch to wake it anyway. Under loom, whose cells are
/// larger than that space, a local of the operation.
pub(crate) struct WaiterPlace {
    #[cfg(loom)]
    local: Option<Waiter>,
}

impl WaiterPlace {
    pub(crate) fn new() -> WaiterPlace {
        WaiterPlace {
            #[cfg(loom)]
            local: None,
        }
    }

    /// Arms a park episode and puts the operation's waiter, moving its value through
    /// `slot`, in its place.
    ///
    /// # Safety
    /// As for `park::scratch`: the operation is the space's only user until it returns,
    /// by when its waiter is dequeued and nobody touches it.
    #[track_caller]
    pub(crate) unsafe fn arm(&mut self, slot: *mut u8, why: park::WaitReason) -> &Waiter {
        let waiter = waiter::plain(park::prepare_for(why), slot);
        #[cfg(loom)]
        return self.local.insert(waiter);
        #[cfg(not(loom))]
        {
            // SAFETY: the caller is the scratch space's only user until it returns.
            let w = unsafe { park::scratch() }.cast::<Waiter>();
            // SAFETY: the space is big and aligned enough for a `Waiter` (checked in
            // `waiter.rs`), and nobody else reads it (the caller's contract). `write` does
            // not drop what was there: an earlier record is dead (its operation returned),
            // and a `Waiter` owns nothing that needs dropping (a token is plain data).
            unsafe { w.write(waiter) };
            // SAFETY: just initialised; it lives as long as the goroutine or thread, and
            // the borrow of `self` keeps this operation from arming another.
            unsafe { &*w }
        }
    }
}

/// Converts a timeout into a deadline; `None` (forever) if it overflows `Instant`.
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// The sending side of a channel. Clone it for more senders (MPMC).
///
/// Dropping the last `Sender` closes the channel (Go's `close(ch)`): receivers drain what is
/// buffered, then get `Err`. Sends fail (with the value back) once the channel is closed or
/// once every [`Receiver`] is gone. See the crate docs on channel lifetime.
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving side of a channel. Clone it for more receivers (MPMC).
///
/// Dropping the last `Receiver` makes every send on the channel fail at once (blocked ones
/// too) with the value handed back, and drops the values still buffered. A receive returns
/// `Err(RecvError)` once the channel is closed (by [`close`](Receiver::close) or by the
/// last [`Sender`] going away) and drained: in Go terms `v, ok := <-ch` with `ok == false`,
/// not a failure to `unwrap`. See the crate docs on channel lifetime.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// A channel of capacity `cap`; `bounded(0)` is Go's unbuffered channel, where a send waits
/// for a receiver and hands the value over directly.
///
/// The channel closes when the last [`Sender`] is dropped (or on [`Sender::close`]), and
/// sends fail once the last [`Receiver`] is dropped: unlike a Go channel, which stays open
/// until closed, dropping ends changes it (see the crate docs on channel lifetime).
///
/// ```
/// let (tx, rx) = gort_chan::bounded(1);
/// std::thread::spawn(move || tx.send(1).unwrap()); // tx is dropped when the thread ends
/// assert_eq!(rx.recv(), Ok(1));
/// assert!(rx.recv().is_err()); // closed: every sender is gone
/// ```
///
/// # Panics
/// If a buffer of `cap` values cannot exist (`cap * size_of::<T>()` overflows `isize`).
/// Buffers above 1024 slots are allocated as they fill, not up front.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        cap != UNBOUNDED,
        "gort::chan::bounded(usize::MAX): use chan::unbounded()"
    );
    pair(Chan::new(cap))
}

/// A channel whose sends never block.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(UNBOUNDED))
}

/// A receiver that never receives anything: in a `select!`, a case that is never chosen
/// (Go's nil channel).
pub fn never<T>() -> Receiver<T> {
    let (s, r) = bounded(0);
    s.retire_open();
    r
}

impl<T> Sender<T> {
    /// A sender whose sends never complete: in a `select!`, a send case that is never
    /// chosen (Go's nil channel in a send case, e.g. to switch a case off:
    /// `send(if ready { &out } else { &off }, v)`). [`Sender::send`] blocks forever,
    /// [`Sender::try_send`] reports `Full`. Nothing ever receives from it; do not close it
    /// (a closed one fails its sends, as any closed channel).
    pub fn never() -> Sender<T> {
        let (s, r) = bounded(0);
        r.retire_open();
        s
    }
}

impl<T> Receiver<T> {
    /// Drops this receiver without counting it as gone: sends on the channel then never
    /// fail for want of receivers (see [`Sender::never`]).
    fn retire_open(self) {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used again and its destructor does not run, so moving the
        // Arc out does not double-drop it.
        drop(unsafe { std::ptr::read(&me.chan) });
    }
}

// A panic never leaves a channel half-updated (every change is made under its lock, and no
// user code runs there), so its ends may be used after a caught panic, as crossbeam's.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

fn pair<T>(c: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(c);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

macro_rules! common_methods {
    () => {
        /// Values buffered now.
        pub fn len(&self) -> usize {
            self.chan.len()
        }
        /// Whether nothing is buffered.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
        /// Whether the buffer is full (always true for an unbuffered channel).
        pub fn is_full(&self) -> bool {
            self.chan.cap != UNBOUNDED && self.len() >= self.chan.cap
        }
        /// The buffer's capacity; `None` if unbounded.
        pub fn capacity(&self) -> Option<usize> {
            (self.chan.cap != UNBOUNDED).then_some(self.chan.cap)
        }
        /// Whether the channel has been closed.
        pub fn is_closed(&self) -> bool {
            self.chan.closed.load(Acquire)
        }
        /// Closes the channel for everyone (Go's `close(ch)`): blocked and later sends fail
        /// with their value, receivers drain what is buffered and then get an error. A second
        /// close returns `Err(CloseError)`.
        pub fn close(&self) -> Result<(), CloseError> {
            self.chan.close()
        }
        /// Blocked (receivers, senders) queued on the channel now; for tests of the
        /// runtime's own bookkeeping.
        #[doc(hidden)]
        pub fn __waiters(&self) -> (usize, usize) {
            let g = self.chan.lock();
            (g.recvq.len(), g.sendq.len())
        }
        /// Buffer slots allocated now; for tests of the runtime's own bookkeeping.
        #[doc(hidden)]
        pub fn __buffer_slots(&self) -> usize {
            self.chan.buffer_slots()
        }
        /// Whether `self` and `other` are ends of the same channel.
        pub fn same_channel(&self, other: &Self) -> bool {
            Arc::ptr_eq(&self.chan, &other.chan)
        }
    };
}

impl<T> Sender<T> {
    /// Sends `v`, blocking while the channel is full (unbuffered: until a receiver takes
    /// it). Fails with the value if the channel is closed or every receiver is gone.
    #[track_caller]
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        let mut value = Some(v);
        match self.chan.send_until(&mut value, None) {
            Ok(()) => Ok(()),
            Err(_) => Err(send_error(&mut value)),
        }
    }

    /// Drops this sender without counting it as gone: the channel can then never be closed
    /// by its senders going away (Go's channels that are simply never closed: `never`,
    /// `time::after`). Its memory is still freed with the last receiver.
    pub(crate) fn retire_open(self) {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used again and its destructor does not run, so moving the
        // Arc out does not double-drop it.
        drop(unsafe { std::ptr::read(&me.chan) });
    }

    /// Drops this sender; if it was the last one, closes the channel and leaves the tokens
    /// of the waiters to wake in `wakes` (the caller wakes them, e.g. with
    /// `park::wake_all`, once it holds no lock).
    pub(crate) fn drop_into(self, wakes: &mut Vec<Token>) {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used again and its destructor does not run, so moving the
        // Arc out does not double-drop it.
        let chan = unsafe { std::ptr::read(&me.chan) };
        if chan.senders.fetch_sub(1, AcqRel) == 1 {
            let _ = chan.close_into(wakes);
        }
    }

    /// Whether any receiver still exists.
    pub(crate) fn has_receivers(&self) -> bool {
        self.chan.receivers.load(Acquire) > 0
    }

    /// Whether `rx` receives from this sender's channel.
    pub(crate) fn feeds(&self, rx: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &rx.chan)
    }

    /// Sends `v` if that can be done without blocking.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        if let Some(a) = &self.chan.array {
            let mut value = Some(v);
            return match self.chan.send_fast(a, &mut value) {
                Ok(()) => Ok(()),
                Err(f) => {
                    let v = value.take().expect("unsent value");
                    Err(match f {
                        Fail::Closed => TrySendError::Disconnected(v),
                        _ => TrySendError::Full(v),
                    })
                }
            };
        }
        let mut g = self.chan.lock();
        match g.try_send(v, self.chan.cap) {
            Ok(wake) => {
                drop(g);
                if let Some(t) = wake {
                    t.wake();
                }
                Ok(())
            }
            Err((v, Fail::Closed)) => Err(TrySendError::Disconnected(v)),
            Err((v, _)) => Err(TrySendError::Full(v)),
        }
    }

    /// Sends `v`, waiting at most `timeout`. `Duration::MAX` waits forever.
    #[track_caller]
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan.send_timed(v, deadline_after(timeout))
    }

    /// Sends `v`, waiting until `deadline` at most. A deadline in the past does not wait.
    #[track_caller]
    pub fn send_deadline(&self, v: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send_timed(v, Some(deadline))
    }

    common_methods!();
}

impl<T> Receiver<T> {
    /// How many receivers the channel has now (this one included).
    pub(crate) fn receiver_count(&self) -> usize {
        self.chan.receivers.load(Acquire)
    }

    /// Starts loading the first receiver parked on this channel (its waiter, which sits in
    /// its goroutine's control block, next to the park state a wake-up touches): for
    /// whoever is about to close many channels in a row (cancelling a context tree), so
    /// that each one's miss overlaps with closing the one before. Only a hint.
    pub(crate) fn prefetch_receiver(&self) {
        let g = self.chan.lock();
        if let Some(w) = g.recvq.front() {
            park::prefetch(w as *const Waiter as usize);
        }
    }

    /// Receives a value, blocking until one is there. Fails once the channel is closed and
    /// drained.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        let mut out = None;
        match self
            .chan
            .recv_into(&mut out, None, park::WaitReason::ChanReceive)
        {
            Ok(()) => Ok(take_received(&mut out)),
            Err(_) => Err(RecvError),
        }
    }

    /// Receives a value if one is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(a) = &self.chan.array {
            let mut out = None;
            return match self.chan.recv_fast(a, &mut out) {
                Ok(()) => Ok(take_received(&mut out)),
                Err(Fail::Closed) => Err(TryRecvError::Disconnected),
                Err(_) => Err(TryRecvError::Empty),
            };
        }
        let mut g = self.chan.lock();
        match g.try_recv() {
            Ok((v, wake)) => {
                drop(g);
                if let Some(t) = wake {
                    t.wake();
                }
                Ok(v)
            }
            Err(Fail::Closed) => Err(TryRecvError::Disconnected),
            Err(_) => Err(TryRecvError::Empty),
        }
    }

    /// Receives a value, waiting at most `timeout`. `Duration::MAX` waits forever.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan
            .recv_until(deadline_after(timeout), park::WaitReason::ChanReceive)
    }

    /// Receives a value, waiting until `deadline` at most.
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.chan
            .recv_until(Some(deadline), park::WaitReason::ChanReceive)
    }

    /// A blocking iterator over received values; ends when the channel is closed and
    /// drained (Go's `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values that can be received without blocking.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    common_methods!();
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, AcqRel) == 1 {
            let _ = self.chan.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, AcqRel) == 1 {
            self.chan.receivers_gone();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// Blocking iterator returned by [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator returned by [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator (`for v in rx`).
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
