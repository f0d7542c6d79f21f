//! A P's local run queue: Go's fixed 256-slot ring (`runqput`, `runqget`, `runqsteal`), and
//! the P's `runnext` slot.
//!
//! Why not crossbeam-deque's `Worker`/`Stealer` (the first design): measured on the
//! spawn/join bench, the `Worker`'s buffer grows and shrinks as a burst of goroutines comes
//! and goes (one allocation per ~45 spawns in steady state), and every steal pins the epoch.
//! This ring never allocates: when it is full, half of it moves to the global queue in one
//! batch (Go's `runqputslow`). Before/after numbers are in BENCHMARKS.md.
//!
//! Only the owner (the M holding the P) pushes and writes `tail`; the owner and thieves take
//! from `head` with a CAS. A thief copies the slots it wants and then claims them with the
//! CAS; if the owner refilled one of those slots meanwhile, `head` moved and the CAS fails.
//! Slots are atomics so those racy reads are not data races.
//!
//! Both are written against the `cfg(loom)` shim and generic over the element type (the
//! runtime queues `G`s), so that `loom-tests/tests/runq.rs` can model-check this very code
//! with its own items. Under loom the ring has [`RUNQ_SIZE`] = 4 slots, so that a model
//! reaches the full ring, the overflow batch and the reuse of slots in a few steps (tokio
//! does the same), and [`Fault`] can break one step of the protocol on purpose, to show
//! that the models catch it. In normal builds none of this is public or present: the shim's
//! atomics are std's and the code is what it was before it became generic.
//!
//! Uses: `shim`.

use crate::shim::{AtomicPtr, AtomicU32};
use std::ptr;
use std::sync::atomic::Ordering::{self, AcqRel, Acquire, Relaxed, Release};

/// Slots in a local run queue (Go's value).
#[cfg(not(loom))]
pub const RUNQ_SIZE: usize = 256;
/// Slots in a local run queue: small under loom, so models reach a full ring.
#[cfg(loom)]
pub const RUNQ_SIZE: usize = 4;

/// Where a full ring sends its older half (the global run queue).
pub trait Overflow<T: 'static> {
    /// Appends `items` in order.
    fn push_batch(&self, items: impl Iterator<Item = &'static T>);
}

/// A step of the protocol that a loom model can break on purpose (loom builds only).
#[cfg(loom)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The protocol as written.
    None,
    /// The owner's `pop` claims the head with a plain store instead of a CAS.
    PopWithoutCas,
    /// `push` publishes the new tail with a `Relaxed` store instead of `Release`.
    RelaxedPublish,
    /// `RunNext::take` empties the slot with a load and a store instead of a swap.
    TakeRunnextWithoutSwap,
}

/// A bounded single-producer, multi-consumer ring of `&'static T` (runnable goroutines).
pub struct RunQueue<T: 'static> {
    head: AtomicU32,
    tail: AtomicU32,
    slots: [AtomicPtr<T>; RUNQ_SIZE],
    #[cfg(loom)]
    fault: Fault,
}

fn slot(i: u32) -> usize {
    i as usize % RUNQ_SIZE
}

