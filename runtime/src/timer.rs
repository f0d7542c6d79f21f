//! Runtime timers: what `park_until`, `sleep`, `after`, `tick` and every `*_timeout` wait on.
//!
//! One heap for the whole runtime, ordered by deadline, behind a lock; `NEXT` mirrors the
//! earliest deadline so the scheduler can check "is anything due?" with one atomic load.
//! Expired timers are fired by the scheduler (`find_runnable` on every round while timers
//! are pending) and, when every M is idle, by the one idle M that sleeps until the next
//! deadline (the *timer sleeper*, see `sched::idle::stopm`). Adding a timer earlier than the
//! sleeper's deadline pokes the sleeper so it re-arms; nothing polls.
//!
//! Cancellation is lazy and O(1): a cancelled entry's slot is recycled at once and its heap
//! entry, whose generation no longer matches, is dropped when it surfaces; when more than
//! half of the heap is dead it is rebuilt, so long timeouts that are cancelled early (the
//! common case for `recv_timeout`) do not accumulate.
//!
//! Why one heap and not Go's per-P heaps: adding or cancelling a timer is a short critical
//! section, and per-P heaps need timer stealing and migration when Ps go idle. If the
//! benches show contention here, shard it.
//!
//! Uses: `park`, `sched`, `sysmon`.

use crate::park::Token;
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a timer does when it fires.
pub enum Action {
    /// Ends a park episode as timed out (`park_until`).
    Expire(Token),
    /// Runs a short, non-blocking callback on whichever scheduler thread fires the timer
    /// (an M between goroutines, an idle M, or sysmon), so it must not block: a blocked
    /// callback would hold up every timer after it. Any blocking gort call inside it (a
    /// channel `send` that would wait, `sleep`, a `Mutex` that is held, `join`) panics with a
    /// message saying so. Use non-blocking calls (`try_send`), or start a goroutine
    /// (`gort::go`) for the blocking part.
    Call(Box<dyn FnOnce() + Send>),
}

/// Identifies a pending timer, for [`cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    gen: u32,
}

struct Slot {
    gen: u32,
    action: Option<Action>,
}

struct Heap {
    /// (deadline in ns since `epoch()`, slot, generation)
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Heap entries whose slot was cancelled.
    dead: usize,
}

static HEAP: Mutex<Heap> = Mutex::new(Heap {
    heap: BinaryHeap::new(),
    slots: Vec::new(),
    free: Vec::new(),
    dead: 0,
});

/// Earliest pending deadline (ns since `epoch()`), or `u64::MAX`.
static NEXT: AtomicU64 = AtomicU64::new(u64::MAX);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the timer epoch.
pub(crate) fn nanos(t: Instant) -> u64 {
    t.saturating_duration_since(epoch())
        .as_nanos()
        .min(u64::MAX as u128 - 1) as u64
}

/// The instant `ns` nanoseconds after the timer epoch.
pub(crate) fn instant(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns)
}

/// Schedules `action` at `when`. A deadline in the past fires at the next check.
pub fn add(when: Instant, action: Action) -> TimerId {
    let when = nanos(when);
    let id = {
        let mut h = HEAP.lock();
        let slot = match h.free.pop() {
            Some(s) => s,
            None => {
                h.slots.push(Slot {
                    gen: 0,
                    action: None,
                });
                (h.slots.len() - 1) as u32
            }
        };
        let s = &mut h.slots[slot as usize];
        s.action = Some(action);
        let gen = s.gen;
        h.heap.push(Reverse((when, slot, gen)));
        if when < NEXT.load(SeqCst) {
            NEXT.store(when, SeqCst);
        }
        TimerId { slot, gen }
    };
    crate::sched::idle::timer_added(when);
    id
}

