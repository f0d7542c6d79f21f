//! The lock-free buffer of a bounded channel (capacity 1 to [`MAX_CAP`]): crossbeam-channel's
//! array flavour (Dmitry Vyukov's bounded MPMC queue), ported from crossbeam-channel 0.5
//! (`src/flavors/array.rs`, Copyright (c) 2019 The Crossbeam Project Developers, MIT or
//! Apache-2.0, the licences gort is under).
//!
//! Each slot carries a stamp: `{ lap, index }` when it is free for the push of that lap,
//! `{ lap, index } + 1` when it holds that lap's value. `head` and `tail` are such stamps on
//! cache lines of their own, so senders contend only with senders (a CAS on `tail`) and
//! receivers only with receivers (on `head`), instead of all parties taking one lock on
//! one cache line (Go's `hchan`, and gort's other channels). The tail's mark bit says the
//! channel takes no more values (closed, or every receiver gone): a push and a close are
//! ordered by that one word, so no value can slip in after a receiver was told "closed and
//! drained".
//!
//! # The wake-up protocol
//!
//! Blocking stays the channel's business: its lock now guards only the waiter queues (the
//! runtime's intrusive queue), the watchers of `Select::ready`, close and `select`
//! registration; this buffer only answers "full", "empty" or "closed". A waiter of a ring
//! channel carries no value and no outcome: a wake-up means "try the ring again" (the
//! value is in the ring, or was taken by someone else, who then made the progress; a
//! close is seen by the retry itself, as a marked ring).
//!
//! - A party that must wait takes the lock, queues its waiter (at the back; at the front
//!   if it was woken before and lost the retry: Go's order for a waiter that already
//!   waited), publishes "someone waits" ([`Array::publish_waiting`], a flag per side, also
//!   set by `Select::ready` watchers), [`fence`]s, and tries the ring once more **under the
//!   lock**; only if that finds the ring full or empty does it unlock and park. (If it
//!   succeeds, it dequeues itself and wakes one party of the other side, as any completion
//!   under the lock does.) This retry does not wait for a slot that another party is still
//!   filling or emptying (it holds the lock): it reports the ring busy
//!   ([`Array::push_now`], `Fail::Busy`), and the waiter dequeues itself, waits for that
//!   party outside the lock and starts over, since that party will not look for waiters
//!   again. A receive behind a pop that is still emptying the last slot of a closed ring
//!   reads the tail and reports the ring closed.
//!   The retry decides "full" by reading the head, and "empty" by reading the tail, with
//!   a read-modify-write (`fetch_add(0)`, acquire and release: [`Array::head_now`]).
//! - A push or pop without the lock reserves its slot with a CAS on the tail or head, and
//!   after it finishes reads the other side's flag, with no fence; only if it is set does
//!   it take the lock and claim and wake the first claimable waiter of that side
//!   ([`Chan::notify`]).
//! - A push or pop under the lock (the retry above, a `select` poll under its locks) claims
//!   the first waiter of the other side directly.
//!
//! The RMWs on the head (or the tail) are in one modification order: either the waiter's
//! read comes after the pop's (push's) CAS, and sees the head (tail) moved (room or a
//! value, or a party still at work: busy, not full or empty), or it comes before, and the
//! CAS reads what it wrote: the waiter's flag then happens before the popper's (pusher's)
//! look at it, which sees it and takes the lock, which it gets only after the waiter is
//! queued, so it finds (and wakes) it. A `select` about to park reads the same way
//! ([`Array::recv_ready_now`]). Until the waiters reported a busy slot and read by RMW,
//! every push and pop fenced before it looked at the flag (pairing with the waiter's
//! fence): a drain of the store buffer per operation, which made 4x4 on `bounded(128)`
//! between threads and between goroutines take 1.3x and 1.4x the time it takes now. A woken waiter always retries the ring before anything else
//! (before its deadline check; a woken `select` retries the case that was woken before any
//! other), so a wake-up is never swallowed while what it announced is still there.
//! `loom-tests/tests/chan.rs` models each step. `select` adds two rules, in `select.rs`:
//! after registering on every channel it fences and looks at its ring cases again before
//! parking, and a non-blocking select polls under its locks until no ring changed, and
//! there waits for a slot another party is still filling or emptying: a push that has
//! reserved its slot has happened (later pushes queue behind it), so counting that ring
//! as empty could report "nothing ready" at an instant when a value was there. The wait
//! is short and holds no lock the other party needs: it stamps its slot before it takes
//! any lock, and goroutines are never stopped between a reservation and its stamp (gort
//! does not preempt running code; a thread the OS deschedules comes back).
//!
//! Fairness: a value goes into the ring rather than to the first parked receiver, so a
//! receiver that arrives while the woken one is on its way may take it (crossbeam's
//! behaviour, not Go's hand-off); the woken one then goes back to the front of the queue.
//! One sender's values still arrive in the order sent.
//!
//! What it cost and what it bought (2-core Intel Xeon, 4 senders and 4 receivers on
//! `bounded(128)`): before, every operation locked and unlocked the one cache line of the
//! channel's lock, shared by all eight parties. With the ring a message between threads went
//! from about 129 to 38 ns and between goroutines from about 96 to 68 ns (criterion), an
//! uncontended send and receive from 27 to 25 ns. See BENCHMARKS.md, "Buffered channels on a
//! lock-free ring".
//!
//! Back-off, crossbeam's: a lost race for the head or tail spins a little before the retry
//! ([`spin_light`]; it retried at once), and a plain thread backs off afresh after each
//! wake-up ([`Chan::wait_ring`]; it queued and parked at once after losing its first retry,
//! so under load each message could cost a sleep and a wake-up). Same machine, 4x4 on
//! `bounded(128)`, 8M messages a process, 12 alternated whole-process pairs: the first alone
//! 0.94x the wall time between threads, both 0.73x (21-24 ns a message, crossbeam 26-31 in
//! the same runs); between goroutines, 0.80x.

