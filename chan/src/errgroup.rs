//! [`Group`]: golang.org/x/sync/errgroup. Goroutines working on subtasks of one task, whose
//! first error is what [`Group::wait`] returns and (with [`Group::with_context`]) cancels
//! the others' context.
//!
//! Built on a `WaitGroup` (the running count), a `Semaphore` for [`Group::set_limit`], and a
//! `CancelFunc`. A goroutine's panic is kept too and resumed by `wait`, so it is not lost
//! the way a detached goroutine's would be.

use crate::context::{CancelFunc, Context};
use crate::weighted::Semaphore;
use gort_runtime::sync::WaitGroup;
use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A group of goroutines whose first error wins (Go's `errgroup.Group`). Cheap to clone;
/// clones are the same group, so goroutines of the group can start more.
///
/// ```
/// use gort_chan::sync::Group;
///
/// let g: Group<String> = Group::new();
/// for i in 0..10 {
///     g.go(move || if i == 7 { Err(format!("task {i} failed")) } else { Ok(()) });
/// }
/// assert_eq!(g.wait(), Err("task 7 failed".to_string()));
/// ```
pub struct Group<E = Box<dyn std::error::Error + Send + Sync>> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    running: WaitGroup,
    /// The first error, until a `wait` takes it.
    err: Mutex<Option<E>>,
    /// The first panic, until a `wait` resumes it.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Cancels the context of `with_context`.
    cancel: Option<CancelFunc>,
    /// Slots of `set_limit`.
    limit: Mutex<Option<Arc<Semaphore>>>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            inner: self.inner.clone(),
        }
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Group::new()
    }
}

impl<E: Send + 'static> Group<E> {
    /// An empty group with no limit and no context (Go's zero `errgroup.Group`).
    pub fn new() -> Group<E> {
        Group::with_cancel(None)
    }

    fn with_cancel(cancel: Option<CancelFunc>) -> Group<E> {
        Group {
            inner: Arc::new(Inner {
                running: WaitGroup::new(),
                err: Mutex::new(None),
                panic: Mutex::new(None),
                cancel,
                limit: Mutex::new(None),
            }),
        }
    }

    /// A group and a context derived from `ctx` that is cancelled when a goroutine of the
    /// group first returns an error (or panics), or when [`wait`](Self::wait) returns,
    /// whichever comes first (Go's `errgroup.WithContext`).
    pub fn with_context(ctx: &Context) -> (Group<E>, Context) {
        let (ctx, cancel) = ctx.with_cancel();
        (Group::with_cancel(Some(cancel)), ctx)
    }

    /// Limits the group to `n` goroutines running at once: [`go`](Self::go) then waits for
    /// a slot, [`try_go`](Self::try_go) fails without one. `usize::MAX` removes the limit;
    /// `0` lets no goroutine start.
    ///
    /// # Panics
    /// If goroutines of the group are running (Go: "errgroup: modify limit while N
    /// goroutines in the group are still active").
    pub fn set_limit(&self, n: usize) {
        let mut limit = self.inner.limit.lock();
        if let Some(sem) = &*limit {
            let active = sem.size() - sem.available();
            if active != 0 {
                panic!(
                    "errgroup: modify limit while {active} goroutines in the group are still active"
                );
            }
        }
        *limit = (n != usize::MAX).then(|| Arc::new(Semaphore::new(n)));
    }

    /// Starts `f` on a new goroutine of the group, first waiting for a slot if a limit is
    /// set (the caller parks, or blocks on a plain thread). The first error any goroutine
    /// returns is what [`wait`](Self::wait) returns, and cancels the group's context.
    ///
    /// # Panics
    /// If the limit is `0`: it would wait forever.
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.inner.limit.lock().clone();
        let permit = sem.map(|sem| {
            if sem.size() == 0 {
                panic!("errgroup: go with a limit of 0 would wait forever");
            }
            sem.acquire_permit_owned(1)
        });
        self.start(f, permit);
    }

    /// Like [`go`](Self::go), but starts `f` only if a slot is free now; returns whether it
    /// did (Go's `TryGo`).
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.inner.limit.lock().clone();
        let permit = match sem {
            None => None,
            Some(sem) => match sem.try_acquire_permit_owned(1) {
                Some(p) => Some(p),
                None => return false,
            },
        };
        self.start(f, permit);
        true
    }

    fn start<F>(&self, f: F, permit: Option<crate::weighted::OwnedPermit>)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let inner = self.inner.clone();
        inner.running.add(1);
        drop(gort_runtime::go(move || {
            match catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let mut err = inner.err.lock();
                    if err.is_none() {
                        *err = Some(e);
                        drop(err);
                        inner.cancel();
                    }
                }
                Err(p) => {
                    let mut panic = inner.panic.lock();
                    if panic.is_none() {
                        *panic = Some(p);
                    }
                    drop(panic);
                    inner.cancel();
                }
            }
            drop(permit); // the slot is free before `wait` can return
            inner.running.done();
        }));
    }

    /// Waits until every goroutine of the group has ended, cancels the group's context, and
    /// returns the first error (taking it: a later `wait` returns `Ok` unless another error
    /// came). If a goroutine panicked, resumes the first panic instead.
    pub fn wait(&self) -> Result<(), E> {
        self.inner.running.wait();
        self.inner.cancel();
        if let Some(p) = self.inner.panic.lock().take() {
            resume_unwind(p);
        }
        match self.inner.err.lock().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<E> Inner<E> {
    fn cancel(&self) {
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("running", &self.inner.running.count())
            .field("failed", &self.inner.err.lock().is_some())
            .finish_non_exhaustive()
    }
}
