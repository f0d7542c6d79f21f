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
//! - `scavenge`: memory return: idle pooled stacks give their pages back to the OS, and
//!   wholly idle arenas are unmapped;
//! - `grow`: [`grow`] and [`remaining`].
//!
//! Life of an arena stack: carved (no guard yet, no pages), handed out by `take_batch`
//! (guard installed and top page committed then, for the whole batch at once), cycled
//! through the per-P caches (`sched::spawn::{get_stack, put_stack}`) and the global pool
//! here, and unmapped with its whole arena by the scavenger once all 64 stacks of the
//! arena are back in the pool and have held no pages for a scavenger period. Stacks of a
//! non-default size get a mapping of their own and are unmapped when their goroutine ends.
//!
//! # What a parked goroutine costs, and the default size
//!
//! A parked goroutine touches the top page of its stack. Besides that page (4 KiB) and its
//! G, the process pays for the page tables that map it: one 4 KiB page-table page maps
//! 2 MiB, so with stacks R bytes apart each parked goroutine costs 4 KiB x R / 2 MiB of
//! page tables. That is why the default reservation is small. Measured with
//! `examples/rss_per_goroutine.rs gort 100000` (100k goroutines parked on a channel; RSS
//! and `VmPTE` added per goroutine; release build, Intel Xeon (Sapphire Rapids) under KVM,
//! 2 cores, Linux 6.18), setting the size with `GORT_STACK_SIZE`:
//!
//! | reservation | RSS + page tables | RSS | page tables | time to park 100k |
//! |---|---|---|---|---|
//! | 1 MiB (the old default) | 6.47 KiB | 4.46 KiB | 2.01 KiB | 0.71 s |
//! | 256 KiB | 4.97 KiB | 4.46 KiB | 0.51 KiB | 0.36 s |
//! | **192 KiB (default)** | **4.84 KiB** | 4.45 KiB | 0.38 KiB | 0.27 s |
//! | 160 KiB | 4.78 KiB | 4.45 KiB | 0.32 KiB | — |
//! | 128 KiB | 4.71 KiB | 4.45 KiB | 0.26 KiB | 0.26 s |
//! | 64 KiB | 4.59 KiB | 4.46 KiB | 0.13 KiB | 0.27 s |
//!
//! (Every row already has the lazy, batched guards; before them 1M goroutines with 1 MiB
//! stacks took 8.5-20 s to park. The times vary by 2x with the load of the machine.) At
//! 1M the numbers per goroutine are the same as at 100k.
//!
//! What decides the size from below is debug builds: a TLS handshake (rustls with ring)
//! followed by a WebSocket exchange (tungstenite), both ends on goroutines, needs 104 to
//! 112 KiB of stack in a debug build (it overflows at 104 KiB, passes at 112 KiB). 128 KiB
//! would leave 16 KiB for the application's own frames; 192 KiB leaves 80 KiB and still
//! costs under 5 KiB per parked goroutine (with the G, 256 bytes, and its join packet, 144
//! bytes: 4.94 KiB at 1M once the packet moved out of the G, each in an allocator block of
//! its own; 4.80 KiB since Gs and packets are allocated 64 at a time, `sched::spawn`; 4.79
//! KiB with the packet in two aligned cache lines, 128 bytes; the table above is from
//! before, with the G alone). 256 KiB would
//! leave nothing. So: 192 KiB, the main goroutine of `run` 8 MiB ([`MAIN_STACK_SIZE`]), and
//! three ways up for deep code: [`crate::Builder::stack_size`], [`set_default_stack_size`] /
//! `GORT_STACK_SIZE`, and [`grow`]; `GORT_STACK_SIZE=128K` buys back 0.13 KiB per
//! goroutine for release builds that need less. The overflow message names them.
//!
//! Time to park 1M goroutines is mostly the kernel committing 1M fresh stack pages (one
//! page each, where Go's 2 KiB stacks take half a page): on the Firecracker VMs of these
//! measurements `clear_page_erms` alone took 1.8 µs a page on a quiet machine (the host
//! backs each freshly touched guest page), so a quiet run parks 1M in 4 to 7 s against
//! Go's 2.3 to 4.3 s, while under load, where Go's collector competes for the cores, gort
//! was the faster (3.1 against 4.2 s). Preparing the next arena on an idle M while a
//! burst of spawns runs (off the spawning P) was tried and measured neutral on a quiet
//! machine (0.98x wall, median of 6 alternated pairs), so it was taken out again.
//! Allocating the Gs and join packets 64 at a time took the spawner's `malloc` calls and
//! the allocator's `mprotect` (one every ten goroutines) off that path: 2.12 -> 1.73 s to
//! park 1M (median of 6 alternated runs; Go 2.09 s in the same runs).
//!
//! A layout where stacks share page-table pages does not help: the touched page of every
//! stack is at its top, so R apart whatever the order of the slots; only R matters.
//!
//! Page tables are given back only by unmapping: `MADV_DONTNEED` frees pages but not the
//! page-table pages, which the guard markers keep non-empty anyway. Hence the scavenger
//! unmaps idle arenas.
//!
//! Uses (the module as a whole): `note`, `os_error`, `pad`, `sysmon`.

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