use crate::channel::{Chan, Fail, Inner, SendFail, WaiterPlace, YIELD_LIMIT};
use crate::error::RecvTimeoutError;
use crate::waiter::WaitQueue;
use gort_runtime::pad::CachePadded;
use gort_runtime::park::{self, Token};
use gort_runtime::shim::{AtomicBool, AtomicUsize, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{self, AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::time::Instant;

/// A full fence (`std`'s, or loom's under `cfg(loom)`).
pub(crate) use gort_runtime::shim::fence;

/// The largest capacity kept in a lock-free ring: its slots are allocated up front, where a
/// larger channel's locked buffer grows as it fills.
pub(crate) const MAX_CAP: usize = 1024;

/// One slot of the ring.
struct Slot<T> {
    /// `{ lap, index }` while free for that lap's push, plus one while holding its value.
    stamp: AtomicUsize,
    /// The value, initialised while the stamp says so.
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free MPMC ring of values.
pub(crate) struct Array<T> {
    /// Where the next pop happens: `{ lap, index }` (its mark bit is always clear).
    head: CachePadded<AtomicUsize>,
    /// Where the next push happens: `{ lap, mark, index }`.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// `{ lap: 1, mark: 0, index: 0 }`.
    one_lap: usize,
    /// The bit of `tail` that stops pushes (above every index).
    mark_bit: usize,
    /// Published by the channel under its lock (see [`Array::publish_waiting`]).
    waiting: CachePadded<Waiting>,
}

/// Whether parties wait, as the channel's lock holder last saw its queues: read without
/// the lock after every push and pop, written (rarely) under it.
struct Waiting {
    /// A receiver (or a `Select::ready` watcher) waits for a value.
    recv: AtomicBool,
    /// A sender (or a watcher) waits for room.
    send: AtomicBool,
}

// SAFETY: a value is written by the one pusher that reserved its slot and read by the one
// popper that reserved it; the stamps' release/acquire order the two. Values move between
// threads, so `T: Send`.
unsafe impl<T: Send> Sync for Array<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Array<T> {}

/// Waits a little for a push or pop that reserved a slot to finish its copy (a few
/// instructions on a running thread: gort never preempts a goroutine there). Never a
/// goroutine switch: the caller may hold the channel's lock.
#[inline]
fn snooze(step: &mut u32) {
    if gort_runtime::shim::LOOM {
        *step += 1;
        gort_runtime::shim::spin_loop(); // lets loom run the party we wait for
    } else if *step < 6 {
        for _ in 0..1u32 << *step {
            std::hint::spin_loop();
        }
        *step += 1;
    } else {
        std::thread::yield_now();
    }
}

/// Spins a little after a lost race for the head or the tail (crossbeam's `Backoff::spin`):
/// the winner's cache line is on its way, and retrying at once only takes it back from the
/// next winner. Exponential up to 64 pauses; never yields (the caller may hold the lock).
/// Nothing under loom, where a retry is as good as a spin.
#[inline]
fn spin_light(step: &mut u32) {
    if !gort_runtime::shim::LOOM {
        for _ in 0..1u32 << (*step).min(6) {
            std::hint::spin_loop();
        }
        if *step <= 6 {
            *step += 1;
        }
    }
}

/// How a slot's stamp is stored: `Release`, and `SeqCst` under loom, where it only serves
/// [`reload`] (loom's `SeqCst` accesses are its `AcqRel` ones, except that a `SeqCst` load
/// returns the newest of the `SeqCst` stores).
const STAMP_STORE: Ordering = if gort_runtime::shim::LOOM {
    SeqCst
} else {
    Release
};

/// Loads `word`; after a [`snooze`] (`spun`), under loom, a `SeqCst` load, which returns
/// the newest value (the stamps' stores and the head's and tail's read-modify-writes are
/// `SeqCst` there). Loom lets a plain load return the same old value again and again
/// (hardware makes a store visible eventually), which turns a wait for a push or pop that
/// reserved a slot into an endless model. The first look of every push and pop, and the
/// loads after the fences that decide "full" or "empty", stay plain loads under loom.
#[inline(always)]
fn reload(word: &AtomicUsize, order: Ordering, spun: bool) -> usize {
    if gort_runtime::shim::LOOM && spun {
        word.load(SeqCst)
    } else {
        word.load(order)
    }
}

impl<T> Array<T> {
    /// A ring of `cap` slots (`1 <= cap <= MAX_CAP`).
    pub(crate) fn new(cap: usize) -> Array<T> {
        debug_assert!((1..=MAX_CAP).contains(&cap));
        let mark_bit = (cap + 1).next_power_of_two();
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Array {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            slots,
            one_lap: mark_bit * 2,
            mark_bit,
            waiting: CachePadded(Waiting {
                recv: AtomicBool::new(false),
                send: AtomicBool::new(false),
            }),
        }
    }

    fn cap(&self) -> usize {
        self.slots.len()
    }

    /// The position after `pos` (same lap, next index; or the next lap's index 0).
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        if index + 1 < self.cap() {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Moves the value out of `value` (a `Some`; `None` after) into the ring, unless it is
    /// full (`Fail::Full`) or marked (`Fail::Closed`); then `value` keeps it. By reference,
    /// like the locked buffer's `try_send_from`: a large `T` is copied once, into its slot.
    pub(crate) fn push_from(&self, value: &mut Option<T>) -> Result<(), Fail> {
        self.push_with(value, true)
    }

    /// Like [`push_from`](Self::push_from), but never waits for another party's push or
    /// pop to finish with a slot: it reports such a ring busy (`Fail::Busy`), and the
    /// caller waits for that party without the lock and tries again (see the module docs).
    /// For a party that holds the channel's lock, which must not spin there.
    pub(crate) fn push_now(&self, value: &mut Option<T>) -> Result<(), Fail> {
        self.push_with(value, false)
    }

    #[inline(always)]
    fn push_with(&self, value: &mut Option<T>, wait: bool) -> Result<(), Fail> {
        // Before a slot is reserved: a panic after it would leave the slot reserved and
        // never stamped, and every later pop waiting for it (a `Select` reused after its
        // send case completed has no value left to send).
        let v: *const T = value.as_ref().expect("a value to send");
        let mut step = 0;
        let mut tail = self.tail.0.load(Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(Fail::Closed);
            }
            let index = tail & (self.mark_bit - 1);
            let slot = &self.slots[index];
            let stamp = reload(&slot.stamp, Acquire, step > 0);
            if tail == stamp {
                // The slot is free for this lap: reserve it.
                match self
                    .tail
                    .0
                    .compare_exchange_weak(tail, self.next(tail), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        slot.value.with_mut(|p| {
                            // SAFETY: the CAS reserved this slot for us alone until we
                            // stamp it; `v` is the live value in `value`, which is forgotten
                            // (overwritten with `None`, not dropped) right after the copy.
                            unsafe { std::ptr::copy_nonoverlapping(v, p.cast::<T>(), 1) }
                        });
                        // SAFETY: the value was moved into the slot just above; writing
                        // `None` over it without dropping is the move's other half.
                        unsafe { std::ptr::write(value, None) };
                        slot.stamp.store(tail + 1, STAMP_STORE);
                        return Ok(());
                    }
                    Err(t) => {
                        tail = t;
                        spin_light(&mut step);
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds the previous lap's value: full, unless a pop moved
                // the head meanwhile.
                fence(SeqCst);
                // A party about to park reads the head by an RMW (see the module docs).
                let head = if wait {
                    self.head.0.load(Relaxed)
                } else {
                    self.head_now()
                };
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(Fail::Full);
                }
                // A pop took the slot's value and has not stamped it free yet.
                tail = self
                    .wait_for(&self.tail.0, tail, wait, &mut step)
                    .ok_or(Fail::Busy)?;
            } else {
                // Another push or pop is finishing with this slot.
                tail = self
                    .wait_for(&self.tail.0, tail, wait, &mut step)
                    .ok_or(Fail::Busy)?;
            }
        }
    }

    /// Moves the oldest value into `out` (a `None`): `Fail::Empty` if there is none,
    /// `Fail::Closed` if there is none and the ring is marked.
    pub(crate) fn pop_into(&self, out: &mut Option<T>) -> Result<(), Fail> {
        self.pop_with(out, true)
    }

    /// Like [`pop_into`](Self::pop_into), but never waits for another party's push or pop
    /// to finish with a slot: it reports such a ring busy (see
    /// [`push_now`](Self::push_now)).
    pub(crate) fn pop_now(&self, out: &mut Option<T>) -> Result<(), Fail> {
        self.pop_with(out, false)
    }

    #[inline(always)]
    fn pop_with(&self, out: &mut Option<T>, wait: bool) -> Result<(), Fail> {
        // Filled between a slot's reservation and its stamp, so it must hold nothing to
        // drop (a `Drop` that panics there would leave the slot reserved for good).
        debug_assert!(out.is_none(), "a receive into a filled slot");
        let mut step = 0;
        let mut head = self.head.0.load(Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let slot = &self.slots[index];
            let stamp = reload(&slot.stamp, Acquire, step > 0);
            if head + 1 == stamp {
                match self
                    .head
                    .0
                    .compare_exchange_weak(head, self.next(head), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the stamp said the slot holds a value and the CAS reserved
                        // it for us alone until we stamp it free; reading moves it out.
                        *out = Some(slot.value.with(|p| unsafe { p.cast::<T>().read() }));
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), STAMP_STORE);
                        return Ok(());
                    }
                    Err(h) => {
                        head = h;
                        spin_light(&mut step);
                    }
                }
            } else if stamp == head {
                // The slot is free: empty, unless a push moved the tail meanwhile.
                fence(SeqCst);
                // A party about to park reads the tail by an RMW (see the module docs).
                let tail = if wait {
                    self.tail.0.load(Relaxed)
                } else {
                    self.tail_now()
                };
                if tail & !self.mark_bit == head {
                    return Err(if tail & self.mark_bit != 0 {
                        Fail::Closed
                    } else {
                        Fail::Empty
                    });
                }
                // A push reserved the slot and has not stamped its value in yet.
                head = self
                    .wait_for(&self.head.0, head, wait, &mut step)
                    .ok_or(Fail::Busy)?;
            } else {
                // A pop of the previous lap is still emptying this slot (or `head` is
                // stale). Not waiting for it, look at the tail as above: if nothing was
                // pushed behind that pop and the ring is marked, it is closed and drained.
                // Reporting it empty would strand a receiver that parks now: the close
                // has woken every receiver already queued, and that pop, when it
                // finishes, wakes only senders.
                if !wait {
                    let tail = self.tail_now();
                    if tail & !self.mark_bit == head && tail & self.mark_bit != 0 {
                        return Err(Fail::Closed);
                    }
                }
                head = self
                    .wait_for(&self.head.0, head, wait, &mut step)
                    .ok_or(Fail::Busy)?;
            }
        }
    }

    /// A push or pop found a slot in another party's hands (or its position `seen` of
    /// `word` stale): returns the position to try next, after a [`snooze`] if `wait`; if
    /// not `wait` and `word` has not moved, `None` (the caller reports the ring busy).
    #[inline(always)]
    fn wait_for(
        &self,
        word: &AtomicUsize,
        seen: usize,
        wait: bool,
        step: &mut u32,
    ) -> Option<usize> {
        if wait {
            snooze(step);
            return Some(reload(word, Relaxed, true));
        }
        let now = word.load(Relaxed);
        (now != seen).then_some(now)
    }

    /// Stops every later push (close, or the last receiver gone).
    pub(crate) fn mark(&self) {
        self.tail.0.fetch_or(self.mark_bit, SeqCst);
    }

    /// Whether pushes are stopped.
    fn is_marked(&self) -> bool {
        self.tail.0.load(SeqCst) & self.mark_bit != 0
    }

    /// Whether no value is in the ring (at one instant between the call and its return).
    fn is_empty(&self) -> bool {
        let head = self.head.0.load(SeqCst);
        let tail = self.tail.0.load(SeqCst);
        tail & !self.mark_bit == head
    }

    /// Whether every slot holds a value (at one instant between the call and its return).
    fn is_full(&self) -> bool {
        let tail = self.tail.0.load(SeqCst);
        let head = self.head.0.load(SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    /// Whether a receive would not find it empty and open (a value, or marked).
    pub(crate) fn recv_ready(&self) -> bool {
        !self.is_empty() || self.is_marked()
    }

    /// Whether a send would not find it full and open (room, or marked).
    pub(crate) fn send_ready(&self) -> bool {
        !self.is_full() || self.is_marked()
    }

    /// The head as of now, by a read-modify-write (an RMW reads the newest value, and
    /// this one is a release the next pop's CAS acquires): for a party about to park,
    /// whose flag then reaches any pop that comes after (see the module docs).
    fn head_now(&self) -> usize {
        self.head.0.fetch_add(0, AcqRel)
    }

    /// The tail as of now: as [`head_now`](Self::head_now), against pushes.
    fn tail_now(&self) -> usize {
        self.tail.0.fetch_add(0, AcqRel)
    }

    /// [`recv_ready`](Self::recv_ready) for a party that has published that it waits and
    /// parks if this says no: reads the tail by [`tail_now`](Self::tail_now).
    pub(crate) fn recv_ready_now(&self) -> bool {
        let tail = self.tail_now();
        tail & self.mark_bit != 0 || tail != self.head.0.load(SeqCst)
    }

    /// [`send_ready`](Self::send_ready) for a party that has published that it waits and
    /// parks if this says no: reads the head by [`head_now`](Self::head_now).
    pub(crate) fn send_ready_now(&self) -> bool {
        let head = self.head_now();
        let tail = self.tail.0.load(SeqCst);
        tail & self.mark_bit != 0 || head.wrapping_add(self.one_lap) != tail
    }

    /// A number that grows with every push, pop and mark (the head and tail positions only
    /// move forward): equal versions read at two times mean the ring did not change in
    /// between. For `select`'s one-instant look.
    pub(crate) fn version(&self) -> usize {
        let head = self.head.0.load(SeqCst);
        let tail = self.tail.0.load(SeqCst);
        head.wrapping_add(tail)
    }

    /// Values in the ring now.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(SeqCst);
            let head = self.head.0.load(SeqCst);
            if self.tail.0.load(SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap() - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.cap()
                };
            }
        }
    }

    /// The flag that says parties wait for a value (`recv`) or for room.
    #[inline]
    fn waiting(&self, recv: bool) -> &AtomicBool {
        if recv {
            &self.waiting.0.recv
        } else {
            &self.waiting.0.send
        }
    }

    /// Channel lock held: publishes whether parties wait (from the queues in `inner`). A
    /// party that queues itself then [`fence`]s and tries the ring again before it parks.
    pub(crate) fn publish_waiting<U>(&self, inner: &Inner<U>) {
        let (recv, send) = inner.waiting();
        // Written only when it changes: the flags' cache line is read after every push and
        // pop. A flag left set reaches a push or pop as a fresh store would (through the
        // lock and the waiter's RMW: see the module docs), and only a lock holder that
        // finds no waiter clears it.
        if self.waiting.0.recv.load(Relaxed) != recv {
            self.waiting.0.recv.store(recv, Relaxed);
        }
        if self.waiting.0.send.load(Relaxed) != send {
            self.waiting.0.send.store(send, Relaxed);
        }
    }

    /// Pops every value (mark the ring first, so that it stays empty after).
    pub(crate) fn drain(&self) -> std::collections::VecDeque<T> {
        let mut out = std::collections::VecDeque::new();
        let mut v = None;
        while self.pop_into(&mut v).is_ok() {
            out.extend(v.take());
        }
        out
    }
}

