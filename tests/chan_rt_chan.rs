// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/runtime/chan_test.go (https://github.com/golang/go); Go's LICENSE file
// is tests/LICENSE-GO. gort's changes are described below.

//! Ports of the channel tests of Go's `src/runtime/chan_test.go`: `TestChan` (for every
//! capacity 0..100 with goroutines, 0..40 with threads: receive from an empty channel blocks, send to a full one blocks, a closed
//! channel drains then reports closed, close unblocks a receiver, FIFO order, no value lost
//! or duplicated among 4 senders and 4 receivers, len/cap), `TestNonblockRecvRace`,
//! `TestMultiConsumer` and `TestChanSendInterface`. (`TestShrinkStackDuringBlockingSend`
//! and the stack-adjust tests are about Go's movable stacks and have no port.)

mod common_chan;
use common_chan::*;
use gort::chan::{self, TryRecvError, TrySendError};
use gort::select;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

fn test_chan(kind: Kind, chan_cap: usize, l: usize) {
    {
        // Receive from an empty channel blocks.
        let (tx, rx) = chan::bounded::<i32>(chan_cap);
        let recv1 = Arc::new(AtomicBool::new(false));
        let recv2 = Arc::new(AtomicBool::new(false));
        let (r, f) = (rx.clone(), recv1.clone());
        let j1 = spawn(kind, move || {
            let _ = r.recv();
            f.store(true, SeqCst);
        });
        let (r, f) = (rx.clone(), recv2.clone());
        let j2 = spawn(kind, move || {
            select! {
                recv(r) -> _ => f.store(true, SeqCst),
            }
        });
        pause();
        assert!(
            !recv1.load(SeqCst) && !recv2.load(SeqCst),
            "chan[{chan_cap}]: receive from empty chan"
        );
        // A non-blocking receive does not block.
        select! {
            recv(rx) -> _ => panic!("chan[{chan_cap}]: receive from empty chan"),
            default => {}
        }
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "chan[{chan_cap}]: receive from empty chan"
        );
        tx.send(0).unwrap();
        tx.send(0).unwrap();
        j1();
        j2();
        assert!(recv1.load(SeqCst) && recv2.load(SeqCst));
    }

    {
        // Send to a full channel blocks.
        let (tx, rx) = chan::bounded::<i32>(chan_cap);
        for i in 0..chan_cap {
            tx.send(i as i32).unwrap();
        }
        let sent = Arc::new(AtomicBool::new(false));
        let (t, s) = (tx.clone(), sent.clone());
        let j = spawn(kind, move || {
            t.send(0).unwrap();
            s.store(true, SeqCst);
        });
        pause();
        assert!(!sent.load(SeqCst), "chan[{chan_cap}]: send to full chan");
        // A non-blocking send does not block.
        select! {
            send(tx, 0) -> _ => panic!("chan[{chan_cap}]: send to full chan"),
            default => {}
        }
        assert_eq!(
            tx.try_send(7),
            Err(TrySendError::Full(7)),
            "chan[{chan_cap}]: send to full chan"
        );
        rx.recv().unwrap();
        j();
        assert!(sent.load(SeqCst));
    }

    {
        // A closed channel gives its values, then reports closed.
        let (tx, rx) = chan::bounded::<usize>(chan_cap);
        for i in 0..chan_cap {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
        for i in 0..chan_cap {
            let v = rx.recv().unwrap();
            assert_eq!(v, i, "chan[{chan_cap}]: received {v}, expected {i}");
        }
        assert!(
            rx.recv().is_err(),
            "chan[{chan_cap}]: value from a drained closed chan"
        );
        assert!(
            rx.recv().is_err(),
            "chan[{chan_cap}]: value from a drained closed chan"
        );
    }

    {
        // Close unblocks a receive.
        let (tx, rx) = chan::bounded::<i32>(chan_cap);
        let (done_tx, done) = chan::bounded::<bool>(0);
        let j = spawn(kind, move || done_tx.send(rx.recv().is_err()).unwrap());
        pause();
        tx.close().unwrap();
        assert!(
            done.recv().unwrap(),
            "chan[{chan_cap}]: received a value from a closed chan"
        );
        j();
    }

    {
        // 100 integers arrive uncorrupted, in FIFO order.
        let (tx, rx) = chan::bounded::<usize>(chan_cap);
        for _ in 0..2 {
            let t = tx.clone();
            let j = spawn(kind, move || {
                for i in 0..100 {
                    t.send(i).unwrap();
                }
            });
            for i in 0..100 {
                let v = rx.recv();
                assert_eq!(v, Ok(i), "chan[{chan_cap}]: received {v:?}, expected {i}");
            }
            j();
        }

        // L integers from each of 4 senders, to 4 receivers: each value arrives 4 times.
        const P: usize = 4;
        let mut js = Vec::new();
        for _ in 0..P {
            let t = tx.clone();
            js.push(spawn(kind, move || {
                for i in 0..l {
                    t.send(i).unwrap();
                }
            }));
        }
        let (done_tx, done) = chan::bounded::<HashMap<usize, usize>>(0);
        for _ in 0..P {
            let (r, d) = (rx.clone(), done_tx.clone());
            js.push(spawn(kind, move || {
                let mut recv = HashMap::new();
                for _ in 0..l {
                    *recv.entry(r.recv().unwrap()).or_insert(0) += 1;
                }
                d.send(recv).unwrap();
            }));
        }
        let mut recv = HashMap::new();
        for _ in 0..P {
            for (k, v) in done.recv().unwrap() {
                *recv.entry(k).or_insert(0) += v;
            }
        }
        join_all(js);
        assert_eq!(
            recv.len(),
            l,
            "chan[{chan_cap}]: received {} values, expected {l}",
            recv.len()
        );
        for (k, &v) in &recv {
            assert_eq!(
                v, P,
                "chan[{chan_cap}]: value {k} received {v} times, expected {P}"
            );
        }
        assert!(rx.is_empty());
    }

    {
        // len and cap.
        let (tx, rx) = chan::bounded::<usize>(chan_cap);
        assert_eq!(
            (rx.len(), rx.capacity()),
            (0, Some(chan_cap)),
            "chan[{chan_cap}]: bad len/cap"
        );
        for i in 0..chan_cap {
            tx.send(i).unwrap();
        }
        assert_eq!(
            (tx.len(), tx.capacity()),
            (chan_cap, Some(chan_cap)),
            "chan[{chan_cap}]: bad len/cap"
        );
        assert!(tx.is_full() && rx.is_full());
        assert_eq!(rx.is_empty(), chan_cap == 0);
    }
}