/// Default stack reservation per goroutine (committed lazily; see the measurements at the
/// top of this module for why this size). Overridden by the `GORT_STACK_SIZE` environment
/// variable and by [`set_default_stack_size`].
pub const DEFAULT_STACK_SIZE: usize = 192 << 10;
/// Stack reservation of the main goroutine of [`crate::run`] (like a main thread's 8 MiB),
/// unless the default is larger: programs put their deepest code there.
pub const MAIN_STACK_SIZE: usize = 8 << 20;
/// Smallest stack a goroutine may ask for (rounded up to this).
pub const MIN_STACK_SIZE: usize = 16 << 10;
/// Stacks carved out of one arena mapping.
const ARENA_STACKS: usize = 64;

/// The default size; 0 until first read (then from `GORT_STACK_SIZE` or the constant).
static DEFAULT_SIZE: AtomicUsize = AtomicUsize::new(0);

/// A goroutine stack: `[limit, limit + page)` is the guard, `[limit + page, base)` usable.
#[derive(Debug)]
pub(crate) struct Stack {
    base: usize,
    limit: usize,
    /// The arena the stack was carved from; null for a stack with a mapping of its own
    /// (non-default size), which is unmapped instead of pooled.
    arena: *const scavenge::Arena,
    /// For a stack from an arena, its slot's index there; for an own mapping, its registry
    /// index (unregistered when it is unmapped).
    index: usize,
}

// SAFETY: a Stack is a description of memory owned by whoever holds the Stack value; `arena`
// points to an arena descriptor whose fields are atomics, freed only once no Stack of it
// exists (see `unmap_idle_arenas`).
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
        !self.arena.is_null()
    }

    /// The arena of a pooled stack.
    fn arena(&self) -> &scavenge::Arena {
        // SAFETY: callers check `pooled`; the descriptor outlives every Stack of its arena.
        unsafe { &*self.arena }
    }

    /// The scavenger state of a pooled stack's slot.
    fn slot(&self) -> &scavenge::SlotState {
        &self.arena().slots[self.index]
    }

    /// Marks a pooled stack as about to run code (taken from a cache or the pool): from now
    /// on the scavenger leaves its pages alone. Waits if the scavenger is releasing them.
    pub(crate) fn acquire(&self) {
        if self.pooled() {
            self.slot().acquire();
        }
    }

    /// Marks a pooled stack as idle (its goroutine ended): the scavenger may release its
    /// pages once it has stayed idle for a full scavenger period.
    pub(crate) fn set_idle(&self) {
        if self.pooled() {
            self.arena().set_idle(self.index);
        }
    }
}

pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize })
}

/// The runtime-wide default stack size in bytes: [`DEFAULT_STACK_SIZE`], or the
/// `GORT_STACK_SIZE` environment variable if set (read once), or what
/// [`set_default_stack_size`] set last.
pub fn default_stack_size() -> usize {
    match DEFAULT_SIZE.load(Relaxed) {
        0 => init_default_size(),
        size => size,
    }
}

#[cold]
fn init_default_size() -> usize {
    let size = match std::env::var("GORT_STACK_SIZE") {
        Ok(v) => match parse_size(&v) {
            Some(bytes) => round_size(bytes),
            None => {
                eprintln!(
                    "gort: ignoring GORT_STACK_SIZE={v:?}: expected a size in bytes, \
                     optionally with a K, M or G suffix (e.g. 512K or 8M); using the default \
                     of {} KiB",
                    DEFAULT_STACK_SIZE >> 10
                );
                DEFAULT_STACK_SIZE
            }
        },
        Err(_) => DEFAULT_STACK_SIZE,
    };
    match DEFAULT_SIZE.compare_exchange(0, size, Relaxed, Relaxed) {
        Ok(_) => size,
        Err(set) => set,
    }
}