impl<T> Drop for Array<T> {
    fn drop(&mut self) {
        // The channel drains the ring (panic-safely) before it goes; whatever is left here
        // is dropped plainly.
        if std::mem::needs_drop::<T>() {
            let mut v = None;
            while self.pop_into(&mut v).is_ok() {
                v = None;
            }
        }
    }
}

impl<T> Inner<T> {
    /// Lock held: claims and dequeues the first claimable waiter of the receive queue
    /// (`recv`) or of the send queue, and wakes the `Select::ready` watchers. Returns the
    /// token to wake once the lock is released: on a ring channel a wake-up means "try the
    /// ring again", so nothing moves through the waiter.
    pub(crate) fn wake_first(&mut self, recv: bool) -> Option<Token> {
        let wake = self.waiters(recv).claim_first().map(|w| w.token().clone());
        self.changed();
        wake
    }

    /// The receive queue (`recv`) or the send queue.
    fn waiters(&mut self, recv: bool) -> &mut WaitQueue {
        if recv {
            &mut self.recvq
        } else {
            &mut self.sendq
        }
    }
}

/// The operations of a channel with a lock-free ring.
impl<T> Chan<T> {
    /// After a push (`recv`: wake a receiver) or a pop without the lock: if a party waits
    /// on the other side, takes the lock and wakes one. No fence: a party that queues
    /// itself sets the flag before it reads the tail or head by an RMW, which the push's
    /// or pop's CAS comes after unless that read saw it (see the module docs).
    #[inline]
    fn notify(&self, a: &Array<T>, recv: bool) {
        if a.waiting(recv).load(Relaxed) {
            self.notify_slow(recv);
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self, recv: bool) {
        let wake = self.lock().wake_first(recv);
        if let Some(t) = wake {
            t.wake();
        }
    }

    /// A send that does not wait (no lock unless a receiver waits): moves the value out of
    /// `value` if it succeeds.
    #[inline]
    pub(crate) fn send_fast(&self, a: &Array<T>, value: &mut Option<T>) -> Result<(), Fail> {
        a.push_from(value)?;
        self.notify(a, true);
        Ok(())
    }

    /// A receive that does not wait (no lock unless a sender waits): puts the value into
    /// `out` (a `None`).
    #[inline]
    pub(crate) fn recv_fast(&self, a: &Array<T>, out: &mut Option<T>) -> Result<(), Fail> {
        a.pop_into(out)?;
        self.notify(a, false);
        Ok(())
    }

    /// Lock held (`select`'s poll under its locks): a send that never waits for room, and
    /// waits for a slot another party is still finishing with only if `settle` (a
    /// non-blocking select's look at one instant; see the module docs); returns the token
    /// of a receiver to wake.
    pub(crate) fn send_locked(
        &self,
        a: &Array<T>,
        inner: &mut Inner<T>,
        value: &mut Option<T>,
        settle: bool,
    ) -> Result<Option<Token>, Fail> {
        if settle {
            a.push_from(value)?;
        } else {
            a.push_now(value)?;
        }
        Ok(inner.wake_first(true))
    }

    /// Lock held: a receive that never waits for a value (for a slot being finished only
    /// if `settle`, as in [`send_locked`](Self::send_locked)); returns the token of a
    /// sender to wake.
    pub(crate) fn recv_locked(
        &self,
        a: &Array<T>,
        inner: &mut Inner<T>,
        out: &mut Option<T>,
        settle: bool,
    ) -> Result<Option<Token>, Fail> {
        if settle {
            a.pop_into(out)?;
        } else {
            a.pop_now(out)?;
        }
        Ok(inner.wake_first(false))
    }

    /// The blocking send of a ring channel (see [`Chan::wait_ring`]).
    #[track_caller]
    pub(crate) fn send_ring(
        &self,
        a: &Array<T>,
        value: &mut Option<T>,
        deadline: Option<Instant>,
    ) -> Result<(), SendFail> {
        // The try that usually succeeds, inline; `wait_ring` (out of line) for the rest.
        match self.send_fast(a, value) {
            Ok(()) => return Ok(()),
            Err(Fail::Closed) => return Err(SendFail::Disconnected),
            Err(_) => {}
        }
        let side = RingSide {
            sending: true,
            why: park::WaitReason::ChanSend,
            fast: Chan::send_fast,
            ready: Array::send_ready,
            now: Array::push_now,
        };
        self.wait_ring(a, value, deadline, side)
            .map_err(|e| match e {
                RingFail::Closed => SendFail::Disconnected,
                RingFail::Timeout => SendFail::Timeout,
            })
    }

    /// The blocking receive of a ring channel (see [`Chan::wait_ring`]). A waiter woken
    /// by a close tries again too: buffered values drain before the close shows.
    #[track_caller]
    pub(crate) fn recv_ring(
        &self,
        a: &Array<T>,
        out: &mut Option<T>,
        deadline: Option<Instant>,
        why: park::WaitReason,
    ) -> Result<(), RecvTimeoutError> {
        match self.recv_fast(a, out) {
            Ok(()) => return Ok(()),
            Err(Fail::Closed) => return Err(RecvTimeoutError::Disconnected),
            Err(_) => {}
        }
        let side = RingSide {
            sending: false,
            why,
            fast: Chan::recv_fast,
            ready: Array::recv_ready,
            now: Array::pop_now,
        };
        self.wait_ring(a, out, deadline, side).map_err(|e| match e {
            RingFail::Closed => RecvTimeoutError::Disconnected,
            RingFail::Timeout => RecvTimeoutError::Timeout,
        })
    }

    /// A blocking send or receive of a ring channel (`side` says which; `slot` is the
    /// value to send or the place to receive into), after a try that found it full or
    /// empty (or busy): back off (plain threads), then queue a waiter (at the front once
    /// woken before), publish it, fence, try again under the lock, and park; a wake-up
    /// starts over with a try.
    #[track_caller]
    #[inline(never)]
    fn wait_ring(
        &self,
        a: &Array<T>,
        slot: &mut Option<T>,
        deadline: Option<Instant>,
        side: RingSide<T>,
    ) -> Result<(), RingFail> {
        let mut spins = None;
        let mut step = 0;
        let mut busy = 0;
        let mut woken_before = false;
        let mut tried = true; // by the caller
        loop {
            if !tried {
                match (side.fast)(self, a, slot) {
                    Ok(()) => return Ok(()),
                    Err(Fail::Closed) => return Err(RingFail::Closed),
                    Err(_) => {}
                }
            }
            tried = false;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RingFail::Timeout);
            }
            if *spins.get_or_insert_with(|| self.spins()) && step <= YIELD_LIMIT {
                self.backoff(&mut step, |_| (side.ready)(a));
                continue;
            }
            let mut place = WaiterPlace::new();
            // SAFETY: this operation is the only user of the scratch space until it
            // returns: no code that could block on a channel runs meanwhile, and by then the
            // waiter is dequeued (by its completer, or by us) and nobody touches it. Nobody
            // moves a value through a ring channel's waiter: the slot is only a tag.
            let w = unsafe { place.arm(slot as *mut Option<T> as *mut u8, side.why) };
            let mut g = self.lock();
            let q = g.waiters(!side.sending);
            // SAFETY: we hold the lock; the waiter stays in the scratch space until it is
            // dequeued, by its completer or by us below.
            unsafe {
                if woken_before {
                    q.push_front(w);
                } else {
                    q.push(w);
                }
            }
            g.changed();
            self.publish_len();
            fence(SeqCst);
            // The try again: a pop (push) since our last try, whose popper (pusher) saw no
            // waiter, left room (a value). Under the lock, so nobody claims our waiter
            // meanwhile.
            let r = (side.now)(a, slot);
            if matches!(r, Err(Fail::Busy)) {
                // A party is filling or emptying the slot we need: it does not look for
                // waiters after it finishes (no fence there), so do not park on it; wait
                // for it outside the lock and start over.
                // SAFETY: under the lock; `w` is queued in this queue.
                unsafe { g.waiters(!side.sending).remove(w) };
                drop(g);
                park::cancel();
                snooze(&mut busy);
                continue;
            }
            if !matches!(r, Err(Fail::Full | Fail::Empty)) {
                // SAFETY: under the lock; `w` is queued in this queue.
                unsafe { g.waiters(!side.sending).remove(w) };
                let wake = if r.is_ok() {
                    g.wake_first(side.sending)
                } else {
                    None
                };
                drop(g);
                park::cancel();
                if let Some(t) = wake {
                    t.wake();
                }
                return r.map_err(|_| RingFail::Closed);
            }
            drop(g);
            let woken = if spins == Some(true) {
                park::park_until_no_spin(deadline) // we spun already
            } else {
                park::park_until(deadline)
            };
            // SAFETY (the `remove`): under the lock; `w` was queued in this queue.
            if !woken && unsafe { self.lock().waiters(!side.sending).remove(w) } {
                return Err(RingFail::Timeout);
            }
            // Claimed: room or a value was made (or the channel closed); try again, first,
            // with a fresh back-off (a woken thread that loses the retry to a running party
            // spins again before it queues, as crossbeam's does: parking at once after each
            // lost retry made a thread of a busy channel sleep and wake per message).
            woken_before = true;
            step = 0;
        }
    }
}

