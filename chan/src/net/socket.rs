//! The socket wrapper every `net` type is built on: a non-blocking descriptor registered
//! with the runtime's netpoller ([`Registration`]), and I/O calls that wait through it.

use gort_runtime::netpoll::{DeadlineHandle, Dir, Registration};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// The listen backlog of [`TcpListener::bind`](super::TcpListener::bind) and
/// [`UnixListener::bind`](super::UnixListener::bind): the kernel's `somaxconn`, read once
/// from `/proc/sys/net/core/somaxconn` as Go does (std uses 128, which drops connections
/// under a burst of connects, such as a load test's start); 128 if it cannot be read, and
/// at most 65535 (older kernels keep the backlog in 16 bits).
pub(crate) fn default_backlog() -> i32 {
    static BACKLOG: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|&n| n > 0)
            .map_or(128, |n| n.min(65535))
    })
}

/// Runs one attempt of a socket call (`f`, which reads `errno` when the call fails) in a
/// frame of its own. The loops of `op` and `stream_read` park between attempts, and the
/// goroutine may resume on another thread; inlined into the loop, the compiler may compute
/// the address of `errno` (a thread-local, whose libc accessor it treats as constant) once
/// and read the *old* thread's `errno` after the switch: an accept that failed with EAGAIN
/// on the new thread then reported whatever the old thread's last error was (seen as
/// `accept: Operation now in progress`, a connect's EINPROGRESS). Not inlined, each attempt
/// looks `errno` up on the thread it runs on.
#[inline(never)]
fn fresh_thread<S, R>(f: &mut impl FnMut(&S) -> io::Result<R>, s: &S) -> io::Result<R> {
    f(s)
}

/// Sets the backlog of a socket that std's `bind` left listening with 128: on Linux, a
/// second `listen` on a listening socket only changes its backlog.
pub(crate) fn set_backlog(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) on a descriptor we own; the result is checked.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(gort_runtime::last_os_error());
    }
    Ok(())
}

/// A non-blocking socket `S` (a std socket type) registered with the netpoller.
pub(crate) struct Socket<S: AsRawFd> {
    io: ManuallyDrop<S>,
    /// Taken only by `drop` and `into_inner`.
    pd: ManuallyDrop<Registration>,
}