/// Parses `GORT_STACK_SIZE`: bytes, or a number with a binary suffix `K`, `M` or `G`
/// (`KiB`, `MiB`, `GiB` and `KB`, `MB`, `GB` mean the same; case is ignored).
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: usize = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift).filter(|&b| b > 0)
}

/// Sets the runtime-wide default stack size for goroutines spawned from now on (rounded up
/// to whole pages, at least [`MIN_STACK_SIZE`]). Returns the previous default. The
/// `GORT_STACK_SIZE` environment variable sets it without a code change (`GORT_STACK_SIZE=1M`).
///
/// Stack pages are committed only when touched, so a large default costs address space
/// and page tables (about 2 KiB per parked goroutine per MiB of reservation), not stack
/// memory. This is the knob to turn when goroutines die with `fatal error: stack
/// overflow`; [`crate::Builder::stack_size`] sets it per goroutine, and [`grow`] gives
/// known-deep recursion the stack it needs.
pub fn set_default_stack_size(bytes: usize) -> usize {
    default_stack_size();
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

/// Global pool of free stacks, refilled from arenas. Every arena counts how many of its
/// stacks are here (`Arena::pooled`, changed only under this lock): an arena whose stacks
/// are all here, and idle long enough to hold no pages, may be unmapped by the scavenger.
struct Pool {
    /// The default size the stacks in `free` have.
    size: usize,
    /// Free stacks of the default size, the most recently used last (handed out first).
    free: Vec<Stack>,
    /// Free stacks of an earlier default size: never handed out again, kept only until the
    /// scavenger unmaps their arenas.
    stale: Vec<Stack>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    size: 0,
    free: Vec::new(),
    stale: Vec::new(),
});

/// Stacks handed to or taken from the global pool at once by a P cache.
pub(crate) const BATCH: usize = 64;

/// Stacks the scavenger leaves mapped in the pool (the rest of the idle arenas it unmaps),
/// so that a program that spawns in waves does not map and unmap arenas every wave.
const KEEP: usize = 4 * ARENA_STACKS;

/// Takes up to `want` default-size stacks of `size` from the global pool (carving a new arena
/// if it is empty) and appends them to `out`. Stacks that leave the pool for the first time
/// get their guard page now (and their top page committed, where the kernel can do both in
/// one call for the whole batch). The stacks are idle: call [`Stack::acquire`] before
/// running code on one.
pub(crate) fn take_batch(size: usize, want: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let mut pool = POOL.lock();
    if pool.size != size {
        // The default size changed: stacks of the old size stay out of the way until the
        // scavenger unmaps their arenas.
        let old = std::mem::take(&mut pool.free);
        pool.stale.extend(old);
        pool.size = size;
    }
    if pool.free.is_empty() {
        carve_arena(size, &mut pool.free)?;
    }
    let n = want.min(pool.free.len()).min(guard::MANY);
    let at = pool.free.len() - n;
    first_use(&pool.free[at..])?;
    for st in pool.free.drain(at..) {
        st.arena().pooled.fetch_sub(1, Relaxed);
        out.push(st);
    }
    Ok(())
}

/// Installs the guard pages of the never-used stacks among `stacks` and commits their top
/// pages (one system call each for the whole batch where the kernel allows).
fn first_use(stacks: &[Stack]) -> io::Result<()> {
    let mut lows = [0usize; guard::MANY];
    let mut tops = [0usize; guard::MANY];
    let mut n = 0;
    for st in stacks.iter().filter(|st| st.slot().is_raw()) {
        lows[n] = st.limit;
        tops[n] = st.base - page_size();
        n += 1;
    }
    if n == 0 {
        return Ok(());
    }
    guard::install_many(&lows[..n])?;
    guard::populate_many(&tops[..n]);
    for st in stacks.iter().filter(|st| st.slot().is_raw()) {
        // Guarded now, and possibly holding its top page: idle like a used stack, so the
        // scavenger gives the page back if the stack is not used soon.
        st.set_idle();
    }
    Ok(())
}

