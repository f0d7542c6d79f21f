//! Goroutine stacks: reserved with `MAP_NORESERVE`, guard page below each, pooled.
//!
//! A stack is a reservation of address space; the kernel commits a page the first time it
//! is touched, so a goroutine physically costs only the stack it really used. Every stack
//! has a guard page below it. On Linux 6.13+ the guard is installed with
//! `madvise(MADV_GUARD_INSTALL)`, which costs no VMA, so stacks of the default size are
//! carved out of large arenas (one mapping for 64 stacks) and a million of them fit under
//! the stock `vm.max_map_count`. Older kernels (or `GORT_STACK_GUARD=mprotect`) fall back to
//! `mprotect`, which splits the mapping (two VMAs per stack); running out of map count is
//! then a clear `io::Error` naming the sysctl, never a crash (see `guard`).
//!
//! The pieces, one file each:
//!
//! - `guard`: how guard pages are installed (detected once), mapping, the VMA budget;
//! - `registry`: a lock-free-readable table of every stack mapping, read by the overflow
//!   handler and by [`remaining`];
//! - `overflow`: the SIGSEGV/SIGBUS handler on an alternate signal stack that turns a
//!   guard-page fault into `fatal error: stack overflow in goroutine N`;
//! - `scavenge`: memory return: idle pooled stacks give their pages back to the OS;
//! - `grow`: [`grow`] and [`remaining`].
//!
//! Stacks are never unmapped once carved from an arena: they cycle through the per-P caches
//! (`sched::spawn::{get_stack, put_stack}`) and the global pool here. Stacks of a non-default
//! size get a mapping of their own and are unmapped when their goroutine ends.

mod grow;
mod guard;
pub(crate) mod overflow;
mod registry;
mod scavenge;

pub use grow::{grow, remaining};

use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Default stack reservation per goroutine (1 MiB, committed lazily).
pub const DEFAULT_STACK_SIZE: usize = 1 << 20;
/// Smallest stack a goroutine may ask for (rounded up to this).
pub const MIN_STACK_SIZE: usize = 16 << 10;
/// Stacks carved out of one arena mapping.
const ARENA_STACKS: usize = 64;

static DEFAULT_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_SIZE);

/// A goroutine stack: `[limit, limit + page)` is the guard, `[limit + page, base)` usable.
#[derive(Debug)]
pub(crate) struct Stack {
    base: usize,
    limit: usize,
    /// The stack's slot in its arena's scavenger state; null for a stack with a mapping of
    /// its own (non-default size), which is unmapped instead of pooled.
    slot: *const scavenge::SlotState,
    /// Registry index of an own mapping (unregistered when it is unmapped).
    reg: usize,
}

// SAFETY: a Stack is a description of memory owned by whoever holds the Stack value; `slot`
// points into a leaked (never freed) arena descriptor whose fields are atomics.
unsafe impl Send for Stack {}

// SAFETY: `base`/`limit` describe a mapping with a guard page at its low end and at least
// MIN_STACK_SIZE usable bytes (see `carve_arena`, `alloc_owned`), both page-aligned.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.base).expect("stack base is non-null")
    }
    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.limit).expect("stack limit is non-null")
    }
}

impl Stack {
    /// Usable bytes (the reservation less the guard page).
    pub(crate) fn size(&self) -> usize {
        self.base - self.limit - page_size()
    }

    /// The usable range `[low, high)`.
    pub(crate) fn range(&self) -> (usize, usize) {
        (self.limit + page_size(), self.base)
    }

    /// Whether this stack came from an arena (and so belongs in a P's cache).
    pub(crate) fn pooled(&self) -> bool {
        !self.slot.is_null()
    }

    /// Marks a pooled stack as about to run code (taken from a cache or the pool): from now
    /// on the scavenger leaves its pages alone. Waits if the scavenger is releasing them.
    pub(crate) fn acquire(&self) {
        // SAFETY: `slot` is null or points into a leaked arena descriptor.
        if let Some(s) = unsafe { self.slot.as_ref() } {
            s.acquire();
        }
    }

    /// Marks a pooled stack as idle (its goroutine ended): the scavenger may release its
    /// pages once it has stayed idle for a full scavenger period.
    pub(crate) fn set_idle(&self) {
        // SAFETY: as in `acquire`.
        if let Some(s) = unsafe { self.slot.as_ref() } {
            s.set_idle();
        }
    }
}

pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize })
}

/// The runtime-wide default stack size in bytes.
pub fn default_stack_size() -> usize {
    DEFAULT_SIZE.load(Relaxed)
}

