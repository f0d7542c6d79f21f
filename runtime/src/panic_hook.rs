//! The panic hook that names goroutines: a panic on a goroutine prints
//! `goroutine 17 "name" panicked at src/main.rs:12:5: boom` instead of std's
//! `thread 'gort-m0' panicked at ...`, which names the OS thread the goroutine happened to
//! run on.
//!
//! Installed once, when the scheduler starts. It wraps the hook that was in place then:
//! panics outside goroutines (plain threads) go to that hook unchanged. A hook the program
//! sets afterwards with `std::panic::set_hook` replaces this one, as with std (it can call
//! [`goroutine_id`](crate::goroutine_id) itself). The panic still comes back through
//! `JoinHandle::join` as before; only the message changes.
//!
//! Uses: `sched`.

use crate::sched::current_g;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs the hook (once per process). Does nothing while the calling thread panics
/// (`set_hook` is not allowed then); a later call installs it.
pub(crate) fn install() {
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| match current_g() {
            Some(g) => report(g.id.load(Relaxed), g.name(), info),
            None => previous(info),
        }));
    });
}

/// Prints a goroutine's panic message (and a backtrace if `RUST_BACKTRACE` asks for one),
/// the way std's default hook does for a thread.
fn report(id: u64, name: Option<&str>, info: &PanicHookInfo<'_>) {
    static NOTED: AtomicBool = AtomicBool::new(false);
    // `PanicHookInfo::payload_as_str` does this from Rust 1.91; the crates build on 1.87.
    let payload = info.payload();
    let msg = (payload.downcast_ref::<&str>().copied())
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let mut line = format!("goroutine {id}");
    if let Some(name) = name {
        line.push_str(&format!(" {name:?}"));
    }
    line.push_str(" panicked");
    if let Some(loc) = info.location() {
        line.push_str(&format!(" at {loc}"));
    }
    let bt = Backtrace::capture();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}: {msg}");
    if bt.status() == BacktraceStatus::Captured {
        let _ = writeln!(err, "stack backtrace:\n{bt}");
    } else if !NOTED.swap(true, Relaxed) {
        let _ = writeln!(
            err,
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
        );
    }
}