/// Returns idle stacks to the global pool.
pub(crate) fn give_batch(stacks: impl Iterator<Item = Stack>) {
    let mut pool = POOL.lock();
    let size = pool.size;
    for st in stacks {
        let arena = st.arena();
        if arena.pooled.fetch_add(1, Relaxed) + 1 == arena.slots.len() {
            arena.all_pooled();
        }
        if st.size() == size {
            pool.free.push(st);
        } else {
            pool.stale.push(st);
        }
    }
}

fn carve_arena(size: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let page = page_size();
    let slot = size + page;
    // With mprotect guards every stack costs two VMAs: carve only what the budget allows.
    let count = guard::budget(ARENA_STACKS)?;
    let len = slot * count;
    let base = match guard::map(len) {
        Ok(base) => base,
        Err(e) => {
            guard::unbudget(count);
            return Err(e);
        }
    };
    guard::no_huge_pages(base, len);
    // No guard is installed yet: `take_batch` does it when a stack is first handed out, so
    // stacks never used cost neither a system call nor page tables.
    let arena = scavenge::Arena::new(base, len, slot, count);
    for i in 0..count {
        let low = base + i * slot;
        out.push(Stack {
            base: low + slot,
            limit: low,
            arena,
            index: i,
        });
    }
    scavenge::start();
    Ok(())
}

/// Unmaps idle arenas among `looked_at` (the arenas the scavenger's pass visited): those
/// whose stacks are all in the pool and hold no pages (the scavenger released them, or they
/// were never used), beyond the [`KEEP`] stacks of the current size that stay mapped (an
/// arena kept for that is marked again, to be looked at in later passes). This is what
/// gives page tables back: `MADV_DONTNEED` frees pages, but the page-table pages stay as
/// long as the guard markers in them do. Called by the scavenger thread only (it alone
/// reads arena descriptors through the registry, so it may free them).
pub(crate) fn unmap_idle_arenas(looked_at: &[*const scavenge::Arena]) {
    let mut pool = POOL.lock();
    let size = pool.size;
    let mut spare = pool.free.len().saturating_sub(KEEP);
    let mut dead = Vec::new();
    for &arena in looked_at {
        // SAFETY: the scavenger (the caller) found it registered in this pass, and only the
        // scavenger frees descriptors.
        let arena = unsafe { &*arena };
        let stale = arena.slot != size + page_size();
        let count = arena.slots.len();
        if arena.pooled.load(Relaxed) != count || !arena.idle() {
            continue;
        }
        if !(stale || spare >= count) {
            // Kept for the next burst; looked at again when more stacks come back.
            arena.mark_dirty();
            continue;
        }
        if !stale {
            spare -= count;
        }
        arena.dead.store(true, Relaxed);
        dead.push(arena as *const scavenge::Arena);
    }
    if dead.is_empty() {
        return;
    }
    let live = |st: &Stack| !st.arena().dead.load(Relaxed);
    pool.free.retain(live);
    pool.stale.retain(live);
    {
        let pool = &mut *pool;
        for v in [&mut pool.free, &mut pool.stale] {
            if v.capacity() > 2 * v.len() + 1024 {
                v.shrink_to_fit();
            }
        }
    }
    drop(pool);
    for arena in dead {
        // SAFETY: no Stack of this arena exists any more (all were in the pool and were
        // just removed from it), so no code runs on it; the registry entry goes first, so
        // the overflow handler and `remaining` stop finding the range before it is unmapped.
        unsafe { scavenge::Arena::unmap(arena) };
    }
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
        arena: std::ptr::null(),
        index: reg,
    })
}

/// Releases a stack that is not going back to a cache: an own mapping is unmapped, a pooled
/// stack goes to the global pool (marked idle).
pub(crate) fn release(stack: Stack) {
    if stack.pooled() {
        stack.set_idle();
        give_batch(std::iter::once(stack));
    } else {
        registry::unregister(stack.index);
        // SAFETY: an own mapping is exactly [limit, base) and no coroutine uses it any more.
        unsafe { libc::munmap(stack.limit as *mut _, stack.base - stack.limit) };
        guard::unbudget(1);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("256K"), Some(256 << 10));
        assert_eq!(parse_size(" 256kib "), Some(256 << 10));
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("8 MiB"), Some(8 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        for bad in ["", "K", "12Q", "-1", "0", "1.5M", "99999999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
