//! Error types of channel operations (crossbeam-channel's names and shapes). Every error of
//! a send gives the value back.

use std::fmt;

macro_rules! value_error {
    ($(#[$doc:meta])* $name:ident, $msg:expr) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq, Clone, Copy)]
        pub struct $name<T>(pub T);

        impl<T> $name<T> {
            /// The value that was not sent.
            pub fn into_inner(self) -> T {
                self.0
            }
        }
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($msg)
            }
        }
        impl<T> std::error::Error for $name<T> {}
    };
}

value_error!(
    /// `send` failed because the channel is closed (or every receiver is gone); the value is
    /// returned.
    SendError,
    "sending on a closed channel"
);

/// `try_send` failed.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel is full (for an unbuffered channel: no receiver is waiting).
    Full(T),
    /// The channel is closed or every receiver is gone.
    Disconnected(T),
}

/// `send_timeout` / `send_deadline` failed.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The deadline passed before the value could be sent.
    Timeout(T),
    /// The channel is closed or every receiver is gone.
    Disconnected(T),
}

macro_rules! value_enum {
    ($name:ident, $a:ident, $amsg:expr, $b:ident, $bmsg:expr, $ais:ident, $bis:ident) => {
        impl<T> $name<T> {
            /// The value that was not sent.
            pub fn into_inner(self) -> T {
                match self {
                    $name::$a(v) | $name::$b(v) => v,
                }
            }
            #[doc = concat!("Whether this is `", stringify!($a), "`.")]
            pub fn $ais(&self) -> bool {
                matches!(self, $name::$a(_))
            }
            #[doc = concat!("Whether this is `", stringify!($b), "`.")]
            pub fn $bis(&self) -> bool {
                matches!(self, $name::$b(_))
            }
        }
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$a(_) => f.write_str(concat!(stringify!($a), "(..)")),
                    $name::$b(_) => f.write_str(concat!(stringify!($b), "(..)")),
                }
            }
        }
        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $name::$a(_) => $amsg,
                    $name::$b(_) => $bmsg,
                })
            }
        }
        impl<T> std::error::Error for $name<T> {}
        impl<T> From<SendError<T>> for $name<T> {
            fn from(e: SendError<T>) -> Self {
                $name::$b(e.0)
            }
        }
    };
}

value_enum!(
    TrySendError,
    Full,
    "sending on a full channel",
    Disconnected,
    "sending on a closed channel",
    is_full,
    is_disconnected
);
value_enum!(
    SendTimeoutError,
    Timeout,
    "timed out waiting to send",
    Disconnected,
    "sending on a closed channel",
    is_timeout,
    is_disconnected
);

/// `recv` failed: the channel is closed and drained (Go's `v, ok := <-c` with `ok == false`).
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// `try_recv` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive right now.
    Empty,
    /// The channel is closed and drained.
    Disconnected,
}

/// `recv_timeout` / `recv_deadline` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The deadline passed with nothing to receive.
    Timeout,
    /// The channel is closed and drained.
    Disconnected,
}

/// `close` on a channel that is already closed (Go panics; we return this).
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct CloseError;

/// `Select::try_select` found no ready operation.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TrySelectError;

/// `Select::select_timeout` timed out.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct SelectTimeoutError;

/// `Select::try_ready` found no ready operation.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TryReadyError;

/// `Select::ready_timeout` timed out.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ReadyTimeoutError;

macro_rules! plain_display {
    ($($t:ty => $m:expr),* $(,)?) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($m)
            }
        }
        impl std::error::Error for $t {}
    )*};
}

plain_display! {
    RecvError => "receiving on a closed and empty channel",
    CloseError => "close of a closed channel",
    TrySelectError => "no operation of the select was ready",
    SelectTimeoutError => "timed out waiting for a select operation",
    TryReadyError => "no operation of the select was ready",
    ReadyTimeoutError => "timed out waiting for a select operation to become ready",
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "receiving on an empty channel",
            TryRecvError::Disconnected => "receiving on a closed and empty channel",
        })
    }
}
impl std::error::Error for TryRecvError {}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvTimeoutError::Timeout => "timed out waiting to receive",
            RecvTimeoutError::Disconnected => "receiving on a closed and empty channel",
        })
    }
}
impl std::error::Error for RecvTimeoutError {}

impl TryRecvError {
    /// Whether this is `Empty`.
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }
    /// Whether this is `Disconnected`.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

impl RecvTimeoutError {
    /// Whether this is `Timeout`.
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }
    /// Whether this is `Disconnected`.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}
impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}
