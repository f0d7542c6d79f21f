//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`], std's API on
//! the netpoller.

use super::socket::{common_socket_impls, stream_io_impls, Socket};
use gort_runtime::netpoll::Dir;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::{self as unet, SocketAddr};
use std::path::Path;

/// A Unix stream listening socket.
pub struct UnixListener {
    sock: Socket<unet::UnixListener>,
}

/// A Unix stream connection; `Read`/`Write` for `UnixStream` and `&UnixStream`.
pub struct UnixStream {
    sock: Socket<unet::UnixStream>,
}

/// A Unix datagram socket.
pub struct UnixDatagram {
    sock: Socket<unet::UnixDatagram>,
}

common_socket_impls!(UnixListener, unet::UnixListener);
common_socket_impls!(UnixStream, unet::UnixStream);
common_socket_impls!(UnixDatagram, unet::UnixDatagram);
stream_io_impls!(UnixStream);

impl UnixListener {
    /// Binds to the socket file `path` and listens, with the kernel's `somaxconn` as the
    /// backlog (as Go does; std's `bind` uses 128).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_with_backlog(path, super::socket::default_backlog())
    }

    /// Like [`bind`](Self::bind), with `backlog` as the most connections the kernel keeps
    /// waiting for `accept` (it caps the value at its `somaxconn`).
    pub fn bind_with_backlog<P: AsRef<Path>>(path: P, backlog: i32) -> io::Result<UnixListener> {
        let l = unet::UnixListener::bind(path)?;
        super::socket::set_backlog(std::os::fd::AsRawFd::as_raw_fd(&l), backlog)?;
        UnixListener::from_std(l)
    }

    /// Accepts a connection, waiting until one arrives or the read deadline passes.
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.sock.op(Dir::Read, |l| l.accept())?;
        Ok((UnixStream::from_std(s)?, addr))
    }

    /// An iterator over incoming connections (`accept` in a loop; never `None`).
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// A second handle to the same socket.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        UnixListener::from_std(self.sock.io().try_clone()?)
    }
}

impl UnixStream {
    /// Connects to the socket file `path` (inside `gort::syscall`: a full backlog may make
    /// the kernel block the connect).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = gort_runtime::syscall(|| unet::UnixStream::connect(path))?;
        UnixStream::from_std(s)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unet::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.io().shutdown(how)
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        UnixStream::from_std(self.sock.io().try_clone()?)
    }

    /// Takes the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.io().take_error()
    }
}

impl UnixDatagram {
    /// Binds to the socket file `path`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(unet::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(unet::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = unet::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Sets the default peer.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.sock.io().connect(path)
    }

    /// Sends to the connected peer.
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.op(Dir::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer.
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.op(Dir::Read, |s| s.recv(buf))
    }

    /// Sends to the socket at `path`.
    #[track_caller]
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.sock.op(Dir::Write, |s| s.send_to(buf, path))
    }

    /// Receives one datagram and its sender's address.
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.op(Dir::Read, |s| s.recv_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.io().shutdown(how)
    }

    /// A second handle to the same socket.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(self.sock.io().try_clone()?)
    }
}
