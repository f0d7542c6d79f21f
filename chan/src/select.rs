//! `select`: wait on several channel operations, complete exactly one (Go's `selectgo`).
//!
//! 1. Poll the cases in a uniformly random order (Go's fairness), each under its own
//!    channel's lock, and complete the first ready one. A receive on a closed channel is
//!    ready (it yields `Err(RecvError)`), as is a send on one (it yields the value back).
//!    A case whose channel's published length says it cannot complete (an empty or a full
//!    buffer) is skipped without taking its lock. Unlike Go, which locks every channel on
//!    every select, a busy select thus usually locks one channel.
//! 2. Otherwise lock every channel involved, in address order (duplicates once), and poll
//!    again: this look sees all the cases at one instant (Go's `sellock`), so a select that
//!    reports "nothing ready" (`default`, or a deadline already past) was right at that
//!    instant. (A non-blocking select of one case skips this: its single look in step 1
//!    already was one instant.) If it may wait, queue one [`Waiter`] per case, all sharing a
//!    decision word and one park token; unlock; park. Holding every lock makes the last
//!    check and the registration atomic with respect to all other operations. A completer
//!    claims the select by a CAS of the decision word to its waiter's address, so exactly
//!    one case completes; a deadline claims it for "timed out".
//! 3. On wake, lock everything again and dequeue the waiters of the cases that lost (O(1)
//!    each: the channels' queues are the runtime's intrusive waiter queue), and find the
//!    winner by its waiter's address.
//!
//! A case on a channel with a lock-free ring ([`crate::array`]) can become ready without
//! its lock: after registering, the select fences and looks at such cases again before it
//! parks (and starts over if one is ready); a waiter of such a case is woken to try again
//! rather than handed a value, so the woken select first retries that case (before any
//! other: the wake-up was meant for it), and starts over if another party took the value
//! or the room meanwhile, that case then queueing at the front (it already waited, as a
//! plain send or receive that lost its retry does). A non-blocking select polls under its locks until no ring changed
//! while it did (see [`versions`]), so its "nothing ready" is still a look at one instant.
//!
//! Like Go, a send case's value is evaluated when the select starts; if another case is
//! chosen, the value is dropped.

use crate::array::fence;
use crate::channel::{Chan, Fail, Receiver, Sender};
use crate::error::*;
use crate::waiter::{self, Decision, Waiter, TIMED_OUT};
use gort_runtime::park::{self, Token};
use gort_runtime::shim::RawLock;
#[cfg(not(loom))]
use std::cell::Cell;
use std::ops::DerefMut;
use std::sync::atomic::Ordering::{AcqRel, Acquire, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a select may wait.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Until a case is ready.
    Block,
    /// Not at all (`default`).
    NonBlock,
    /// Until the deadline (`default(timeout)`); `None` means forever.
    Until(Option<Instant>),
}

impl Mode {
    /// A mode that waits at most `d`.
    pub fn timeout(d: Duration) -> Mode {
        Mode::Until(crate::channel::deadline_after(d))
    }
}

