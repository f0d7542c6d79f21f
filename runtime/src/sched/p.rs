//! P: a logical processor. Owns a local run queue, the `runnext` slot and the caches that
//! make spawning allocation-free (free Gs, free stacks, a block of goroutine ids).
//!
//! Ownership rule: every field except the atomics and the `Stealer` is touched only by the M
//! that currently holds this P (and by code running on that M: its goroutines and its
//! scheduler loop). A P moves between Ms only through the scheduler's hand-off paths (idle
//! list under `Sched::lock`, `M::nextp` with release/acquire), which order those accesses.
//!
//! Uses: `g`, `stack`; within `sched`: `sched::globalq`, `sched::m`, `sched::runq`,
//! `sched::spawn`.

use super::globalq::GlobalQueue;
use super::m::M;
use super::runq::{RunNext, RunQueue};
use super::spawn::FreeGs;
use crate::g::G;
use crate::stack::Stack;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize};

/// How many consecutive `runnext` picks share one time slice before the local queue gets a
/// turn. Two goroutines that keep readying each other through `runnext` would otherwise
/// starve the rest of the queue (Go breaks such pairs with sysmon's 10 ms preemption; we
/// bound the streak instead, which needs no clock).
const RUNNEXT_STREAK: u32 = 64;
/// How many goroutines after the next one `prefetch_next` loads a stack for.
const PREFETCH_AHEAD: u32 = 1;
/// Queued goroutines from which `prefetch_next` bothers.
const PREFETCH_BACKLOG: usize = 8;
/// Free Gs and stacks a P keeps before moving half to the global pools.
pub(crate) const CACHE_MAX: usize = 256;
/// Goroutine ids a P reserves at once from the global counter.
const GOID_BATCH: u64 = 1024;

/// P status, changed under `Sched::lock`.
pub(crate) const P_IDLE: u8 = 0;
pub(crate) const P_RUNNING: u8 = 1;
pub(crate) const P_DEAD: u8 = 2;

/// Tag on `P::owner` while sysmon decides whether to take the P from its M.
const RETAKING: usize = 1;

/// Per-P scheduler counters, readable from any thread (`gort::stats`).
#[derive(Debug, Default)]
pub(crate) struct PCounters {
    /// Goroutine executions started on this P.
    pub(crate) runs: AtomicU64,
    /// Goroutines this P stole from others.
    pub(crate) steals: AtomicU64,
    /// Goroutines spawned on this P.
    pub(crate) spawned: AtomicU64,
    /// Goroutines that finished on this P.
    pub(crate) exited: AtomicU64,
}

/// Adds one to a counter that only the P's owner writes (no read-modify-write needed).
#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// A logical processor.
pub(crate) struct P {
    pub(crate) id: usize,
    runq: RunQueue<G>,
    runnext: RunNext<G>,
    pub(crate) status: AtomicU8,
    /// The M that holds this P (its address), 0 if none, or the address + [`RETAKING`]
    /// while sysmon decides whether to take it (see `sysmon`).
    owner: AtomicUsize,
    schedtick: Cell<u32>,
    runnext_streak: Cell<u32>,
    gfree: UnsafeCell<FreeGs>,
    stacks: UnsafeCell<Vec<Stack>>,
    goid_next: Cell<u64>,
    goid_end: Cell<u64>,
    pub(crate) counters: PCounters,
}

// SAFETY: see the module docs: non-atomic fields are only touched by the owning M, and
// ownership is transferred with synchronisation.
unsafe impl Sync for P {}
// SAFETY: as above.
unsafe impl Send for P {}

impl P {
    pub(crate) fn new(id: usize) -> P {
        P {
            id,
            runq: RunQueue::new(),
            runnext: RunNext::new(),
            status: AtomicU8::new(P_DEAD),
            owner: AtomicUsize::new(0),
            schedtick: Cell::new(0),
            runnext_streak: Cell::new(0),
            gfree: UnsafeCell::new(FreeGs::default()),
            stacks: UnsafeCell::new(Vec::new()),
            goid_next: Cell::new(0),
            goid_end: Cell::new(0),
            counters: PCounters::default(),
        }
    }

