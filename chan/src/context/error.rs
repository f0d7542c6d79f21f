//! Why a context ended ([`Error`]), and the user-supplied reason behind it ([`Cause`]).

use std::fmt;
use std::sync::{Arc, OnceLock};

/// Why a context is done: what [`Context::err`](super::Context::err) returns once it is.
/// Go's `context.Canceled` and `context.DeadlineExceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context (or an ancestor) was cancelled.
    Canceled,
    /// The context's deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl Error {
    /// Whether this is a timeout ([`Error::DeadlineExceeded`]), like Go's `Timeout()`.
    pub fn is_timeout(&self) -> bool {
        *self == Error::DeadlineExceeded
    }

    /// This error as a [`Cause`], shared: no allocation.
    pub fn as_cause(&self) -> Cause {
        static CAUSES: OnceLock<[Cause; 2]> = OnceLock::new();
        let c =
            CAUSES.get_or_init(|| [Arc::new(Error::Canceled), Arc::new(Error::DeadlineExceeded)]);
        c[*self as usize].clone()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// The reason a context was cancelled, as given to
/// [`CancelCauseFunc::cancel`](super::CancelCauseFunc::cancel) or
/// [`with_timeout_cause`](super::Context::with_timeout_cause); without one it is the
/// context's [`Error`] itself. Compare causes with [`Arc::ptr_eq`] or by downcasting.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Whether `cause` is the context error `e` (not a user cause).
pub fn is_error(cause: &Cause, e: Error) -> bool {
    cause.downcast_ref::<Error>() == Some(&e)
}