/// One case of a select, type-erased. Implemented by [`RecvCase`] and [`SendCase`] only;
/// public for `select!`'s expansion, not part of the API.
///
/// # Safety
/// [`select`] calls the unsafe methods under the locks of the cases' channels, and relies
/// on an implementor for the rest of the protocol:
///
/// - [`chan_id`](Case::chan_id) and [`raw_lock`](Case::raw_lock) are stable for the case's
///   life, and two cases have the same id exactly when they share a lock (the select locks
///   each lock once, in id order);
/// - the unsafe methods touch the channel's state only while its lock is held;
/// - [`register`](Case::register) queues a waiter that only a completer that claims the
///   select's decision word completes, and [`unregister`](Case::unregister) leaves the
///   channel with no pointer to the case, its waiter or the decision word; a completer
///   that claimed the case has dequeued it already.
pub unsafe trait Case {
    /// Identity of the channel (its address): lock order and duplicate detection.
    fn chan_id(&self) -> usize;
    /// The channel's lock.
    fn raw_lock(&self) -> &RawLock;
    /// Lock-free and only a hint: whether the operation might complete now. `false` only if
    /// the channel's last published state says it cannot (see `Chan::recv_hint`).
    fn maybe_ready(&self) -> bool;
    /// The fast path's single look: [`Case::poll`] under the channel's lock (or, on a
    /// lock-free ring, the operation without it).
    fn poll_once(&mut self) -> Option<Option<Token>> {
        poll_locked(self)
    }
    /// With the lock held: completes the operation if it can be done now. Returns
    /// `Some(token to wake after unlocking)` if it completed. `settle`: on a lock-free
    /// ring, wait for a slot that another party is still filling or emptying instead of
    /// counting it as full or empty (a non-blocking select's look at one instant).
    ///
    /// # Safety
    /// The channel's lock must be held.
    unsafe fn poll(&mut self, settle: bool) -> Option<Option<Token>>;
    /// With the lock held: queues this case's waiter, woken by `token`, claimed through
    /// the decision word `sel`; at the back of the channel's queue, or at the front with
    /// `front` (the case was woken before and lost its retry: Go's order for a waiter that
    /// already waited, as for a plain send or receive on a ring channel).
    ///
    /// # Safety
    /// The lock must be held; `sel` must outlive the registration; `self` must not move
    /// until `unregister` (or until a completer has dequeued it).
    unsafe fn register(&mut self, token: &Token, sel: *const Decision, front: bool);
    /// Whether `decision` (a select's decision word after a completer claimed it) names
    /// this case's waiter.
    fn won(&self, decision: usize) -> bool;
    /// With the lock held: dequeues this case's waiter if it is still queued.
    ///
    /// # Safety
    /// The lock must be held.
    unsafe fn unregister(&mut self);
    /// After this case won while the select was parked: turn the waiter's outcome into
    /// the case's result. On a ring channel the wake-up only said "try again": the case
    /// retries its operation once, and `false` says another party took it meanwhile (the
    /// select starts over).
    fn finish(&mut self) -> bool;
    /// After registering (and a fence): whether the case became ready without its
    /// channel's lock (a ring channel; always `false` for a locked buffer, whose every
    /// change takes the lock).
    fn ready_unlocked(&self) -> bool;
    /// A number that grows with every change of the channel's lock-free ring (0 for a
    /// locked buffer): see [`versions`].
    fn version(&self) -> usize;
    /// With the lock held: whether the operation could complete now (`Select::ready`).
    ///
    /// # Safety
    /// The lock must be held.
    unsafe fn ready_locked(&self) -> bool;
    /// With the lock held: has `token` woken at the channel's next change.
    ///
    /// # Safety
    /// The lock must be held.
    unsafe fn watch(&mut self, token: &Token);
    /// With the lock held: withdraws the watches of `token`'s goroutine or thread.
    ///
    /// # Safety
    /// The lock must be held.
    unsafe fn unwatch(&mut self, token: &Token);
}

/// Locks the case's channel, [`Case::poll`]s, unlocks.
fn poll_locked<C: Case + ?Sized>(case: &mut C) -> Option<Option<Token>> {
    case.raw_lock().lock();
    // SAFETY: the case's channel is locked (just above).
    let done = unsafe { case.poll(false) };
    // SAFETY: locked just above.
    unsafe { case.raw_lock().unlock() };
    done
}

/// A receive case.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    chan: &'a Chan<T>,
    slot: Option<T>,
    /// Queued while the select waits; built when it registers.
    waiter: Option<Waiter>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A case receiving from `r`.
    pub fn new(r: &'a Receiver<T>) -> Self {
        RecvCase {
            chan: &r.chan,
            slot: None,
            waiter: None,
            result: None,
        }
    }

    /// The outcome, once this case was chosen.
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result
            .take()
            .expect("gort: select case taken twice or not chosen")
    }
}

