//! [`Semaphore`]: a weighted semaphore with FIFO waiters, after
//! `golang.org/x/sync/semaphore` (`Weighted`, hence the file's name; not to be confused
//! with the runtime's internal `sync/sema.rs`, Go's runtime semaphore).
//!
//! It lives beside channels and contexts because, as in Go, its acquire takes a context
//! ([`Semaphore::acquire_ctx`]). It is built on the runtime's mechanisms only: the park
//! seam and the waiter queue ([`gort_runtime::waitq`]).
//!
//! State under one mutex (the `cfg(loom)` shim's, so `loom-tests/` can check it): the
//! weight held (`cur`) and a FIFO of waiters, each asking for a weight. Acquiring succeeds at once only if the weight fits *and nobody waits*;
//! otherwise the caller queues. Releasing grants weight to waiters from the front, stopping
//! at the first that does not fit, even if a smaller request behind it would: so a large
//! request is never starved by a stream of small ones. Granted waiters are popped under
//! the lock and woken after it (in rounds of [`Wakes::CAP`]), owning their weight.

use crate::context::{Context, Error};
use gort_runtime::park;
use gort_runtime::shim::Mutex;
use gort_runtime::waitq::{WaitQueue, Waiter, Wakes};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

struct State {
    cur: usize,
    waiters: WaitQueue,
}

impl State {
    /// Takes `n` if it fits and no one is queued ahead.
    fn try_take(&mut self, size: usize, n: usize) -> bool {
        if size - self.cur >= n && self.waiters.is_empty() {
            self.cur += n;
            true
        } else {
            false
        }
    }

    /// Grants weight to queued waiters in order while it fits, copying their tokens into
    /// `wakes`. Returns `true` if `wakes` filled up and more waiters may fit.
    fn grant(&mut self, size: usize, wakes: &mut Wakes) -> bool {
        while let Some(front) = self.waiters.front() {
            if size - self.cur < front.data {
                return false; // FIFO: the first waiter goes first, whatever it asks
            }
            if wakes.is_full() {
                return true;
            }
            self.cur += front.data;
            let w = self.waiters.pop_front().expect("front exists");
            wakes.push(w.token().clone());
        }
        false
    }
}

/// A weighted semaphore: `size` units of some resource, acquired and released in any
/// amounts, with goroutines parking in FIFO order while the amount they ask for is not
/// free. `golang.org/x/sync/semaphore.Weighted`.
///
/// [`acquire_ctx`](Self::acquire_ctx) waits until a context is done at most (Go's
/// `Acquire(ctx, n)`), [`acquire_until`](Self::acquire_until) until a deadline.
///
/// ```
/// use gort_chan::sync::Semaphore;
///
/// let sem = Semaphore::new(10);
/// sem.acquire(7);
/// assert!(!sem.try_acquire(4)); // 3 left
/// assert!(sem.try_acquire(3));
/// sem.release(10);
/// ```
pub struct Semaphore {
    size: usize,
    state: Mutex<State>,
}

