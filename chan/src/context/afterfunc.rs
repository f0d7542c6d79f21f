//! `after_func`: run a function once a context is done (Go's `context.AfterFunc`).
//!
//! A registration is a cancellation node of its own, below the context, holding the
//! function: when the context is cancelled the node is too and its function starts on a
//! new goroutine; [`AfterFuncStop::stop`] takes the function out and removes the node.
//! Whichever of the two takes the function first wins.

use super::error::Error;
use super::tree::Core;
use super::Context;
use std::fmt;
use std::sync::Arc;

/// Arranges for `f` to run on its own goroutine once `ctx` is done (cancelled or past its
/// deadline); if `ctx` already is, `f` starts at once. A context that is never cancelled
/// never runs it. Cancelling never waits for `f`. Several registrations on one context run
/// independently.
pub fn after_func(ctx: &Context, f: impl FnOnce() + Send + 'static) -> AfterFuncStop {
    AfterFuncStop {
        core: ctx.derive(None, Some(Box::new(f))),
    }
}

/// Undoes an [`after_func`] registration (Go's `stop` function). Cloneable.
#[derive(Clone)]
pub struct AfterFuncStop {
    core: Arc<Core>,
}

impl AfterFuncStop {
    /// Stops the function from running. Returns `true` if this call stopped it, `false` if
    /// it had already been started or stopped. Does not wait for a started function.
    pub fn stop(&self) -> bool {
        match self.core.take_after() {
            Some(f) => {
                drop(f);
                self.core.cancel(true, Error::Canceled, None); // leave the parent
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for AfterFuncStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFuncStop").finish_non_exhaustive()
    }
}