// SAFETY: the methods keep `Case`'s contract: the channel's state is touched under its
// lock only, through `inner_locked`; the waiter lives in the case, which the select keeps
// in place until it has unregistered it.
unsafe impl<T> Case for RecvCase<'_, T> {
    fn chan_id(&self) -> usize {
        self.chan.id()
    }
    fn raw_lock(&self) -> &RawLock {
        self.chan.raw_lock()
    }
    #[inline]
    fn maybe_ready(&self) -> bool {
        self.chan.recv_hint()
    }
    fn poll_once(&mut self) -> Option<Option<Token>> {
        let Some(a) = &self.chan.array else {
            return poll_locked(self);
        };
        // A lock-free ring: no lock unless a sender waits.
        match self.chan.recv_fast(a, &mut self.slot) {
            Ok(()) => self.result = Some(Ok(self.slot.take().expect("received value"))),
            Err(Fail::Closed) => self.result = Some(Err(RecvError)),
            Err(_) => return None,
        }
        Some(None)
    }
    unsafe fn poll(&mut self, settle: bool) -> Option<Option<Token>> {
        // SAFETY: the caller holds the channel's lock (`Case::poll`'s contract).
        let inner = unsafe { self.chan.inner_locked() };
        let r = match &self.chan.array {
            Some(a) => self.chan.recv_locked(a, inner, &mut self.slot, settle),
            None => inner.try_recv_into(&mut self.slot),
        };
        match r {
            Ok(wake) => {
                self.chan.publish_len();
                self.result = Some(Ok(self.slot.take().expect("received value")));
                Some(wake)
            }
            Err(Fail::Closed) => {
                self.result = Some(Err(RecvError));
                Some(None)
            }
            Err(_) => None,
        }
    }
    unsafe fn register(&mut self, token: &Token, sel: *const Decision, front: bool) {
        let slot = &mut self.slot as *mut Option<T> as *mut u8;
        let w = self
            .waiter
            .insert(waiter::of_select(token.clone(), sel, slot));
        // SAFETY: the caller holds the channel's lock (`Case::register`'s contract).
        let inner = unsafe { self.chan.inner_locked() };
        // SAFETY: the lock is held; the waiter is in no queue (a select dequeues every
        // waiter before it registers again) and stays in place until `unregister` (the
        // caller's contract).
        unsafe {
            if front {
                inner.recvq.push_front(w);
            } else {
                inner.recvq.push(w);
            }
        }
        inner.changed();
        self.chan.publish_len();
    }
    fn won(&self, decision: usize) -> bool {
        self.waiter
            .as_ref()
            .is_some_and(|w| w as *const Waiter as usize == decision)
    }
    unsafe fn ready_locked(&self) -> bool {
        if let Some(a) = &self.chan.array {
            return a.recv_ready();
        }
        // SAFETY: the caller holds the channel's lock (`Case::ready_locked`'s contract).
        unsafe { self.chan.inner_locked() }.recv_ready()
    }
    unsafe fn watch(&mut self, token: &Token) {
        // SAFETY: the caller holds the channel's lock (`Case::watch`'s contract).
        unsafe { self.chan.inner_locked() }.watch(token);
        self.chan.publish_len();
    }
    unsafe fn unwatch(&mut self, token: &Token) {
        // SAFETY: the caller holds the channel's lock (`Case::unwatch`'s contract).
        unsafe { self.chan.inner_locked() }.unwatch(token);
        self.chan.publish_len();
    }
    unsafe fn unregister(&mut self) {
        if let Some(w) = &self.waiter {
            // SAFETY: the caller holds the channel's lock (`Case::unregister`'s contract),
            // and the waiter was queued on this channel's recvq only.
            unsafe { self.chan.inner_locked().recvq.remove(w) };
            self.chan.publish_len();
        }
    }
    fn finish(&mut self) -> bool {
        if self.chan.array.is_some() {
            return retry(self);
        }
        // A value arrived, or the channel closed and the slot stayed empty.
        self.result = Some(self.slot.take().ok_or(RecvError));
        true
    }
    fn ready_unlocked(&self) -> bool {
        self.chan.array.as_ref().is_some_and(|a| a.recv_ready_now())
    }
    fn version(&self) -> usize {
        self.chan.array.as_ref().map_or(0, |a| a.version())
    }
}

/// A send case (its value is moved in when the select starts).
#[doc(hidden)]
pub struct SendCase<'a, T> {
    chan: &'a Chan<T>,
    slot: Option<T>,
    /// Queued while the select waits; built when it registers.
    waiter: Option<Waiter>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// A case sending `v` on `s`.
    pub fn new(s: &'a Sender<T>, v: T) -> Self {
        SendCase {
            chan: &s.chan,
            slot: Some(v),
            waiter: None,
            result: None,
        }
    }

    /// The outcome, once this case was chosen.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result
            .take()
            .expect("gort: select case taken twice or not chosen")
    }
}

