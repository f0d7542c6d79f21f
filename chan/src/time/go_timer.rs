//! [`Timer`] (Go's `time.Timer`, with Go 1.23's semantics) and [`after_func`].
//!
//! A timer is a runtime timer plus a generation number under a small lock. Every arming
//! (`new`, `reset`) bumps the generation and hands the runtime timer a callback that
//! remembers it; the callback sends (or starts `f`) only if the generation is still its
//! own, under the same lock. `stop` and `reset` bump the generation, cancel the runtime
//! timer and, under that lock, take back a value that was sent but not yet received. So
//! once they return, no value from before can be received: the channel behaves like Go
//! 1.23's unbuffered timer channel, though it holds the one value of the current arming.
//!
//! The callback runs on the scheduler's thread and only does non-blocking work: a
//! `try_send`, or spawning the goroutine that runs `after_func`'s `f`.

use crate::channel::{bounded, Receiver, Sender};
use gort_runtime::timer::{self, Action, TimerId};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a timer does when it fires.
enum Kind {
    /// Sends the time on the channel (`Timer::new`).
    Send(Sender<Instant>),
    /// Runs the function on a new goroutine (`after_func`).
    Func(Arc<dyn Fn() + Send + Sync>),
}

struct Armed {
    /// Bumped by every arming, stop and reset: a callback of an older generation is stale.
    gen: u64,
    /// The pending runtime timer of the current generation.
    id: Option<TimerId>,
}

struct Shared {
    armed: Mutex<Armed>,
    kind: Kind,
}

/// A single event after a duration (Go's `time.Timer`): the time is delivered on
/// [`receiver`](Self::receiver), or, for a timer made by [`after_func`], a function runs on
/// its own goroutine.
///
/// As in Go 1.23, once [`stop`](Self::stop) or [`reset`](Self::reset) returns, no value
/// from before the call can be received; there is no need to drain the channel. Dropping a
/// `Timer` does not stop it (as in Go, a discarded `after_func` timer still runs `f`).
/// Usable from goroutines and plain threads.
///
/// ```
/// use gort_chan::{select, time::Timer};
/// use std::time::Duration;
///
/// let t = Timer::new(Duration::from_secs(3600));
/// assert!(t.stop()); // stopped before it fired
/// t.reset(Duration::ZERO);
/// select! {
///     recv(t.receiver()) -> _ => {}
///     recv(gort_chan::time::after(Duration::from_secs(60))) -> _ => panic!("no fire"),
/// }
/// ```
pub struct Timer {
    shared: Arc<Shared>,
    rx: Receiver<Instant>,
}

impl Timer {
    /// A timer that sends the current time on its channel after `d` (Go's `NewTimer`).
    /// `Duration::MAX` never fires.
    pub fn new(d: Duration) -> Timer {
        let (tx, rx) = bounded(1);
        let t = Timer::with_kind(Kind::Send(tx), rx);
        t.arm(d);
        t
    }

    fn with_kind(kind: Kind, rx: Receiver<Instant>) -> Timer {
        Timer {
            shared: Arc::new(Shared {
                armed: Mutex::new(Armed { gen: 0, id: None }),
                kind,
            }),
            rx,
        }
    }

    /// The channel the time arrives on (Go's `t.C`). A timer made by [`after_func`] never
    /// sends on it.
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer. Returns `true` if this call stopped it: it had not fired, or its
    /// value had not been received yet (that value is discarded); `false` if it had already
    /// been received, had run its function, or was stopped. For an [`after_func`] timer,
    /// `true` means `f` will not start; `stop` does not wait for an `f` already started.
    pub fn stop(&self) -> bool {
        let mut armed = self.shared.armed.lock();
        self.disarm(&mut armed)
    }

    /// Stops the timer and arms it again to fire after `d` (Go's `Reset`), as one step: a
    /// value or function run of the previous arming can no longer happen after this returns.
    /// Returns what [`stop`](Self::stop) would have. For an [`after_func`] timer, `f` runs
    /// again after `d`.
    pub fn reset(&self, d: Duration) -> bool {
        let mut armed = self.shared.armed.lock();
        let was_active = self.disarm(&mut armed);
        self.arm_locked(&mut armed, d);
        was_active
    }

    /// Bumps the generation, cancels the pending runtime timer and takes back an unreceived
    /// value. Returns whether the timer was still active.
    fn disarm(&self, armed: &mut Armed) -> bool {
        armed.gen = armed.gen.wrapping_add(1);
        let cancelled = armed.id.take().is_some_and(timer::cancel);
        let unreceived = matches!(self.shared.kind, Kind::Send(_)) && self.rx.try_recv().is_ok();
        cancelled || unreceived
    }

    fn arm(&self, d: Duration) {
        let mut armed = self.shared.armed.lock();
        self.arm_locked(&mut armed, d);
    }

    fn arm_locked(&self, armed: &mut Armed, d: Duration) {
        armed.gen = armed.gen.wrapping_add(1);
        let Some(when) = Instant::now().checked_add(d) else {
            return; // never fires
        };
        let gen = armed.gen;
        let shared = self.shared.clone();
        // The callback takes the lock we hold, so it cannot run before `id` is recorded.
        let id = timer::add(when, Action::Call(Box::new(move || fire(&shared, gen))));
        armed.id = Some(id);
    }
}

/// The runtime timer of generation `gen` fired.
fn fire(shared: &Arc<Shared>, gen: u64) {
    let mut armed = shared.armed.lock();
    if armed.gen != gen || armed.id.take().is_none() {
        return; // stopped or reset meanwhile
    }
    match &shared.kind {
        Kind::Send(tx) => {
            // Under the lock, so a concurrent `stop` finds it and takes it back. The
            // channel holds only this arming's value: it is empty here.
            let _ = tx.try_send(Instant::now());
        }
        Kind::Func(f) => {
            let f = f.clone();
            drop(armed);
            drop(gort_runtime::go(move || f()));
        }
    }
}

/// Runs `f` on its own goroutine after `d` (Go's `time.AfterFunc`); `f` may block. The
/// returned timer's [`stop`](Timer::stop) cancels it if it has not started, and
/// [`reset`](Timer::reset) runs it again later (hence `Fn`, not `FnOnce`); its
/// [`receiver`](Timer::receiver) never fires. Dropping the timer does not cancel `f`.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = gort_chan::bounded(1);
/// let _t = gort_chan::time::after_func(Duration::from_millis(1), move || {
///     tx.send("ran").unwrap();
/// });
/// assert_eq!(rx.recv().unwrap(), "ran");
/// ```
pub fn after_func(d: Duration, f: impl Fn() + Send + Sync + 'static) -> Timer {
    let (tx, rx) = bounded(1);
    tx.retire_open(); // nothing is ever sent; the channel stays open
    let t = Timer::with_kind(Kind::Func(Arc::new(f)), rx);
    t.arm(d);
    t
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let armed = self.shared.armed.lock();
        f.debug_struct("Timer")
            .field("pending", &armed.id.is_some())
            .field("func", &matches!(self.shared.kind, Kind::Func(_)))
            .finish()
    }
}