#[test]
fn test_chan_goroutines() {
    scenario(120, Kind::Goroutine, || {
        for chan_cap in 0..100 {
            test_chan(Kind::Goroutine, chan_cap, 1000);
        }
    });
}

#[test]
fn test_chan_threads() {
    scenario(120, Kind::Thread, || {
        for chan_cap in 0..40 {
            test_chan(Kind::Thread, chan_cap, 500);
        }
    });
}

/// A value is buffered, then the channel is closed and the value taken: a concurrent
/// non-blocking receive must find the channel ready (a value, or closed), never take
/// `default`.
fn nonblock_recv_race(kind: Kind, n: usize) {
    scenario(120, kind, move || {
        for _ in 0..n {
            let (tx, rx) = chan::bounded::<i32>(1);
            tx.send(1).unwrap();
            let r = rx.clone();
            let j = spawn(kind, move || {
                select! {
                    recv(r) -> _ => {},
                    default => panic!("chan is not ready"),
                }
            });
            tx.close().unwrap();
            let _ = rx.recv();
            j();
        }
    })
}

#[test]
fn nonblock_recv_race_goroutines() {
    nonblock_recv_race(Kind::Goroutine, 10_000);
}

#[test]
fn nonblock_recv_race_threads() {
    nonblock_recv_race(Kind::Thread, 2_000);
}

/// 23 workers range over a shared work channel (some yielding to upset FIFO-ish order) and
/// forward to a results channel, closed by the feeder once all workers are done: the
/// consumer sees every value exactly once (count and sum).
fn multi_consumer(kind: Kind, niter: usize) {
    scenario(120, kind, move || {
        const NWORK: usize = 23;
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let (q_tx, q) = chan::bounded::<usize>(NWORK * 3);
        let (r_tx, r) = chan::bounded::<usize>(NWORK * 3);
        let workers: Vec<_> = (0..NWORK)
            .map(|w| {
                let (q, r_tx) = (q.clone(), r_tx.clone());
                spawn(kind, move || {
                    for v in &q {
                        // Mess with the FIFO-ish nature of range.
                        if PN[w % PN.len()] == v {
                            gort::yield_now();
                        }
                        r_tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        drop(q);
        // Feeder and closer.
        let (expect_tx, expect_rx) = chan::bounded::<usize>(1);
        let feeder = spawn(kind, move || {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).unwrap();
            }
            q_tx.close().unwrap(); // no more work
            join_all(workers); // workers done
            r_tx.close().unwrap(); // ... so there can be no more results
            expect_tx.send(expect).unwrap();
        });
        // Consume and check.
        let (mut n, mut s) = (0, 0);
        for v in &r {
            n += 1;
            s += v;
        }
        feeder();
        let expect = expect_rx.recv().unwrap();
        assert!(
            n == niter && s == expect,
            "expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    })
}

#[test]
fn multi_consumer_goroutines() {
    multi_consumer(Kind::Goroutine, 271_828);
}

#[test]
fn multi_consumer_threads() {
    multi_consumer(Kind::Thread, 100_000);
}

/// `TestChanSendInterface`: boxed trait objects through a channel and selects.
#[test]
fn chan_send_interface() {
    #[derive(Debug)]
    struct Mt;
    let (c, rx) = chan::bounded::<Box<dyn Any + Send>>(1);
    c.send(Box::new(Mt)).unwrap();
    select! {
        send(c, Box::new(Mt)) -> _ => panic!("buffer is full"),
        default => {}
    }
    select! {
        send(c, Box::new(Mt)) -> _ => panic!("buffer is full"),
        send(c, Box::new(5u8)) -> _ => panic!("buffer is full"),
        default => {}
    }
    let v = rx.recv().unwrap();
    assert!(v.is::<Mt>());
    assert!(rx.is_empty());
}