// SAFETY: as for `RecvCase`.
unsafe impl<T> Case for SendCase<'_, T> {
    fn chan_id(&self) -> usize {
        self.chan.id()
    }
    fn raw_lock(&self) -> &RawLock {
        self.chan.raw_lock()
    }
    #[inline]
    fn maybe_ready(&self) -> bool {
        self.chan.send_hint()
    }
    fn poll_once(&mut self) -> Option<Option<Token>> {
        let Some(a) = &self.chan.array else {
            return poll_locked(self);
        };
        // A lock-free ring: no lock unless a receiver waits.
        match self.chan.send_fast(a, &mut self.slot) {
            Ok(()) => self.result = Some(Ok(())),
            Err(Fail::Closed) => {
                self.result = Some(Err(SendError(self.slot.take().expect("unsent value"))))
            }
            Err(_) => return None,
        }
        Some(None)
    }
    unsafe fn poll(&mut self, settle: bool) -> Option<Option<Token>> {
        // SAFETY: the caller holds the channel's lock (`Case::poll`'s contract).
        let inner = unsafe { self.chan.inner_locked() };
        let r = match &self.chan.array {
            Some(a) => self.chan.send_locked(a, inner, &mut self.slot, settle),
            None => inner.try_send_from(&mut self.slot, self.chan.cap()),
        };
        match r {
            Ok(wake) => {
                self.chan.publish_len();
                self.result = Some(Ok(()));
                Some(wake)
            }
            Err(Fail::Closed) => {
                self.result = Some(Err(SendError(self.slot.take().expect("unsent value"))));
                Some(None)
            }
            Err(_) => None,
        }
    }
    unsafe fn register(&mut self, token: &Token, sel: *const Decision, front: bool) {
        let slot = &mut self.slot as *mut Option<T> as *mut u8;
        let w = self
            .waiter
            .insert(waiter::of_select(token.clone(), sel, slot));
        // SAFETY: the caller holds the channel's lock (`Case::register`'s contract).
        let inner = unsafe { self.chan.inner_locked() };
        // SAFETY: the lock is held; the waiter is in no queue (a select dequeues every
        // waiter before it registers again) and stays in place until `unregister` (the
        // caller's contract).
        unsafe {
            if front {
                inner.sendq.push_front(w);
            } else {
                inner.sendq.push(w);
            }
        }
        inner.changed();
        self.chan.publish_len();
    }
    fn won(&self, decision: usize) -> bool {
        self.waiter
            .as_ref()
            .is_some_and(|w| w as *const Waiter as usize == decision)
    }
    unsafe fn ready_locked(&self) -> bool {
        if let Some(a) = &self.chan.array {
            return a.send_ready();
        }
        // SAFETY: the caller holds the channel's lock (`Case::ready_locked`'s contract).
        unsafe { self.chan.inner_locked() }.send_ready(self.chan.cap())
    }
    unsafe fn watch(&mut self, token: &Token) {
        // SAFETY: the caller holds the channel's lock (`Case::watch`'s contract).
        unsafe { self.chan.inner_locked() }.watch(token);
        self.chan.publish_len();
    }
    unsafe fn unwatch(&mut self, token: &Token) {
        // SAFETY: the caller holds the channel's lock (`Case::unwatch`'s contract).
        unsafe { self.chan.inner_locked() }.unwatch(token);
        self.chan.publish_len();
    }
    unsafe fn unregister(&mut self) {
        if let Some(w) = &self.waiter {
            // SAFETY: the caller holds the channel's lock (`Case::unregister`'s contract),
            // and the waiter was queued on this channel's sendq only.
            unsafe { self.chan.inner_locked().sendq.remove(w) };
            self.chan.publish_len();
        }
    }
    fn finish(&mut self) -> bool {
        if self.chan.array.is_some() {
            return retry(self);
        }
        // The value was taken, or the channel failed the send and it is still there.
        self.result = Some(match self.slot.take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        });
        true
    }
    fn ready_unlocked(&self) -> bool {
        self.chan.array.as_ref().is_some_and(|a| a.send_ready_now())
    }
    fn version(&self) -> usize {
        self.chan.array.as_ref().map_or(0, |a| a.version())
    }
}

/// A woken case of a ring channel tries its operation once, before any other case (the
/// wake-up was meant for it: trying another case first could strand the value or the room
/// with nobody woken for it). `false` if another party took it meanwhile.
fn retry(case: &mut dyn Case) -> bool {
    match case.poll_once() {
        Some(wake) => {
            if let Some(t) = wake {
                t.wake();
            }
            true
        }
        None => false,
    }
}

/// Index lists kept on the stack for selects of up to this many cases.
const INLINE: usize = 8;

/// A list of case indices `0..n`, on the stack when short.
enum Indices {
    Inline([u8; INLINE], u8),
    Heap(Vec<usize>),
}

impl Indices {
    fn new(n: usize) -> Indices {
        if n <= INLINE {
            Indices::Inline([0, 1, 2, 3, 4, 5, 6, 7], n as u8)
        } else {
            Indices::Heap((0..n).collect())
        }
    }
    fn len(&self) -> usize {
        match self {
            Indices::Inline(_, n) => *n as usize,
            Indices::Heap(v) => v.len(),
        }
    }
    fn get(&self, k: usize) -> usize {
        match self {
            Indices::Inline(a, _) => a[k] as usize,
            Indices::Heap(v) => v[k],
        }
    }
    fn swap(&mut self, i: usize, j: usize) {
        match self {
            Indices::Inline(a, _) => a.swap(i, j),
            Indices::Heap(v) => v.swap(i, j),
        }
    }
    fn truncate(&mut self, len: usize) {
        match self {
            Indices::Inline(_, n) => *n = len as u8,
            Indices::Heap(v) => v.truncate(len),
        }
    }
    fn sort_by_key(&mut self, key: impl Fn(usize) -> usize) {
        match self {
            Indices::Inline(a, n) => a[..*n as usize].sort_unstable_by_key(|&i| key(i as usize)),
            Indices::Heap(v) => v.sort_unstable_by_key(|&i| key(i)),
        }
    }
}