impl<S: AsRawFd> Socket<S> {
    /// Registers `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S) -> io::Result<Self> {
        let pd = Registration::new(io.as_raw_fd())?;
        Ok(Socket {
            io: ManuallyDrop::new(io),
            pd: ManuallyDrop::new(pd),
        })
    }

    /// The std socket (in non-blocking mode).
    pub(crate) fn io(&self) -> &S {
        &self.io
    }

    /// Runs `f` until it does not fail with `WouldBlock`, waiting for readiness of `dir`
    /// in between (Go's `fd.Read` loop). Fails with `TimedOut` past the deadline.
    #[track_caller]
    pub(crate) fn op<R>(&self, dir: Dir, mut f: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.pd.check_deadline(dir)?;
        let mut start = None;
        loop {
            match fresh_thread(&mut f, &self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.wait(dir, &mut start)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // A call racing with `close` fails like the ones after it.
                    self.pd.check_closed()?;
                    return Err(e);
                }
                r => return r,
            }
        }
    }

    /// Closes the socket from any thread (see [`Registration::close`]).
    pub(crate) fn close(&self) {
        self.pd.close();
    }

    /// A read of a stream socket into `len` bytes of buffers: like [`op`](Self::op), but
    /// when the last read came back short and no data arrived since, it waits for data
    /// without the system call that would fail with `EAGAIN` (see [`Registration::read_drained`]).
    #[track_caller]
    pub(crate) fn stream_read(
        &self,
        len: usize,
        mut f: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.pd.check_deadline(Dir::Read)?;
        let mut start = None;
        if len > 0 && self.pd.read_drained() {
            self.pd.wait(Dir::Read, &mut start)?;
        }
        loop {
            let edges = self.pd.read_edges();
            match fresh_thread(&mut f, &self.io) {
                Ok(0) if len > 0 => {
                    // End of stream, or the shutdown of a racing `close`.
                    self.pd.check_closed()?;
                    return Ok(0);
                }
                Ok(n) => {
                    // n == 0 is end of stream: it must keep being reported.
                    if n > 0 && n < len {
                        self.pd.read_was_short(edges);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pd.wait(Dir::Read, &mut start)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pd.check_closed()?;
                    return Err(e);
                }
            }
        }
    }

    /// Fails with `TimedOut` if the deadline of `dir` has passed.
    pub(crate) fn check_deadline(&self, dir: Dir) -> io::Result<()> {
        self.pd.check_deadline(dir)
    }

    /// Waits once for readiness of `dir` (a connect in progress).
    #[track_caller]
    pub(crate) fn wait(&self, dir: Dir, start: &mut Option<Instant>) -> io::Result<()> {
        self.pd.wait(dir, start)
    }

    /// Sets the absolute deadline of `dir`.
    pub(crate) fn set_deadline(&self, dir: Dir, d: Option<Instant>) {
        self.pd.set_deadline(dir, d);
    }

    /// The absolute deadline of `dir`.
    pub(crate) fn deadline(&self, dir: Dir) -> Option<Instant> {
        self.pd.deadline(dir)
    }

    /// Sets the per-call timeout of `dir`; like std, a zero duration is an error.
    pub(crate) fn set_timeout(&self, dir: Dir, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        self.pd.set_timeout(dir, t);
        Ok(())
    }

    /// The per-call timeout of `dir`.
    pub(crate) fn timeout(&self, dir: Dir) -> Option<Duration> {
        self.pd.timeout(dir)
    }

    /// A handle that moves this socket's deadlines from anywhere.
    pub(crate) fn handle(&self) -> DeadlineHandle {
        self.pd.deadline_handle()
    }

    /// Deregisters and returns the std socket (still non-blocking).
    pub(crate) fn into_inner(self) -> S {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again, so each field is taken exactly once.
        let (pd, io) = unsafe {
            (
                ManuallyDrop::take(&mut me.pd),
                ManuallyDrop::take(&mut me.io),
            )
        };
        drop(pd);
        io
    }

    /// Sets an integer socket option.
    pub(crate) fn setsockopt(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        v: libc::c_int,
    ) -> io::Result<()> {
        setsockopt(self.io.as_raw_fd(), level, name, v)
    }

    /// Sets `SO_REUSEADDR`.
    pub(crate) fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, on as libc::c_int)
    }

    /// `SO_REUSEADDR`.
    pub(crate) fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.getsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR)? != 0)
    }

    /// Reads an integer socket option.
    pub(crate) fn getsockopt(
        &self,
        level: libc::c_int,
        name: libc::c_int,
    ) -> io::Result<libc::c_int> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `v` and `len` are valid for the kernel to write an int option into.
        let r = unsafe {
            libc::getsockopt(
                self.io.as_raw_fd(),
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(gort_runtime::last_os_error());
        }
        Ok(v)
    }
}

/// Sets an integer socket option on `fd`.
pub(crate) fn setsockopt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passing a pointer to a live int and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(gort_runtime::last_os_error());
    }
    Ok(())
}

impl<S: AsRawFd> Drop for Socket<S> {
    fn drop(&mut self) {
        // Wake blocked calls with an error, leave the poller, close, recycle the descriptor.
        // SAFETY: dropped exactly once, here; neither field is used afterwards.
        let pd = unsafe { ManuallyDrop::take(&mut self.pd) };
        // SAFETY: as above.
        pd.deregister_then(|| unsafe { ManuallyDrop::drop(&mut self.io) });
    }
}

