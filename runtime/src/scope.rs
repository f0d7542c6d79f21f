//! Scoped goroutines: [`scope`], after `std::thread::scope`. Goroutines started with
//! [`Scope::go`] may borrow from the caller's stack, because `scope` does not return (nor
//! unwind) until every one of them has ended.
//!
//! Each scoped goroutine is an ordinary goroutine whose closure's lifetime is erased; what
//! makes that sound is the wait group of the scope: the goroutine's last touch of anything
//! borrowed (running and dropping its closure, storing its result) happens before its
//! `done`, and `scope` waits for the count to reach zero before returning, whether its own
//! closure returned or panicked. A result lives in a shared packet, taken by
//! [`ScopedJoinHandle::join`]; a panic nobody joined is handed to the scope when the packet
//! is dropped, and `scope` resumes the first such panic once everything has ended.
//!
//! Uses: `join`, `sched`, `sync`.

use crate::join::JoinHandle;
use crate::sync::WaitGroup;
use parking_lot::Mutex;
use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

/// What the goroutines of one scope share with it.
struct ScopeData {
    /// Scoped goroutines still running.
    running: WaitGroup,
    /// Orders panics: the first one is resumed by `scope`.
    panic_seq: AtomicU64,
    /// Panics nobody joined, with their sequence numbers.
    unhandled: Mutex<Vec<(u64, Box<dyn Any + Send>)>>,
}

/// A scope to start goroutines that borrow from the caller; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance over 'scope, as in std, so a scope cannot be shrunk or widened.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The result slot of one scoped goroutine.
struct Packet<T> {
    /// The panic's sequence number and the result.
    result: Mutex<Option<(u64, thread::Result<T>)>>,
    data: Arc<ScopeData>,
}

impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        // Nobody joined it: a panic becomes the scope's.
        if let Some((seq, Err(p))) = self.result.get_mut().take() {
            self.data.unhandled.lock().push((seq, p));
        }
    }
}

/// Runs `f` with a [`Scope`] on which goroutines that borrow local variables can be
/// started; returns once `f` and all those goroutines have ended (Go's closures that use
/// `wg` and locals, without `Arc`). Works on a goroutine (which parks while it waits) and
/// on a plain thread (which blocks).
///
/// If `f` panicked, its panic is resumed after every goroutine of the scope ended;
/// otherwise, if a goroutine panicked and was not joined, the first such panic is resumed.
///
/// ```
/// let mut counts = vec![0u32; 4];
/// let words = ["go", "rust", "gort", "chan"];
/// gort_runtime::scope(|s| {
///     for (c, w) in counts.iter_mut().zip(&words) {
///         s.go(move || *c = w.len() as u32);
///     }
/// });
/// assert_eq!(counts, [2, 4, 4, 4]);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: WaitGroup::new(),
            panic_seq: AtomicU64::new(0),
            unhandled: Mutex::new(Vec::new()),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.running.wait();
    match result {
        Err(p) => resume_unwind(p),
        Ok(v) => {
            let first = {
                let mut unhandled = scope.data.unhandled.lock();
                let at = (0..unhandled.len()).min_by_key(|&i| unhandled[i].0);
                at.map(|i| unhandled.swap_remove(i).1)
            };
            if let Some(p) = first {
                resume_unwind(p);
            }
            v
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Starts a goroutine running `f`, which may borrow anything that outlives the scope
    /// (Go's `go f()` inside a function that waits for it). The scope waits for it; join
    /// the returned handle to take its result or panic earlier.
    ///
    /// # Panics
    /// If the goroutine cannot be created (see [`crate::go`]).
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
            data: self.data.clone(),
        });
        let theirs = packet.clone();
        let data = self.data.clone();
        data.running.add(1);
        let main = move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            let seq = match r {
                Ok(_) => 0,
                Err(_) => 1 + theirs.data.panic_seq.fetch_add(1, Relaxed),
            };
            *theirs.result.lock() = Some((seq, r));
            drop(theirs);
            // Last: nothing borrowed is touched after this (`data` is owned).
            data.running.done();
        };
        let main: Box<dyn FnOnce() + Send + 'scope> = Box::new(main);
        // SAFETY: `scope` waits (`running.wait()`) until this goroutine has called `done`,
        // after which it no longer touches `f`, its result or anything they borrow; so
        // nothing that lives for 'scope is used after 'scope ends.
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(main) };
        let handle =
            match crate::sched::spawn::spawn(main, None, None, std::panic::Location::caller()) {
                Ok(h) => h,
                Err(e) => {
                    self.data.running.done();
                    panic!("{e}");
                }
            };
        ScopedJoinHandle {
            handle,
            packet,
            _scope: PhantomData,
        }
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.count())
            .finish_non_exhaustive()
    }
}

/// An owned permission to join a scoped goroutine; see [`Scope::go`].
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    packet: Arc<Packet<T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine to end and returns its value, or `Err` with its panic
    /// payload (which the scope then does not resume).
    pub fn join(self) -> thread::Result<T> {
        let _ = self.handle.join();
        let r = self.packet.result.lock().take();
        match r {
            Some((_, r)) => r,
            None => unreachable!("gort: a scoped goroutine ended without a result"),
        }
    }

    /// Whether the goroutine has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.handle.id()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
