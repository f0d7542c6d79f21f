//! Scoped goroutines: [`scope`], after `std::thread::scope`. Goroutines started with
//! [`Scope::go`] may borrow from the caller's stack, because `scope` does not return (nor
//! unwind) until every one of them has ended.
//!
//! Each scoped goroutine is an ordinary goroutine started without the `'static` bound
//! (`sched::spawn::spawn_unchecked`); what makes that sound is the scope's count of its
//! goroutines ([`running`]): the goroutine's `leave` is its very last code, after its
//! closure ran and was dropped and its result was stored in its join packet (or dropped, if
//! the handle was gone), and `scope` waits for the count to reach zero before returning,
//! whether its own closure returned or panicked. A result still in a packet then is dropped
//! by its handle, which cannot leave the scope. The goroutine catches its own panic and
//! stores it as an [`Outcome`]; one that nobody joined is handed to the scope when the
//! outcome is dropped, and `scope` resumes the first such panic once everything has ended.
//!
//! A scoped goroutine costs what `go` costs plus one shared write at each end (the count):
//! the runtime's own join packet carries the result (no allocation of its own, no boxed
//! closure), and the scope's data lives in `scope`'s frame, not behind an `Arc` (see
//! [`running`] for why no goroutine needs to keep it alive).
//!
//! Uses: `join`, `sched`; within `scope`: `scope::running` (which uses `park`, `shim`).

pub mod running;

use crate::join::JoinHandle;
use parking_lot::Mutex;
use running::Running;
use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;

/// What the goroutines of one scope share with it; lives in `scope`'s frame.
struct ScopeData {
    /// Scoped goroutines still running, and `scope`'s wait for them.
    running: Running,
    /// Orders panics: the first one is resumed by `scope`.
    panic_seq: AtomicU64,
    /// Panics nobody joined, with their sequence numbers.
    unhandled: Mutex<Vec<(u64, Box<dyn Any + Send>)>>,
}

/// A scope to start goroutines that borrow from the caller; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: ScopeData,
    /// Invariance over 'scope, as in std, so a scope cannot be shrunk or widened.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// How a scoped goroutine ended, as its join packet holds it: its value, or its panic
/// with the panic's sequence number in the scope.
struct Outcome<'scope, T> {
    result: Option<thread::Result<T>>,
    seq: u64,
    data: &'scope ScopeData,
}

impl<T> Drop for Outcome<'_, T> {
    fn drop(&mut self) {
        // Nobody joined it: a panic becomes the scope's. This runs in the goroutine before
        // its `leave`, or where its handle is dropped, inside the scope: `data` is alive.
        if let Some(Err(p)) = self.result.take() {
            self.data.unhandled.lock().push((self.seq, p));
        }
    }
}

/// The scope's count, as a goroutine's exit holds it: a raw pointer, so that no reference
/// to the scope's data is alive after the goroutine's decrement (the scope may be gone).
struct LeavePtr(*const Running);

// SAFETY: `Running` is `Sync`; the pointer is only passed to `Running::leave`.
unsafe impl Send for LeavePtr {}

/// Runs `f` with a [`Scope`] on which goroutines that borrow local variables can be
/// started; returns once `f` and all those goroutines have ended (Go's closures that use
/// `wg` and locals, without `Arc`). Works on a goroutine (which parks while it waits) and
/// on a plain thread (which blocks).
///
/// If `f` panicked, its panic is resumed after every goroutine of the scope ended;
/// otherwise, if a goroutine panicked and was not joined, the first such panic is resumed.
/// While it waits, the goroutine dump shows it in `sync.WaitGroup.Wait` at the caller's
/// line.
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
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: ScopeData {
            running: Running::new(),
            panic_seq: AtomicU64::new(0),
            unhandled: Mutex::new(Vec::new()),
        },
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
        let data: &'scope ScopeData = &self.data;
        let main = move || {
            let result = catch_unwind(AssertUnwindSafe(f));
            let seq = match result {
                Ok(_) => 0,
                Err(_) => 1 + data.panic_seq.fetch_add(1, Relaxed),
            };
            Outcome {
                result: Some(result),
                seq,
                data,
            }
        };
        let running = LeavePtr(&data.running);
        let exit = move || {
            let running = running;
            // SAFETY: the scope's data lives until `scope` returns, which waits for this
            // count; `leave` does not touch it after giving the count up (unless last).
            unsafe { Running::leave(running.0) };
        };
        data.running.add();
        // SAFETY: what `main`, its `Outcome` and `exit` borrow lives for 'scope, and `scope`
        // does not return before every goroutine's `exit` has run (`running.wait()`); the
        // handle cannot leave 'scope, so an outcome it still holds is dropped in it (or
        // leaked, never dropped).
        let spawned = unsafe {
            crate::sched::spawn::spawn_unchecked(
                main,
                exit,
                None,
                None,
                std::panic::Location::caller(),
            )
        };
        match spawned {
            Ok(handle) => ScopedJoinHandle {
                handle,
                _scope: PhantomData,
            },
            Err(e) => {
                // Nothing was started (`exit` was dropped unrun): give its count back. The
                // scope still holds its own, so this is not the last.
                // SAFETY: the data is ours to borrow for 'scope; we hold the count.
                unsafe { Running::leave(&data.running) };
                panic!("{e}");
            }
        }
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.goroutines())
            .finish_non_exhaustive()
    }
}

/// An owned permission to join a scoped goroutine; see [`Scope::go`].
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<Outcome<'scope, T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine to end and returns its value, or `Err` with its panic
    /// payload (which the scope then does not resume).
    pub fn join(self) -> thread::Result<T> {
        match self.handle.join() {
            // Taken out, a panic is the caller's: the outcome's drop no longer sees it.
            Ok(mut outcome) => match outcome.result.take() {
                Some(r) => r,
                None => unreachable!("gort: a scoped goroutine ended without a result"),
            },
            // The goroutine catches its own panic; this is one in the outcome's making.
            Err(p) => Err(p),
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
