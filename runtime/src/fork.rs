//! `fork()` without `exec`: a clear fatal error in the child instead of a hang.
//!
//! A child of `fork()` has one thread: the one that forked. gort's other Ms, sysmon and the
//! scavenger do not exist there, yet the scheduler's state says they do (Ps owned by Ms that
//! are gone, idle Ms that will never wake), so the first goroutine spawned or the first park
//! would wait for ever. Go does not support it either (only `fork` + `exec`, through
//! `syscall.ForkExec`).
//!
//! When the runtime starts it registers a `pthread_atfork` child handler that sets a flag.
//! The places where a child would otherwise hang check that flag (one relaxed load): every
//! park (`park::prepare`, the start of every blocking operation), every spawn and
//! `gort::syscall`. The child then writes a fatal message to stderr with `write(2)` and
//! leaves with `_exit(2)`: in a forked child of a multi-threaded process, locks (stderr's,
//! the allocator's) may be held by threads that no longer exist, so neither `eprintln!`
//! nor `exit` (which runs `atexit` handlers) is safe, and a panic would be caught at the
//! goroutine's boundary and leave the child hanging all the same. A child that only calls
//! `exec` (what `std::process::Command` does) never meets the check.
//!
//! Uses no other module of the crate.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Set in a child of `fork()`.
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn in_child() {
    FORKED.store(true, Relaxed);
}

/// Registers the child handler (once, when the scheduler starts).
pub(crate) fn init() {
    // SAFETY: registering a plain `extern "C" fn()` with pthread_atfork has no
    // preconditions; the handler only stores to an atomic (async-signal-safe).
    unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
}

/// Ends the process with a fatal error if this is a child of `fork()` (see the module docs).
#[inline(always)]
pub(crate) fn check() {
    if FORKED.load(Relaxed) {
        forked();
    }
}

#[cold]
#[inline(never)]
fn forked() -> ! {
    const MSG: &[u8] = b"fatal error: gort: the runtime cannot run in a child of fork() \
without exec: the child has none of the scheduler's threads (use std::process::Command, \
which forks and execs, or exec before calling into gort)\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe and take no locks; MSG is a
    // valid buffer of the given length.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(2)
    }
}
