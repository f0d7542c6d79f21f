//! [`Cond`]: a condition variable for [`Mutex`], after Go's `sync.Cond`.
//!
//! Waiters queue in a [`WaitQueue`] with a ticket each. `wait` arms its park episode and
//! queues *before* unlocking the mutex, so a `signal` sent by whoever takes the mutex next
//! always finds it (the park seam keeps a wake-up that arrives before the waiter sleeps).
//! `broadcast` wakes the waiters whose tickets predate it, in rounds of
//! [`Wakes::CAP`](crate::waitq::Wakes::CAP) tokens copied out under the lock; waiters
//! that queue during a broadcast are not its business.

use super::lock::Locked;
use super::mutex::MutexGuard;
use crate::park;
use crate::waitq::{WaitQueue, Waiter, Wakes};
use std::fmt;
use std::time::{Duration, Instant};

struct Waiters {
    queue: WaitQueue,
    next_ticket: usize,
}

/// A condition variable: goroutines wait on it for a condition over data guarded by a
/// [`Mutex`](super::Mutex), and are woken by [`signal`](Self::signal) (one) or
/// [`broadcast`](Self::broadcast) (all). Go's `sync.Cond`, with std's guard-passing API.
///
/// As with any condition variable, wait in a loop over the condition
/// ([`wait_while`](Self::wait_while) does that): another goroutine may change the data
/// between the wake-up and re-taking the mutex. One `Cond` should be used with one mutex.
///
/// ```
/// use gort_runtime::sync::{Cond, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Cond::new()));
/// let p = pair.clone();
/// gort_runtime::go(move || {
///     *p.0.lock() = true;
///     p.1.signal();
/// });
/// let (lock, cond) = &*pair;
/// let ready = cond.wait_while(lock.lock(), |ready| !*ready);
/// assert!(*ready);
/// ```
pub struct Cond {
    waiters: Locked<Waiters>,
}

impl Cond {
    loom_const_fn! {
        /// A condition variable with no waiters.
        pub fn new() -> Cond {
            Cond {
                waiters: Locked::new(Waiters {
                    queue: WaitQueue::new(),
                    next_ticket: 0,
                }),
            }
        }
    }

    /// Unlocks the guard's mutex, parks until signalled, and locks it again before
    /// returning.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_deadline(guard, None).0
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout`. The flag is `true` if it
    /// timed out without being signalled.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let deadline = Instant::now().checked_add(timeout);
        self.wait_deadline(guard, deadline)
    }

    /// Waits while `condition` holds, re-checking it (with the mutex locked) after every
    /// wake-up; returns the guard once it is false.
    #[track_caller]
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    #[track_caller]
    fn wait_deadline<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        // Queue before unlocking: no signal after the unlock can miss us.
        let token = park::prepare_for(park::WaitReason::CondWait);
        let mut q = self.waiters.lock();
        let ticket = q.with(|w| {
            let t = w.next_ticket;
            w.next_ticket = t.wrapping_add(1);
            t
        });
        let me = Waiter::new(token, ticket);
        q.with(|w| {
            // SAFETY: `me` stays on this frame until it is popped (the only waker of this
            // episode pops it first) or we remove it below after a timeout.
            unsafe { w.queue.push_back(&me) }
        });
        drop(q);
        let mutex = guard.leak();
        // SAFETY: `leak` handed us the guard's ownership of the lock. No yield: we are in
        // a park episode.
        unsafe { mutex.raw().unlock_no_yield() };
        let timed_out = !park::park_until(deadline) && {
            // Timed out, unless a signal popped us in the meantime (then it counts).
            let mut q = self.waiters.lock();
            // SAFETY: `me` was queued in this queue only.
            q.with(|w| unsafe { w.queue.remove(&me) })
        };
        mutex.raw().lock();
        // SAFETY: we just locked it, and hand that lock to the new guard.
        (unsafe { MutexGuard::from_owned(mutex) }, timed_out)
    }

    /// Wakes one waiting goroutine (the longest waiting), if any.
    pub fn signal(&self) {
        let mut q = self.waiters.lock();
        let token = q.with(|w| w.queue.pop_front().map(|w| w.token().clone()));
        drop(q);
        if let Some(t) = token {
            t.wake();
        }
    }

    /// Wakes every goroutine waiting now.
    pub fn broadcast(&self) {
        let mut wakes = Wakes::new();
        let mut q = self.waiters.lock();
        let limit = q.with(|w| w.next_ticket);
        loop {
            let more = q.with(|w| {
                while let Some(front) = w.queue.front() {
                    // Tickets grow along the queue; later ones queued after we began.
                    if limit.wrapping_sub(front.data) as isize <= 0 {
                        return false;
                    }
                    if wakes.is_full() {
                        return true;
                    }
                    let popped = w.queue.pop_front().expect("front exists");
                    wakes.push(popped.token().clone());
                }
                false
            });
            drop(q);
            wakes.wake();
            if !more {
                return;
            }
            q = self.waiters.lock();
        }
    }
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond").finish_non_exhaustive()
    }
}