/// A random 64-bit number (a per-thread xorshift; the state is read and written at once,
/// never held across a switch). Under loom, 0: a model must be deterministic.
#[cfg(loom)]
fn random_u64() -> u64 {
    0
}

/// A random 64-bit number (a per-thread xorshift; the state is read and written at once,
/// never held across a switch). Never inlined: inlined into a `select` that parks and
/// resumes on another thread, the compiler could reuse the first thread's address of the
/// state (a thread-local) and race with that thread's own draws.
#[cfg(not(loom))]
#[inline(never)]
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    thread_local! {
        static RNG: Cell<u64> = const { Cell::new(0) };
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

/// Bounded random draws, several from one 64-bit random number (Lemire's batched draws:
/// each multiplies the remaining randomness by its bound and takes the high word). A fresh
/// number is drawn once the bounds used from the current one multiply past 2^32, so each
/// draw stays within 2^-32 of uniform; a select of up to 8 cases (8! < 2^16) shuffles with
/// one call into the generator.
struct Draws {
    bits: u64,
    used: u64,
}

impl Draws {
    #[inline]
    fn new() -> Draws {
        Draws {
            bits: random_u64(),
            used: 1,
        }
    }

    /// A number below `bound` (which is at least 1).
    #[inline]
    fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u64;
        if self.used.saturating_mul(bound) > 1 << 32 {
            self.bits = random_u64();
            self.used = 1;
        }
        self.used *= bound;
        let product = self.bits as u128 * bound as u128;
        self.bits = product as u64;
        (product >> 64) as usize
    }
}

/// Runs a select over `cases`. Returns the index of the completed case, or `None` if the
/// mode did not allow waiting (long enough).
#[doc(hidden)]
#[track_caller]
pub fn select<'c, C>(cases: &mut [C], mode: Mode) -> Option<usize>
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    run(cases, mode, false)
}

/// Like [`select`], but polls (and queues) the cases in order, so the first ready case
/// wins (`select_biased!`).
#[doc(hidden)]
#[track_caller]
pub fn select_biased<'c, C>(cases: &mut [C], mode: Mode) -> Option<usize>
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    run(cases, mode, true)
}

#[track_caller]
fn run<'c, C>(cases: &mut [C], mode: Mode, biased: bool) -> Option<usize>
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    let at = std::panic::Location::caller();
    // The case whose wake-up was lost to another party: it registers at the front from then on.
    let mut lost = None;
    loop {
        if let Some(outcome) = round(cases, mode, biased, at, &mut lost) {
            return outcome;
        }
    }
}

