//! Go's `context` package: cancellation, deadlines and request-scoped values, propagated
//! down a tree of contexts.
//!
//! ```
//! use gort_chan::{context, select};
//! use std::time::Duration;
//!
//! let (ctx, cancel) = context::background().with_cancel();
//! let (child, _stop) = ctx.with_timeout(Duration::from_secs(3600));
//! cancel.cancel(); // cancels `child` too, synchronously
//! select! {
//!     recv(child.done()) -> _ => assert_eq!(child.err(), Some(context::Error::Canceled)),
//!     default => unreachable!(),
//! }
//! ```
//!
//! - A [`Context`] is a cheap handle (clone it freely; it is `Send + Sync`). Derive children
//!   with [`Context::with_cancel`], [`with_cancel_cause`](Context::with_cancel_cause),
//!   [`with_timeout`](Context::with_timeout), [`with_deadline`](Context::with_deadline)
//!   (and their `_cause` forms), [`with_value`](Context::with_value),
//!   [`without_cancel`](Context::without_cancel); or hang a function on one with
//!   [`after_func`]. The free functions of this module are the same operations, Go-style.
//! - [`Context::done`] is a [`Receiver<()>`](crate::Receiver) that is closed on
//!   cancellation: use it in `select!` next to any other channel. [`Context::err`] says
//!   why; once it does, `done()` is already closed.
//! - Cancelling a context cancels all its descendants (O(descendants), from any goroutine
//!   or thread); a cancelled child leaves its parent, and a deadline's timer is stopped.
//!   As in Go, call the cancel function when the work is done: an uncancelled child stays
//!   registered with its parent until the parent is cancelled.
//! - [`CustomContext`] plugs in your own implementation.
//! - [`sleep_ctx`] and [`Receiver::recv_ctx`](crate::Receiver::recv_ctx) wait for
//!   something *or* the context; for anything else, `select!` on
//!   [`done()`](Context::done) next to your channels.
//!
//! The cancellation tree is described in `tree.rs`; how a child of a custom context is
//! hooked up in `custom.rs`.

mod afterfunc;
mod custom;
mod error;
mod signal;
mod tree;
mod value;
mod wait;

pub use afterfunc::{after_func, AfterFuncStop};
#[doc(hidden)]
pub use custom::__watcher_goroutines;
pub use custom::{AfterFn, CustomContext, StopFn};
pub use error::{is_error, Cause, Error};
pub use signal::notify_context;
pub use value::Key;
pub use wait::{sleep_ctx, RecvCtxError};

use crate::channel::{deadline_after, Receiver};
use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tree::{CancelCtxKey, Core, Scope};
use value::{ValueEntry, ValueNode};

/// A context: a cancellation signal, maybe a deadline, and values, inherited from its
/// ancestors. Cloning is cheap (at most two reference-count increments) and clones are the
/// same context.
#[derive(Clone)]
pub struct Context {
    /// What cancels it (and knows its deadline).
    scope: Scope,
    /// Where its values are.
    chain: Chain,
}

/// The value chain of a context.
#[derive(Clone)]
enum Chain {
    Background,
    Todo,
    Value(Arc<dyn ValueEntry>),
    Custom(Arc<dyn CustomContext>),
}

/// The root context: never cancelled, no deadline, no values (Go's `context.Background`).
/// Free to call: no allocation.
pub fn background() -> Context {
    Context {
        scope: Scope::Never,
        chain: Chain::Background,
    }
}

/// Like [`background`], for code that has not decided which context to use yet (Go's
/// `context.TODO`).
pub fn todo() -> Context {
    Context {
        scope: Scope::Never,
        chain: Chain::Todo,
    }
}

/// Cancels a context made by `with_cancel`, `with_timeout` or `with_deadline` (Go's
/// `CancelFunc`). Cloneable and `Send + Sync`; calling it again is a no-op. Dropping it
/// does not cancel.
#[derive(Clone)]
pub struct CancelFunc {
    core: Arc<Core>,
    /// Run by `cancel` too (`notify_context`'s stop: it ends the signal relay).
    also: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl CancelFunc {
    /// Cancels the context and its descendants with [`Error::Canceled`] (unless already
    /// done), stops its timer and removes it from its parent. When this returns, the
    /// context's `done()` is closed and `err()` is set, and so are its descendants' (unless
    /// another cancellation of the same context is still in progress on another thread,
    /// which then finishes the descendants).
    pub fn cancel(&self) {
        self.core.cancel(true, Error::Canceled, None);
        if let Some(also) = &self.also {
            also();
        }
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc")
            .field("err", &self.core.err())
            .finish()
    }
}

/// Cancels a context made by `with_cancel_cause`, recording why (Go's `CancelCauseFunc`).
#[derive(Clone)]
pub struct CancelCauseFunc {
    core: Arc<Core>,
}

impl CancelCauseFunc {
    /// Like [`CancelFunc::cancel`]; [`Context::cause`] then returns `cause` (or
    /// [`Error::Canceled`] for `None`). Only the first cancellation's cause counts.
    pub fn cancel(&self, cause: Option<Cause>) {
        self.core.cancel(true, Error::Canceled, cause);
    }
}

impl fmt::Debug for CancelCauseFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFunc")
            .field("err", &self.core.err())
            .finish()
    }
}