impl Semaphore {
    /// A semaphore of `size` units, all free.
    #[cfg(not(loom))]
    pub const fn new(size: usize) -> Semaphore {
        Semaphore {
            size,
            state: Mutex::new(State {
                cur: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// A semaphore of `size` units, all free (not `const` under loom, whose mutex is not).
    #[cfg(loom)]
    pub fn new(size: usize) -> Semaphore {
        Semaphore {
            size,
            state: Mutex::new(State {
                cur: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Acquires `n` units, parking until they are free and every earlier waiter has been
    /// served.
    ///
    /// # Panics
    /// If `n` exceeds the semaphore's size (it could never succeed).
    #[track_caller]
    pub fn acquire(&self, n: usize) {
        let mut st = self.state.lock();
        if st.try_take(self.size, n) {
            return;
        }
        if n > self.size {
            drop(st);
            panic!(
                "gort: Semaphore::acquire({n}) on a semaphore of size {}: it would wait forever",
                self.size
            );
        }
        let me = Waiter::new(park::prepare_for(park::WaitReason::Semacquire), n);
        // SAFETY: `me` stays on this frame until popped: only `grant` wakes this episode,
        // and it pops `me` first.
        unsafe { st.waiters.push_back(&me) };
        drop(st);
        park::park();
        // Woken by `grant`: the `n` units are ours.
    }

    /// Like [`acquire`](Self::acquire), but gives up at `deadline`: returns whether the
    /// units were acquired. A request larger than the size waits for the deadline and
    /// fails.
    #[track_caller]
    pub fn acquire_until(&self, n: usize, deadline: Instant) -> bool {
        self.acquire_cancelable(n, Some(deadline), |_| {})
    }

    /// Acquires `n` units, waiting until they are free, the context is cancelled or its
    /// deadline passes; in the last two cases nothing is acquired and the context's error is
    /// returned. A context that is already done fails at once (as in x/sync/semaphore's
    /// `Acquire(ctx, n)`). Waiting costs no goroutine: the context's cancellation ends the
    /// wait through [`Context::after_func`].
    #[track_caller]
    pub fn acquire_ctx(&self, ctx: &Context, n: usize) -> Result<(), Error> {
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let mut stop = None;
        let got = self.acquire_cancelable(n, ctx.deadline(), |token| {
            stop = Some(ctx.after_func(move || {
                token.expire();
            }));
        });
        if let Some(stop) = stop {
            stop.stop();
        }
        if got {
            return Ok(());
        }
        // Woken by the deadline itself, the context's own timer may not have fired yet.
        Err(ctx.err().unwrap_or(Error::DeadlineExceeded))
    }

    /// Like [`acquire_until`](Self::acquire_until) (no deadline if `None`), and if it has to
    /// wait, first hands `on_wait` a token whose [`expire`](park::Token::expire) gives up the
    /// wait early (what [`acquire_ctx`](Self::acquire_ctx) hooks a context's cancellation
    /// to). Returns whether the units were acquired.
    #[track_caller]
    fn acquire_cancelable(
        &self,
        n: usize,
        deadline: Option<Instant>,
        on_wait: impl FnOnce(park::Token),
    ) -> bool {
        let mut st = self.state.lock();
        if st.try_take(self.size, n) {
            return true;
        }
        if n > self.size {
            // Doomed: do not make later requests queue behind it; wait out the deadline.
            drop(st);
            on_wait(park::prepare_for(park::WaitReason::Semacquire));
            let woken = park::park_until(deadline);
            debug_assert!(!woken);
            return false;
        }
        let token = park::prepare_for(park::WaitReason::Semacquire);
        let me = Waiter::new(token.clone(), n);
        // SAFETY: `me` stays on this frame until it is popped or removed below.
        unsafe { st.waiters.push_back(&me) };
        drop(st);
        on_wait(token);
        if park::park_until(deadline) {
            return true;
        }
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let (timed_out, more) = {
            let s = &mut *st;
            let front = s.waiters.front().is_some_and(|f| std::ptr::eq(f, &me));
            // SAFETY: `me` was queued in this semaphore's queue only.
            if !unsafe { s.waiters.remove(&me) } {
                (false, false) // granted just as the deadline passed: keep it
            } else {
                // Leaving the front may let the waiters behind us in.
                let more = front && s.grant(self.size, &mut wakes);
                (true, more)
            }
        };
        drop(st);
        wakes.wake();
        if more {
            self.wake_granted();
        }
        !timed_out
    }

    /// Acquires `n` units if they are free now and no one waits; never parks.
    pub fn try_acquire(&self, n: usize) -> bool {
        self.state.lock().try_take(self.size, n)
    }

    /// Releases `n` units, waking the waiters at the front that now fit.
    ///
    /// # Panics
    /// `semaphore: released more than held` if more units are released than held.
    pub fn release(&self, n: usize) {
        let mut wakes = Wakes::new();
        let mut st = self.state.lock();
        let more = {
            if st.cur < n {
                drop(st);
                panic!("semaphore: released more than held");
            }
            st.cur -= n;
            st.grant(self.size, &mut wakes)
        };
        drop(st);
        wakes.wake();
        if more {
            self.wake_granted();
        }
    }

    /// Grants and wakes waiters round after round until no more fit.
    fn wake_granted(&self) {
        let mut wakes = Wakes::new();
        loop {
            let more = self.state.lock().grant(self.size, &mut wakes);
            wakes.wake();
            if !more {
                return;
            }
        }
    }

    /// Acquires `n` units like [`acquire`](Self::acquire) and returns a guard that releases
    /// them when dropped (Go's `sem.Acquire(n); defer sem.Release(n)`, which a panic cannot
    /// skip).
    ///
    /// ```
    /// let sem = gort_chan::sync::Semaphore::new(2);
    /// {
    ///     let _p = sem.acquire_permit(2);
    ///     assert_eq!(sem.available(), 0);
    /// }
    /// assert_eq!(sem.available(), 2);
    /// ```
    ///
    /// # Panics
    /// As [`acquire`](Self::acquire).
    pub fn acquire_permit(&self, n: usize) -> Permit<'_> {
        self.acquire(n);
        Permit { sem: self, n }
    }

    /// Like [`acquire_permit`](Self::acquire_permit) for a shared semaphore: the guard owns
    /// a reference to it, so it can move into a `'static` goroutine.
    pub fn acquire_permit_owned(self: &Arc<Self>, n: usize) -> OwnedPermit {
        self.acquire(n);
        OwnedPermit {
            sem: self.clone(),
            n,
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), returning a guard that releases the units
    /// when dropped.
    pub fn try_acquire_permit(&self, n: usize) -> Option<Permit<'_>> {
        self.try_acquire(n).then(|| Permit { sem: self, n })
    }

    /// Like [`try_acquire_permit`](Self::try_acquire_permit) for a shared semaphore.
    pub fn try_acquire_permit_owned(self: &Arc<Self>, n: usize) -> Option<OwnedPermit> {
        self.try_acquire(n).then(|| OwnedPermit {
            sem: self.clone(),
            n,
        })
    }

    /// The semaphore's size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Units free now (racy: a snapshot for diagnostics).
    pub fn available(&self) -> usize {
        self.size - self.state.lock().cur
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// Units of a [`Semaphore`] held until the guard is dropped; made by
/// [`Semaphore::acquire_permit`].
#[must_use = "dropping the permit releases the units at once"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Permit<'_> {
    /// How many units the permit holds.
    pub fn units(&self) -> usize {
        self.n
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("units", &self.n).finish()
    }
}

/// Units of a shared [`Semaphore`] held until the guard is dropped; made by
/// [`Semaphore::acquire_permit_owned`].
#[must_use = "dropping the permit releases the units at once"]
pub struct OwnedPermit {
    sem: Arc<Semaphore>,
    n: usize,
}

impl OwnedPermit {
    /// How many units the permit holds.
    pub fn units(&self) -> usize {
        self.n
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("units", &self.n)
            .finish()
    }
}
