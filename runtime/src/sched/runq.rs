//! A P's local run queue: Go's fixed 256-slot ring (`runqput`, `runqget`, `runqsteal`).
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

use super::globalq::GlobalQueue;
use crate::g::G;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU32};

/// Slots in a local run queue (Go's value).
pub(crate) const RUNQ_SIZE: usize = 256;

/// A bounded single-producer, multi-consumer ring of runnable goroutines.
pub(crate) struct RunQueue {
    head: AtomicU32,
    tail: AtomicU32,
    slots: [AtomicPtr<G>; RUNQ_SIZE],
}

fn slot(i: u32) -> usize {
    i as usize % RUNQ_SIZE
}

impl RunQueue {
    pub(crate) fn new() -> Self {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    fn load(&self, i: u32) -> &'static G {
        // SAFETY: slots only ever hold `&'static G`s (never freed); a slot inside the
        // [head, tail) window read after an Acquire of `tail` was written before it.
        unsafe { &*self.slots[slot(i)].load(Relaxed) }
    }

    /// Owner: appends `g`. If the ring is full, moves its older half and `g` to `overflow`
    /// in one batch (Go's `runqputslow`).
    pub(crate) fn push(&self, g: &'static G, overflow: &GlobalQueue) {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if (t.wrapping_sub(h) as usize) < RUNQ_SIZE {
                self.slots[slot(t)].store(g as *const G as *mut G, Relaxed);
                self.tail.store(t.wrapping_add(1), Release);
                return;
            }
            // Full: claim the older half, then hand it over (no allocation: a stack array).
            const HALF: usize = RUNQ_SIZE / 2;
            let mut batch: [*const G; HALF] = [ptr::null(); HALF];
            for (i, b) in batch.iter_mut().enumerate() {
                *b = self.load(h.wrapping_add(i as u32));
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(HALF as u32), AcqRel, Relaxed)
                .is_ok()
            {
                // SAFETY: the batch holds `&'static G`s read from claimed slots.
                let gs = batch.iter().map(|&p| unsafe { &*p });
                overflow.push_batch(gs.chain(std::iter::once(g)));
                return;
            }
            // A thief took some meanwhile: there is room now.
        }
    }

    /// Owner: the goroutine `k` places from the front, if there is one. Racy (a thief may
    /// take it meanwhile): for hints only.
    pub(crate) fn peek(&self, k: u32) -> Option<&'static G> {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Relaxed);
        if t.wrapping_sub(h) <= k {
            return None;
        }
        let g = self.slots[slot(h.wrapping_add(k))].load(Relaxed);
        // SAFETY: slots only ever hold null or `&'static G`s, which are never freed.
        unsafe { g.as_ref() }
    }

    /// Owner: takes the oldest goroutine.
    pub(crate) fn pop(&self) -> Option<&'static G> {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let g = self.load(h);
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
    /// goroutines into this ring and returns one of them to run.
    pub(crate) fn steal_from(&self, victim: &RunQueue) -> Option<&'static G> {
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

    /// Queued goroutines (racy when read by others).
    pub(crate) fn len(&self) -> usize {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Acquire);
        (t.wrapping_sub(h) as usize).min(RUNQ_SIZE)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