impl Context {
    /// Makes a user implementation a context. Contexts derived from it are cancelled with
    /// it (see [`CustomContext`] for when that costs a goroutine).
    pub fn from_custom<C: CustomContext>(c: Arc<C>) -> Context {
        let c: Arc<dyn CustomContext> = c;
        Context {
            scope: Scope::Custom(c.clone()),
            chain: Chain::Custom(c),
        }
    }

    /// A channel that is closed when this context is cancelled or its deadline passes;
    /// use it in `select!`. It is closed, never sent on: once the context is done, a
    /// receive from it returns `Err(RecvError)` at once, and that `Err` is the signal (Go's
    /// `<-ctx.Done()`): `recv(ctx.done()) -> _ => ...` in a `select!`, `let _ =
    /// ctx.done().recv();` or [`Context::wait`] to block on it alone, never
    /// `ctx.done().recv().unwrap()`. For a context that can never be cancelled (`background()`)
    /// it is one shared channel that never fires (cloned: no allocation). Successive calls
    /// return the same channel (or an equally closed one once cancelled).
    pub fn done(&self) -> Receiver<()> {
        match &self.scope {
            Scope::Never => tree::never_rx().clone(),
            Scope::Node(c) => c.done(),
            Scope::Custom(c) => c.done().unwrap_or_else(|| tree::never_rx().clone()),
        }
    }

    /// `None` while the context is live; [`Error::Canceled`] or
    /// [`Error::DeadlineExceeded`] once done. Once this is `Some`, [`done`](Context::done)
    /// is closed.
    pub fn err(&self) -> Option<Error> {
        match &self.scope {
            Scope::Never => None,
            Scope::Node(c) => c.err(),
            Scope::Custom(c) => c.err(),
        }
    }

    /// Why the context was cancelled (Go's `context.Cause`): the cause given to the first
    /// cancellation of it or an ancestor (a [`CancelCauseFunc`] or a `_cause` deadline),
    /// else its [`err`](Context::err) as a [`Cause`]. `None` while live.
    pub fn cause(&self) -> Option<Cause> {
        match &self.scope {
            Scope::Never => None,
            Scope::Node(c) => c.cause(),
            Scope::Custom(c) => c.cause(),
        }
    }