impl<T: 'static> RunQueue<T> {
    /// An empty ring.
    pub fn new() -> Self {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            #[cfg(loom)]
            fault: Fault::None,
        }
    }

    /// An empty ring whose protocol is broken at `fault` (loom models only).
    #[cfg(loom)]
    pub fn with_fault(fault: Fault) -> Self {
        RunQueue {
            fault,
            ..Self::new()
        }
    }

    fn load(&self, i: u32) -> &'static T {
        let p = self.slots[slot(i)].load(Relaxed);
        #[cfg(loom)]
        assert!(!p.is_null(), "run queue: read a slot nobody filled");
        // SAFETY: slots only ever hold `&'static T`s (never freed); a slot inside the
        // [head, tail) window read after an Acquire of `tail` was written before it.
        unsafe { &*p }
    }

    /// Owner: appends `g`. If the ring is full, moves its older half and `g` to `overflow`
    /// in one batch (Go's `runqputslow`).
    pub fn push(&self, g: &'static T, overflow: &impl Overflow<T>) {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if (t.wrapping_sub(h) as usize) < RUNQ_SIZE {
                self.slots[slot(t)].store(g as *const T as *mut T, Relaxed);
                #[cfg(loom)]
                if self.fault == Fault::RelaxedPublish {
                    self.tail.store(t.wrapping_add(1), Relaxed);
                    return;
                }
                self.tail.store(t.wrapping_add(1), Release);
                return;
            }
            // Full: claim the older half, then hand it over (no allocation: a stack array).
            const HALF: usize = RUNQ_SIZE / 2;
            let mut batch: [*const T; HALF] = [ptr::null(); HALF];
            for (i, b) in batch.iter_mut().enumerate() {
                *b = self.load(h.wrapping_add(i as u32));
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(HALF as u32), AcqRel, Relaxed)
                .is_ok()
            {
                // SAFETY: the batch holds `&'static T`s read from claimed slots.
                let gs = batch.iter().map(|&p| unsafe { &*p });
                overflow.push_batch(gs.chain(std::iter::once(g)));
                return;
            }
            // A thief took some meanwhile: there is room now.
        }
    }

    /// Owner: the element `k` places from the front, if there is one. Racy (a thief may
    /// take it meanwhile): for hints only.
    pub fn peek(&self, k: u32) -> Option<&'static T> {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Relaxed);
        if t.wrapping_sub(h) <= k {
            return None;
        }
        let g = self.slots[slot(h.wrapping_add(k))].load(Relaxed);
        // SAFETY: slots only ever hold null or `&'static T`s, which are never freed.
        unsafe { g.as_ref() }
    }

    /// Owner: takes the oldest element.
    pub fn pop(&self) -> Option<&'static T> {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let g = self.load(h);
            #[cfg(loom)]
            if self.fault == Fault::PopWithoutCas {
                self.head.store(h.wrapping_add(1), Release);
                return Some(g);
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), AcqRel, Relaxed)
                .is_ok()
            {
                return Some(g);
            }
        }
    }

    /// Thief (owner of `self`, whose ring must be empty): takes half of `victim`'s
    /// elements (the older half, rounded up) into this ring, in order, and returns the
    /// newest of them to run.
    pub fn steal_from(&self, victim: &RunQueue<T>) -> Option<&'static T> {
        let t = self.tail.load(Relaxed);
        let n = loop {
            let h = victim.head.load(Acquire);
            let vt = victim.tail.load(Acquire);
            let avail = vt.wrapping_sub(h);
            let n = avail - avail / 2;
            if n == 0 {
                return None;
            }
            if n as usize > RUNQ_SIZE / 2 {
                continue; // read an inconsistent head/tail pair
            }
            for i in 0..n {
                let g = victim.slots[slot(h.wrapping_add(i))].load(Relaxed);
                self.slots[slot(t.wrapping_add(i))].store(g, Relaxed);
            }
            if victim
                .head
                .compare_exchange(h, h.wrapping_add(n), AcqRel, Relaxed)
                .is_ok()
            {
                break n;
            }
        };
        let last = n - 1;
        let g = self.load(t.wrapping_add(last));
        if last > 0 {
            self.tail.store(t.wrapping_add(last), Release);
        }
        Some(g)
    }

    /// Queued elements (racy when read by others).
    pub fn len(&self) -> usize {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Acquire);
        (t.wrapping_sub(h) as usize).min(RUNQ_SIZE)
    }

    /// Whether the ring is empty (racy when read by others).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: 'static> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A P's `runnext` slot: one element that runs before the ring (Go's `p.runnext`). Only
/// the owner fills it; the owner takes it with a swap, a thief with a CAS.
pub struct RunNext<T: 'static> {
    slot: AtomicPtr<T>,
    #[cfg(loom)]
    fault: Fault,
}

impl<T: 'static> RunNext<T> {
    /// An empty slot.
    pub fn new() -> Self {
        RunNext {
            slot: AtomicPtr::new(ptr::null_mut()),
            #[cfg(loom)]
            fault: Fault::None,
        }
    }

    /// An empty slot whose protocol is broken at `fault` (loom models only).
    #[cfg(loom)]
    pub fn with_fault(fault: Fault) -> Self {
        RunNext {
            fault,
            ..Self::new()
        }
    }

    /// Owner: puts `g` in the slot, returning the element it displaced.
    pub fn put(&self, g: &'static T) -> Option<&'static T> {
        let old = self.slot.swap(g as *const T as *mut T, AcqRel);
        // SAFETY: the slot only ever holds null or `&'static T`s.
        unsafe { old.as_ref() }
    }

    /// Owner: takes the element in the slot, if any.
    pub fn take(&self) -> Option<&'static T> {
        if self.slot.load(Relaxed).is_null() {
            return None; // only the owner fills it: no swap needed to see it empty
        }
        #[cfg(loom)]
        if self.fault == Fault::TakeRunnextWithoutSwap {
            let next = self.slot.load(Acquire);
            self.slot.store(ptr::null_mut(), Release);
            // SAFETY: as below.
            return unsafe { next.as_ref() };
        }
        let next = self.slot.swap(ptr::null_mut(), AcqRel);
        // SAFETY: the slot only ever holds null or `&'static T`s.
        unsafe { next.as_ref() }
    }

    /// Thief: takes the element in the slot, if any.
    pub fn steal(&self) -> Option<&'static T> {
        let next = self.slot.load(Acquire);
        if next.is_null() {
            return None;
        }
        match self
            .slot
            .compare_exchange(next, ptr::null_mut(), AcqRel, Acquire)
        {
            // SAFETY: the slot only ever holds `&'static T`s.
            Ok(_) => Some(unsafe { &*next }),
            Err(_) => None,
        }
    }

    /// Whether the slot holds an element (racy for anyone but the owner); `order` is the
    /// ordering of the load.
    pub fn is_set(&self, order: Ordering) -> bool {
        !self.slot.load(order).is_null()
    }
}

impl<T: 'static> Default for RunNext<T> {
    fn default() -> Self {
        Self::new()
    }
}
