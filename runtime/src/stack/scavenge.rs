//! Memory return: the stack scavenger.
//!
//! Policy. A stack that runs goroutines keeps the pages they touched: reusing it is then
//! fault-free, which is what keeps spawn + exit cheap. A stack that sits idle in a P's cache
//! or in the global pool for a whole scavenger period (between [`PERIOD`] and twice that)
//! gives all its pages back with `MADV_DONTNEED`, so one deep recursion, or a burst of a
//! million goroutines, does not pin memory after it is over. The spawn and exit paths never
//! make a system call: `acquire` is one atomic on the slot's state; `set_idle` stores the
//! slot's state and the arena's mark in the registry (a line shared by the Ps that end
//! stacks of that arena) and reads `ACTIVITY`. The scavenger thread pays one `madvise` per
//! run of adjacent idle stacks in an arena (64 stacks at most), and only for stacks that ran
//! code since they were last released. It looks only at arenas marked since its last pass
//! (a stack went idle, all of an arena's stacks came back to the pool, or it is new): the
//! marks sit in the registry's contiguous entries, so with a million goroutines parked a
//! pass reads about 600 KB of entries in order instead of 15,600 scattered descriptors.
//!
//! Pages are not all: the page-table pages that map them stay until their whole 2 MiB is
//! unmapped (guard markers live in them too). So after each pass the scavenger unmaps the
//! arenas whose 64 stacks are all back in the global pool and hold no pages
//! (`super::unmap_idle_arenas`), beyond a few kept for the next burst; this also frees
//! their descriptors, which only the scavenger thread reads through the registry.
//!
//! Each arena slot has a state word: `RAW` (never handed out: no guard page yet),
//! `IN_USE` (a goroutine or `grow` segment runs on it), `FRESH` (idle since this period),
//! `SEEN` (idle for a full period), `TRIMMING` (the scavenger is releasing it), `CLEAN` (no
//! committed pages). The spawner's `acquire` waits while a slot is `TRIMMING`, so pages are
//! never released under running code.

use super::{page_size, registry};
use crate::pad::CachePadded;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use std::sync::Once;
use std::time::Duration;

/// How long a stack must sit idle (at least) before its pages go back to the OS.
pub(crate) const PERIOD: Duration = Duration::from_millis(250);

const IN_USE: u8 = 0;
const FRESH: u8 = 1;
const SEEN: u8 = 2;
const TRIMMING: u8 = 3;
const CLEAN: u8 = 4;
/// Never handed out: no guard page installed yet, no pages.
const RAW: u8 = 5;

/// Set when some stack went idle, or an arena's last stack came back to the pool, since the
/// scavenger last looked.
static ACTIVITY: AtomicBool = AtomicBool::new(false);
/// Set while the scavenger sleeps until a stack goes idle (nothing left to release).
static SLEEPING: AtomicBool = AtomicBool::new(false);
static NOTE: std::sync::LazyLock<crate::note::Note> =
    std::sync::LazyLock::new(crate::note::Note::new);

/// The scavenger state of one arena slot.
#[derive(Debug)]
pub(crate) struct SlotState(AtomicU8);

