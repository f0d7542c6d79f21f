//! The global run queue: an intrusive FIFO list of Gs under a lock (Go's `sched.runq`).
//!
//! Why not crossbeam-deque's `Injector` (the first design): the `Injector` allocates a block
//! every 63 pushes and frees it through the epoch collector, so every goroutine woken by a
//! plain thread or spawned from one cost an allocation share. Linking Gs through their own
//! `schedlink` field allocates nothing; the lock is taken only on the slow paths (a P's ring
//! overflowed or ran dry, a plain thread readied a goroutine, the 1-in-61 fairness check),
//! and `len` is readable without it for the emptiness checks of the wake-up protocol.

use crate::g::G;
use parking_lot::Mutex;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

struct List {
    head: *const G,
    tail: *const G,
}

// SAFETY: the raw pointers are `&'static G`s, only touched under the mutex.
unsafe impl Send for List {}

/// The global run queue.
pub(crate) struct GlobalQueue {
    list: Mutex<List>,
    len: AtomicUsize,
}

impl GlobalQueue {
    pub(crate) fn new() -> Self {
        GlobalQueue {
            list: Mutex::new(List {
                head: ptr::null(),
                tail: ptr::null(),
            }),
            len: AtomicUsize::new(0),
        }
    }

    /// Appends goroutines in order.
    pub(crate) fn push_batch(&self, gs: impl IntoIterator<Item = &'static G>) {
        let mut l = self.list.lock();
        let mut n = 0;
        for g in gs {
            g.schedlink.set(ptr::null());
            if l.tail.is_null() {
                l.head = g;
            } else {
                // SAFETY: `tail` is a `&'static G` in this list; links change under the lock.
                unsafe { (*l.tail).schedlink.set(g) };
            }
            l.tail = g;
            n += 1;
        }
        // SeqCst: pairs with the fences of the wake-up protocol (see `sched`).
        self.len.fetch_add(n, SeqCst);
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
        let mut l = self.list.lock();
        let mut n = 0;
        while n < max && !l.head.is_null() {
            // SAFETY: list members are `&'static G`s.
            let g: &'static G = unsafe { &*l.head };
            l.head = g.schedlink.get();
            if l.head.is_null() {
                l.tail = ptr::null();
            }
            g.schedlink.set(ptr::null());
            each(g);
            n += 1;
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
