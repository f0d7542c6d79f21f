//! Networking on the netpoller: bulk echo, deadlines, half-close, UDP, Unix sockets,
//! thread-side use, context cancellation, and no false deadlock while waiting on a socket.
//! No test asserts timing: the `within` timeouts only turn hangs into failures.

mod common;
use common::within;
use gort::net::{
    ContextIo, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// An echo server on 127.0.0.1, one goroutine per connection; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    gort::go(move || loop {
        let (mut c, _) = match l.accept() {
            Ok(x) => x,
            Err(_) => continue,
        };
        gort::go(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    });
    addr
}

/// Deterministic pseudo-random bytes (xorshift) for connection `seed`.
fn fill(seed: u64, buf: &mut [u8], state: &mut u64) {
    if *state == 0 {
        *state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    }
    for chunk in buf.chunks_mut(8) {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

#[test]
fn echo_200_connections_1mib_each() {
    within(300, || {
        gort::run(|| {
            let addr = echo_server();
            const N: usize = 200;
            const LEN: usize = 1 << 20;
            const CHUNK: usize = 16 * 1024;
            let hs: Vec<_> = (0..N as u64)
                .map(|i| {
                    gort::go(move || {
                        let c = TcpStream::connect(addr).unwrap();
                        let mut w = c.try_clone().unwrap();
                        let writer = gort::go(move || {
                            let (mut st, mut buf) = (0, vec![0u8; CHUNK]);
                            for _ in 0..LEN / CHUNK {
                                fill(i, &mut buf, &mut st);
                                w.write_all(&buf).unwrap();
                            }
                            w.shutdown(Shutdown::Write).unwrap();
                        });
                        let (mut st, mut want, mut got) = (0, vec![0u8; CHUNK], vec![0u8; CHUNK]);
                        let mut r = &c;
                        for _ in 0..LEN / CHUNK {
                            fill(i, &mut want, &mut st);
                            r.read_exact(&mut got).unwrap();
                            assert!(want == got, "connection {i}: data lost or reordered");
                        }
                        assert_eq!(r.read(&mut got).unwrap(), 0, "connection {i}: extra data");
                        writer.join().unwrap();
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
}

fn raise_nofile(want: u64) -> Result<u64, String> {
    // SAFETY: getrlimit/setrlimit write/read the struct we pass.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        if rl.rlim_max < want {
            return Err(format!("RLIMIT_NOFILE hard limit {} < {want}", rl.rlim_max));
        }
        rl.rlim_cur = rl.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
            return Err("setrlimit failed".into());
        }
        Ok(rl.rlim_max)
    }
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn ten_thousand_idle_connections() {
    const N: usize = 10_000;
    if common::is_child("ten_thousand_idle_connections") {
        // The client side, in its own process (each process needs N descriptors).
        raise_nofile(N as u64 + 100).unwrap();
        let addr: std::net::SocketAddr = std::env::var("GORT_NET_ADDR").unwrap().parse().unwrap();
        let clients: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut go = [0u8; 1];
        (&clients[0]).read_exact(&mut go).unwrap(); // the server measured its RSS
        for mut c in clients {
            c.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"x");
        }
        println!("all {N} served");
        return;
    }
    if let Err(why) = raise_nofile(N as u64 + 100) {
        println!("skipped: {why}");
        return;
    }
    within(300, || {
        gort::run(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap().to_string();
            let client = std::thread::spawn(move || {
                common::child("ten_thousand_idle_connections", &[("GORT_NET_ADDR", &addr)])
            });
            let before = rss_kib();
            let (tx, rx) = gort::chan::unbounded();
            let mut first = None;
            for i in 0..N {
                let (mut c, _) = l.accept().unwrap();
                if i == 0 {
                    first = Some(c.try_clone().unwrap());
                }
                let tx = tx.clone();
                gort::go(move || {
                    let mut b = [0u8; 1];
                    tx.send(()).unwrap(); // accepted; now idle in read
                    if c.read(&mut b).unwrap() == 1 {
                        c.write_all(&b).unwrap();
                    }
                });
            }
            for _ in 0..N {
                rx.recv().unwrap();
            }
            gort::time::sleep(Duration::from_millis(100));
            let after = rss_kib();
            println!(
                "{N} idle connections, one goroutine each: RSS +{} KiB, {:.2} KiB per connection",
                after.saturating_sub(before),
                after.saturating_sub(before) as f64 / N as f64
            );
            first.unwrap().write_all(b"g").unwrap();
            let out = gort::syscall(|| client.join().unwrap());
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("served"),
                "client failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    });
}

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn read_deadline_expires() {
    within(60, || {
        gort::run(|| {
            let (mut c, _s) = pair();
            c.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
            let e = c.read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            // Still expired for the next call; cleared, reads work again.
            assert_eq!(
                c.read(&mut [0u8; 8]).unwrap_err().kind(),
                ErrorKind::TimedOut
            );
            c.set_read_deadline(None);
            let mut s = _s;
            s.write_all(b"hi").unwrap();
            let mut b = [0u8; 2];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"hi");
        })
    });
}

#[test]
fn read_timeout_std_style() {
    within(60, || {
        gort::run(|| {
            let (mut c, _s) = pair();
            c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(30)));
            assert_eq!(
                c.read(&mut [0u8; 8]).unwrap_err().kind(),
                ErrorKind::TimedOut
            );
            assert!(c.set_read_timeout(Some(Duration::ZERO)).is_err());
        })
    });
}

#[test]
fn deadline_extended_while_blocked() {
    within(60, || {
        gort::run(|| {
            let (c, mut s) = pair();
            c.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)));
            let h = c.deadline_handle();
            gort::go(move || {
                gort::time::sleep(Duration::from_millis(20));
                h.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)));
                gort::time::sleep(Duration::from_millis(300));
                s.write_all(b"late").unwrap();
                s
            });
            let mut b = [0u8; 4];
            (&c).read_exact(&mut b).unwrap();
            assert_eq!(&b, b"late");
        })
    });
}

#[test]
fn deadline_reset_while_blocked() {
    within(60, || {
        gort::run(|| {
            let (c, mut s) = pair();
            c.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)));
            let h = c.deadline_handle();
            gort::go(move || {
                gort::time::sleep(Duration::from_millis(10));
                h.set_read_deadline(None);
                gort::time::sleep(Duration::from_millis(300));
                s.write_all(b"ok").unwrap();
                s
            });
            let mut b = [0u8; 2];
            (&c).read_exact(&mut b).unwrap();
            assert_eq!(&b, b"ok");
        })
    });
}

