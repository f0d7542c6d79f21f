//! `acquire_ctx` for the weighted semaphore (golang.org/x/sync/semaphore's `Acquire(ctx, n)`).

use super::{Context, Error};
use gort_runtime::sync::Semaphore;

/// Context-aware acquisition for [`Semaphore`]: `use gort::context::SemaphoreExt;`.
pub trait SemaphoreExt {
    /// Acquires `n` units, waiting until they are free, the context is cancelled or its
    /// deadline passes; in the last two cases nothing is acquired and the context's error is
    /// returned. A context that is already done fails at once (as in x/sync/semaphore).
    /// Waiting costs no goroutine: the context's cancellation ends the wait through
    /// [`Context::after_func`].
    fn acquire_ctx(&self, ctx: &Context, n: usize) -> Result<(), Error>;
}

impl SemaphoreExt for Semaphore {
    fn acquire_ctx(&self, ctx: &Context, n: usize) -> Result<(), Error> {
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let mut stop = None;
        let got = self.acquire_cancelable(n, ctx.deadline(), |token| {
            stop = Some(ctx.after_func(move || {
                token.expire();
            }));
        });
        if let Some(stop) = stop {
            stop.stop();
        }
        if got {
            return Ok(());
        }
        // Woken by the deadline itself, the context's own timer may not have fired yet.
        Err(ctx.err().unwrap_or(Error::DeadlineExceeded))
    }
}
