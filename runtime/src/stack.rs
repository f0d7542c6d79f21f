//! Goroutine stacks: reserved with `MAP_NORESERVE`, guard page below each, pooled.
//!
//! A stack is a reservation of address space; the kernel commits a page the first time it
//! is touched, so a goroutine physically costs only the stack it really used. Every stack
//! has a guard page below it. On Linux 6.13+ the guard is installed with
//! `madvise(MADV_GUARD_INSTALL)`, which costs no VMA, so stacks of the default size are
//! carved out of large arenas (one mapping for 64 stacks) and a million of them
//! fit under the stock `vm.max_map_count`. Older kernels fall back to `mprotect`, which splits
//! the mapping (two VMAs per stack); running out of map count is then a clear `io::Error`
//! naming the sysctl, never a crash.
//!
//! Stacks are never unmapped once carved from an arena: they cycle through the per-P caches
//! (see `sched::p`) and the global pool here. Stacks of a non-default size get a mapping of
//! their own and are unmapped when their goroutine ends.

use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Default stack reservation per goroutine (1 MiB, committed lazily).
pub const DEFAULT_STACK_SIZE: usize = 1 << 20;
/// Smallest stack a goroutine may ask for (rounded up to this).
pub const MIN_STACK_SIZE: usize = 16 << 10;
/// Stacks carved out of one arena mapping.
const ARENA_STACKS: usize = 64;
/// Linux's `MADV_GUARD_INSTALL` (6.13+); not yet in the `libc` crate.
const MADV_GUARD_INSTALL: libc::c_int = 102;

static DEFAULT_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_SIZE);

/// A goroutine stack: `[limit, limit + page)` is the guard, `[limit + page, base)` usable.
#[derive(Debug)]
pub(crate) struct Stack {
    base: usize,
    limit: usize,
    /// Whether this stack has a mapping of its own (non-default size).
    owned_mapping: bool,
}

// SAFETY: `base`/`limit` describe a mapping with a guard page at its low end and at least
// MIN_STACK_SIZE usable bytes (see `carve`), both page- and therefore 16-byte aligned.
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
    #[allow(dead_code)]
    pub(crate) fn range(&self) -> (usize, usize) {
        (self.limit + page_size(), self.base)
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

/// How guard pages are installed; detected once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum GuardMode {
    Madvise,
    Mprotect,
}

static GUARD_MODE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 madvise, 2 mprotect

fn guard_mode() -> GuardMode {
    match GUARD_MODE.load(Relaxed) {
        1 => GuardMode::Madvise,
        2 => GuardMode::Mprotect,
        _ => {
            let forced = std::env::var_os("GORT_STACK_GUARD").is_some_and(|v| v == "mprotect");
            let mode = if !forced && madvise_guard_supported() {
                GuardMode::Madvise
            } else {
                GuardMode::Mprotect
            };
            GUARD_MODE.store(if mode == GuardMode::Madvise { 1 } else { 2 }, Relaxed);
            mode
        }
    }
}

fn madvise_guard_supported() -> bool {
    let page = page_size();
    match map(2 * page) {
        Ok(addr) => {
            // SAFETY: `addr` is a fresh private mapping of 2 pages that we own.
            let ok = unsafe { libc::madvise(addr as *mut _, page, MADV_GUARD_INSTALL) } == 0;
            // SAFETY: unmapping exactly what we mapped above.
            unsafe { libc::munmap(addr as *mut _, 2 * page) };
            ok
        }
        Err(_) => false,
    }
}

fn map(len: usize) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at a kernel-chosen address has no preconditions.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("gort: cannot reserve {len} bytes for goroutine stacks: {err}"),
        ));
    }
    Ok(addr as usize)
}

/// Installs the guard page at `low` (the lowest page of a stack slot).
fn install_guard(low: usize) -> io::Result<()> {
    let page = page_size();
    let rc = match guard_mode() {
        // SAFETY: `low` is a page inside a mapping owned by the stack pool.
        GuardMode::Madvise => unsafe { libc::madvise(low as *mut _, page, MADV_GUARD_INSTALL) },
        // SAFETY: as above; PROT_NONE on our own page.
        GuardMode::Mprotect => unsafe { libc::mprotect(low as *mut _, page, libc::PROT_NONE) },
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOMEM) {
        let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(io::Error::other(format!(
            "gort: cannot install a stack guard page: the process reached vm.max_map_count \
             ({max} memory mappings; this kernel lacks MADV_GUARD_INSTALL, so every goroutine \
             stack costs two). Raise it with `sysctl -w vm.max_map_count=<more>`, run fewer \
             goroutines at once, or use Linux 6.13+"
        )));
    }
    Err(io::Error::new(
        err.kind(),
        format!("gort: cannot install a stack guard page: {err}"),
    ))
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
/// if it is empty) and appends them to `out`.
pub(crate) fn take_batch(size: usize, want: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let mut pool = POOL.lock();
    if pool.size != size {
        // The default size changed: stacks of the old size stay usable only by exact-size
        // requests, so drop them from the pool (their arenas stay mapped but are idle).
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

/// Returns default-size stacks to the global pool.
pub(crate) fn give_batch(size: usize, stacks: impl Iterator<Item = Stack>) {
    let mut pool = POOL.lock();
    if pool.size == size {
        pool.free.extend(stacks);
    }
}

fn carve_arena(size: usize, out: &mut Vec<Stack>) -> io::Result<()> {
    let page = page_size();
    let slot = size + page;
    let count = match guard_mode() {
        GuardMode::Madvise => ARENA_STACKS,
        // With mprotect the arena would be split anyway; map stacks one at a time so a
        // failure loses nothing.
        GuardMode::Mprotect => 1,
    };
    let base = map(slot * count)?;
    for i in 0..count {
        let low = base + i * slot;
        if let Err(e) = install_guard(low) {
            // SAFETY: the stacks from slot i on were never handed out; unmapping our own range.
            unsafe { libc::munmap(low as *mut _, slot * (count - i)) };
            return Err(e);
        }
        out.push(Stack {
            base: low + slot,
            limit: low,
            owned_mapping: false,
        });
    }
    Ok(())
}

/// Maps a stack of a non-default size with a mapping of its own.
pub(crate) fn alloc_owned(size: usize) -> io::Result<Stack> {
    let page = page_size();
    let low = map(size + page)?;
    if let Err(e) = install_guard(low) {
        // SAFETY: unmapping the mapping made just above.
        unsafe { libc::munmap(low as *mut _, size + page) };
        return Err(e);
    }
    Ok(Stack {
        base: low + size + page,
        limit: low,
        owned_mapping: true,
    })
}

/// Releases a stack that is not going back to a cache.
pub(crate) fn release(stack: Stack) {
    if stack.owned_mapping {
        // SAFETY: an owned mapping is exactly [limit, base) and no coroutine uses it any more.
        unsafe { libc::munmap(stack.limit as *mut _, stack.base - stack.limit) };
    } else {
        let size = stack.size();
        give_batch(size, std::iter::once(stack));
    }
}

impl Stack {
    /// Whether this stack came from an arena (and so belongs in a P's cache).
    pub(crate) fn pooled(&self) -> bool {
        !self.owned_mapping
    }
}
