//! Plugging in a user implementation: [`CustomContext`], and how a context derived from
//! one learns that it was cancelled.
//!
//! Like Go's `propagateCancel`, in this order:
//! 1. `done()` is `None` or the never-closed channel: the parent is never cancelled, nothing
//!    to do;
//! 2. `done()` is already closed: the child is born cancelled;
//! 3. the parent is, or wraps, one of our contexts (its value for the private cancel-node key
//!    is a node whose `done()` is the very channel the parent returned): register with that
//!    node directly;
//! 4. the parent offers an `after_func` hook: register the child's cancellation there;
//! 5. otherwise one goroutine waits on the parent's `done()` (or the child's, whichever
//!    first), the only case that needs one, as in Go.

use super::error::{Cause, Error};
use super::tree::{self, CancelCtxKey, Core};
use crate::channel::Receiver;
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// A function to run once a custom context is done (given to
/// [`CustomContext::after_func`]).
pub type AfterFn = Box<dyn FnOnce() + Send + 'static>;

/// Undoes an [`CustomContext::after_func`] registration; returns `true` if that stopped
/// the function from running.
pub type StopFn = Box<dyn FnOnce() -> bool + Send + 'static>;

/// A user implementation of a context (Go's `Context` interface), made a
/// [`Context`](super::Context) with [`Context::from_custom`](super::Context::from_custom).
///
/// Contexts derived from it (`with_cancel`, `after_func`, ...) learn of its cancellation
/// without a goroutine if it wraps one of gort's contexts and forwards [`value`] to it (the
/// wrapped context's cancellation node is then hooked directly), or if it implements
/// [`after_func`]; otherwise one goroutine per derived context waits on its [`done`].
///
/// [`value`]: CustomContext::value
/// [`after_func`]: CustomContext::after_func
/// [`done`]: CustomContext::done
pub trait CustomContext: Send + Sync + 'static {
    /// When the context will be cancelled by its deadline, if it has one. It must return
    /// the same answer every time.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// A channel closed when the context is done; `None` if it can never be cancelled.
    /// Successive calls must return the same channel.
    fn done(&self) -> Option<Receiver<()>>;

    /// `None` while not done; why it is done afterwards. Once this is `Some`, `done()`
    /// must be closed.
    fn err(&self) -> Option<Error>;

    /// The value for `key` (a [`Key`](super::Key), as `&dyn Any`), walking up to the
    /// parent if this context does not hold it. A wrapper of a gort context forwards with
    /// [`Context::value_any`](super::Context::value_any), which also lets gort hook the
    /// wrapped context directly.
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        let _ = key;
        None
    }

    /// Why the context was cancelled. The default is Go's `context.Cause`: the cause of the
    /// nearest gort cancellation node found through [`value`](CustomContext::value) if that
    /// node was cancelled, else [`err`](CustomContext::err).
    fn cause(&self) -> Option<Cause> {
        let err = self.err()?;
        let node = self
            .value(&CancelCtxKey)
            .and_then(|v| v.downcast_ref::<Arc<Core>>())
            .and_then(|c| c.cause());
        Some(node.unwrap_or_else(|| err.as_cause()))
    }

    /// Go's `AfterFunc` hook: arrange for `f` to run (once, on its own goroutine or
    /// thread, never inside the canceller) when the context is done, and return a function
    /// that cancels the arrangement. The default offers no hook: it returns `f` back, and
    /// derived contexts then use a goroutine each.
    fn after_func(&self, f: AfterFn) -> Result<StopFn, AfterFn> {
        Err(f)
    }
}

/// Goroutines started to watch a custom parent that offers no hook (Go's
/// `context.goroutines` test counter).
static WATCHERS: AtomicUsize = AtomicUsize::new(0);

/// How many watcher goroutines derived contexts have started so far (for tests).
#[doc(hidden)]
pub fn __watcher_goroutines() -> usize {
    WATCHERS.load(Relaxed)
}

/// The error of a custom context that reported done (a broken implementation may not say
/// why: then `Canceled`).
fn err_of(c: &dyn CustomContext) -> Error {
    c.err().unwrap_or(Error::Canceled)
}

/// Connects `child` to the cancellation of the custom context `c` (see the module docs).
pub(crate) fn propagate(c: &Arc<dyn CustomContext>, child: &Arc<Core>) {
    let Some(done) = c.done() else {
        return;
    };
    if done.same_channel(tree::never_rx()) {
        return;
    }
    if done.is_closed() {
        child.cancel(false, err_of(&**c), c.cause());
        return;
    }
    if let Some(p) = tree::core_behind(&**c, &done) {
        p.adopt(child);
        return;
    }
    let (parent, ch) = (c.clone(), child.clone());
    let hook: AfterFn = Box::new(move || ch.cancel(false, err_of(&*parent), parent.cause()));
    match c.after_func(hook) {
        Ok(stop) => child.set_stop(stop),
        Err(hook) => {
            drop(hook);
            WATCHERS.fetch_add(1, Relaxed);
            let (parent, ch) = (c.clone(), child.clone());
            let mine = child.done();
            drop(gort_runtime::go(move || watch(parent, done, ch, mine)));
        }
    }
}

/// The watcher goroutine: whichever of parent and child is done first.
fn watch(
    parent: Arc<dyn CustomContext>,
    pdone: Receiver<()>,
    child: Arc<Core>,
    cdone: Receiver<()>,
) {
    crate::select! {
        recv(pdone) -> _ => child.cancel(false, err_of(&*parent), parent.cause()),
        recv(cdone) -> _ => {},
    }
}
