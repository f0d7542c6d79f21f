//! `RuntimeSema`: the runtime's internal counting semaphore, a sleep and wake-up primitive
//! that parks, the building block of [`Mutex`](super::Mutex), [`RwLock`](super::RwLock)
//! and [`WaitGroup`](super::WaitGroup) (Go's runtime `semacquire`/`semrelease`, which its
//! `sync` package builds on the same way). Internal only: not to be confused with the
//! user-facing weighted `gort::sync::Semaphore` (Go's `x/sync/semaphore`, gort-chan's
//! `weighted.rs`), whose permits users acquire and release.
//!
//! `count` holds permits nobody waits for; `nwait` counts queued waiters. A permit
//! released while someone waits is handed to the first waiter (it wakes owning it),
//! unless a caller that has not queued yet takes it first: the semaphore counts exactly,
//! it does not promise FIFO among callers that race with a release.
//!
//! No lost wake-up: `acquire` publishes itself (`nwait += 1`) and then looks at `count`;
//! `release` publishes its permit (`count += 1`) and then looks at `nwait`. A SeqCst fence
//! between publishing and looking, on both sides, makes at least one side see the other:
//! either the acquirer takes the permit itself, or the releaser finds it queued and hands
//! the permit over. (SeqCst read-modify-writes followed by SeqCst loads would be enough in
//! C11, but loom models SeqCst accesses as AcqRel and reports a false deadlock; it models
//! SeqCst fences exactly. On x86 the fence after a locked instruction costs little.)

use super::lock::Locked;
use crate::park;
use crate::shim::{fence, AtomicU32};
use crate::waitq::{WaitQueue, Waiter};
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};

/// The runtime's internal counting semaphore of parked goroutines and threads (Go's
/// `semacquire`/`semrelease`); not the user-facing `gort::sync::Semaphore`. See the
/// module docs.
pub(crate) struct RuntimeSema {
    count: AtomicU32,
    nwait: AtomicU32,
    queue: Locked<WaitQueue>,
}

impl RuntimeSema {
    loom_const_fn! {
        /// A semaphore with no permits.
        pub(crate) fn new() -> RuntimeSema {
            RuntimeSema {
                count: AtomicU32::new(0),
                nwait: AtomicU32::new(0),
                queue: Locked::new(WaitQueue::new()),
            }
        }
    }

    /// Takes a permit if one is free (Go's `cansemacquire`).
    #[inline]
    fn try_acquire(&self) -> bool {
        let mut c = self.count.load(SeqCst);
        loop {
            if c == 0 {
                return false;
            }
            match self.count.compare_exchange_weak(c, c - 1, SeqCst, Acquire) {
                Ok(_) => return true,
                Err(now) => c = now,
            }
        }
    }

    /// Takes a permit, parking until one is handed over. `lifo` queues at the front (for
    /// a waiter that already waited once and lost the race after waking).
    #[track_caller]
    pub(crate) fn acquire(&self, lifo: bool, why: park::WaitReason) {
        if self.try_acquire() {
            return;
        }
        let mut q = self.queue.lock();
        self.nwait.fetch_add(1, SeqCst);
        fence(SeqCst);
        if self.try_acquire() {
            self.nwait.fetch_sub(1, SeqCst);
            return;
        }
        let w = Waiter::new(park::prepare_for(why), 0);
        q.with(|q| {
            // SAFETY: `w` lives on this frame, which does not return before `w` is popped:
            // we park until the popper wakes us, and only a popper wakes this episode.
            unsafe {
                match lifo {
                    true => q.push_front(&w),
                    false => q.push_back(&w),
                }
            }
        });
        drop(q);
        park::park();
        // Woken by `release`: it popped us and the permit is ours.
    }

    /// Adds a permit; if someone waits, hands it to the first waiter and wakes it.
    /// Returns whether a waiter was woken.
    pub(crate) fn release(&self) -> bool {
        self.count.fetch_add(1, SeqCst);
        fence(SeqCst);
        if self.nwait.load(SeqCst) == 0 {
            return false;
        }
        let mut q = self.queue.lock();
        // Under the lock `nwait` is the queue's length.
        if self.nwait.load(Relaxed) == 0 || !self.try_acquire() {
            // No one queued after all, or a caller that had not queued yet took the permit.
            return false;
        }
        let token = q.with(|q| {
            let w = q
                .pop_front()
                .expect("sync: semaphore waiter count out of step");
            w.token().clone()
        });
        self.nwait.fetch_sub(1, SeqCst);
        drop(q);
        token.wake();
        true
    }
}