/// One round of [`run`]: `None` if the select must start over (a ring case became ready
/// without its lock while the select registered, or a woken ring case's retry found its
/// value or room taken: then `lost` names that case, which registers at the front of its
/// queue in the rounds that follow).
fn round<'c, C>(
    cases: &mut [C],
    mode: Mode,
    biased: bool,
    at: &'static std::panic::Location<'static>,
    lost: &mut Option<usize>,
) -> Option<Option<usize>>
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    let n = cases.len();
    // Uniformly random poll order (Fisher-Yates), unless biased.
    let mut order = Indices::new(n);
    if !biased {
        let mut draws = Draws::new();
        for i in (1..n).rev() {
            order.swap(i, draws.below(i + 1));
        }
    }

    // Fast path: try the cases one at a time, each under its own channel's lock, skipping
    // those whose channel's published state says they cannot complete (without touching
    // their locks). When a case is ready (the common case in a busy program) this locks one
    // channel, not all of them. A skip is safe: with two or more cases, every case is looked
    // at again under all the locks below before the select blocks or gives up; with one,
    // the hint itself is a look at one instant (it reflects every operation that happened
    // before the select, and a closed channel never reopens).
    for k in 0..n {
        let c = &mut cases[order.get(k)];
        if !c.maybe_ready() {
            continue;
        }
        if let Some(wake) = c.poll_once() {
            if let Some(t) = wake {
                t.wake();
            }
            return Some(Some(order.get(k)));
        }
    }
    let (deadline, may_wait) = match mode {
        Mode::Block => (None, true),
        Mode::NonBlock => (None, false),
        Mode::Until(d) => (d, d.is_none_or(|d| Instant::now() < d)),
    };
    if !may_wait && n <= 1 {
        return Some(None); // one case: the fast path's look was a look at one instant
    }

    // Slow path: lock every channel (address order, each once), poll again, and register
    // (or, if the select may not wait, give up). The fast path looked at the cases one
    // after another; this look, under all the locks, sees them all at one instant (Go's
    // `sellock`): a select that returns "nothing ready" must never miss a moment when one
    // case was ready, e.g. while another party makes c2 ready and then drains c1.
    let locks = lock_order(cases);
    let lock_all = |cases: &mut [C]| lock_cases(cases, &locks);
    let unlock_all = |cases: &mut [C]| unlock_cases(cases, &locks);

    lock_all(cases);
    // Lock-free rings change under our locks: a select that may not wait polls until no
    // ring changed while it did (see `versions`).
    let mut seen = if may_wait { 0 } else { versions(cases) };
    loop {
        for k in 0..n {
            let i = order.get(k);
            // SAFETY: every channel of the select is locked.
            // A select that may not wait settles half-finished ring operations (see
            // `Case::poll`); one that may wait registers and looks again instead.
            if let Some(wake) = unsafe { cases[i].poll(!may_wait) } {
                unlock_all(cases);
                if let Some(t) = wake {
                    t.wake();
                }
                return Some(Some(i));
            }
        }
        if may_wait {
            break;
        }
        let now = versions(cases);
        if now == seen {
            unlock_all(cases);
            return Some(None);
        }
        seen = now;
    }
    let decision = Decision::new(0);
    // `prepare` panics where blocking is not allowed (in a timer callback): the channels
    // must not stay locked then.
    let why = if n == 0 {
        park::WaitReason::SelectNoCases
    } else {
        park::WaitReason::Select
    };
    let token = match std::panic::catch_unwind(|| park::prepare_at(why, at)) {
        Ok(token) => token,
        Err(panic) => {
            unlock_all(cases);
            std::panic::resume_unwind(panic)
        }
    };
    // Register in the random poll order too: a completer takes the first queued waiter, so
    // registering in case order would always favour the first case (Go's
    // TestPseudoRandomSend).
    for k in 0..n {
        let i = order.get(k);
        // SAFETY: all locked; `decision` and the cases stay put until we dequeue below.
        unsafe { cases[i].register(&token, &decision, *lost == Some(i)) };
    }
    // A ring case may have become ready since the poll above without taking its lock:
    // look again now that the waiters are published (the fence pairs with the one of a
    // push or pop that then looks for waiters). We hold every lock, so no completer has
    // claimed the select yet.
    fence(SeqCst);
    if cases.iter().any(|c| c.ready_unlocked()) {
        for c in cases.iter_mut() {
            // SAFETY: all locked.
            unsafe { c.unregister() };
        }
        unlock_all(cases);
        park::cancel();
        return None;
    }
    unlock_all(cases);

    let woken = park::park_until(deadline);
    let timed_out = !woken
        && decision
            .compare_exchange(0, TIMED_OUT, AcqRel, Acquire)
            .is_ok();
    lock_all(cases);
    for c in cases.iter_mut() {
        // SAFETY: all locked. The winner's waiter was dequeued by its completer already.
        unsafe { c.unregister() };
    }
    unlock_all(cases);
    if timed_out {
        return Some(None);
    }
    let decision = decision.load(Acquire);
    let won = cases
        .iter()
        .position(|c| c.won(decision))
        .expect("a woken select's decision names one of its cases");
    if cases[won].finish() {
        return Some(Some(won));
    }
    *lost = Some(won);
    None
}

/// The sum of the cases' [`Case::version`]s. Each version only grows (a ring's head and
/// tail only move forward), so two equal sums mean that no ring of the select changed
/// between the two reads: every poll in between saw its case as it was at one instant
/// common to all of them (after the first sum's last read, before the second's first), as
/// the locks do for the locked channels.
fn versions<'c, C>(cases: &[C]) -> usize
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    cases
        .iter()
        .fold(0usize, |sum, c| sum.wrapping_add(c.version()))
}

/// The indices of `cases` whose channels a select locks, in lock order (by channel
/// identity, each channel once).
fn lock_order<'c, C>(cases: &[C]) -> Indices
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    let mut locks = Indices::new(cases.len());
    locks.sort_by_key(|i| cases[i].chan_id());
    let mut kept = 0;
    for k in 0..locks.len() {
        let i = locks.get(k);
        if kept == 0 || cases[i].chan_id() != cases[locks.get(kept - 1)].chan_id() {
            locks.swap(kept, k);
            kept += 1;
        }
    }
    locks.truncate(kept);
    locks
}

/// Locks the channels of `locks` (from [`lock_order`]).
fn lock_cases<'c, C>(cases: &mut [C], locks: &Indices)
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    for k in 0..locks.len() {
        cases[locks.get(k)].raw_lock().lock();
    }
}

