//! Networking on the netpoller (Go's `net`): std's socket API where a call that cannot
//! complete parks the goroutine (its M runs others) or, on a plain thread, blocks the
//! thread, both through the park seam.
//!
//! Beyond std: Go-style deadlines (`set_deadline`, `set_read_deadline`,
//! `set_write_deadline`: absolute times after which calls fail with
//! `io::ErrorKind::TimedOut`; moving one wakes a blocked call so it takes effect at once),
//! and a [`DeadlineHandle`] that moves them from anywhere, on which `gort::context`'s
//! cancellation of network calls is built. `close(&self)` on every socket type (Go's
//! `Close` from another goroutine) fails blocked and later calls with [`ErrClosed`], which
//! [`is_closed`] recognises. Names resolve inside `gort::syscall`, so a slow
//! DNS lookup does not stall the P. Dropping a socket deregisters it from the poller.
//!
//! Under a context (Go's `DialContext`, and what `net/http` does with a request's
//! context): [`ContextIo`] (`with_ctx`, `read_ctx`, `write_all_ctx`), [`accept_ctx`],
//! [`connect_ctx`], all built on [`ctx_guard`], which ties a socket's deadlines to a
//! context.
//!
//! Files: `tcp.rs`, `udp.rs`, `unix.rs` (the types), `socket.rs` (the wrapper they share:
//! the runtime's netpoller [`Registration`](gort_runtime::netpoll::Registration) and the
//! try / wait / retry loop), `addr.rs` (sockaddr conversion, name resolution), `ctx.rs`
//! (calls under a context).

mod addr;
mod ctx;
mod socket;
mod tcp;
mod udp;
mod unix;

pub use ctx::{accept_ctx, connect_ctx, ctx_error, ctx_guard, ContextIo, CtxGuard};

pub use gort_runtime::netpoll::{is_closed, DeadlineHandle, ErrClosed};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
