//! [`Mutex`]: a mutual-exclusion lock that parks goroutines, after Go's `sync.Mutex`.
//!
//! # Protocol
//!
//! One state word: bit 0 `LOCKED`, bit 1 `WOKEN` (a waiter is awake and competing, so an
//! unlock need not wake another), bit 2 `STARVING`, and the number of parked waiters above
//! them. Waiters sleep on a [`RuntimeSema`], whose permits are wake-up calls.
//!
//! - **Fast paths**: `lock` is one CAS `0 -> LOCKED`; `unlock` one `fetch_sub` that
//!   finds nothing else set.
//! - **Spinning**: a locker that finds the mutex locked (in normal mode) spins a few rounds
//!   of 30 pause instructions while spinning can pay off: more than one CPU, and for a
//!   goroutine, another P running (the holder may be running there) and nothing waiting in
//!   its own P's run queue (Go's `canSpin`). A spinner sets `WOKEN` so the holder's unlock
//!   does not wake a sleeper that would only lose to it.
//! - **Normal mode**: the locker parks (FIFO) after spinning. `unlock` wakes the first
//!   waiter (`WOKEN`, one fewer waiter), which competes with newcomers for the lock:
//!   newcomers are running already, so they usually win (barging). That keeps the lock
//!   busy and is what makes normal mode fast. A woken waiter that loses queues again at
//!   the front.
//! - **Starvation mode**: a waiter that has waited more than 1 ms sets `STARVING` when it
//!   next fails. From then on `unlock` hands ownership directly to the first waiter (the
//!   state stays "owned" because `STARVING` is set; the waiter sets `LOCKED` and
//!   drops its waiter count when it runs), newcomers neither take the lock nor spin but
//!   queue at the back, and an unlocking goroutine yields so the new owner runs at once.
//!   The owner switches back to normal mode when it is the last waiter or waited less than
//!   1 ms.
//!
//! Under loom there is no real time: a waiter counts as starved after a number of sleeps
//! (1 by default, per mutex: `Mutex::loom_starve_after`), and spinning is one round.

use super::runtime_sema::RuntimeSema;
use crate::shim::{spin_loop, AtomicU32, UnsafeCell, LOOM};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const WAITER_SHIFT: u32 = 3;
const WAITER: u32 = 1 << WAITER_SHIFT;

/// Spin rounds before parking (Go's `active_spin`), and pause instructions per round.
/// Under loom one round with no pause: the round's re-load of the state is what matters,
/// and loom's pause (a yield that runs the other threads first) would hide interleavings.
const SPIN_ROUNDS: u32 = if LOOM { 1 } else { 4 };
const SPIN_PAUSES: u32 = 30;

/// Times any mutex entered starvation mode (a statistic; see [`starvation_count`]).
static STARVATION_SWITCHES: StdAtomicU64 = StdAtomicU64::new(0);

/// How many times any gort [`Mutex`] (including the one inside each [`RwLock`]) has
/// switched to starvation mode in this process: a diagnostic for tests and tuning.
///
/// [`RwLock`]: super::RwLock
pub fn starvation_count() -> u64 {
    STARVATION_SWITCHES.load(Relaxed)
}

/// The lock without data: the protocol of the module docs.
pub(crate) struct RawMutex {
    state: AtomicU32,
    sema: RuntimeSema,
    /// Under loom: sleeps after which a waiter starves (see `Mutex::loom_starve_after`).
    #[cfg(loom)]
    starve_after: u32,
    /// Under loom: how often this mutex entered starvation mode.
    #[cfg(loom)]
    starvations: std::sync::atomic::AtomicU32,
}

impl RawMutex {
    loom_const_fn! {
        /// An unlocked mutex.
        pub(crate) fn new() -> RawMutex {
            RawMutex {
                state: AtomicU32::new(0),
                sema: RuntimeSema::new(),
                #[cfg(loom)]
                starve_after: 1,
                #[cfg(loom)]
                starvations: std::sync::atomic::AtomicU32::new(0),
            }
        }
    }

