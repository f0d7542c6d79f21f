//! UDP: [`UdpSocket`], std's API on the netpoller.

use super::addr::{each_addr, resolve};
use super::socket::{common_socket_impls, Socket};
use gort_runtime::netpoll::Dir;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket. Receiving waits (parks the goroutine, or blocks the thread) until a
/// datagram arrives or the read deadline passes.
pub struct UdpSocket {
    sock: Socket<std::net::UdpSocket>,
}

common_socket_impls!(UdpSocket, std::net::UdpSocket);

impl UdpSocket {
    /// Binds to `addr` (names are resolved without stalling the P).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| UdpSocket::from_std(std::net::UdpSocket::bind(a)?))
    }

    /// Receives one datagram and its sender's address.
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.op(Dir::Read, |s| s.recv_from(buf))
    }

    /// Like `recv_from` without consuming the datagram.
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.op(Dir::Read, |s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr` (the first address it resolves to).
    #[track_caller]
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = resolve(addr)?[0];
        self.sock.op(Dir::Write, |s| s.send_to(buf, to))
    }

    /// Sets the default peer (`send`/`recv` then use it and filter others out).
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.sock.io().connect(a))
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

    /// Like `recv` without consuming the datagram.
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.op(Dir::Read, |s| s.peek(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io().peer_addr()
    }

    /// A second handle to the same socket (a new descriptor, registered on its own).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        UdpSocket::from_std(self.sock.io().try_clone()?)
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.sock.io().set_broadcast(on)
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock.io().broadcast()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.io().set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.io().ttl()
    }

    /// Sets `SO_REUSEADDR`.
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
