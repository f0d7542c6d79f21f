//! `errno` after a goroutine changed threads: a socket call that fails with `EAGAIN` after a
//! park must report that, not the last error of the thread the goroutine parked on.
//!
//! Many goroutines (and two plain threads) accept on one listener; an arriving connection wakes all of them, one wins and the others retry, get `EAGAIN`,
//! and park again, often on another thread after the wake. Meanwhile noise goroutines make
//! every thread's `errno` `EBADF` (`close(-1)`) between their yields. Before the fix the
//! retry's `errno` address was computed once per call, before the park, and an acceptor
//! could read the old thread's `EBADF` and fail with "Bad file descriptor" (this test
//! failed in 3 runs of 3 with the attempt's frame inlined again, in release builds).

mod common;

use gort::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

const ROUNDS: usize = 3000;
const WAITERS: usize = 10;
/// Of the `WAITERS`, how many are plain threads (the rest are goroutines).
const THREAD_WAITERS: usize = 2;
const NOISE: usize = 4;

/// Goroutines that set `EBADF` on whatever thread they run on, until `stop`.
fn noise(stop: &Arc<AtomicBool>) -> Vec<gort::JoinHandle<()>> {
    (0..NOISE)
        .map(|_| {
            let stop = stop.clone();
            gort::go(move || {
                while !stop.load(SeqCst) {
                    // SAFETY: closing -1 only fails with EBADF; that is the point.
                    unsafe { libc::close(-1) };
                    gort::yield_now();
                }
            })
        })
        .collect()
}

#[test]
fn accept_retry_after_a_thread_change_reports_eagain_not_the_old_threads_errno() {
    common::within(300, || {
        gort::set_procs(4);
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let noise = noise(&stop);
        // Goroutine acceptors (which change threads) and plain-thread acceptors (which
        // block in the park seam on their own thread) share the listener.
        let accept_loop = move |listener: Arc<TcpListener>| {
            move || {
                let mut n = 0;
                loop {
                    let (conn, _) = listener.accept().expect("accept failed");
                    let mut b = [0u8; 1];
                    use std::io::Read;
                    if (&conn).read(&mut b).unwrap() == 1 && b[0] == b'q' {
                        return n;
                    }
                    n += 1;
                }
            }
        };
        let mut acceptors: Vec<Box<dyn FnOnce() -> usize>> = Vec::new();
        for i in 0..WAITERS {
            let f = accept_loop(listener.clone());
            if i < THREAD_WAITERS {
                let h = std::thread::spawn(f);
                acceptors.push(Box::new(move || h.join().unwrap()));
            } else {
                let h = gort::go(f);
                acceptors.push(Box::new(move || h.join().unwrap()));
            }
        }
        for _ in 0..ROUNDS {
            let mut c = TcpStream::connect(addr).unwrap();
            use std::io::Write;
            c.write_all(b"x").unwrap();
        }
        for _ in 0..WAITERS {
            let mut c = TcpStream::connect(addr).unwrap();
            use std::io::Write;
            c.write_all(b"q").unwrap();
        }
        let accepted: usize = acceptors.into_iter().map(|join| join()).sum();
        stop.store(true, SeqCst);
        noise.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(accepted, ROUNDS);
    });
}
