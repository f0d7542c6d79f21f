//! What crossbeam-channel's own test suite (ported in `tests/crossbeam/`) imports, mapped
//! onto gort: `cb` stands for the `crossbeam_channel` crate, `thread` for `std::thread`,
//! `scope` for `crossbeam_utils::thread::scope`, `rand` for the two functions of `rand`
//! the suite uses.
//!
//! Each suite runs twice: on plain threads, and with every thread replaced by a goroutine
//! (the test body runs under `gort::run`, and every `thread::spawn` and scoped spawn made
//! from a goroutine starts a goroutine). `thread::sleep` is `gort::time::sleep`, which
//! parks a goroutine and sleeps a thread.
#![allow(dead_code)]

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// The `crossbeam_channel` API, from gort.
pub mod cb {
    pub use gort::chan::*;
    pub use gort::{select, select_biased};
}

/// Held shared by every test body, and exclusively by the bodies that must run `alone`.
static ALONE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Runs a test body on a plain thread, or under `gort::run` as the main goroutine, under a
/// hang guard (the timeout only turns a hang into a failure). A body that runs `alone`
/// (crossbeam's timer tests, which assert its timing margins) waits until no other test
/// body runs, and keeps the others waiting. Goroutines get the stack size of the threads
/// they replace (std's default, 2 MiB): unoptimised builds keep several copies of a message
/// on the stack, and the suite sends 32 KiB ones.
pub fn run(goroutines: bool, alone: bool, body: fn()) {
    let _turn = if alone {
        (None, Some(ALONE.write().unwrap_or_else(|e| e.into_inner())))
    } else {
        (Some(ALONE.read().unwrap_or_else(|e| e.into_inner())), None)
    };
    const SECS: u64 = 300;
    if goroutines {
        gort::stack::set_default_stack_size(2 << 20);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(move || if goroutines { gort::run(body) } else { body() });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(SECS)) {
        Ok(Ok(())) => {}
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("test hung: no result after {SECS} s"),
    }
}

/// Whether the caller is a goroutine (then it spawns goroutines).
fn on_goroutine() -> bool {
    gort::goroutine_id().is_some()
}

/// `std::thread`, with goroutines in place of threads when called from a goroutine.
pub mod thread {
    pub use std::thread::{current, panicking, Result};
    use std::time::Duration;

    /// A spawned thread or goroutine.
    pub struct JoinHandle<T>(Inner<T>);

    enum Inner<T> {
        Thread(std::thread::JoinHandle<T>),
        Goroutine(gort::JoinHandle<T>),
    }

    impl<T> JoinHandle<T> {
        /// Waits for it; its panic comes back as `Err`.
        pub fn join(self) -> Result<T> {
            match self.0 {
                Inner::Thread(h) => h.join(),
                Inner::Goroutine(h) => h.join(),
            }
        }
    }

    /// `std::thread::spawn`, or `gort::go` from a goroutine.
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if super::on_goroutine() {
            JoinHandle(Inner::Goroutine(gort::go(f)))
        } else {
            JoinHandle(Inner::Thread(std::thread::spawn(f)))
        }
    }

    /// Parks a goroutine, sleeps a thread.
    pub fn sleep(d: Duration) {
        gort::time::sleep(d)
    }

    /// Yields the goroutine or the thread.
    pub fn yield_now() {
        if super::on_goroutine() {
            gort::yield_now()
        } else {
            std::thread::yield_now()
        }
    }
}

/// The result slot and completion signal of a scoped spawn.
struct Slot<T> {
    result: Mutex<Option<thread::Result<T>>>,
    /// Closed (its sender dropped) when the spawned closure has finished.
    done: gort::chan::Receiver<()>,
}

/// `crossbeam_utils::thread::Scope`: spawns that may borrow from the enclosing stack frame;
/// `scope` waits for all of them before it returns.
pub struct Scope<'env> {
    /// For each spawn: waits for it and says whether it panicked with nobody joining it.
    pending: Mutex<Vec<Box<dyn FnOnce() -> bool + Send + 'env>>>,
}

/// `crossbeam_utils::thread::scope`: `Err` if `f` or a spawn that was not joined panicked.
pub fn scope<'env, F, R>(f: F) -> thread::Result<R>
where
    F: FnOnce(&Scope<'env>) -> R,
{
    let s = Scope {
        pending: Mutex::new(Vec::new()),
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&s)));
    let mut panicked = false;
    loop {
        let batch = std::mem::take(&mut *s.pending.lock().unwrap());
        if batch.is_empty() {
            break;
        }
        for wait in batch {
            panicked |= wait();
        }
    }
    match r {
        Err(p) => Err(p),
        Ok(_) if panicked => Err(Box::new("a scoped spawn panicked")),
        Ok(v) => Ok(v),
    }
}

/// A scoped spawn's handle.
pub struct ScopedJoinHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> ScopedJoinHandle<T> {
    /// Waits for the spawn; its panic comes back as `Err`.
    pub fn join(self) -> thread::Result<T> {
        let _ = self.slot.done.recv();
        self.slot
            .result
            .lock()
            .unwrap()
            .take()
            .expect("joined once")
    }
}

impl<'env> Scope<'env> {
    /// Spawns `f` (given the scope, for nested spawns) on a thread, or on a goroutine when
    /// called from one.
    pub fn spawn<F, T>(&self, f: F) -> ScopedJoinHandle<T>
    where
        F: FnOnce(&Scope<'env>) -> T + Send + 'env,
        T: Send + 'env,
    {
        let (done_tx, done) = gort::chan::bounded::<()>(0);
        let slot = Arc::new(Slot {
            result: Mutex::new(None),
            done,
        });
        let me = self as *const Scope<'env> as usize;
        let s2 = slot.clone();
        let job = move || {
            // SAFETY: `scope` does not return (so the `Scope` stays put) before every spawn
            // has signalled `done`, which is the last thing a spawn does with it.
            let scope = unsafe { &*(me as *const Scope<'env>) };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(scope)));
            *s2.result.lock().unwrap() = Some(r);
            drop(s2);
            drop(done_tx);
        };
        let job: Box<dyn FnOnce() + Send + 'env> = Box::new(job);
        // SAFETY: the job borrows from 'env, which outlives the `scope` call; `scope` waits
        // for the job's `done` signal before returning, and the job touches nothing
        // borrowed after sending it.
        let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
        if on_goroutine() {
            drop(gort::go(job));
        } else {
            drop(std::thread::spawn(job));
        }
        let waited = slot.clone();
        self.pending.lock().unwrap().push(Box::new(move || {
            let _ = waited.done.recv();
            matches!(*waited.result.lock().unwrap(), Some(Err(_)))
        }));
        ScopedJoinHandle { slot }
    }
}

/// The two functions of `rand` the suite uses (random step counts), on a xorshift.
pub mod rand {
    use std::cell::Cell;
    use std::ops::Range;

    /// A per-thread generator.
    pub struct ThreadRng;

    /// `rand::thread_rng`.
    pub fn thread_rng() -> ThreadRng {
        ThreadRng
    }

    /// `rand::Rng::gen_range` for `usize` ranges.
    pub trait Rng {
        /// A number in `r`.
        fn gen_range(&mut self, r: Range<usize>) -> usize;
    }

    impl Rng for ThreadRng {
        fn gen_range(&mut self, r: Range<usize>) -> usize {
            thread_local!(static S: Cell<u64> = const { Cell::new(0x2545_F491_4F6C_DD1D) });
            let x = S.with(|s| {
                let mut x = s.get();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.set(x);
                x
            });
            r.start + (x as usize) % (r.end - r.start)
        }
    }
}