/// Cancels a pending timer. Returns `false` if it already fired or was cancelled.
pub fn cancel(id: TimerId) -> bool {
    let mut h = HEAP.lock();
    let Some(s) = h.slots.get_mut(id.slot as usize) else {
        return false;
    };
    if s.gen != id.gen || s.action.is_none() {
        return false;
    }
    let action = s.action.take();
    s.gen = s.gen.wrapping_add(1);
    h.free.push(id.slot);
    h.dead += 1;
    if h.dead == h.heap.len() {
        // Only dead entries left: no timer is pending any more (sysmon's deadlock check
        // must not wait for a cancelled deadline to pass).
        h.heap.clear();
        h.dead = 0;
        NEXT.store(u64::MAX, SeqCst);
        drop(h);
        drop(action);
        crate::sysmon::wake();
        return true;
    }
    if h.dead > 64 && h.dead > h.heap.len() / 2 {
        let Heap { heap, slots, .. } = &mut *h;
        heap.retain(|Reverse((_, slot, gen))| slots[*slot as usize].gen == *gen);
        h.dead = 0;
    }
    drop(h);
    drop(action); // may run user destructors: outside the lock
    true
}

/// Earliest pending deadline (ns since the epoch), or `u64::MAX`; one atomic load.
pub(crate) fn next() -> u64 {
    NEXT.load(SeqCst)
}

/// Whether a timer is due now: one atomic load while none is pending, else a clock read.
pub(crate) fn due() -> bool {
    due_now().is_some()
}

/// The time now (ns) if a timer is due at it.
fn due_now() -> Option<u64> {
    let next = next();
    if next == u64::MAX {
        return None;
    }
    let now = nanos(Instant::now());
    (next <= now).then_some(now)
}

/// Fires every timer due at `now` (ns). Returns how many fired.
pub(crate) fn run_expired(now: u64) -> usize {
    let mut fired = 0;
    loop {
        let action = {
            let mut h = HEAP.lock();
            loop {
                let Some(&Reverse((when, slot, gen))) = h.heap.peek() else {
                    if NEXT.swap(u64::MAX, SeqCst) != u64::MAX {
                        // The last timer fired: a pending timer no longer keeps sysmon's
                        // deadlock check from deciding.
                        crate::sysmon::wake();
                    }
                    break None;
                };
                let live = h.slots[slot as usize].gen == gen;
                if live && when > now {
                    NEXT.store(when, SeqCst);
                    break None;
                }
                h.heap.pop();
                if !live {
                    h.dead -= 1;
                    continue;
                }
                let s = &mut h.slots[slot as usize];
                let action = s.action.take();
                s.gen = s.gen.wrapping_add(1);
                h.free.push(slot);
                break action;
            }
        };
        // Run it outside the lock: wake-ups and callbacks may add timers.
        match action {
            None => return fired,
            Some(Action::Expire(token)) => {
                token.expire();
            }
            Some(Action::Call(f)) => {
                IN_CALLBACK.with(|c| c.set(true));
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                IN_CALLBACK.with(|c| c.set(false));
                if r.is_err() {
                    eprintln!("gort: a timer callback panicked (ignored)");
                }
            }
        }
        fired += 1;
    }
}

thread_local! {
    /// Set while this thread runs an [`Action::Call`] callback (which never switches
    /// goroutines: it runs on a scheduler thread's own stack, or sysmon's).
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Panics if the calling thread is running a timer callback: it was about to block (see
/// [`Action::Call`]). Called by the park seam before a plain thread (which is what a
/// scheduler thread between goroutines looks like) arms a park.
pub(crate) fn check_may_block() {
    if IN_CALLBACK.with(|c| c.get()) {
        panic!(
            "gort: a timer callback (gort::timer::Action::Call) tried to block. Callbacks run \
             on the scheduler's own threads, where blocking would stop every timer of the \
             process: use non-blocking calls (try_send), or do the blocking part in a \
             goroutine (gort::go, or gort::time::after_func, which runs its function in a \
             goroutine of its own)"
        );
    }
}

/// Fires due timers if any are due now. Cheap when none is pending.
pub(crate) fn check() -> usize {
    due_now().map_or(0, run_expired)
}