impl SlotState {
    pub(crate) fn acquire(&self) {
        let mut spins = 0u32;
        loop {
            let s = self.0.load(Acquire);
            if s == TRIMMING {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                continue;
            }
            if s == IN_USE
                || self
                    .0
                    .compare_exchange_weak(s, IN_USE, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
        }
    }

    /// Whether the slot was never handed out (its guard page is not installed yet).
    pub(crate) fn is_raw(&self) -> bool {
        self.0.load(Relaxed) == RAW
    }
}

/// Tells the scavenger there is something to look at (an idle stack, an arena back in the
/// pool): wakes it if it sleeps for good.
fn note_activity() {
    if !ACTIVITY.load(Relaxed) {
        // At most once per scavenger period: the scavenger clears it when it looks.
        ACTIVITY.store(true, SeqCst);
        if SLEEPING.load(SeqCst) {
            NOTE.wakeup();
        }
    }
}

/// Per-arena descriptor. The registry entry points at it; it is freed when the scavenger
/// unmaps the arena (see `super::unmap_idle_arenas`), once no Stack of the arena exists.
///
/// Every goroutine's end reads it ([`Arena::set_idle`]), on whichever P it ran: its
/// read-mostly fields get cache lines of their own, away from `pooled` (written at each
/// move of stacks to or from the global pool) and from whatever `malloc` puts next to it.
/// Sharing a line with `pooled` made the end of each goroutine of a spawn storm on two
/// Ps wait for that line (`Stack::set_idle` was 4% of the spawn + exit bench's samples,
/// nearly all of it on one load of the descriptor; 1.4% after, and 0.95x the time in 12
/// alternated pairs). The padding costs 176 bytes per arena of 64 stacks.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Arena {
    /// The mapping `[base, base + len)`.
    pub(crate) base: usize,
    len: usize,
    /// Bytes per stack slot (guard page included, at each slot's low end).
    pub(crate) slot: usize,
    /// Registry index of the mapping (set right after registering, before the arena's
    /// stacks exist; atomic because the registry publishes the descriptor first).
    reg: AtomicUsize,
    /// The arena's dirty mark in the registry (`registry::dirty_flag`); null until set,
    /// right after registering (the registry marks a new arena dirty itself).
    dirty: AtomicPtr<AtomicBool>,
    pub(crate) slots: Box<[SlotState]>,
    /// How many of the arena's stacks are in the global pool (changed under its lock).
    pub(crate) pooled: CachePadded<AtomicUsize>,
    /// Set (under the pool's lock) when the arena is about to be unmapped.
    pub(crate) dead: AtomicBool,
}

impl Arena {
    /// Describes and registers the fresh mapping `[base, base + len)` of `count` never-used
    /// slots of `slot` bytes, all of them in the pool.
    pub(crate) fn new(base: usize, len: usize, slot: usize, count: usize) -> *const Arena {
        let arena = Box::into_raw(Box::new(Arena {
            base,
            len,
            slot,
            reg: AtomicUsize::new(usize::MAX),
            dirty: AtomicPtr::new(std::ptr::null_mut()),
            slots: (0..count).map(|_| SlotState(AtomicU8::new(RAW))).collect(),
            pooled: CachePadded(AtomicUsize::new(count)),
            dead: AtomicBool::new(false),
        }));
        let reg = registry::register(base, len, slot, arena);
        // SAFETY: just allocated, and freed only by `unmap`: the scavenger may already see
        // it (registered and marked, all its stacks counted as pooled and never used), but
        // it unmaps only under the pool's lock, which our caller (`carve_arena`, from
        // `take_batch`) holds until it has taken its stacks out of the pool.
        unsafe {
            (*arena).reg.store(reg, Relaxed);
            (*arena)
                .dirty
                .store(registry::dirty_flag(reg) as *const _ as *mut _, Release);
        }
        arena
    }

    /// Marks slot `i` idle (its goroutine ended, or it was just guarded): the scavenger
    /// may release its pages once it has stayed idle for a full scavenger period.
    pub(crate) fn set_idle(&self, i: usize) {
        self.slots[i].0.store(FRESH, Release);
        self.mark_dirty();
        note_activity();
    }

    /// All of the arena's stacks are back in the global pool: the scavenger's next pass
    /// looks whether it can unmap it.
    pub(crate) fn all_pooled(&self) {
        self.mark_dirty();
        note_activity();
    }

    /// Has the scavenger's next pass look at this arena (Release: after the slot states
    /// that make it worth a look). Wakes nobody: callers that bring news do.
    pub(crate) fn mark_dirty(&self) {
        let flag = self.dirty.load(Acquire);
        // SAFETY: null or the registry entry's flag, which lives as long as the process.
        if let Some(flag) = unsafe { flag.as_ref() } {
            flag.store(true, Release);
        }
    }

    /// Whether no slot holds pages: each was released by the scavenger or never used.
    pub(crate) fn idle(&self) -> bool {
        self.slots
            .iter()
            .all(|s| matches!(s.0.load(Acquire), CLEAN | RAW))
    }