/// The methods every `net` type shares: timeouts, Go-style deadlines, conversions to and
/// from std and raw descriptors.
macro_rules! common_socket_impls {
    ($ty:ident, $std:ty) => {
        impl $ty {
            /// Sets the timeout of each read (std semantics: per call; `None` waits forever).
            /// A call that times out fails with `io::ErrorKind::TimedOut`.
            ///
            /// # Errors
            /// If `dur` is zero.
            pub fn set_read_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.sock.set_timeout(gort_runtime::netpoll::Dir::Read, dur)
            }

            /// Sets the timeout of each write (std semantics: per call).
            ///
            /// # Errors
            /// If `dur` is zero.
            pub fn set_write_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.sock
                    .set_timeout(gort_runtime::netpoll::Dir::Write, dur)
            }

            /// The per-call read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.sock.timeout(gort_runtime::netpoll::Dir::Read))
            }

            /// The per-call write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.sock.timeout(gort_runtime::netpoll::Dir::Write))
            }

            /// Sets the read and write deadlines (Go's `SetDeadline`): an absolute time after
            /// which blocked and future calls fail with `io::ErrorKind::TimedOut`. A deadline
            /// in the past wakes blocked calls at once; changing it while a call is blocked
            /// takes effect for that call. `None` clears it.
            pub fn set_deadline(&self, deadline: Option<std::time::Instant>) {
                self.set_read_deadline(deadline);
                self.set_write_deadline(deadline);
            }

            /// Sets the read deadline (see [`Self::set_deadline`]).
            pub fn set_read_deadline(&self, deadline: Option<std::time::Instant>) {
                self.sock
                    .set_deadline(gort_runtime::netpoll::Dir::Read, deadline)
            }

            /// Sets the write deadline (see [`Self::set_deadline`]).
            pub fn set_write_deadline(&self, deadline: Option<std::time::Instant>) {
                self.sock
                    .set_deadline(gort_runtime::netpoll::Dir::Write, deadline)
            }

            /// The read deadline.
            pub fn read_deadline(&self) -> Option<std::time::Instant> {
                self.sock.deadline(gort_runtime::netpoll::Dir::Read)
            }

            /// The write deadline.
            pub fn write_deadline(&self) -> Option<std::time::Instant> {
                self.sock.deadline(gort_runtime::netpoll::Dir::Write)
            }

            /// Closes the socket from any goroutine or thread (Go's `Close`): blocked calls
            /// wake and fail, and every later call fails, with
            /// [`ErrClosed`]($crate::net::ErrClosed) (see [`is_closed`]($crate::net::is_closed));
            /// a connection is shut down (the peer sees end of stream), a listener stops
            /// accepting. Closing again does nothing. The descriptor itself is released when
            /// the value is dropped: until then its number stays taken, so no call racing
            /// with `close` can reach another file that reused it.
            pub fn close(&self) {
                self.sock.close()
            }

            /// A handle that moves this socket's deadlines from anywhere (another goroutine,
            /// a timer, a context's `after_func`): how context cancellation reaches I/O.
            pub fn deadline_handle(&self) -> gort_runtime::netpoll::DeadlineHandle {
                self.sock.handle()
            }

            /// Converts into the std type, deregistered and back in blocking mode.
            pub fn into_std(self) -> std::io::Result<$std> {
                let io = self.sock.into_inner();
                io.set_nonblocking(false)?;
                Ok(io)
            }

            /// Wraps a std socket: puts it in non-blocking mode and registers it with the
            /// netpoller.
            pub fn from_std(io: $std) -> std::io::Result<Self> {
                io.set_nonblocking(true)?;
                Ok($ty {
                    sock: $crate::net::socket::Socket::new(io)?,
                })
            }
        }

        impl From<$std> for $ty {
            /// Same as [`Self::from_std`].
            ///
            /// # Panics
            /// If the socket cannot be made non-blocking or registered with the poller
            /// (out of memory in the kernel); use `from_std` to handle that.
            fn from(io: $std) -> Self {
                Self::from_std(io).expect("gort::net: cannot register socket with the netpoller")
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.sock.io().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.sock.io().as_fd()
            }
        }

        impl std::os::fd::FromRawFd for $ty {
            /// Takes ownership of `fd` (see `std`'s `FromRawFd`), puts it in non-blocking
            /// mode and registers it.
            ///
            /// # Panics
            /// If it cannot be registered with the poller.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: the caller guarantees `fd` is an open socket of this type it owns.
                Self::from(unsafe { <$std>::from_raw_fd(fd) })
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            /// Deregisters the socket and hands over its descriptor (still non-blocking).
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.sock.into_inner().into_raw_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.sock.io(), f)
            }
        }
    };
}

/// `Read` and `Write` for a stream type and for references to it.
macro_rules! stream_io_impls {
    ($ty:ident) => {
        impl std::io::Read for &$ty {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock
                    .stream_read(buf.len(), |mut s| std::io::Read::read(&mut s, buf))
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.sock
                    .stream_read(len, |mut s| std::io::Read::read_vectored(&mut s, bufs))
            }
        }

        impl std::io::Write for &$ty {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock.op(gort_runtime::netpoll::Dir::Write, |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.sock.op(gort_runtime::netpoll::Dir::Write, |mut s| {
                    std::io::Write::write_vectored(&mut s, bufs)
                })
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use common_socket_impls;
pub(crate) use stream_io_impls;
