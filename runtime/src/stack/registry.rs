//! A table of every stack mapping, readable without locks (from a signal handler).
//!
//! Entries live in chunks that are allocated zeroed and never freed, linked from `HEAD`.
//! Writers (arena carving, own mappings) serialise on `WRITER`; readers load `USED` and walk
//! the chunks with atomic loads only, so the SIGSEGV handler may read the table. An entry is
//! `(low, len, slot, arena)` and the scavenger's `dirty` mark of an arena (written outside
//! `WRITER`: set by the arena's stacks going idle, cleared by the scavenger): the mapping `[low, low + len)` holds stacks of `slot` bytes
//! each (guard page included, at each slot's low end). A mapping (an own one, or an idle
//! arena the scavenger gives back) is removed (its `low` zeroed) before it is unmapped, and
//! `GEN` is bumped so the per-thread range caches of [`super::remaining`] notice.

use super::page_size;
use super::scavenge::Arena;
use parking_lot::Mutex;
use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

const CHUNK: usize = 1024;

struct Entry {
    low: AtomicUsize,
    len: AtomicUsize,
    slot: AtomicUsize,
    arena: AtomicPtr<Arena>,
    /// An arena's mark for the scavenger: some of its stacks may have gone idle, or it may
    /// have become unmappable, since the scavenger last looked (see [`each_dirty_arena`]).
    /// Kept here, in the table's contiguous chunks, so that a pass over a million parked
    /// goroutines' 15,600 arenas reads 600 KB of entries in order rather than 15,600
    /// descriptors scattered through the heap. Set with a plain store, never skipped when
    /// it looks set already: a marker that does not store does not synchronise with the
    /// scavenger's swap, and its mark can be lost.
    dirty: AtomicBool,
}

struct Chunk {
    entries: [Entry; CHUNK],
    next: AtomicPtr<Chunk>,
}

static HEAD: AtomicPtr<Chunk> = AtomicPtr::new(ptr::null_mut());
/// Entries ever handed out (an upper bound for readers).
static USED: AtomicUsize = AtomicUsize::new(0);
/// Bumped whenever an entry is removed.
pub(crate) static GEN: AtomicUsize = AtomicUsize::new(0);

struct Writer {
    free: Vec<usize>,
    tail: *mut Chunk,
    cap: usize,
}

// SAFETY: `tail` points to a leaked chunk; only used under the mutex.
unsafe impl Send for Writer {}

static WRITER: Mutex<Writer> = Mutex::new(Writer {
    free: Vec::new(),
    tail: ptr::null_mut(),
    cap: 0,
});

fn new_chunk() -> *mut Chunk {
    let layout = Layout::new::<Chunk>();
    // SAFETY: the layout is non-zero-sized. All-zero bytes are a valid Chunk (atomics and
    // null pointers), so the zeroed allocation is initialised.
    let p = unsafe { alloc_zeroed(layout) } as *mut Chunk;
    if p.is_null() {
        handle_alloc_error(layout);
    }
    p
}

/// Calls `f` on each live entry until it returns `Some`. Lock-free and allocation-free:
/// async-signal-safe.
fn find<R>(mut f: impl FnMut(&Entry, usize, usize, usize, *const Arena) -> Option<R>) -> Option<R> {
    let used = USED.load(Acquire);
    let mut chunk = HEAD.load(Acquire);
    let mut i = 0;
    while !chunk.is_null() && i < used {
        // SAFETY: chunks are leaked, zero-initialised and only accessed through atomics.
        let c = unsafe { &*chunk };
        for e in &c.entries[..CHUNK.min(used - i)] {
            let low = e.low.load(Acquire);
            if low == 0 {
                continue;
            }
            let len = e.len.load(Relaxed);
            let slot = e.slot.load(Relaxed);
            let arena = e.arena.load(Relaxed);
            if e.low.load(Acquire) != low || slot == 0 {
                continue;
            }
            if let Some(r) = f(e, low, len, slot, arena) {
                return Some(r);
            }
        }
        i += CHUNK;
        chunk = c.next.load(Acquire);
    }
    None
}

