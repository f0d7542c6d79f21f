//! The global run queue: a FIFO of Gs under a lock (Go's `sched.runq`).
//!
//! Why not crossbeam-deque's `Injector` (the first design): the `Injector` allocates a block
//! every 63 pushes and frees it through the epoch collector, so every goroutine woken by a
//! plain thread or spawned from one cost an allocation share. A `VecDeque` of pointers keeps
//! its capacity: once it has grown to the largest backlog seen, pushing and popping allocate
//! nothing. The lock is taken only on the slow paths (a P's ring overflowed or ran dry, a
//! plain thread readied a goroutine, the 1-in-61 fairness check), and `len` is readable
//! without it for the emptiness checks of the wake-up protocol.
//!
//! Why not Go's intrusive list (linked through the Gs, the second design): moving a batch
//! out of the list walks it G by G, and the Gs of a large batch (thousands of goroutines
//! woken by one cancellation, queued by another P) are cold on the taker's CPU: each step of
//! the walk waited for a cache miss. Here a batch is a copy of contiguous pointers.
//!
//! Uses: `g`; within `sched`: `sched::runq`.

use crate::g::G;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Capacity kept when the queue drains; above it the memory is returned.
const KEEP: usize = 64 * 1024;

/// The global run queue.
pub(crate) struct GlobalQueue {
    q: Mutex<VecDeque<&'static G>>,
    len: AtomicUsize,
}

impl GlobalQueue {
    pub(crate) fn new() -> Self {
        GlobalQueue {
            q: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Appends goroutines in order.
    pub(crate) fn push_batch(&self, gs: impl IntoIterator<Item = &'static G>) {
        let mut q = self.q.lock();
        let before = q.len();
        q.extend(gs);
        // SeqCst: pairs with the fences of the wake-up protocol (see `sched`).
        self.len.fetch_add(q.len() - before, SeqCst);
    }

    /// Appends one goroutine.
    pub(crate) fn push(&self, g: &'static G) {
        self.push_batch(std::iter::once(g));
    }

    /// Removes up to `max` goroutines from the front, calling `each` on every one in order.
    pub(crate) fn pop_batch(&self, max: usize, mut each: impl FnMut(&'static G)) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut q = self.q.lock();
        let n = max.min(q.len());
        for g in q.drain(..n) {
            each(g);
        }
        if q.is_empty() && q.capacity() > KEEP {
            *q = VecDeque::new();
        }
        self.len.fetch_sub(n, SeqCst);
        n
    }

    /// Removes the goroutine at the front.
    pub(crate) fn pop(&self) -> Option<&'static G> {
        let mut out = None;
        self.pop_batch(1, |g| out = Some(g));
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl super::runq::Overflow<G> for GlobalQueue {
    fn push_batch(&self, items: impl Iterator<Item = &'static G>) {
        GlobalQueue::push_batch(self, items);
    }
}
