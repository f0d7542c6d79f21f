//! Helpers shared by the channel tests (`tests/chan_*.rs`): a hang guard, and the two kinds
//! of parties every scenario runs with (goroutines and plain OS threads).
#![allow(dead_code)]

use std::time::Duration;

#[path = "../common/mod.rs"]
pub mod common;
/// The hang guard shared by every test (see `tests/common`).
pub use common::within;

/// What the parties of a scenario are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Goroutines (`gort::go`), and the scenario's main body runs under `gort::run`.
    Goroutine,
    /// Plain OS threads (`std::thread::spawn`), and the main body runs on a plain thread.
    Thread,
}

/// Both kinds, for `for kind in KINDS`.
pub const KINDS: [Kind; 2] = [Kind::Goroutine, Kind::Thread];

/// Waits for a spawned party; resumes its panic, if it panicked.
pub type Joiner = Box<dyn FnOnce() + Send>;

/// Starts `f` as a party of the given kind and returns its joiner.
pub fn spawn(kind: Kind, f: impl FnOnce() + Send + 'static) -> Joiner {
    match kind {
        Kind::Goroutine => {
            let h = gort::go(f);
            Box::new(move || {
                if let Err(p) = h.join() {
                    std::panic::resume_unwind(p)
                }
            })
        }
        Kind::Thread => {
            let h = std::thread::spawn(f);
            Box::new(move || {
                if let Err(p) = h.join() {
                    std::panic::resume_unwind(p)
                }
            })
        }
    }
}

/// Joins every joiner, in order.
pub fn join_all(joiners: impl IntoIterator<Item = Joiner>) {
    for j in joiners {
        j()
    }
}

/// Runs a scenario's main body as the given kind: under `gort::run` for goroutines, directly
/// on the calling (plain) thread for threads.
pub fn run_main<T: Send + 'static>(kind: Kind, f: impl FnOnce() -> T + Send + 'static) -> T {
    match kind {
        Kind::Goroutine => gort::run(f),
        Kind::Thread => f(),
    }
}

/// `run_main` under the hang guard.
pub fn scenario<T: Send + 'static>(
    secs: u64,
    kind: Kind,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(secs, move || run_main(kind, f))
}

/// Gives other parties a moment to reach their blocking operation. Correctness never
/// depends on it: it only makes the interesting interleaving likely.
pub fn pause() {
    gort::time::sleep(Duration::from_millis(2));
}

/// A very short breather for retry loops (Go's tests `Gosched` there).
pub fn breathe() {
    gort::yield_now();
    gort::time::sleep(Duration::from_micros(20));
}

/// A small, seeded xorshift generator, so tests need no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// The first `n` primes, by trial division (the reference for the sieve tests).
pub fn first_primes(n: usize) -> Vec<u64> {
    let mut ps: Vec<u64> = Vec::with_capacity(n);
    let mut k = 2u64;
    while ps.len() < n {
        if ps
            .iter()
            .take_while(|&&p| p * p <= k)
            .all(|&p| !k.is_multiple_of(p))
        {
            ps.push(k);
        }
        k += 1;
    }
    ps
}

/// A family of parties that start more parties: every party holds a clone of `done`, so
/// once they have all returned a receive on the matching receiver fails; their joiners are
/// collected for the end.
#[derive(Clone)]
pub struct Family {
    pub kind: Kind,
    joiners: std::sync::Arc<std::sync::Mutex<Vec<Joiner>>>,
    done: gort::chan::Sender<()>,
}

impl Family {
    /// A new family, and the receiver that fails once every member has returned (and the
    /// family value itself, and all its clones, are gone).
    pub fn new(kind: Kind) -> (Family, gort::chan::Receiver<()>) {
        let (done, done_rx) = gort::chan::unbounded();
        (
            Family {
                kind,
                joiners: Default::default(),
                done,
            },
            done_rx,
        )
    }

    /// Starts a member.
    pub fn go(&self, f: impl FnOnce(&Family) + Send + 'static) {
        let me = self.clone();
        let j = spawn(self.kind, move || f(&me));
        self.joiners.lock().unwrap().push(j);
    }

    /// How many members were started.
    pub fn started(&self) -> usize {
        self.joiners.lock().unwrap().len()
    }

    /// Drops this handle, waits until every member has returned, and joins them all
    /// (resuming the first panic).
    pub fn wait(self, done_rx: gort::chan::Receiver<()>) {
        let joiners = self.joiners.clone();
        drop(self);
        assert!(done_rx.recv().is_err(), "nothing is ever sent on done");
        let js: Vec<Joiner> = std::mem::take(&mut *joiners.lock().unwrap());
        join_all(js);
    }
}