/// Records a mapping of stacks; returns its index (for [`unregister`]).
pub(crate) fn register(low: usize, len: usize, slot: usize, arena: *const Arena) -> usize {
    let mut w = WRITER.lock();
    let idx = match w.free.pop() {
        Some(i) => i,
        None => {
            let i = USED.load(Relaxed);
            if i == w.cap {
                let c = new_chunk();
                if w.tail.is_null() {
                    HEAD.store(c, Release);
                } else {
                    // SAFETY: `tail` is a leaked chunk.
                    unsafe { (*w.tail).next.store(c, Release) };
                }
                w.tail = c;
                w.cap += CHUNK;
            }
            i
        }
    };
    let e = entry(idx);
    e.len.store(len, Relaxed);
    e.slot.store(slot, Relaxed);
    e.arena.store(arena as *mut Arena, Relaxed);
    // A new arena is looked at by the next scavenger pass.
    e.dirty.store(true, Relaxed);
    e.low.store(low, Release);
    if idx >= USED.load(Relaxed) {
        USED.store(idx + 1, Release);
    }
    idx
}

/// Removes the mapping registered at `idx` (before it is unmapped).
pub(crate) fn unregister(idx: usize) {
    let mut w = WRITER.lock();
    entry(idx).low.store(0, Release);
    GEN.fetch_add(1, Release);
    w.free.push(idx);
}

fn entry(idx: usize) -> &'static Entry {
    let mut c = HEAD.load(Acquire);
    for _ in 0..idx / CHUNK {
        // SAFETY: `idx` < capacity, so the chunk list is long enough; chunks are leaked.
        c = unsafe { (*c).next.load(Acquire) };
    }
    // SAFETY: as above.
    unsafe { &(*c).entries[idx % CHUNK] }
}

/// What [`lookup`] knows about an address inside a registered mapping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    /// The stack slot's usable range `[low, high)`.
    pub(crate) low: usize,
    pub(crate) high: usize,
    /// Whether the address is in the slot's guard page.
    pub(crate) in_guard: bool,
}

/// Finds the stack slot containing `addr`. Async-signal-safe.
pub(crate) fn lookup(addr: usize) -> Option<Hit> {
    let page = page_size_cached();
    find(|_, low, len, slot, _| {
        if addr < low || addr >= low + len {
            return None;
        }
        let slot_low = low + (addr - low) / slot * slot;
        Some(Hit {
            low: slot_low + page,
            high: slot_low + slot,
            in_guard: addr < slot_low + page,
        })
    })
}

/// Calls `f` on every registered arena marked dirty, clearing the mark first (Acquire: a
/// slot state stored before the mark was set is seen by `f`). For the scavenger thread
/// only: it is the one thread that frees descriptors (after unregistering them), so the
/// ones it finds here are live.
pub(crate) fn each_dirty_arena(mut f: impl FnMut(&Arena)) {
    find(|e, _, _, _, arena| {
        // A plain load first: most arenas are not marked, and a swap writes every line.
        if !arena.is_null() && e.dirty.load(Relaxed) && e.dirty.swap(false, Acquire) {
            // SAFETY: a registered arena's descriptor is freed only by the scavenger
            // thread, which is the caller, after it unregistered the arena.
            f(unsafe { &*arena });
        }
        None::<()>
    });
}

/// The scavenger's mark of the arena registered at `idx` (see [`each_dirty_arena`]). Entries
/// live as long as the process; the arena stops setting it before it is unregistered.
pub(crate) fn dirty_flag(idx: usize) -> &'static AtomicBool {
    &entry(idx).dirty
}

/// The page size without `OnceLock` (no lazy init in a signal handler): read once by
/// `overflow::init`, before the handler is installed.
fn page_size_cached() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Relaxed) {
        0 => {
            let p = page_size();
            PAGE.store(p, Relaxed);
            p
        }
        p => p,
    }
}

/// Makes sure the cached page size is set (called before the signal handler exists).
pub(crate) fn prime() {
    page_size_cached();
}