#[test]
fn past_deadline_wakes_blocked_call() {
    within(60, || {
        gort::run(|| {
            let (c, _s) = pair();
            let h = c.deadline_handle();
            gort::go(move || {
                gort::time::sleep(Duration::from_millis(50));
                h.set_deadline(Some(Instant::now() - Duration::from_secs(1)));
            });
            let e = (&c).read(&mut [0u8; 4]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            // A past deadline fails writes at once too, even if they could complete.
            assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
        })
    });
}

#[test]
fn half_close() {
    within(60, || {
        gort::run(|| {
            let (mut c, mut s) = pair();
            c.write_all(b"request").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap(); // sees EOF after the data
            assert_eq!(got, b"request");
            s.write_all(b"response").unwrap();
            drop(s);
            let mut back = Vec::new();
            c.read_to_end(&mut back).unwrap();
            assert_eq!(back, b"response");
            // Writing to a closed peer is an ordinary error, eventually.
            let mut err = None;
            for _ in 0..100 {
                if let Err(e) = c.write_all(&[0u8; 1024]) {
                    err = Some(e);
                    break;
                }
                gort::time::sleep(Duration::from_millis(5));
            }
            assert!(err.is_some(), "writes to a closed peer kept succeeding");
        })
    });
}

#[test]
fn udp_round_trip() {
    within(60, || {
        gort::run(|| {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let baddr = b.local_addr().unwrap();
            let srv = gort::go(move || {
                let mut buf = [0u8; 64];
                for _ in 0..10 {
                    let (n, from) = b.recv_from(&mut buf).unwrap();
                    b.send_to(&buf[..n], from).unwrap();
                }
            });
            a.connect(baddr).unwrap();
            for i in 0..10u8 {
                a.send(&[i; 32]).unwrap();
                let mut buf = [0u8; 64];
                let n = a.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], &[i; 32]);
            }
            srv.join().unwrap();
            a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            assert_eq!(
                a.recv(&mut [0u8; 8]).unwrap_err().kind(),
                ErrorKind::TimedOut
            );
        })
    });
}