    /// Puts `g` on the local queue (overflowing into `global`); with `next`, into `runnext`
    /// (kicking the previous occupant to the tail), as Go does for a goroutine just readied
    /// or spawned. Owner only. Returns whether a goroutine went into the ring, where other
    /// Ps can steal it (and so whether waking an M can help).
    pub(crate) fn runq_put(&self, g: &'static G, next: bool, global: &GlobalQueue) -> bool {
        let g = if next {
            match self.runnext.put(g) {
                None => return false,
                Some(old) => old,
            }
        } else {
            g
        };
        self.runq.push(g, global);
        true
    }

    /// Next goroutine to run from this P: `runnext` first (it inherits the time slice),
    /// then the local queue. Returns the G and whether it inherits the time slice.
    ///
    /// After [`RUNNEXT_STREAK`] inherited picks in a row the slice is used up: the local
    /// queue's head goes first and whatever runs starts a fresh slice, so the scheduler tick
    /// advances and the 1-in-61 global-queue check keeps firing even while two goroutines
    /// hand the P back and forth through `runnext`.
    pub(crate) fn runq_get(&self) -> Option<(&'static G, bool)> {
        let streak = self.runnext_streak.get();
        if streak >= RUNNEXT_STREAK {
            self.runnext_streak.set(0);
            let g = self.runq.pop().or_else(|| self.take_runnext());
            return g.map(|g| (g, false));
        }
        if let Some(g) = self.take_runnext() {
            self.runnext_streak.set(streak + 1);
            return Some((g, true));
        }
        self.runnext_streak.set(0);
        self.runq.pop().map(|g| (g, false))
    }

