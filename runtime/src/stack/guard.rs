//! Guard pages and the memory-map budget.
//!
//! The guard mode is detected once, the first time the runtime needs it (at start-up: the
//! first M's `overflow::init_thread`, or the first stack carved, whichever comes first):
//! `madvise(MADV_GUARD_INSTALL)` on a scratch mapping tells whether the kernel (6.13+) has
//! VMA-free guard regions. `GORT_STACK_GUARD=mprotect` forces the fallback (for tests).
//!
//! Guards are installed for a batch of fresh stacks at once ([`install_many`]): on Linux
//! 6.15+ one `process_madvise(PIDFD_SELF, ...)` call takes the whole list of guard pages,
//! and a second one commits the stacks' top pages ([`populate_many`]); older kernels get
//! one `madvise` per guard page and fault the top pages in on first use.
//!
//! With `mprotect` every guard splits its mapping, so each stack costs two VMAs and the
//! process-wide `vm.max_map_count` (65530 by default) caps how many stacks can exist. The
//! runtime keeps its own count and refuses a stack that would leave less than
//! [`MAP_HEADROOM`] mappings for the rest of the process (malloc, thread stacks, files),
//! with an error that names the sysctl: hitting the real limit would make the next
//! `malloc` or thread creation fail somewhere unrelated.

use super::page_size;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Linux's `MADV_GUARD_INSTALL` (6.13+); not yet in the `libc` crate.
const MADV_GUARD_INSTALL: libc::c_int = 102;
/// Linux's `PIDFD_SELF` (6.15+): `process_madvise` on the calling process, no pidfd needed
/// (and so nothing to go stale across `fork`).
const PIDFD_SELF: libc::c_int = -10001;
/// Most pages one `process_madvise` call advises (the kernel's `UIO_FASTIOV` is 8; larger
/// vectors are fine, `IOV_MAX` is 1024).
pub(crate) const MANY: usize = 64;

/// Mappings left to the rest of the process under the mprotect fallback.
const MAP_HEADROOM: usize = 4096;

/// How guard pages are installed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// `MADV_GUARD_INSTALL`: no extra VMA per stack.
    Madvise,
    /// `mprotect(PROT_NONE)`: two VMAs per stack.
    Mprotect { forced: bool },
}

struct Detected {
    mode: Mode,
    max_map_count: usize,
}

fn detected() -> &'static Detected {
    static D: OnceLock<Detected> = OnceLock::new();
    D.get_or_init(|| {
        let forced = std::env::var_os("GORT_STACK_GUARD").is_some_and(|v| v == "mprotect");
        let mode = if !forced && madvise_guard_supported() {
            Mode::Madvise
        } else {
            Mode::Mprotect { forced }
        };
        Detected {
            mode,
            max_map_count: read_max_map_count().unwrap_or(65530),
        }
    })
}

/// The guard mode (detected on first call).
pub(crate) fn mode() -> Mode {
    detected().mode
}