/// What [`Chan::wait_ring`] does for a send or for a receive.
struct RingSide<T> {
    /// A send (its waiters queue on `sendq`, it wakes receivers), or a receive.
    sending: bool,
    /// What a parked operation waits for (`crate::debug`).
    why: park::WaitReason,
    /// The try without the lock: push or pop, then wake the other side if it waits.
    fast: FastTry<T>,
    /// Whether trying again could succeed now (the back-off's stop condition).
    ready: fn(&Array<T>) -> bool,
    /// The try under the lock, after queueing.
    now: fn(&Array<T>, &mut Option<T>) -> Result<(), Fail>,
}

/// A try at a ring channel's operation without its lock (`Chan::send_fast`, `recv_fast`).
type FastTry<T> = fn(&Chan<T>, &Array<T>, &mut Option<T>) -> Result<(), Fail>;

/// Why [`Chan::wait_ring`] gave up.
enum RingFail {
    Closed,
    Timeout,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::select::{Case, RecvCase};

    /// A pop that has taken the last value of a ring but not yet stamped its slot free,
    /// then a close: a receiver that retries under the lock before parking must see the
    /// ring closed. It used to see it empty and park for good (that pop, when it
    /// finishes, wakes only senders, and the close had woken every receiver queued
    /// before).
    #[test]
    fn a_retry_behind_an_unfinished_pop_sees_the_close() {
        let a = Array::<u32>::new(1);
        assert!(a.push_from(&mut Some(7)).is_ok());
        // The other receiver: reserves slot 0 and moves its value out, not stamped yet.
        let head = a.head.0.load(Relaxed);
        a.head.0.store(a.next(head), Relaxed);
        // SAFETY: slot 0 holds a value (stamped full above) and is reserved by the head
        // move just above, as a pop's CAS would.
        let taken = a.slots[0].value.with(|p| unsafe { p.cast::<u32>().read() });
        assert_eq!(taken, 7);
        a.mark(); // the close
        let mut out = None;
        assert!(
            matches!(a.pop_now(&mut out), Err(Fail::Closed)),
            "closed and drained, not empty"
        );
        assert!(out.is_none());
        // The other receiver finishes.
        a.slots[0]
            .stamp
            .store(head.wrapping_add(a.one_lap), Release);
        assert!(matches!(a.pop_into(&mut out), Err(Fail::Closed)));
    }

