//! TCP: [`TcpListener`] and [`TcpStream`], std's API on the netpoller.

use super::addr::{each_addr, from_raw, to_raw};
use super::socket::{common_socket_impls, stream_io_impls, Socket};
use gort_runtime::netpoll::{DeadlineHandle, Dir};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

/// A TCP listening socket. `accept` parks the calling goroutine (or blocks the calling
/// thread) until a connection arrives.
pub struct TcpListener {
    sock: Socket<std::net::TcpListener>,
}

/// A TCP connection. `Read` and `Write` are implemented for `TcpStream` and `&TcpStream`;
/// a call that cannot complete parks the goroutine (or blocks the thread).
pub struct TcpStream {
    sock: Socket<std::net::TcpStream>,
}

common_socket_impls!(TcpListener, std::net::TcpListener);
common_socket_impls!(TcpStream, std::net::TcpStream);
stream_io_impls!(TcpStream);

/// Whether `e` means the process or system ran out of descriptors.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl TcpListener {
    /// Binds to `addr` (names are resolved without stalling the P) and listens, with the
    /// kernel's `somaxconn` as the backlog (as Go does; std's `bind` uses 128): connections
    /// that arrive faster than `accept` takes them wait in the kernel instead of being
    /// refused.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(addr, super::socket::default_backlog())
    }

    /// Like [`bind`](Self::bind), with `backlog` as the most connections the kernel keeps
    /// waiting for `accept` (it caps the value at its `somaxconn`).
    pub fn bind_with_backlog<A: ToSocketAddrs>(addr: A, backlog: i32) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let l = std::net::TcpListener::bind(a)?;
            super::socket::set_backlog(l.as_raw_fd(), backlog)?;
            TcpListener::from_std(l)
        })
    }

    /// Accepts a connection. Waits until one arrives, or the read deadline (or timeout)
    /// passes (`TimedOut`).
    ///
    /// When the process or system is out of file descriptors (`EMFILE`/`ENFILE`), it does
    /// not fail: it says so on stderr and retries after 5 ms, doubling to 1 s (like Go's
    /// `http.Server`), so an accept loop survives the condition and serves again once
    /// descriptors are free. Other errors (a peer that reset before accept) are returned.
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut backoff = Duration::ZERO;
        loop {
            match self.accept_once() {
                Err(e) if out_of_fds(&e) => {
                    backoff = if backoff.is_zero() {
                        Duration::from_millis(5)
                    } else {
                        (backoff * 2).min(Duration::from_secs(1))
                    };
                    eprintln!("gort::net: accept error: {e}; retrying in {backoff:?}");
                    let mut until = Instant::now() + backoff;
                    if let Some(d) = self.read_deadline() {
                        until = until.min(d);
                    }
                    gort_runtime::park::prepare_for(gort_runtime::park::WaitReason::Sleep);
                    gort_runtime::park::park_until(Some(until));
                    self.sock.check_deadline(Dir::Read)?;
                }
                r => return r,
            }
        }
    }

    #[track_caller]
    fn accept_once(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let fd = self.sock.io().as_raw_fd();
        let (fd, storage) = self.sock.op(Dir::Read, |_| {
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: `storage`/`len` describe a writable buffer of the right size.
            let r = unsafe {
                libc::accept4(
                    fd,
                    (&mut storage as *mut libc::sockaddr_storage).cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if r < 0 {
                Err(gort_runtime::last_os_error())
            } else {
                Ok((r, storage))
            }
        })?;
        // SAFETY: accept4 returned a fresh descriptor that we now own.
        let io = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let stream = TcpStream {
            sock: Socket::new(io)?,
        };
        Ok((stream, from_raw(&storage)?))
    }

    /// An iterator over incoming connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// A second handle to the same socket (a new descriptor, registered on its own).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        TcpListener::from_std(self.sock.io().try_clone()?)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.io().set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.io().ttl()
    }

    /// Sets `SO_REUSEADDR` (`bind` already sets it, as std does on Unix).
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.sock.set_reuseaddr(on)
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.sock.reuseaddr()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.io().take_error()
    }
}

/// Iterator over a listener's connections; see [`TcpListener::incoming`]. Never `None`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn (names are resolved
    /// without stalling the P). Waits for the handshake by parking, like every call here.
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_with(a, None, |_| {}))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout`.
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_with(addr, Instant::now().checked_add(timeout), |_| {})
    }

    /// Connects to `addr` with an optional `deadline`, first handing `hook` the handle of
    /// the connecting socket: whoever holds it can abort the connect by moving the write
    /// deadline to the past (how `gort::context` cancels a connect).
    #[track_caller]
    pub fn connect_with(
        addr: &SocketAddr,
        deadline: Option<Instant>,
        hook: impl FnOnce(DeadlineHandle),
    ) -> io::Result<TcpStream> {
        let family = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(gort_runtime::last_os_error());
        }
        // SAFETY: `fd` is a fresh socket we own.
        let io = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let stream = TcpStream {
            sock: Socket::new(io)?,
        };
        stream.set_write_deadline(deadline);
        hook(stream.deadline_handle());
        let (raw, len) = to_raw(addr);
        // SAFETY: `raw`/`len` describe a valid sockaddr for the socket's family.
        let r = unsafe { libc::connect(fd, (&raw as *const libc::sockaddr_storage).cast(), len) };
        if r < 0 {
            let e = gort_runtime::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            let mut start = None;
            loop {
                stream.sock.wait(Dir::Write, &mut start)?;
                if let Some(e) = stream.sock.io().take_error()? {
                    return Err(e);
                }
                match stream.sock.io().peer_addr() {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => continue, // spurious
                    Err(e) => return Err(e),
                }
            }
        }
        stream.set_write_deadline(None);
        Ok(stream)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// Shuts down the read half, the write half (the peer reads end-of-file), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.io().shutdown(how)
    }

    /// A second handle to the same connection (a new descriptor, registered on its own), so
    /// one goroutine can read while another writes.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        TcpStream::from_std(self.sock.io().try_clone()?)
    }

    /// Reads without consuming (waits like `read`).
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.op(Dir::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.io().set_nodelay(nodelay)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.io().nodelay()
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.sock
            .setsockopt(libc::SOL_SOCKET, libc::SO_KEEPALIVE, on as libc::c_int)
    }

    /// `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.sock.getsockopt(libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0)
    }

    /// Sets `SO_REUSEADDR`.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.sock.set_reuseaddr(on)
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.sock.reuseaddr()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.io().set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.io().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.io().take_error()
    }
}
