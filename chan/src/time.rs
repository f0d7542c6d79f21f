//! Time: `sleep`, and channels that deliver the time (`after`, `tick`, [`Ticker`]), on the
//! runtime's timers. Like everything in gort, these work on goroutines (which park) and on
//! plain threads (which block). [`Timer`] and [`after_func`] are Go's `time.Timer` and
//! `time.AfterFunc`.

use crate::channel::{bounded, Receiver, Sender};
use gort_runtime::park;
use gort_runtime::timer::{self, Action, TimerId};
use parking_lot::Mutex;
use std::sync::Arc;
pub use std::time::{Duration, Instant};

mod go_timer;
pub use go_timer::{after_func, Timer};

/// Pauses the current goroutine (or thread) for at least `d`. `Duration::MAX` sleeps forever.
#[track_caller]
pub fn sleep(d: Duration) {
    match Instant::now().checked_add(d) {
        Some(t) => sleep_until(t),
        None => loop {
            park::prepare_for(park::WaitReason::Sleep);
            park::park();
        },
    }
}

/// Pauses the current goroutine (or thread) until `deadline`.
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    // Nobody holds the token, so only the deadline ends the episode.
    park::prepare_for(park::WaitReason::Sleep);
    park::park_until(Some(deadline));
}

/// A channel that receives the time once, after `d` (Go's `time.After`). Usable in
/// `select!` as a timeout case.
///
/// The value is the time the timer fired (`Instant::now()` when it is sent), as Go's
/// `time.After` sends `time.Now()` at firing, not the scheduled instant (crossbeam-channel's
/// `after` sends the scheduled instant). Like Go's, the channel is never closed: after its one
/// value, a receive blocks forever. A `d` too large for an `Instant` never fires.
pub fn after(d: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(d) {
        Some(when) => at(when),
        None => never_firing(),
    }
}

/// A channel that receives the time once, at `when` (crossbeam-channel's `at`); a `when`
/// already past has its value in the channel when `at` returns. As with [`after`], the value is the firing time and the channel is
/// never closed.
pub fn at(when: Instant) -> Receiver<Instant> {
    let (tx, rx) = bounded(1);
    let now = Instant::now();
    if when <= now {
        // Due already: ready at once, as a receive on an expired timer's channel is in Go
        // (since Go 1.23 it runs the timer itself) and in crossbeam, rather than after a
        // trip through the timer heap.
        let _ = tx.try_send(now);
        tx.retire_open();
        return rx;
    }
    timer::add(
        when,
        Action::Call(Box::new(move || {
            let _ = tx.try_send(Instant::now());
            tx.retire_open(); // like Go's, the channel is never closed
        })),
    );
    rx
}

/// A time channel that never fires and is never closed.
fn never_firing() -> Receiver<Instant> {
    let (tx, rx) = bounded(1);
    tx.retire_open();
    rx
}

/// A channel that receives the time every `d` (Go's `time.Tick`). The ticks stop when the
/// receiver (and its clones) are dropped.
///
/// # Panics
/// If `d` is zero.
pub fn tick(d: Duration) -> Receiver<Instant> {
    assert!(
        !d.is_zero(),
        "gort::time::tick: the period must be positive"
    );
    let (tx, rx) = bounded(1);
    let state = Arc::new(Mutex::new(TickState {
        period: d,
        stopped: false,
        timer: None,
    }));
    arm(&state, tx, Instant::now() + d);
    rx
}

struct TickState {
    period: Duration,
    /// Set by `stop`: a firing that races with it sends nothing.
    stopped: bool,
    /// The pending timer.
    timer: Option<TimerId>,
}

/// Delivers the time on a channel every period (Go's `time.Ticker`). A slow receiver misses
/// ticks rather than letting them pile up (the channel holds one). [`Ticker::stop`] stops
/// it without closing the channel; the channel is never closed.
///
/// Dropping the `Ticker` stops it, unless clones of its receiver are still alive: then it
/// keeps ticking for them until they are all dropped, as in Go (where a ticker whose
/// channel is still referenced keeps running), so `Ticker::new(d).receiver().clone()` is
/// a working tick channel, like [`tick`].
pub struct Ticker {
    tx: Sender<Instant>,
    rx: Receiver<Instant>,
    state: Arc<Mutex<TickState>>,
}

impl Ticker {
    /// A ticker with period `d`; the first tick comes after `d`.
    ///
    /// # Panics
    /// If `d` is zero (Go: "non-positive interval for NewTicker").
    pub fn new(d: Duration) -> Ticker {
        assert!(
            !d.is_zero(),
            "gort::time::Ticker::new: the period must be positive"
        );
        let (tx, rx) = bounded(1);
        let state = Arc::new(Mutex::new(TickState {
            period: d,
            stopped: false,
            timer: None,
        }));
        arm(&state, tx.clone(), Instant::now() + d);
        Ticker { tx, rx, state }
    }

    /// The channel the ticks arrive on.
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker: no tick is sent after `stop` returns. The channel stays open.
    pub fn stop(&self) {
        let timer = {
            let mut s = self.state.lock();
            s.stopped = true;
            s.timer.take()
        };
        if let Some(t) = timer {
            timer::cancel(t);
        }
    }

    /// Restarts the ticker with period `d`; the next tick comes after `d`.
    ///
    /// # Panics
    /// If `d` is zero.
    pub fn reset(&self, d: Duration) {
        assert!(
            !d.is_zero(),
            "gort::time::Ticker::reset: the period must be positive"
        );
        self.stop();
        {
            let mut s = self.state.lock();
            s.stopped = false;
            s.period = d;
        }
        arm(&self.state, self.tx.clone(), Instant::now() + d);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // Ours is the only receiver: nobody can see another tick. Otherwise the firing
        // stops itself once the last clone is gone (see `arm`).
        if self.rx.receiver_count() <= 1 {
            self.stop();
        }
    }
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.state.lock().period)
            .finish()
    }
}

/// Schedules the tick due at `when`; each firing schedules the next.
fn arm(state: &Arc<Mutex<TickState>>, tx: Sender<Instant>, when: Instant) {
    let st = state.clone();
    let fire = move || {
        let period = {
            let mut s = st.lock();
            if s.stopped {
                return;
            }
            s.timer = None;
            s.period
        };
        let _ = tx.try_send(Instant::now()); // a full channel drops the tick, as in Go
        if !tx.has_receivers() {
            return; // nobody listens any more (`tick`'s receivers were dropped)
        }
        // Keep the phase; after a long stall, skip the missed ticks.
        let now = Instant::now();
        let mut next = when + period;
        if next <= now {
            next = now + period;
        }
        arm(&st, tx, next);
    };
    let id = timer::add(when, Action::Call(Box::new(fire)));
    let mut s = state.lock();
    if s.stopped {
        drop(s);
        timer::cancel(id);
    } else {
        s.timer = Some(id);
    }
}