#[test]
fn unix_stream_and_datagram() {
    within(60, || {
        gort::run(|| {
            let dir = std::env::temp_dir().join(format!("gort-net-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join("s.sock");
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).unwrap();
            let srv = gort::go(move || {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 5];
                c.read_exact(&mut b).unwrap();
                c.write_all(&b).unwrap();
            });
            let mut c = UnixStream::connect(&path).unwrap();
            c.write_all(b"hello").unwrap();
            let mut b = [0u8; 5];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"hello");
            srv.join().unwrap();

            let (x, y) = UnixDatagram::pair().unwrap();
            let echo = gort::go(move || {
                let mut buf = [0u8; 16];
                let n = y.recv(&mut buf).unwrap();
                y.send(&buf[..n]).unwrap();
            });
            x.send(b"dgram").unwrap();
            let mut buf = [0u8; 16];
            let n = x.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"dgram");
            echo.join().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        })
    });
}

#[test]
fn plain_threads_block_through_the_park_seam() {
    within(60, || {
        // No gort::run, no goroutine: every call blocks its OS thread.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).unwrap();
            c.write_all(&b).unwrap();
            c // kept open, so the client's next read waits instead of seeing EOF
        });
        std::thread::sleep(Duration::from_millis(50)); // the server thread is blocked in accept
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        let _server_end = srv.join().unwrap();
        // Deadlines on a thread.
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
        assert_eq!(c.read(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
        // std conversions both ways.
        let std_c = c.into_std().unwrap();
        let back = TcpStream::from(std_c);
        assert!(back.peer_addr().is_ok());
    });
}

#[test]
fn socket_options() {
    within(60, || {
        let (c, _s) = pair();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_keepalive(true).unwrap();
        assert!(c.keepalive().unwrap());
        c.set_ttl(42).unwrap();
        assert_eq!(c.ttl().unwrap(), 42);
        c.set_reuseaddr(true).unwrap();
        assert!(c.reuseaddr().unwrap());
        let addr = "127.0.0.1:1".parse().unwrap();
        // Nothing listens on port 1: an ordinary error, not a hang.
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_err());
    });
}

#[test]
fn context_cancels_accept_and_read() {
    within(60, || {
        gort::run(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let (ctx, cancel) = gort::context::background().with_cancel();
            gort::go(move || {
                gort::time::sleep(Duration::from_millis(30));
                cancel.cancel();
            });
            let e = l.with_ctx(&ctx, |l| l.accept()).unwrap_err();
            assert_eq!(e.to_string(), "context canceled");
            // The listener's deadline is restored: it still accepts.
            let addr = l.local_addr().unwrap();
            let _c = TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            let (ctx, _cancel) =
                gort::context::background().with_timeout(Duration::from_millis(30));
            let e = s.read_ctx(&ctx, &mut [0u8; 4]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            assert!(gort::net::connect_ctx(&gort::context::background(), addr).is_ok());
        })
    });
}

#[test]
fn no_false_deadlock_while_waiting_on_a_socket() {
    if common::is_child("no_false_deadlock_while_waiting_on_a_socket") {
        gort::run(|| {
            let (mut c, s) = pair();
            // A plain thread parked in gort (on a socket, with a futex deadline): sysmon sees
            // every thread parked, no timer pending, yet the goroutine below will be woken.
            std::thread::spawn(move || {
                let (_x, y) = pair();
                y.set_read_timeout(Some(Duration::from_millis(400)))
                    .unwrap();
                let _ = (&y).read(&mut [0u8; 1]);
                (&s).write_all(b"!").unwrap();
                std::thread::sleep(Duration::from_millis(100));
            });
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            println!("woken: {}", b[0] as char);
        });
        return;
    }
    let out = common::child("no_false_deadlock_while_waiting_on_a_socket", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    assert!(stdout.contains("woken: !"), "{stdout}\n{stderr}");
}

/// What the peer does in a round of [`short_read_then`].
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Sends more data after the reader's short read.
    MoreData,
    /// Shuts down its write side after the reader's short read.
    Eof,
    /// Resets the connection after the reader's short read.
    Reset,
    /// Nothing: the reader's deadline passes.
    Deadline,
    /// Shut down together with the data, before the reader's first read.
    EofWithData,
    /// Sends the data and shuts down at once while the reader waits for its first read
    /// (one poller event can carry both).
    EofWithDataWhileWaiting,
}

/// Sets SO_LINGER to zero, so that closing `s` sends a reset.
fn linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a live socket with a correctly sized linger value.
    let r = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// After a short read the next read waits for data without a system call (see