    /// `runnext`, if it holds a goroutine that may inherit the time slice (the streak is
    /// not used up); counts it in the streak as [`P::runq_get`] does. Owner only.
    pub(crate) fn take_runnext_inherited(&self) -> Option<&'static G> {
        let streak = self.runnext_streak.get();
        if streak >= RUNNEXT_STREAK {
            return None;
        }
        let g = self.take_runnext()?;
        self.runnext_streak.set(streak + 1);
        Some(g)
    }

    /// Undoes the streak count of a [`P::take_runnext_inherited`] whose goroutine was put
    /// back. Owner only.
    pub(crate) fn undo_runnext_inherited(&self) {
        self.runnext_streak.set(self.runnext_streak.get() - 1);
    }

    fn take_runnext(&self) -> Option<&'static G> {
        self.runnext.take()
    }

    /// Owner, before running the goroutine it just took: prefetch hints for the ones queued
    /// behind it (the stack of the one [`PREFETCH_AHEAD`] places after the next, the
    /// control block of the one after that), so that their cache and TLB misses overlap
    /// with the runs before them.
    ///
    /// Only with a backlog of at least [`PREFETCH_BACKLOG`]: goroutines in a short queue
    /// ran or parked moments ago and are still in cache, and the hints would cost more
    /// than they save (a channel ping-pong, a `select` over a few busy senders).
    pub(crate) fn prefetch_next(&self) {
        if self.runq.len() < PREFETCH_BACKLOG {
            return;
        }
        if let Some(g) = self.runq.peek(PREFETCH_AHEAD + 1) {
            g.prefetch();
        }
        if let Some(g) = self.runq.peek(PREFETCH_AHEAD) {
            g.prefetch_stack();
        }
    }

    /// Records that `m` holds this P.
    pub(crate) fn set_owner(&self, m: *const M) {
        self.owner.store(m as usize, Release);
    }

    /// Releases this P if `m` still holds it.
    pub(crate) fn release_owner(&self, m: *const M) {
        let _ = self.owner.compare_exchange(m as usize, 0, AcqRel, Relaxed);
    }

    /// Whether `m` holds this P. The caller has raised `m.in_p` (and fenced), so if sysmon is
    /// deciding right now it will leave the P with `m`: wait for that verdict.
    pub(crate) fn owned_by(&self, m: *const M) -> bool {
        loop {
            let o = self.owner.load(Acquire);
            if o == m as usize {
                return true;
            }
            if o != m as usize + RETAKING {
                return false;
            }
            std::hint::spin_loop();
        }
    }

    /// The M holding this P, if any (sysmon).
    pub(crate) fn owner(&self) -> Option<&'static M> {
        let o = self.owner.load(Acquire) & !RETAKING;
        // SAFETY: owners are leaked `&'static M`s.
        unsafe { (o as *const M).as_ref() }
    }

    /// Sysmon: takes this P from `m` unless `m` is using it. `heavy` is the slow side of the
    /// asymmetric fence (`membarrier`). On success the caller owns the P and must hand it off.
    pub(crate) fn try_retake(&self, m: &M, heavy: impl FnOnce()) -> bool {
        let held = m as *const M as usize;
        if self
            .owner
            .compare_exchange(held, held + RETAKING, SeqCst, Relaxed)
            .is_err()
        {
            return false;
        }
        heavy();
        if m.in_p.load(SeqCst) {
            self.owner.store(held, Release); // it is busy with the P: leave it
            false
        } else {
            self.owner.store(0, Release);
            true
        }
    }

    /// The P's status as a word (racy; for `crate::debug`).
    pub(crate) fn status_name(&self) -> &'static str {
        match self.status.load(Relaxed) {
            P_IDLE => "idle",
            P_RUNNING => "running",
            _ => "dead",
        }
    }

    /// Whether `runnext` holds a goroutine (racy).
    pub(crate) fn has_runnext(&self) -> bool {
        self.runnext.is_set(Relaxed)
    }

    /// Steals `runnext` (from another P, when its queue is empty).
    pub(crate) fn steal_runnext(&self) -> Option<&'static G> {
        self.runnext.steal()
    }

    /// Owner: steals about half of `victim`'s queue into ours, returning one G to run.
    pub(crate) fn steal_from(&self, victim: &P) -> Option<&'static G> {
        self.runq.steal_from(&victim.runq)
    }

    /// Owner: moves up to `max` goroutines from the global queue to ours, returning one.
    pub(crate) fn take_global(&self, global: &GlobalQueue, max: usize) -> Option<&'static G> {
        let mut first = None;
        global.pop_batch(max, |g| match first {
            None => first = Some(g),
            Some(_) => self.runq.push(g, global),
        });
        first
    }

    /// Whether this P has queued goroutines, `runnext` included (racy).
    pub(crate) fn has_work(&self) -> bool {
        self.has_stealable_work() || self.runnext.is_set(Acquire)
    }

    /// Whether this P's ring holds goroutines another P could steal now (racy).
    pub(crate) fn has_stealable_work(&self) -> bool {
        !self.runq.is_empty()
    }

    /// Whether the local ring is full (the next push would overflow to the global queue).
    pub(crate) fn runq_full(&self) -> bool {
        self.runq.len() >= super::runq::RUNQ_SIZE
    }

    /// Queued goroutines (racy, for stats).
    pub(crate) fn runq_len(&self) -> usize {
        self.runq.len() + usize::from(self.runnext.is_set(Relaxed))
    }

    /// Counts a scheduling round; returns the new tick.
    pub(crate) fn tick(&self) -> u32 {
        let t = self.schedtick.get().wrapping_add(1);
        self.schedtick.set(t);
        t
    }

    pub(crate) fn schedtick(&self) -> u32 {
        self.schedtick.get()
    }

    /// Runs `f` on the cache of free Gs and join packets (owner only). `f` must not call
    /// back into this P's caches (nothing in it can: it only moves entries between vectors).
    pub(crate) fn with_gfree<R>(&self, f: impl FnOnce(&mut FreeGs) -> R) -> R {
        // SAFETY: owner only (module invariant); the borrow lasts for `f` alone, and `f`
        // does not re-enter, so it is unique.
        f(unsafe { &mut *self.gfree.get() })
    }

    /// Runs `f` on the free stack cache (owner only); same rule as [`P::with_gfree`].
    pub(crate) fn with_stacks<R>(&self, f: impl FnOnce(&mut Vec<Stack>) -> R) -> R {
        // SAFETY: as for `with_gfree`.
        f(unsafe { &mut *self.stacks.get() })
    }

    /// A fresh goroutine id from this P's reserved block.
    pub(crate) fn next_goid(&self, global: &AtomicU64) -> u64 {
        let mut id = self.goid_next.get();
        if id == self.goid_end.get() {
            id = global.fetch_add(GOID_BATCH, Relaxed);
            self.goid_end.set(id + GOID_BATCH);
        }
        self.goid_next.set(id + 1);
        id
    }

    /// Moves everything queued on this P to the global queue (when the P is retired).
    pub(crate) fn drain_to(&self, global: &GlobalQueue) {
        if let Some(g) = self.steal_runnext() {
            global.push(g);
        }
        while let Some(g) = self.runq.pop() {
            global.push(g);
        }
    }
}