    /// Locks, parking until the lock is ours.
    #[inline]
    #[track_caller]
    pub(crate) fn lock(&self) {
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    /// Locks if that needs no waiting (not while starving waiters are being served).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    #[cold]
    #[track_caller]
    fn lock_slow(&self) {
        let mut clock = WaitClock::new(self);
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Relaxed);
        loop {
            // Spin while it is locked in normal mode (in starvation mode the lock goes to
            // the first waiter, so spinning cannot win it).
            if old & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                if !LOOM {
                    for _ in 0..SPIN_PAUSES {
                        spin_loop();
                    }
                }
                iter += 1;
                old = self.state.load(Relaxed);
                continue;
            }
            let mut new = old;
            if old & STARVING == 0 {
                new |= LOCKED; // newcomers do not take a starving mutex
            }
            if old & (LOCKED | STARVING) != 0 {
                new += WAITER;
            }
            // Switch to starvation mode, unless it is unlocked now (an unlock in starvation
            // mode expects a waiter to hand the lock to).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                // We were woken (or claimed WOKEN while spinning): clear it either way.
                assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            match self.state.compare_exchange(old, new, Acquire, Relaxed) {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        if old & WOKEN != 0 && !awoke {
                            // We overtook a woken waiter that has not run yet: make sure
                            // it gets to run (see `let_woken_waiter_run_elsewhere`).
                            let_woken_waiter_run_elsewhere();
                        }
                        return; // locked it with the CAS
                    }
                    if new & STARVING != 0 && old & STARVING == 0 {
                        STARVATION_SWITCHES.fetch_add(1, Relaxed);
                        #[cfg(loom)]
                        self.starvations.fetch_add(1, Relaxed);
                    }
                    // A waiter that waited before goes back to the front of the queue.
                    let again = clock.started();
                    clock.start();
                    self.sema.acquire(again, crate::park::WaitReason::MutexLock);
                    starving = starving || clock.starved();
                    old = self.state.load(Relaxed);
                    if old & STARVING != 0 {
                        // The lock was handed to us: LOCKED is clear and we still count as
                        // a waiter. Take it, and leave starvation mode if we are the last
                        // waiter or did not wait long.
                        assert!(
                            old & (LOCKED | WOKEN) == 0 && old >> WAITER_SHIFT != 0,
                            "sync: inconsistent mutex state"
                        );
                        let mut delta = LOCKED.wrapping_sub(WAITER);
                        if !starving || old >> WAITER_SHIFT == 1 {
                            delta = delta.wrapping_sub(STARVING);
                        }
                        self.state.fetch_add(delta, Acquire);
                        return;
                    }
                    awoke = true;
                    iter = 0;
                }
                Err(now) => old = now,
            }
        }
    }

    /// Unlocks. A goroutine that hands the lock to a starving waiter then yields to it.
    ///
    /// # Safety
    /// The mutex must be locked, and the caller must own that lock (or act for its owner).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.unlock_inner(true) }
    }

    /// Unlocks without ever yielding (for callers inside a park episode, like `Cond`).
    ///
    /// # Safety
    /// As for [`unlock`](Self::unlock).
    #[inline]
    pub(crate) unsafe fn unlock_no_yield(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.unlock_inner(false) }
    }

    /// Unlocks; with `may_yield`, an unlock that hands the lock to a starving waiter yields
    /// to it.
    ///
    /// # Safety
    /// As for [`unlock`](Self::unlock): the mutex is locked and the caller owns that lock.
    /// Unlocking a lock another goroutine owns would let two goroutines into the data.
    #[inline]
    unsafe fn unlock_inner(&self, may_yield: bool) {
        let new = self.state.fetch_sub(LOCKED, Release).wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new, may_yield);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: u32, may_yield: bool) {
        assert!(
            new.wrapping_add(LOCKED) & LOCKED != 0,
            "sync: unlock of unlocked mutex"
        );
        if new & STARVING != 0 {
            // Hand the lock to the first waiter (it stays owned: STARVING is set).
            let woke = self.sema.release();
            if woke && may_yield && crate::sched::current_g().is_some() && !LOOM {
                crate::yield_now();
            }
            return;
        }
        let mut old = new;
        loop {
            // Nobody to wake, or someone is already awake or has taken the lock, or a
            // starving waiter switched modes after our fetch_sub (the lock is theirs to
            // hand on): nothing to do.
            if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                return;
            }
            let new = (old - WAITER) | WOKEN;
            match self.state.compare_exchange(old, new, Relaxed, Relaxed) {
                Ok(_) => {
                    if self.sema.release() {
                        let_woken_waiter_run_elsewhere();
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
    }
}

/// When a waiter began waiting, to decide that it starves.
struct WaitClock {
    #[cfg(not(loom))]
    start: Option<std::time::Instant>,
    #[cfg(loom)]
    sleeps: Option<u32>,
    #[cfg(loom)]
    starve_after: u32,
}

/// Waiting longer than this switches a mutex to starvation mode (Go's 1 ms).
#[cfg(not(loom))]
const STARVATION_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(1);

impl WaitClock {
    fn new(_m: &RawMutex) -> Self {
        WaitClock {
            #[cfg(not(loom))]
            start: None,
            #[cfg(loom)]
            sleeps: None,
            #[cfg(loom)]
            starve_after: _m.starve_after,
        }
    }

    #[cfg(not(loom))]
    fn started(&self) -> bool {
        self.start.is_some()
    }

    #[cfg(not(loom))]
    fn start(&mut self) {
        self.start.get_or_insert_with(std::time::Instant::now);
    }

    /// Called after each sleep: whether the waiter has waited past the threshold.
    #[cfg(not(loom))]
    fn starved(&mut self) -> bool {
        self.start
            .is_some_and(|s| s.elapsed() > STARVATION_THRESHOLD)
    }

    #[cfg(loom)]
    fn started(&self) -> bool {
        self.sleeps.is_some()
    }

    #[cfg(loom)]
    fn start(&mut self) {
        self.sleeps.get_or_insert(0);
    }

    #[cfg(loom)]
    fn starved(&mut self) -> bool {
        let n = self.sleeps.get_or_insert(0);
        *n += 1;
        *n >= self.starve_after
    }
}

/// After waking a waiter in normal mode, and after overtaking a woken waiter that has not
/// run yet, from a goroutine: the waiter went to this P's `runnext`, where it waits until
/// this goroutine blocks, and a goroutine that keeps re-taking the lock never blocks, so
/// the waiter would never run, never notice that it starves, and never switch the mutex
/// to starvation mode (while its WOKEN flag keeps unlock from waking anyone else). Go's
/// `ready` always calls `wakep` (an idle P's M comes spinning and steals the waiter if
/// this P stays busy); gort's `ready` skips that for `runnext` (right for channel
/// hand-offs, where the waker blocks at once), so the mutex asks for it here, and asks
/// again on each overtaking in case the spinning M gave up before the waiter was queued.
///
/// A nudge for fairness, not part of any wake-up protocol (`ready` already guarantees the
/// waiter runs eventually), so a racy pre-check skips `wakep`'s fence when an M is
/// spinning already or no P is idle: this runs on every overtaking, a hot path.
#[cfg(not(loom))]
fn let_woken_waiter_run_elsewhere() {
    if crate::sched::current_g().is_none() {
        return;
    }
    let s = crate::sched::sched();
    if s.npidle.load(Relaxed) > 0 && s.nmspinning.load(Relaxed) == 0 {
        s.wakep();
    }
}

#[cfg(loom)]
fn let_woken_waiter_run_elsewhere() {}

/// Whether a locker should spin (again) rather than park: Go's `canSpin`.
#[cfg(not(loom))]
fn can_spin(iter: u32) -> bool {
    if iter >= SPIN_ROUNDS || ncpu() <= 1 {
        return false;
    }
    if crate::sched::current_g().is_none() {
        return true; // a plain thread: the holder may well be running
    }
    let Some(s) = crate::sched::sched_if_started() else {
        return true;
    };
    // Another P must be running (it may hold the lock), and nothing may wait to run here.
    let busy = s.nprocs.load(Relaxed) > s.npidle.load(Relaxed) + s.nmspinning.load(Relaxed) + 1;
    busy && local_runq_empty()
}

/// Whether the calling M's P has nothing queued (racy; `true` without a P). Compiled under
/// loom too, where nothing calls it, so the scheduler's `p_racy` stays in use there.
#[cfg_attr(loom, allow(dead_code))]
fn local_runq_empty() -> bool {
    crate::sched::m::p_racy().is_none_or(|p| p.runq_len() == 0)
}

#[cfg(loom)]
fn can_spin(iter: u32) -> bool {
    iter < SPIN_ROUNDS
}

/// Number of CPUs this process may use (cached).
#[cfg(not(loom))]
fn ncpu() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NCPU: AtomicUsize = AtomicUsize::new(0);
    match NCPU.load(Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            NCPU.store(n, Relaxed);
            n
        }
        n => n,
    }
}

