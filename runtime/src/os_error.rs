//! `errno` read on the thread the caller runs on now.
//!
//! A goroutine may park inside a function and resume on another thread. `errno` is a
//! thread-local whose libc accessor (`__errno_location`) std declares constant, so once
//! such a function is inlined the compiler may compute `errno`'s address once and, after
//! the switch, read the *old* thread's `errno` (seen in the runtime: an accept that failed
//! with `EAGAIN` reported the old thread's `EINPROGRESS`). [`last_os_error`] is never
//! inlined, so each call looks the address up afresh. The runtime reads `errno` only
//! through it (`clippy.toml` forbids `std::io::Error::last_os_error` in the workspace), and
//! code of users that parks between a failing system call and its `errno` read should too.
//!
//! Uses: nothing else in the crate.

use std::io;

/// The calling thread's last OS error, like [`io::Error::last_os_error`], but read in a
/// frame of its own so that it is the error of the thread the goroutine runs on *now*.
///
/// Use it instead of `io::Error::last_os_error` in any function that may park (a goroutine
/// can resume on another thread after a park, and the compiler may reuse the first
/// thread's `errno` address across the call that switched threads). Call it right after
/// the failing system call, with no park in between.
#[inline(never)]
pub fn last_os_error() -> io::Error {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read; see the module comment
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_current_threads_errno() {
        // SAFETY: errno is this thread's; writing it is what failing libc calls do.
        unsafe { *libc::__errno_location() = libc::EINPROGRESS };
        assert_eq!(last_os_error().raw_os_error(), Some(libc::EINPROGRESS));
        std::thread::spawn(|| {
            // SAFETY: as above, on this thread.
            unsafe { *libc::__errno_location() = libc::EAGAIN };
            assert_eq!(last_os_error().raw_os_error(), Some(libc::EAGAIN));
        })
        .join()
        .unwrap();
        assert_eq!(last_os_error().raw_os_error(), Some(libc::EINPROGRESS));
    }
}