fn read_max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn madvise_guard_supported() -> bool {
    let page = page_size();
    // SAFETY: an anonymous private mapping at a kernel-chosen address.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: `addr` is the fresh 2-page mapping we own.
    let ok = unsafe { libc::madvise(addr, page, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: unmapping exactly what we mapped above.
    unsafe { libc::munmap(addr, 2 * page) };
    ok
}

/// VMAs the stack pool holds under the mprotect fallback.
static VMAS: AtomicUsize = AtomicUsize::new(0);

/// Reserves map-count budget for up to `want` stacks and returns how many may be made
/// (at least 1), or the max_map_count error. Free under `MADV_GUARD_INSTALL`.
pub(crate) fn budget(want: usize) -> io::Result<usize> {
    let d = detected();
    let Mode::Mprotect { forced } = d.mode else {
        return Ok(want);
    };
    let cap = d.max_map_count.saturating_sub(MAP_HEADROOM);
    let mut cur = VMAS.load(Relaxed);
    loop {
        let n = want.min(cap.saturating_sub(cur) / 2);
        if n == 0 {
            return Err(map_count_error(cur / 2, forced));
        }
        match VMAS.compare_exchange_weak(cur, cur + 2 * n, Relaxed, Relaxed) {
            Ok(_) => return Ok(n),
            Err(now) => cur = now,
        }
    }
}

/// Gives back the budget of `n` stacks (unmapped, or never made).
pub(crate) fn unbudget(n: usize) {
    if matches!(mode(), Mode::Mprotect { .. }) {
        VMAS.fetch_sub(2 * n, Relaxed);
    }
}

fn map_count_error(stacks: usize, forced: bool) -> io::Error {
    let max = detected().max_map_count;
    let why = if forced {
        "GORT_STACK_GUARD=mprotect is set"
    } else {
        "this kernel lacks MADV_GUARD_INSTALL (Linux 6.13+)"
    };
    io::Error::other(format!(
        "gort: cannot create another goroutine stack: {stacks} stacks exist and each costs two \
         memory mappings because {why}, so more would exceed the kernel's limit \
         vm.max_map_count = {max} (the runtime keeps {MAP_HEADROOM} mappings for the rest of \
         the process). Raise the limit with `sysctl -w vm.max_map_count=1048576`, run fewer \
         goroutines at once, or use Linux 6.13+"
    ))
}

/// Reserves `len` bytes of stack address space (committed on touch).
pub(crate) fn map(len: usize) -> io::Result<usize> {
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
        let err = crate::last_os_error();
        let hint = if err.raw_os_error() == Some(libc::ENOMEM) {
            format!(
                " (out of address space, or the process reached vm.max_map_count = {}: \
                 raise it with `sysctl -w vm.max_map_count=<more>`)",
                detected().max_map_count
            )
        } else {
            String::new()
        };
        return Err(io::Error::new(
            err.kind(),
            format!("gort: cannot reserve {len} bytes for goroutine stacks: {err}{hint}"),
        ));
    }
    Ok(addr as usize)
}

/// Keeps transparent huge pages out of stack arenas: one touched byte must cost a page, not
/// 2 MiB (matters when THP is `always`).
pub(crate) fn no_huge_pages(addr: usize, len: usize) {
    // SAFETY: advice on our own fresh mapping; failure is harmless.
    unsafe { libc::madvise(addr as *mut _, len, libc::MADV_NOHUGEPAGE) };
}

/// Applies `advice` to one page at each of `pages` with a single `process_madvise` call.
/// Returns `false` if the kernel cannot do it that way (then nothing, or only part, was
/// done, and the caller falls back to one `madvise` per page; both advices it is used for
/// are idempotent).
fn advise_many(pages: &[usize], advice: libc::c_int) -> bool {
    static WORKS: AtomicUsize = AtomicUsize::new(0); // 0: unknown, 1: yes, 2: no
    if pages.is_empty() {
        return true;
    }
    if WORKS.load(Relaxed) == 2 || pages.len() > MANY {
        return false;
    }
    let page = page_size();
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MANY];
    for (v, &p) in iov.iter_mut().zip(pages) {
        v.iov_base = p as *mut _;
        v.iov_len = page;
    }
    // SAFETY: process_madvise reads `pages.len()` iovecs from our array; every page is in a
    // mapping owned by the stack pool, and PIDFD_SELF names this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            pages.len(),
            advice,
            0,
        )
    };
    let ok = rc == (pages.len() * page) as libc::c_long;
    if WORKS.load(Relaxed) == 0 {
        WORKS.store(if ok { 1 } else { 2 }, Relaxed);
    }
    ok
}

/// Installs the guard pages at each of `lows` (the lowest page of stack slots): one
/// system call for all of them where the kernel allows (`process_madvise` with
/// `PIDFD_SELF`, Linux 6.15+), else one per page.
pub(crate) fn install_many(lows: &[usize]) -> io::Result<()> {
    if mode() == Mode::Madvise && advise_many(lows, MADV_GUARD_INSTALL) {
        return Ok(());
    }
    lows.iter().try_for_each(|&low| install(low))
}

/// Commits the page at each of `pages` (`MADV_POPULATE_WRITE`) in one system call, so the
/// first goroutine on each of these fresh stacks does not take a page fault for its top
/// page. Best effort: without kernel support the pages fault in on first touch as usual.
pub(crate) fn populate_many(pages: &[usize]) {
    advise_many(pages, libc::MADV_POPULATE_WRITE);
}

/// Installs the guard page at `low` (the lowest page of a stack slot).
pub(crate) fn install(low: usize) -> io::Result<()> {
    let page = page_size();
    let rc = match mode() {
        // SAFETY: `low` is a page inside a mapping owned by the stack pool.
        Mode::Madvise => unsafe { libc::madvise(low as *mut _, page, MADV_GUARD_INSTALL) },
        // SAFETY: as above; PROT_NONE on our own page.
        Mode::Mprotect { .. } => unsafe { libc::mprotect(low as *mut _, page, libc::PROT_NONE) },
    };
    if rc == 0 {
        return Ok(());
    }
    let err = crate::last_os_error();
    if err.raw_os_error() == Some(libc::ENOMEM) {
        let forced = matches!(mode(), Mode::Mprotect { forced: true });
        return Err(map_count_error(VMAS.load(Relaxed) / 2, forced));
    }
    Err(io::Error::new(
        err.kind(),
        format!("gort: cannot install a stack guard page: {err}"),
    ))
}
