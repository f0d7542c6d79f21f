//! [`WaitGroup`]: wait for a collection of goroutines to finish, after Go's
//! `sync.WaitGroup`.
//!
//! # Protocol
//!
//! One 64-bit word: the counter in the high 32 bits, the number of waiters in the low 32.
//! `wait` adds itself as a waiter with a CAS that also checks the counter is not zero, then
//! sleeps on a [`RuntimeSema`]. The `add` that brings the counter to zero finds the waiters in the
//! same word, resets it to zero, and releases one permit per waiter. Because counter and
//! waiters live in one word, no `wait` can slip in between "counter hit zero" and "release
//! the waiters" without the misuse checks noticing.

use super::runtime_sema::RuntimeSema;
use crate::shim::AtomicU64;
use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::Arc;

/// Waits for a collection of goroutines (or threads) to finish: Go's `sync.WaitGroup`.
///
/// Call [`add`](Self::add) with the number of tasks before starting them, have each call
/// [`done`](Self::done) when it finishes, and [`wait`](Self::wait) until all have. Share
/// it by reference (it is `Sync`; put it in an `Arc` or a `static` for `'static`
/// goroutines). A `WaitGroup` may be reused once every `wait` of the previous round has
/// returned.
///
/// Misuse panics with Go's messages: `sync: negative WaitGroup counter` when `done`
/// outnumbers `add`, `sync: WaitGroup misuse: Add called concurrently with Wait` and
/// `sync: WaitGroup is reused before previous Wait has returned`.
///
/// ```
/// use gort_runtime::sync::WaitGroup;
/// use std::sync::Arc;
///
/// let wg = Arc::new(WaitGroup::new());
/// for _ in 0..10 {
///     wg.add(1);
///     let wg = wg.clone();
///     gort_runtime::go(move || wg.done());
/// }
/// wg.wait();
/// ```
pub struct WaitGroup {
    /// Counter (high 32 bits, signed) and waiter count (low 32 bits).
    state: AtomicU64,
    sema: RuntimeSema,
}

impl WaitGroup {
    loom_const_fn! {
        /// A wait group with a zero counter.
        pub fn new() -> WaitGroup {
            WaitGroup {
                state: AtomicU64::new(0),
                sema: RuntimeSema::new(),
            }
        }
    }

    /// Adds `delta` (which may be negative) to the counter. When it reaches zero, every
    /// goroutine blocked in [`wait`](Self::wait) is released.
    ///
    /// Calls with a positive delta that start from zero must happen before the `wait`
    /// they are meant for (typically: `add` before spawning the goroutine, not in it).
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` if the counter goes below zero, and the misuse
    /// messages in the type's docs.
    pub fn add(&self, delta: i32) {
        let state = self
            .state
            .fetch_add((delta as i64 as u64) << 32, AcqRel)
            .wrapping_add((delta as i64 as u64) << 32);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if w != 0 && delta > 0 && v == delta {
            // The first increment of a round raced with a `wait`.
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // The counter is zero and there are waiters: nobody may change the state now (an
        // `add` would be concurrent with `wait`, a `wait` would not need to wait).
        if self.state.load(Relaxed) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        // Release: a later `wait` that reads this zero must see every `done` before it.
        self.state.store(0, Release);
        for _ in 0..w {
            self.sema.release();
        }
    }

    /// Decrements the counter by one (a finished task).
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` if it goes below zero.
    #[inline]
    pub fn done(&self) {
        self.add(-1);
    }

    /// Adds one to the counter and returns a guard that calls [`done`](Self::done) when
    /// dropped (Go's `wg.Add(1)` ... `defer wg.Done()`, which a panic cannot skip).
    ///
    /// ```
    /// let wg = gort_runtime::sync::WaitGroup::new();
    /// let done = wg.add_guard();
    /// assert_eq!(wg.count(), 1);
    /// drop(done);
    /// wg.wait();
    /// ```
    pub fn add_guard(&self) -> Done<'_> {
        self.add(1);
        Done { wg: self }
    }

    /// Like [`add_guard`](Self::add_guard) for a shared wait group: the guard owns a
    /// reference to it, so it can move into a `'static` goroutine.
    pub fn add_guard_owned(self: &Arc<Self>) -> OwnedDone {
        self.add(1);
        OwnedDone { wg: self.clone() }
    }

    /// Parks the calling goroutine (or blocks the thread) until the counter is zero.
    /// Returns at once if it is zero already.
    #[track_caller]
    pub fn wait(&self) {
        let mut state = self.state.load(Acquire);
        loop {
            if state >> 32 == 0 {
                return;
            }
            // Register as a waiter (low half), only if the counter is still nonzero.
            match self
                .state
                .compare_exchange_weak(state, state + 1, Acquire, Acquire)
            {
                Ok(_) => {
                    self.sema
                        .acquire(false, crate::park::WaitReason::WaitGroupWait);
                    if self.state.load(Relaxed) != 0 {
                        panic!("sync: WaitGroup is reused before previous Wait has returned");
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// The current counter (racy: a snapshot for diagnostics).
    pub fn count(&self) -> i32 {
        (self.state.load(Relaxed) >> 32) as i32
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

/// One task of a [`WaitGroup`], marked done when the guard is dropped; made by
/// [`WaitGroup::add_guard`].
#[must_use = "dropping the guard calls `done` at once"]
pub struct Done<'a> {
    wg: &'a WaitGroup,
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.wg.done();
    }
}

impl fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Done").finish_non_exhaustive()
    }
}

/// One task of a shared [`WaitGroup`], marked done when the guard is dropped; made by
/// [`WaitGroup::add_guard_owned`].
#[must_use = "dropping the guard calls `done` at once"]
pub struct OwnedDone {
    wg: Arc<WaitGroup>,
}

impl Drop for OwnedDone {
    fn drop(&mut self) {
        self.wg.done();
    }
}

impl fmt::Debug for OwnedDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedDone").finish_non_exhaustive()
    }
}