/// Unlocks what [`lock_cases`] locked.
fn unlock_cases<'c, C>(cases: &mut [C], locks: &Indices)
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    for k in (0..locks.len()).rev() {
        // SAFETY: locked by `lock_cases`; nothing switches goroutines while they are held,
        // and parking_lot's raw mutex is not tied to a thread anyway.
        unsafe { cases[locks.get(k)].raw_lock().unlock() };
    }
}

/// `Select::ready`: waits (as `mode` allows) until one of `cases` could complete, and
/// returns its index without completing it. Among ready cases one is picked at random.
///
/// Each round locks every channel, looks at the cases in random order, and if none is
/// ready and it may wait, leaves the park token with every channel (its watchers) and
/// parks: any change to one of them (a value moved, a waiter queued, a close) wakes it for
/// another round. The watches are withdrawn under the locks at the start of the next
/// round.
#[track_caller]
pub(crate) fn ready<'c, C>(cases: &mut [C], mode: Mode) -> Option<usize>
where
    C: DerefMut<Target = dyn Case + 'c>,
{
    let n = cases.len();
    let mut order = Indices::new(n);
    let mut draws = Draws::new();
    for i in (1..n).rev() {
        order.swap(i, draws.below(i + 1));
    }
    let locks = lock_order(cases);
    let deadline = match mode {
        Mode::Block => None,
        Mode::NonBlock => Some(Instant::now()),
        Mode::Until(d) => d,
    };
    let mut watching: Option<Token> = None;
    loop {
        lock_cases(cases, &locks);
        if let Some(t) = watching.take() {
            for k in 0..locks.len() {
                // SAFETY: every channel of the select is locked.
                unsafe { cases[locks.get(k)].unwatch(&t) };
            }
        }
        for k in 0..n {
            let i = order.get(k);
            // SAFETY: every channel of the select is locked.
            if unsafe { cases[i].ready_locked() } {
                unlock_cases(cases, &locks);
                return Some(i);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            unlock_cases(cases, &locks);
            return None;
        }
        let token = park::prepare_for(park::WaitReason::Select);
        for k in 0..locks.len() {
            // SAFETY: every channel of the select is locked.
            unsafe { cases[locks.get(k)].watch(&token) };
        }
        // As in `round`: a ring may have changed since the look above without its lock;
        // the watches are published, so a later change wakes us.
        fence(SeqCst);
        let again = cases.iter().any(|c| c.ready_unlocked());
        unlock_cases(cases, &locks);
        if again {
            park::cancel();
        } else {
            park::park_until(deadline);
        }
        watching = Some(token);
    }
}

/// A select over a list of operations built at run time (for a fixed list, use
/// [`select!`](crate::select!)).
///
/// Unlike crossbeam-channel, a send's value is given when the case is added (Go evaluates
/// every send operand before selecting), and the chosen operation has already completed
/// when `select` returns: [`SelectedOperation::recv`] and [`SelectedOperation::send`] hand
/// over its outcome.
pub struct Select<'a> {
    cases: Vec<Box<dyn Case + 'a>>,
    /// Per case: its channel's identity and whether it is a send (checked by
    /// [`SelectedOperation`]).
    kinds: Vec<(usize, bool)>,
    /// Per case: the index [`Select::recv`] or [`Select::send`] returned for it (indices
    /// stay put when [`Select::remove`] takes a case out).
    indices: Vec<usize>,
    /// The index the next added case gets.
    next: usize,
}