/// `netpoll::desc`, "Drained reads"); whatever the peer does next must still reach the
/// reader: more data, end of stream (also when it came with the data), a reset, a deadline.
fn short_read_then(round: usize, then: Then, on_thread: bool) {
    let (mut a, mut b) = pair();
    let (first_tx, first_rx) = gort::chan::bounded::<()>(1);
    if !matches!(then, Then::EofWithDataWhileWaiting) {
        a.write_all(b"abc").unwrap();
    }
    if let Then::EofWithData = then {
        a.shutdown(Shutdown::Write).unwrap();
        // Sometimes long enough for the poller (sysmon polls every 10 ms) to see both
        // edges before the reader's short read.
        let pause = if round.is_multiple_of(2) { 0 } else { 15 };
        gort::time::sleep(Duration::from_millis(pause));
    }
    let reader = move || {
        let mut buf = [0u8; 64];
        assert_eq!(
            b.read(&mut buf).unwrap(),
            3,
            "round {round}: the first short read"
        );
        first_tx.send(()).unwrap();
        match then {
            Then::Deadline => {
                b.set_read_deadline(Some(Instant::now() + Duration::from_millis(5)));
            }
            Then::Eof => assert_eq!(b.read(&mut buf).unwrap(), 0, "round {round}: eof"),
            _ => {}
        }
        b.read(&mut buf)
    };
    let done = if on_thread {
        let h = std::thread::spawn(reader);
        Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() -> std::io::Result<usize>>
    } else {
        let h = gort::go(reader);
        Box::new(move || h.join().unwrap())
    };
    if let Then::EofWithDataWhileWaiting = then {
        let pause = if round.is_multiple_of(2) { 0 } else { 2 };
        gort::time::sleep(Duration::from_millis(pause));
        a.write_all(b"abc").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
    }
    first_rx.recv().unwrap();
    if round.is_multiple_of(2) {
        gort::yield_now(); // sometimes before the reader's next read, sometimes after
    }
    match then {
        Then::MoreData => a.write_all(b"de").unwrap(),
        Then::Eof => a.shutdown(Shutdown::Write).unwrap(),
        Then::Reset => {
            linger_zero(&a);
            drop(a);
            let r = done();
            assert!(
                r.is_err() || *r.as_ref().unwrap() == 0,
                "round {round}: a reset must end the read, got {r:?}"
            );
            return;
        }
        Then::Deadline | Then::EofWithData | Then::EofWithDataWhileWaiting => {}
    }
    let r = done();
    match then {
        Then::MoreData => assert_eq!(r.unwrap(), 2, "round {round}: data after a short read"),
        Then::Eof | Then::EofWithData | Then::EofWithDataWhileWaiting => {
            assert_eq!(r.unwrap(), 0, "round {round}: eof")
        }
        Then::Deadline => assert_eq!(r.unwrap_err().kind(), ErrorKind::TimedOut),
        Then::Reset => unreachable!(),
    }
}

/// A poll descriptor goes back to a pool when its socket closes and serves a later socket:
/// the drained-read shortcut must work for that socket too. (The pool's descriptors kept the
/// "no more edges" mark of the socket before, so a server whose connections come and go
/// paid the extra `EAGAIN` read on every message of every connection that got a recycled
/// descriptor.)
#[test]
fn drained_reads_work_on_a_reused_poll_descriptor() {
    fn rounds(on: &str) {
        use gort_runtime::netpoll::Registration;
        use std::os::fd::AsRawFd;
        for round in 0..100 {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let reg = Registration::new(a.as_raw_fd()).unwrap();
            assert!(
                !reg.read_drained(),
                "{on}, round {round}: drained before any read"
            );
            reg.read_was_short(reg.read_edges());
            assert!(
                reg.read_drained(),
                "{on}, round {round}: a short read did not mark the socket drained"
            );
            // Deregistered before the descriptor closes; the next round gets its poll
            // descriptor back from the pool (or another test's).
            drop(reg);
        }
    }
    within(60, || {
        std::thread::spawn(|| rounds("thread")).join().unwrap();
        gort::run(|| gort::go(|| rounds("goroutine")).join().unwrap());
    });
}

#[test]
fn short_reads_do_not_lose_data_eof_resets_or_deadlines() {
    use Then::*;
    within(120, || {
        gort::run(|| {
            for round in 0..100 {
                for then in [
                    MoreData,
                    Eof,
                    Reset,
                    Deadline,
                    EofWithData,
                    EofWithDataWhileWaiting,
                ] {
                    short_read_then(round, then, round % 4 == 3);
                }
            }
        })
    });
}