/// A mutual-exclusion lock protecting a `T`, that parks goroutines (and blocks plain
/// threads) while it waits: Go's `sync.Mutex` with the data inside, like `std`'s.
///
/// - **Waiting parks the goroutine, not the thread**: its M runs other goroutines.
/// - **Fair under contention**: normal mode lets running lockers barge in for throughput;
///   a waiter that has waited more than 1 ms switches the mutex to starvation mode, in
///   which the lock is handed over in FIFO order (see the module source for the protocol).
/// - **No poisoning** (like `parking_lot`): a panic while the lock is held unlocks it, and
///   the next holder sees the data as the panicking one left it.
/// - **Not tied to a thread**: a goroutine holding the lock may park and resume on another
///   OS thread, then unlock there. See [`MutexGuard`] on why the guard is still `!Send`.
///
/// ```
/// use gort_runtime::sync::Mutex;
/// use std::sync::Arc;
///
/// let total = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let total = total.clone();
///         gort_runtime::go(move || *total.lock() += 1)
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*total.lock(), 4);
/// ```
pub struct Mutex<T> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one holder at a time, from any thread, so
// `T: Send` is what sharing it needs (as for `std::sync::Mutex`).
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    loom_const_fn! {
        /// A new unlocked mutex holding `value`. `const`, so it can initialise a `static`.
        pub fn new(value: T) -> Mutex<T> {
            Mutex {
                raw: RawMutex::new(),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Locks the mutex, parking the calling goroutine (or blocking the calling thread)
    /// until it is available. The lock is released when the guard drops.
    ///
    /// Not reentrant: locking again from the holder deadlocks.
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard::new(self)
    }

    /// Locks the mutex if it is free now; never waits. Like Go's `TryLock`, this fails
    /// while the mutex is handing itself over to starving waiters even if it is
    /// momentarily unlocked.
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            Some(MutexGuard::new(self))
        } else {
            None
        }
    }

    /// Mutable access without locking: `&mut self` proves no one else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Under loom only: a waiter of this mutex counts as starving once it has slept
    /// `sleeps` times (loom has no clock; the default is 1, `u32::MAX` never starves).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_starve_after(mut self, sleeps: u32) -> Self {
        self.raw.starve_after = sleeps;
        self
    }

    /// Under loom only: how many times this mutex entered starvation mode.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_starvations(&self) -> u32 {
        self.raw.starvations.load(Relaxed)
    }

    /// The lock itself (for `Cond`).
    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Access to the data of a locked [`Mutex`]; dropping it unlocks.
///
/// The guard is `!Send`, following `std` and `parking_lot`: it is meant to be dropped
/// where it was made. Holding it **across a gort scheduling point is fine** even though
/// the goroutine may resume on another OS thread there: a gort `Mutex` records no owner
/// thread (unlike a pthread mutex, whose unlock must come from the locking thread), so
/// unlocking from whichever thread the goroutine runs on by then is correct. What `!Send`
/// still prevents is handing the guard to *another* goroutine or thread, which would let
/// two holders think they own one lock.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`, so sharing it across threads needs `T: Sync`.
unsafe impl<T: Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T> MutexGuard<'a, T> {
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _not_send: PhantomData,
        }
    }

    /// Gives up the guard without unlocking; the caller takes over the lock (for `Cond`).
    pub(crate) fn leak(self) -> &'a Mutex<T> {
        let m = self.mutex;
        std::mem::forget(self);
        m
    }

    /// Rebuilds a guard for a lock the caller owns (for `Cond`).
    ///
    /// # Safety
    /// The caller must own `mutex`'s lock and hand that ownership to the guard.
    pub(crate) unsafe fn from_owned(mutex: &'a Mutex<T>) -> Self {
        MutexGuard::new(mutex)
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the lock, so only it accesses the data now.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns the lock.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