    /// A push that has reserved the first slot but not yet written it, and a completed
    /// push behind it: a non-blocking select's poll under the lock (which settles) must
    /// wait for the first and take its value, not report the ring empty: the values are
    /// in the channel at every instant since the second push returned.
    #[test]
    fn a_settling_poll_waits_for_an_unfinished_push() {
        let (tx, rx) = crate::bounded::<u32>(2);
        let a = rx.chan.array.as_ref().expect("a ring channel");
        // The stalled sender reserves slot 0.
        let tail = a.tail.0.load(Relaxed);
        a.tail.0.store(a.next(tail), Relaxed);
        // Another send completes into slot 1.
        tx.send(20).unwrap();
        let mut out = None;
        assert!(
            matches!(a.pop_now(&mut out), Err(Fail::Busy)),
            "the lock-held retry of a blocking receive does not wait: busy, not empty"
        );
        // The stalled sender finishes a moment later, on another thread.
        let finisher = std::thread::spawn({
            let rx = rx.clone();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                let a = rx.chan.array.as_ref().expect("a ring channel");
                // SAFETY: slot 0 was reserved above for this write alone.
                a.slots[0]
                    .value
                    .with_mut(|p| unsafe { p.cast::<u32>().write(10) });
                a.slots[0].stamp.store(tail + 1, Release);
            }
        });
        let mut case = RecvCase::new(&rx);
        case.raw_lock().lock();
        // SAFETY: the channel is locked just above.
        let done = unsafe { case.poll(true) };
        // SAFETY: locked above.
        unsafe { case.raw_lock().unlock() };
        assert!(done.is_some(), "the settling poll completes");
        assert_eq!(case.take(), Ok(10));
        finisher.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(20));
    }
}
