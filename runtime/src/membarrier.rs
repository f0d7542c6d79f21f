//! Asymmetric fences: make one side of a Dekker-style handshake free.
//!
//! Sysmon takes a P away from an M only if the M is not using it. The M's side runs on every
//! goroutine switch and every wake-up, so it must cost nothing: it writes its "I am using my
//! P" flag and reads the P's owner with only a compiler fence between them ([`light`]).
//! Sysmon's side, which runs a few times per second at most, pays for both: after changing
//! the owner it calls `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` ([`heavy`]), which makes
//! every running thread of the process execute a full memory barrier. On a kernel without it
//! both sides fall back to `SeqCst` fences.
//!
//! Uses no other module of the crate.

use std::sync::atomic::{compiler_fence, fence, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// 0 unknown, 1 membarrier available, 2 fallback to SeqCst fences.
static MODE: AtomicU8 = AtomicU8::new(0);

fn available() -> bool {
    match MODE.load(Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: registering the process for expedited membarriers has no preconditions.
            let ok = unsafe {
                libc::syscall(
                    libc::SYS_membarrier,
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                    0,
                    0,
                )
            } == 0;
            MODE.store(if ok { 1 } else { 2 }, Relaxed);
            ok
        }
    }
}

/// Sets the mode up front (at runtime start), so that the light side never races with the
/// first use of the heavy side.
pub(crate) fn init() {
    available();
}

/// The cheap side: orders a preceding store before a following load, given that the other
/// side uses [`heavy`].
#[inline(always)]
pub(crate) fn light() {
    if MODE.load(Relaxed) == 1 {
        compiler_fence(SeqCst);
    } else {
        fence(SeqCst);
    }
}

/// The expensive side: a full barrier on every running thread of the process.
pub(crate) fn heavy() {
    if available() {
        // SAFETY: the process is registered (see `available`); the call has no other
        // preconditions.
        let rc =
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        if rc == 0 {
            return;
        }
    }
    fence(SeqCst);
}