    /// When the context will be cancelled by a deadline (its own or an ancestor's), if any.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.scope {
            Scope::Never => None,
            Scope::Node(c) => c.deadline(),
            Scope::Custom(c) => c.deadline(),
        }
    }

    /// The value stored under `key` by the nearest `with_value` on the way to the root, if
    /// any (Go's `ctx.Value(key)`, typed).
    pub fn value<K: Key>(&self, key: &K) -> Option<&K::Value> {
        self.lookup(key, TypeId::of::<K>())?.downcast_ref()
    }

    /// Untyped lookup, for [`CustomContext::value`] implementations that wrap a context
    /// and forward to it.
    pub fn value_any(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        self.lookup(key, key.type_id())
    }

    fn lookup(&self, key: &dyn Any, ty: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        if ty == TypeId::of::<CancelCtxKey>() {
            return match &self.scope {
                Scope::Never => None,
                Scope::Node(c) => Some(c),
                Scope::Custom(c) => c.value(key),
            };
        }
        let mut chain = &self.chain;
        loop {
            match chain {
                Chain::Background | Chain::Todo => return None,
                Chain::Custom(c) => return c.value(key),
                Chain::Value(v) => match v.find(key, ty) {
                    Ok(val) => return Some(val),
                    Err(parent) => chain = &parent.chain,
                },
            }
        }
    }

    /// A child that is cancelled by the returned [`CancelFunc`] or with this context
    /// (Go's `WithCancel`). One allocation; none more for registering with the parent in
    /// steady state.
    pub fn with_cancel(&self) -> (Context, CancelFunc) {
        let core = self.derive(self.deadline(), None);
        (self.child(core.clone()), CancelFunc { core, also: None })
    }

    /// Like [`with_cancel`](Context::with_cancel), with a cancel function that records a
    /// cause (Go's `WithCancelCause`).
    pub fn with_cancel_cause(&self) -> (Context, CancelCauseFunc) {
        let core = self.derive(self.deadline(), None);
        (self.child(core.clone()), CancelCauseFunc { core })
    }

    /// A child that is also cancelled, with [`Error::DeadlineExceeded`], at `deadline`
    /// (Go's `WithDeadline`). A deadline that has passed cancels it at once; if this
    /// context's deadline is earlier, that one stands and no timer is set.
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFunc) {
        self.with_deadline_opt(Some(deadline), None)
    }

    /// Like [`with_deadline`](Context::with_deadline); when the deadline cancels the
    /// context, its cause is `cause` (Go's `WithDeadlineCause`).
    pub fn with_deadline_cause(&self, deadline: Instant, cause: Cause) -> (Context, CancelFunc) {
        self.with_deadline_opt(Some(deadline), Some(cause))
    }

    /// `with_deadline(now + timeout)` (Go's `WithTimeout`). A zero timeout is already
    /// expired; one too large to represent never expires.
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelFunc) {
        self.with_deadline_opt(deadline_after(timeout), None)
    }

    /// `with_deadline_cause(now + timeout, cause)` (Go's `WithTimeoutCause`).
    pub fn with_timeout_cause(&self, timeout: Duration, cause: Cause) -> (Context, CancelFunc) {
        self.with_deadline_opt(deadline_after(timeout), Some(cause))
    }

    fn with_deadline_opt(
        &self,
        at: Option<Instant>,
        cause: Option<Cause>,
    ) -> (Context, CancelFunc) {
        let Some(at) = at else {
            return self.with_cancel(); // beyond `Instant`'s range: never
        };
        if self.deadline().is_some_and(|p| p < at) {
            return self.with_cancel(); // the parent's deadline comes first
        }
        let core = self.derive(Some(at), None);
        if Instant::now() >= at {
            core.cancel(true, Error::DeadlineExceeded, cause);
        } else {
            core.arm(at, cause);
        }
        (self.child(core.clone()), CancelFunc { core, also: None })
    }

    /// A child that carries `value` under `key`, and is otherwise this context (Go's
    /// `WithValue`). Lookups walk towards the root, so keep chains short for hot keys.
    pub fn with_value<K: Key>(&self, key: K, value: K::Value) -> Context {
        Context {
            scope: self.scope.clone(),
            chain: Chain::Value(Arc::new(ValueNode {
                parent: self.clone(),
                key,
                val: value,
            })),
        }
    }

    /// A child that keeps this context's values but is never cancelled and has no deadline
    /// (Go's `WithoutCancel`).
    pub fn without_cancel(&self) -> Context {
        Context {
            scope: Scope::Never,
            chain: self.chain.clone(),
        }
    }

    /// Arranges for `f` to run on its own goroutine once this context is done (at once if
    /// it already is). See [`after_func`].
    pub fn after_func(&self, f: impl FnOnce() + Send + 'static) -> AfterFuncStop {
        after_func(self, f)
    }

    /// Whether this context can never be cancelled (`done()` never fires).
    pub(crate) fn never_done(&self) -> bool {
        match &self.scope {
            Scope::Never => true,
            Scope::Node(_) => false,
            Scope::Custom(c) => c.done().is_none_or(|d| d.same_channel(tree::never_rx())),
        }
    }

    /// A new cancellation node below this context, connected to its cancellation.
    fn derive(&self, deadline: Option<Instant>, after: Option<AfterFn>) -> Arc<Core> {
        let core = Core::new(deadline, after);
        tree::propagate(&self.scope, &core);
        core
    }

    /// The context of a new node below this one.
    fn child(&self, core: Arc<Core>) -> Context {
        Context {
            scope: Scope::Node(core),
            chain: self.chain.clone(),
        }
    }

    /// Children registered with this context's cancellation node (for tests of the
    /// bookkeeping); 0 for contexts without one.
    #[doc(hidden)]
    pub fn __children(&self) -> usize {
        match &self.scope {
            Scope::Node(c) => c.children(),
            _ => 0,
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = match (&self.scope, &self.chain) {
            (Scope::Never, Chain::Background) => return f.write_str("context.Background"),
            (Scope::Never, Chain::Todo) => return f.write_str("context.TODO"),
            (Scope::Custom(_), _) => "custom",
            (Scope::Node(_), _) => "cancelable",
            (Scope::Never, _) => "uncancelable",
        };
        f.debug_struct("Context")
            .field("kind", &root)
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// `parent.with_cancel()`.
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    parent.with_cancel()
}

/// `parent.with_cancel_cause()`.
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseFunc) {
    parent.with_cancel_cause()
}

/// `parent.with_deadline(deadline)`.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    parent.with_deadline(deadline)
}

/// `parent.with_deadline_cause(deadline, cause)`.
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: Cause,
) -> (Context, CancelFunc) {
    parent.with_deadline_cause(deadline, cause)
}

/// `parent.with_timeout(timeout)`.
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    parent.with_timeout(timeout)
}

/// `parent.with_timeout_cause(timeout, cause)`.
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: Cause,
) -> (Context, CancelFunc) {
    parent.with_timeout_cause(timeout, cause)
}

/// `parent.with_value(key, value)`.
pub fn with_value<K: Key>(parent: &Context, key: K, value: K::Value) -> Context {
    parent.with_value(key, value)
}

/// `parent.without_cancel()`.
pub fn without_cancel(parent: &Context) -> Context {
    parent.without_cancel()
}

/// `ctx.cause()` (Go's `context.Cause(ctx)`).
pub fn cause(ctx: &Context) -> Option<Cause> {
    ctx.cause()
}
