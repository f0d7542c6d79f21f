//! Go's `os/signal`: signals delivered on channels.
//!
//! ```no_run
//! use gort_chan::signal::{self, Signal};
//!
//! let sigs = signal::notify(&[Signal::SIGINT, Signal::SIGTERM]);
//! // ... serve ...
//! let sig = sigs.recv().unwrap(); // or `recv(sigs) -> sig` in a `select!`
//! println!("got {sig}, shutting down");
//! ```
//!
//! [`notify`] relays signals to a new channel and [`stop`] ends that; [`ignore`] and
//! [`reset`] change what a signal
//! does for the whole process; `context::notify_context` cancels a context on a signal.
//! A signal that nobody is notified of keeps its usual effect (SIGINT and SIGTERM end the
//! process). All of it works anywhere: before the runtime starts, inside `gort::run`, on
//! goroutines and plain threads.
//!
//! The signal side (one permanent hook per signal and the thread that relays them) is the
//! runtime's `gort_runtime::signal`; this module keeps the subscriptions: each [`notify`]
//! call is one channel and a set of signals. The relay prunes subscriptions whose
//! receivers are gone; a signal left with none gets its default treatment again: its
//! original disposition, or a default action the runtime registered with
//! `gort_runtime::signal::set_default_action` (as Go's runtime gives way to a program's
//! `signal.Notify(c, SIGQUIT)`, such an action gives way to [`notify`]).
//!
//! A program that only waits for a signal is not reported as deadlocked: the signal thread
//! could wake it.

use crate::channel::{bounded, Receiver, Sender};
use gort_runtime::signal::{self as rt, Mode};
use parking_lot::Mutex;
use std::sync::Once;

pub use gort_runtime::signal::Signal;

/// One `notify` call.
struct Sub {
    /// Bit `n` set: signal `n` is relayed to `tx`.
    sigs: u128,
    tx: Sender<Signal>,
}

static SUBS: Mutex<Vec<Sub>> = Mutex::new(Vec::new());

fn bit(sig: Signal) -> u128 {
    1u128 << sig.as_raw()
}

/// Relays the given signals to a new channel (Go's `signal.Notify`), and from then on they
/// no longer have their usual effect (a SIGINT no longer ends the process) while the
/// channel is listened to.
///
/// The channel has room for one value per distinct signal asked for. As in Go, sending
/// never blocks: a signal that arrives while the channel is full is dropped, and the
/// kernel already coalesces a signal that arrives again before it was handled, so a burst
/// of the same signal may be received once. Dropping the receiver (and its clones) stops
/// delivery to it; a signal no channel listens for any more has its usual effect again.
/// The channel is never closed.
///
/// # Panics
/// If `sigs` is empty (name the signals; Go's `Notify(c)` with none relays every signal,
/// which is not supported), or holds a signal that cannot be caught (SIGKILL, SIGSTOP) or
/// that the runtime itself handles (SIGSEGV, SIGBUS, SIGILL, SIGFPE).
pub fn notify(sigs: &[Signal]) -> Receiver<Signal> {
    assert!(
        !sigs.is_empty(),
        "gort::signal::notify: no signals given; name the signals to relay"
    );
    let mut mask = 0;
    for &sig in sigs {
        check(sig, "notify");
        mask |= bit(sig);
    }
    static NOTIFIER: Once = Once::new();
    NOTIFIER.call_once(|| rt::set_notifier(Box::new(relay)));
    let (tx, rx) = bounded(mask.count_ones() as usize);
    let mut subs = SUBS.lock();
    subs.push(Sub { sigs: mask, tx });
    for &sig in sigs {
        if let Err(e) = rt::set_mode(sig, Mode::Notify) {
            panic!("gort::signal::notify: cannot handle {sig}: {e}");
        }
    }
    rx
}

/// Stops relaying signals to `rx`'s channel (Go's `signal.Stop`): once this returns, no
/// more signals are sent to it, and a signal no other channel listens for has its usual
/// effect again. Dropping every receiver of the channel has the same effect, lazily (at the
/// next signal); `stop` is the way to be sure at once. A channel that was not made by
/// [`notify`] is left alone.
pub fn stop(rx: &Receiver<Signal>) {
    let mut subs = SUBS.lock();
    let mut freed = 0u128;
    subs.retain(|s| {
        let mine = s.tx.feeds(rx);
        if mine {
            freed |= s.sigs;
        }
        !mine
    });
    for s in subs.iter() {
        freed &= !s.sigs;
    }
    for signo in 1..128 {
        if freed & (1u128 << signo) != 0 {
            let sig = Signal::from_raw(signo);
            if rt::mode(sig) == Mode::Notify {
                let _ = rt::set_mode(sig, Mode::Default);
            }
        }
    }
}

/// Makes the given signals do nothing (Go's `signal.Ignore`); they are no longer relayed to
/// any channel. A later [`notify`] relays them again.
///
/// # Panics
/// For a signal that cannot be ignored (as [`notify`]).
pub fn ignore(sigs: &[Signal]) {
    let mut subs = SUBS.lock();
    for &sig in sigs {
        check(sig, "ignore");
        for s in subs.iter_mut() {
            s.sigs &= !bit(sig);
        }
        if let Err(e) = rt::set_mode(sig, Mode::Ignore) {
            panic!("gort::signal::ignore: cannot handle {sig}: {e}");
        }
    }
}

/// Undoes [`notify`] and [`ignore`] for the given signals, or for every signal if `sigs` is
/// empty (Go's `signal.Reset`): they are relayed to no channel and have their usual effect
/// again (for a signal ignored when the program started, that is being ignored).
pub fn reset(sigs: &[Signal]) {
    let mut subs = SUBS.lock();
    let all: Vec<Signal>;
    let sigs = if sigs.is_empty() {
        all = (1..128)
            .map(Signal::from_raw)
            .filter(|s| s.unhandleable_reason().is_none())
            .collect();
        &all[..]
    } else {
        sigs
    };
    for &sig in sigs {
        if sig.unhandleable_reason().is_some() {
            continue; // never changed, so already at its usual effect
        }
        for s in subs.iter_mut() {
            s.sigs &= !bit(sig);
        }
        let _ = rt::set_mode(sig, Mode::Default);
    }
}

/// Whether `sig` is ignored, by [`ignore`] or since the program started (Go's
/// `signal.Ignored`).
pub fn ignored(sig: Signal) -> bool {
    rt::ignored(sig)
}

fn check(sig: Signal, what: &str) {
    if let Some(why) = sig.unhandleable_reason() {
        panic!("gort::signal::{what}: {sig} {why}");
    }
}

/// The runtime's relay (on its signal thread): sends `sig` to every channel that wants it
/// and still has a receiver. Returns whether any did.
fn relay(sig: Signal) -> bool {
    let mut subs = SUBS.lock();
    subs.retain(|s| s.tx.has_receivers());
    let mut listened = false;
    for s in subs.iter().filter(|s| s.sigs & bit(sig) != 0) {
        listened = true;
        let _ = s.tx.try_send(sig); // full: dropped, as in Go
    }
    if !listened {
        // Nobody left: back to its usual effect for the next one too.
        let _ = rt::set_mode(sig, Mode::Default);
    }
    listened
}