/// Sets the runtime-wide default stack size for goroutines spawned from now on (rounded up
/// to whole pages, at least [`MIN_STACK_SIZE`]). Returns the previous default.
///
/// Stack pages are committed only when touched, so a large default costs address space,
/// not memory. This is the knob to turn when a goroutine dies with
/// `fatal error: stack overflow`; [`crate::Builder::stack_size`] sets it per goroutine.
pub fn set_default_stack_size(bytes: usize) -> usize {
    DEFAULT_SIZE.swap(round_size(bytes), Relaxed)
}

/// Rounds a requested size to what the runtime will actually reserve.
pub(crate) fn round_size(bytes: usize) -> usize {
    let page = page_size();
    bytes
        .max(MIN_STACK_SIZE)
        .div_ceil(page)
        .saturating_mul(page)
}

/// Global pool of free default-size stacks, refilled from arenas.
struct Pool {
    size: usize,
    free: Vec<Stack>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    size: 0,
    free: Vec::new(),
});

/// Stacks handed to or taken from the global pool at once by a P cache.
pub(crate) const BATCH: usize = 16;

/// Takes up to `want` default-size stacks of `size` from the global pool (carving a new arena
/// if it is empty) and appends them to `out`. The stacks are idle: call
/// [`Stack::acquire`] before running code on one.
pub(crate) fn take_batch(size: usize, want: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let mut pool = POOL.lock();
    if pool.size != size {
        // The default size changed: stacks of the old size stay usable only by exact-size
        // requests, so drop them from the pool (their arenas stay mapped but idle; the
        // scavenger has released or will release their pages).
        pool.free.clear();
        pool.size = size;
    }
    if pool.free.is_empty() {
        carve_arena(size, &mut pool.free)?;
    }
    let n = want.min(pool.free.len());
    let at = pool.free.len() - n;
    out.extend(pool.free.drain(at..));
    Ok(())
}

/// Returns idle default-size stacks to the global pool.
pub(crate) fn give_batch(size: usize, stacks: impl Iterator<Item = Stack>) {
    let mut pool = POOL.lock();
    if pool.size == size {
        pool.free.extend(stacks);
    }
}

fn carve_arena(size: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let page = page_size();
    let slot = size + page;
    // With mprotect guards every stack costs two VMAs: carve only what the budget allows.
    let count = guard::budget(ARENA_STACKS)?;
    let base = guard::map(slot * count)?;
    guard::no_huge_pages(base, slot * count);
    for i in 0..count {
        let low = base + i * slot;
        if let Err(e) = guard::install(low) {
            // SAFETY: no stack of this arena was handed out; unmapping our own fresh range.
            unsafe { libc::munmap(base as *mut _, slot * count) };
            guard::unbudget(count);
            return Err(e);
        }
    }
    let meta = scavenge::Arena::new(count);
    registry::register(base, slot * count, slot, meta);
    for i in 0..count {
        let low = base + i * slot;
        out.push(Stack {
            base: low + slot,
            limit: low,
            slot: &meta.slots[i],
            reg: usize::MAX,
        });
    }
    scavenge::start();
    Ok(())
}

/// Maps a stack of a non-default size with a mapping of its own.
pub(crate) fn alloc_owned(size: usize) -> io::Result<Stack> {
    let page = page_size();
    guard::budget(1)?;
    let low = match guard::map(size + page) {
        Ok(low) => low,
        Err(e) => {
            guard::unbudget(1);
            return Err(e);
        }
    };
    if let Err(e) = guard::install(low) {
        // SAFETY: unmapping the mapping made just above.
        unsafe { libc::munmap(low as *mut _, size + page) };
        guard::unbudget(1);
        return Err(e);
    }
    let reg = registry::register(low, size + page, size + page, std::ptr::null());
    Ok(Stack {
        base: low + size + page,
        limit: low,
        slot: std::ptr::null(),
        reg,
    })
}

/// Releases a stack that is not going back to a cache: an own mapping is unmapped, a pooled
/// stack goes to the global pool (marked idle).
pub(crate) fn release(stack: Stack) {
    if stack.pooled() {
        stack.set_idle();
        let size = stack.size();
        give_batch(size, std::iter::once(stack));
    } else {
        registry::unregister(stack.reg);
        // SAFETY: an own mapping is exactly [limit, base) and no coroutine uses it any more.
        unsafe { libc::munmap(stack.limit as *mut _, stack.base - stack.limit) };
        guard::unbudget(1);
    }
}