impl<'a> Select<'a> {
    /// An empty select.
    pub fn new() -> Select<'a> {
        Select {
            cases: Vec::new(),
            kinds: Vec::new(),
            indices: Vec::new(),
            next: 0,
        }
    }

    fn add(&mut self, case: Box<dyn Case + 'a>, kind: (usize, bool)) -> usize {
        self.cases.push(case);
        self.kinds.push(kind);
        self.indices.push(self.next);
        self.next += 1;
        self.next - 1
    }

    /// Adds a receive from `r`; returns the case's index.
    pub fn recv<T: 'a>(&mut self, r: &'a Receiver<T>) -> usize {
        self.add(
            Box::new(RecvCase::new(r)),
            (Arc::as_ptr(&r.chan) as usize, false),
        )
    }

    /// Adds a send of `v` on `s`; returns the case's index. If another case is chosen,
    /// `v` is dropped.
    pub fn send<T: 'a>(&mut self, s: &'a Sender<T>, v: T) -> usize {
        self.add(
            Box::new(SendCase::new(s, v)),
            (Arc::as_ptr(&s.chan) as usize, true),
        )
    }

    /// Removes the case with `index` (as returned by [`Select::recv`] or
    /// [`Select::send`]); the other cases keep their indices. A removed send's value is
    /// dropped.
    ///
    /// # Panics
    /// If no case has this index (never added, or removed already).
    pub fn remove(&mut self, index: usize) {
        let pos = self
            .indices
            .iter()
            .position(|&i| i == index)
            .unwrap_or_else(|| panic!("gort: Select::remove({index}): no such case"));
        self.cases.remove(pos);
        self.kinds.remove(pos);
        self.indices.remove(pos);
    }

    #[track_caller]
    fn run(&mut self, mode: Mode) -> Option<SelectedOperation<'_, 'a>> {
        let pos = select(&mut self.cases, mode)?;
        Some(SelectedOperation { sel: self, pos })
    }

    /// Blocks until one operation completes. With no cases, blocks forever (Go's
    /// `select {}`).
    #[track_caller]
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        self.run(Mode::Block)
            .expect("a blocking select always completes")
    }

    /// Completes an operation that is ready now, if any.
    #[track_caller]
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_, 'a>, TrySelectError> {
        self.run(Mode::NonBlock).ok_or(TrySelectError)
    }

    /// Like [`Select::select`], waiting at most `timeout`.
    #[track_caller]
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        self.run(Mode::timeout(timeout)).ok_or(SelectTimeoutError)
    }

    /// Like [`Select::select`], waiting until `deadline` at most.
    #[track_caller]
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        self.run(Mode::Until(Some(deadline)))
            .ok_or(SelectTimeoutError)
    }

    #[track_caller]
    fn run_ready(&mut self, mode: Mode) -> Option<usize> {
        ready(&mut self.cases, mode).map(|pos| self.indices[pos])
    }

    /// Blocks until one operation could complete, and returns its index without completing
    /// it (crossbeam-channel's `Select::ready`); among ready ones, one at random. A
    /// receive on a closed channel, and a send on a closed channel or one without
    /// receivers, are ready (they would fail at once). The caller then performs the
    /// operation itself (`try_recv`, `try_send`), which another party may have taken in
    /// the meantime: readiness is a hint, as in crossbeam. With no cases, blocks forever.
    #[track_caller]
    pub fn ready(&mut self) -> usize {
        self.run_ready(Mode::Block)
            .expect("a blocking ready always returns a case")
    }

    /// The index of an operation that could complete now, if any (see [`Select::ready`]).
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.run_ready(Mode::NonBlock).ok_or(TryReadyError)
    }

    /// Like [`Select::ready`], waiting at most `timeout`.
    #[track_caller]
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(Mode::timeout(timeout))
            .ok_or(ReadyTimeoutError)
    }

    /// Like [`Select::ready`], waiting until `deadline` at most.
    #[track_caller]
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(Mode::Until(Some(deadline)))
            .ok_or(ReadyTimeoutError)
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl std::fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish()
    }
}

/// The operation a [`Select`] completed.
#[must_use = "the outcome of the selected operation should be handled"]
pub struct SelectedOperation<'s, 'a> {
    sel: &'s mut Select<'a>,
    /// The case's position in `sel.cases`.
    pos: usize,
}

impl SelectedOperation<'_, '_> {
    /// The index of the completed case.
    pub fn index(&self) -> usize {
        self.sel.indices[self.pos]
    }

    fn check(&self, chan: usize, send: bool, what: &str) {
        assert!(
            self.sel.kinds[self.pos] == (chan, send),
            "gort: SelectedOperation::{what} called with a channel that is not the one of the \
             selected case {}",
            self.index()
        );
    }

    /// The outcome of the selected receive from `r`.
    ///
    /// # Panics
    /// If the selected case is not a receive from `r`.
    pub fn recv<T>(self, r: &Receiver<T>) -> Result<T, RecvError> {
        self.check(Arc::as_ptr(&r.chan) as usize, false, "recv");
        let case = &mut self.sel.cases[self.pos];
        // SAFETY: `check` proved this case is a `RecvCase` on `r`'s channel, whose element
        // type is `r`'s `T` (one channel has one type).
        let case = unsafe { &mut *(&mut **case as *mut dyn Case as *mut RecvCase<'_, T>) };
        case.take()
    }

    /// The outcome of the selected send on `s` (the value came with [`Select::send`]).
    ///
    /// # Panics
    /// If the selected case is not a send on `s`.
    pub fn send<T>(self, s: &Sender<T>) -> Result<(), SendError<T>> {
        self.check(Arc::as_ptr(&s.chan) as usize, true, "send");
        let case = &mut self.sel.cases[self.pos];
        // SAFETY: as in `recv`, for a `SendCase`.
        let case = unsafe { &mut *(&mut **case as *mut dyn Case as *mut SendCase<'_, T>) };
        case.take()
    }
}

impl std::fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index())
            .finish()
    }
}