    /// Unregisters and unmaps the arena and frees its descriptor.
    ///
    /// # Safety
    /// `arena` came from [`Arena::new`], no Stack of it exists any more, and no other thread
    /// will read the descriptor (only the scavenger reads descriptors through the registry).
    pub(crate) unsafe fn unmap(arena: *const Arena) {
        // SAFETY: the caller guarantees the descriptor is live and ours alone.
        let a = unsafe { Box::from_raw(arena as *mut Arena) };
        registry::unregister(a.reg.load(Relaxed));
        // SAFETY: the mapping is the arena's own and no code runs on any of its stacks.
        unsafe { libc::munmap(a.base as *mut _, a.len) };
        super::guard::unbudget(a.slots.len());
    }
}

/// Starts the scavenger thread (once).
pub(crate) fn start() {
    static START: Once = Once::new();
    START.call_once(|| {
        // Without the thread, memory is simply not returned: not worth failing a spawn.
        let _ = std::thread::Builder::new()
            .name("gort-stack-scavenger".into())
            .stack_size(64 << 10)
            .spawn(|| {
                crate::sysmon::register_runtime_thread();
                let mut pending = false;
                loop {
                    if !pending {
                        // Nothing left to release: sleep until a stack goes idle or an
                        // arena's stacks are all back in the pool (no wake-ups at all in an
                        // idle process). Announce, then re-check.
                        SLEEPING.store(true, SeqCst);
                        if !ACTIVITY.load(SeqCst) {
                            NOTE.sleep();
                            NOTE.clear();
                        }
                        SLEEPING.store(false, SeqCst);
                    }
                    // Let the idle stacks age for a period before releasing them.
                    std::thread::sleep(PERIOD);
                    if ACTIVITY.swap(false, Acquire) || pending {
                        let mut looked_at = Vec::new();
                        pending = sweep(&mut looked_at);
                        super::unmap_idle_arenas(&looked_at);
                    }
                }
            })
            .map(drop);
    });
}

/// One scavenger pass over the arenas marked dirty (they go into `looked_at`, for
/// `unmap_idle_arenas`). Returns whether some stacks are idle but not yet released (they
/// will be next period; their arenas stay marked).
///
/// Only marked arenas: with a million goroutines parked, a pass over every arena read
/// 15,000 descriptors scattered through the heap, one TLB and cache miss each, and took
/// 20 to 440 ms of every 250 ms period while the goroutines were being spawned (each new
/// stack's guard marks it idle for a moment), a third of the CPU of the spawning run.
fn sweep(looked_at: &mut Vec<*const Arena>) -> bool {
    let page = page_size();
    let mut pending = false;
    registry::each_dirty_arena(|arena| {
        looked_at.push(arena as *const Arena);
        let mut left_idle = false;
        let (low, slot) = (arena.base, arena.slot);
        let mut run: Option<usize> = None; // first slot of the current run of TRIMMING
        let n = arena.slots.len();
        for i in 0..=n {
            let mut trimming = false;
            if i < n {
                let s = &arena.slots[i].0;
                match s.load(Relaxed) {
                    FRESH => {
                        let _ = s.compare_exchange(FRESH, SEEN, Relaxed, Relaxed);
                        left_idle = true;
                    }
                    SEEN => trimming = s.compare_exchange(SEEN, TRIMMING, Acquire, Relaxed).is_ok(),
                    _ => {}
                }
            }
            if trimming {
                run.get_or_insert(i);
                continue;
            }
            if let Some(first) = run.take() {
                // Slots first..i: their usable ranges and the guard pages between them.
                let from = low + first * slot + page;
                let len = (i - first) * slot - page;
                // SAFETY: every slot in the range is TRIMMING: no code runs on it and no
                // one can acquire it until we publish CLEAN. Guard regions survive
                // MADV_DONTNEED; mprotect guards are PROT_NONE and hold no pages.
                let rc = unsafe { libc::madvise(from as *mut _, len, libc::MADV_DONTNEED) };
                if rc != 0 {
                    for j in first..i {
                        let from = low + j * slot + page;
                        // SAFETY: as above, one slot's usable range.
                        unsafe { libc::madvise(from as *mut _, slot - page, libc::MADV_DONTNEED) };
                    }
                }
                for j in first..i {
                    arena.slots[j].0.store(CLEAN, Release);
                }
            }
        }
        if left_idle {
            // Released next period, if still idle then.
            arena.mark_dirty();
            pending = true;
        }
    });
    pending
}
