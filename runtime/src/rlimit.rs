//! The open-file limit: raised to the hard limit when the runtime starts, as Go does.
//!
//! Linux starts most processes with a soft `RLIMIT_NOFILE` of 1024, a limit that exists for
//! programs using `select(2)` (its `fd_set` holds 1024 descriptors). A server with one
//! goroutine per connection reaches it at about a thousand clients and then fails with
//! `EMFILE`. Since 1.19 Go raises the soft limit to the hard limit at start-up; gort does the
//! same when its scheduler or netpoller first starts (whichever comes first).
//!
//! The way out: set `GORT_RLIMIT_NOFILE=keep` in the environment to leave the limit as it
//! is. Children started with `std::process::Command` inherit the raised limit; a child that
//! uses `select(2)` on high descriptors should lower it again (Go restores the original
//! limit in its own `os/exec` children; std's `Command` has no hook to do that for all).
//!
//! Uses no other module of the crate.

use std::sync::Once;

static RAISED: Once = Once::new();

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, once (see the module docs).
pub(crate) fn raise_nofile() {
    RAISED.call_once(|| {
        if std::env::var_os("GORT_RLIMIT_NOFILE").is_some_and(|v| v == "keep") {
            return;
        }
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one
            // needs no privilege. A failure leaves the limit as it was, which is harmless.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        }
    });
}
