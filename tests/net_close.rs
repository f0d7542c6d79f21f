//! `close(&self)` from another goroutine or thread (Go's `Close` and `net.ErrClosed`):
//! blocked calls wake with the one error `net::is_closed` recognises, later calls fail the
//! same way, and a `DeadlineHandle::close` that outlives its socket cannot touch a new
//! socket that reused the descriptor number.

mod common;
use common::within;
use gort::net::{self, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// Runs `f` on a plain thread, then as the main goroutine.
fn on_thread_and_goroutine(f: fn()) {
    within(120, move || {
        std::thread::spawn(f).join().unwrap();
        gort::run(f);
    });
}

/// Waits a little so that a call started on another goroutine is (most likely) blocked.
/// Correctness never depends on it: a close before the call starts fails it the same way.
fn settle() {
    gort::time::sleep(Duration::from_millis(2));
}

#[test]
fn closing_a_listener_wakes_accept_with_err_closed() {
    on_thread_and_goroutine(|| {
        for i in 0..50 {
            let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = l.local_addr().unwrap();
            let l2 = l.clone();
            let acceptor = if i % 2 == 0 {
                gort::go(move || l2.accept().map(|_| ()))
            } else {
                // A plain thread blocked in accept wakes too.
                let (tx, rx) = gort::chan::bounded(1);
                std::thread::spawn(move || tx.send(l2.accept().map(|_| ())).unwrap());
                gort::go(move || rx.recv().unwrap())
            };
            if i % 3 != 0 {
                settle();
            }
            l.close();
            let e = acceptor.join().unwrap().unwrap_err();
            assert!(net::is_closed(&e), "accept after close: {e:?}");
            assert_eq!(e.kind(), ErrorKind::NotConnected);
            assert_eq!(e.to_string(), "use of closed network connection");
            // Later calls fail the same way; closing again does nothing.
            assert!(net::is_closed(&l.accept().unwrap_err()));
            l.close();
            assert!(net::is_closed(&l.accept().unwrap_err()));
            // The listener no longer listens: a connect is refused.
            assert!(TcpStream::connect(addr).is_err());
        }
    });
}

#[test]
fn closing_a_stream_wakes_read_and_write_and_the_peer_sees_eof() {
    on_thread_and_goroutine(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for _ in 0..50 {
            let a = Arc::new(TcpStream::connect(addr).unwrap());
            let (mut b, _) = l.accept().unwrap();
            let a2 = a.clone();
            let reader = gort::go(move || {
                let mut buf = [0u8; 16];
                (&*a2).read(&mut buf)
            });
            settle();
            a.close();
            let e = reader.join().unwrap().unwrap_err();
            assert!(net::is_closed(&e), "read after close: {e:?}");
            assert!(net::is_closed(&(&*a).write(b"x").unwrap_err()));
            assert!(net::is_closed(&(&*a).read(&mut [0u8; 4]).unwrap_err()));
            // The peer sees end of stream.
            let mut buf = [0u8; 4];
            assert_eq!(b.read(&mut buf).unwrap(), 0);
        }
    });
}

#[test]
fn closing_udp_and_unix_sockets() {
    on_thread_and_goroutine(|| {
        let u = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let u2 = u.clone();
        let h = gort::go(move || u2.recv_from(&mut [0u8; 64]).map(|_| ()));
        settle();
        u.close();
        assert!(net::is_closed(&h.join().unwrap().unwrap_err()));
        assert!(net::is_closed(&u.send_to(b"x", "127.0.0.1:9").unwrap_err()));

        let dir = std::env::temp_dir().join(format!(
            "gort-close-{}-{:?}",
            std::process::id(),
            gort::goroutine_id()
        ));
        let _ = std::fs::remove_file(&dir);
        let ul = Arc::new(UnixListener::bind(&dir).unwrap());
        let ul2 = ul.clone();
        let h = gort::go(move || ul2.accept().map(|_| ()));
        settle();
        ul.close();
        assert!(net::is_closed(&h.join().unwrap().unwrap_err()));
        assert!(
            UnixStream::connect(&dir).is_err(),
            "closed listener refuses"
        );
        let _ = std::fs::remove_file(&dir);

        let (s1, _s2) = UnixStream::pair().unwrap();
        let s1 = Arc::new(s1);
        let s1b = s1.clone();
        let h = gort::go(move || (&*s1b).read(&mut [0u8; 8]));
        settle();
        s1.close();
        assert!(net::is_closed(&h.join().unwrap().unwrap_err()));

        let (d1, _d2) = UnixDatagram::pair().unwrap();
        d1.close();
        assert!(net::is_closed(&d1.recv(&mut [0u8; 8]).unwrap_err()));
    });
}

#[test]
fn deadline_handle_close_cannot_touch_a_reused_descriptor() {
    on_thread_and_goroutine(|| {
        for _ in 0..50 {
            let old = TcpListener::bind("127.0.0.1:0").unwrap();
            let h = old.deadline_handle();
            drop(old);
            // The next socket usually gets the same descriptor number (and descriptor
            // state from the pool); the stale handle must not close it.
            let new = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = new.local_addr().unwrap();
            h.close();
            let c = TcpStream::connect(addr).expect("new listener still listens");
            new.accept().expect("new listener still accepts");
            drop(c);
            // A live handle does close its own socket.
            let h = new.deadline_handle();
            let nh = Arc::new(new);
            let n2 = nh.clone();
            let acc = gort::go(move || n2.accept().map(|_| ()));
            settle();
            h.close();
            assert!(net::is_closed(&acc.join().unwrap().unwrap_err()));
        }
    });
}

#[test]
fn close_is_not_a_timeout() {
    on_thread_and_goroutine(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // A deadline is TimedOut and not "closed"; close is "closed" and not TimedOut.
        l.set_read_deadline(Some(std::time::Instant::now()));
        let e = l.accept().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(!net::is_closed(&e));
        l.set_read_deadline(None);
        l.close();
        let e = l.accept().unwrap_err();
        assert!(net::is_closed(&e));
        assert_ne!(e.kind(), ErrorKind::TimedOut);
        // An ordinary error is not "closed".
        assert!(!net::is_closed(&std::io::Error::other("x")));
    });
}
