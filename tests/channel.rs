//! Channel semantics: hand-off, buffering, close, disconnection, timeouts, iteration,
//! with goroutines and threads as the parties in every combination.

mod common;
use common::within;
use gort::chan::{self, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Runs `f` on a goroutine or a plain thread; returns a joiner.
fn spawn<T: Send + 'static>(
    goroutine: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> impl FnOnce() -> T {
    enum H<T> {
        G(gort::JoinHandle<T>),
        T(std::thread::JoinHandle<T>),
    }
    let h = if goroutine {
        H::G(gort::go(f))
    } else {
        H::T(std::thread::spawn(f))
    };
    move || match h {
        H::G(h) => h.join().unwrap(),
        H::T(h) => h.join().unwrap(),
    }
}

const KINDS: [(bool, bool); 4] = [(true, true), (true, false), (false, true), (false, false)];

#[test]
fn mpmc_transfer_loses_and_duplicates_nothing() {
    within(120, || {
        for cap in [0, 1, 7, 128] {
            for (gp, gc) in KINDS {
                let (tx, rx) = chan::bounded::<u64>(cap);
                let per = 2000u64;
                let producers: Vec<_> = (0..4u64)
                    .map(|p| {
                        let tx = tx.clone();
                        spawn(gp, move || {
                            for i in 0..per {
                                tx.send(p * per + i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let consumers: Vec<_> = (0..4)
                    .map(|_| {
                        let rx = rx.clone();
                        spawn(gc, move || {
                            let mut seen = Vec::new();
                            for v in &rx {
                                seen.push(v);
                            }
                            seen
                        })
                    })
                    .collect();
                for p in producers {
                    p();
                }
                let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c()).collect();
                all.sort_unstable();
                assert_eq!(
                    all,
                    (0..4 * per).collect::<Vec<_>>(),
                    "cap {cap} g/t {gp}/{gc}"
                );
            }
        }
    });
}

#[test]
fn unbounded_and_fifo_order_per_sender() {
    within(60, || {
        let (tx, rx) = chan::unbounded::<(u8, u32)>();
        let hs: Vec<_> = (0..3u8)
            .map(|s| {
                let tx = tx.clone();
                spawn(s % 2 == 0, move || {
                    for i in 0..10_000 {
                        tx.send((s, i)).unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h();
        }
        drop(tx);
        assert_eq!(rx.capacity(), None);
        let mut next = [0u32; 3];
        for (s, i) in rx {
            assert_eq!(i, next[s as usize], "out of order from sender {s}");
            next[s as usize] += 1;
        }
        assert_eq!(next, [10_000; 3]);
    });
}

#[test]
fn close_drains_buffer_then_fails_and_gives_values_back() {
    within(60, || {
        let (tx, rx) = chan::bounded(3);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert!(!tx.is_closed());
        tx.close().unwrap();
        assert!(tx.is_closed() && rx.is_closed());
        assert_eq!(
            tx.close(),
            Err(chan::CloseError),
            "second close is an error, not a panic"
        );
        assert_eq!(rx.close(), Err(chan::CloseError));
        assert_eq!(
            tx.send(3).unwrap_err().into_inner(),
            3,
            "send on closed gives the value back"
        );
        assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    });
}

#[test]
fn close_wakes_every_blocked_party() {
    within(60, || {
        for (g1, g2) in KINDS {
            for _ in 0..50 {
                let (tx, rx) = chan::bounded::<String>(0);
                let receivers: Vec<_> = (0..3)
                    .map(|_| {
                        let rx = rx.clone();
                        spawn(g1, move || rx.recv())
                    })
                    .collect();
                let (tx2, rx2) = chan::bounded::<String>(0);
                let senders: Vec<_> = (0..3)
                    .map(|i| {
                        let tx2 = tx2.clone();
                        spawn(g2, move || {
                            tx2.send(format!("v{i}")).map_err(|e| e.into_inner())
                        })
                    })
                    .collect();
                // Let them block (not required for correctness: either way they must end).
                while rx.__waiters().0 < 3 || rx2.__waiters().1 < 3 {
                    std::thread::yield_now();
                }
                tx.close().unwrap();
                rx2.close().unwrap();
                for r in receivers {
                    assert_eq!(r(), Err(RecvError));
                }
                let mut back: Vec<String> = senders.into_iter().map(|s| s().unwrap_err()).collect();
                back.sort();
                assert_eq!(
                    back,
                    ["v0", "v1", "v2"],
                    "blocked senders get their values back"
                );
            }
        }
    });
}

#[test]
fn dropping_senders_closes_and_dropping_receivers_fails_sends() {
    within(60, || {
        let (tx, rx) = chan::bounded::<u8>(1);
        let tx2 = tx.clone();
        drop(tx);
        assert!(!rx.is_closed(), "one sender is left");
        tx2.send(9).unwrap();
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv(), Ok(9));
        assert_eq!(rx.recv(), Err(RecvError));

        let (tx, rx) = chan::bounded::<Vec<u8>>(0);
        let blocked = {
            let tx = tx.clone();
            spawn(true, move || tx.send(vec![1, 2, 3]))
        };
        while tx.__waiters().1 == 0 {
            std::thread::yield_now();
        }
        drop(rx);
        assert_eq!(blocked().unwrap_err().into_inner(), vec![1, 2, 3]);
        assert_eq!(tx.send(vec![4]).unwrap_err().into_inner(), vec![4]);
    });
}

#[test]
fn buffered_values_are_dropped_with_the_last_receiver_not_leaked() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct D;
    impl Drop for D {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    let (tx, rx) = chan::bounded(8);
    for _ in 0..5 {
        tx.send(D).unwrap();
    }
    drop(rx);
    assert_eq!(DROPS.load(SeqCst), 5, "nobody can receive them any more");
    drop(tx);
    assert_eq!(DROPS.load(SeqCst), 5);
}

#[test]
fn try_operations() {
    let (tx, rx) = chan::bounded(1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send(1).unwrap();
    assert!(tx.is_full() && !tx.is_empty() && tx.len() == 1 && tx.capacity() == Some(1));
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.try_recv(), Ok(1));
    let (tx0, rx0) = chan::bounded::<i32>(0);
    assert_eq!(
        tx0.try_send(5),
        Err(TrySendError::Full(5)),
        "no receiver waiting"
    );
    assert!(tx0.is_full() && rx0.is_empty());
    assert_eq!(rx.try_iter().count(), 0);
}

#[test]
fn timeouts_in_goroutines_and_threads() {
    within(60, || {
        for g in [true, false] {
            spawn(g, || {
                let (tx, rx) = chan::bounded::<i32>(0);
                let t = Instant::now();
                assert_eq!(
                    rx.recv_timeout(Duration::from_millis(20)),
                    Err(RecvTimeoutError::Timeout)
                );
                assert!(t.elapsed() >= Duration::from_millis(20));
                let t = Instant::now();
                assert_eq!(
                    tx.send_timeout(3, Duration::from_millis(20)),
                    Err(SendTimeoutError::Timeout(3))
                );
                assert!(t.elapsed() >= Duration::from_millis(20));
                // Deadlines in the past return at once.
                let past = Instant::now() - Duration::from_secs(1);
                assert_eq!(rx.recv_deadline(past), Err(RecvTimeoutError::Timeout));
                assert_eq!(tx.send_deadline(4, past), Err(SendTimeoutError::Timeout(4)));
                // Nothing is left queued after the timeouts.
                assert_eq!(rx.__waiters(), (0, 0));
            })();
        }
    });
}

#[test]
fn duration_max_means_forever_without_overflow() {
    within(60, || {
        let (tx, rx) = chan::bounded::<i32>(0);
        let h = spawn(true, move || rx.recv_timeout(Duration::MAX));
        let h2 = spawn(false, move || tx.send_timeout(8, Duration::MAX));
        assert_eq!(h(), Ok(8));
        assert_eq!(h2(), Ok(()));
    });
}

#[test]
fn timeout_racing_with_a_transfer_loses_nothing() {
    within(120, || {
        for (gs, gr) in KINDS {
            let (tx, rx) = chan::bounded::<u64>(0);
            let n = 3000u64;
            let sender = spawn(gs, move || {
                let mut unsent = 0;
                for i in 0..n {
                    match tx.send_timeout(i, Duration::from_micros(i % 40)) {
                        Ok(()) => {}
                        Err(e) => {
                            assert_eq!(e.into_inner(), i, "timeout gave back another value");
                            unsent += 1;
                        }
                    }
                }
                unsent
            });
            let receiver = spawn(gr, move || {
                let mut got = 0;
                loop {
                    match rx.recv_timeout(Duration::from_micros(50)) {
                        Ok(_) => got += 1,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return got,
                    }
                }
            });
            let unsent = sender();
            let got = receiver();
            assert_eq!(
                unsent + got,
                n,
                "every value was either received or given back"
            );
        }
    });
}

#[test]
fn zero_sized_messages() {
    within(60, || {
        let (tx, rx) = chan::bounded::<()>(usize::MAX / 2);
        for _ in 0..1000 {
            tx.send(()).unwrap();
        }
        assert_eq!(rx.len(), 1000);
        assert_eq!(rx.try_iter().count(), 1000);
        let (tx, rx) = chan::bounded::<()>(0);
        let h = spawn(true, move || (0..1000).for_each(|_| tx.send(()).unwrap()));
        assert_eq!(rx.iter().count(), 1000);
        h();
    });
}

#[test]
fn absurd_capacities_panic_at_construction_with_a_message() {
    let r = std::panic::catch_unwind(|| chan::bounded::<u64>(usize::MAX));
    let msg = r
        .unwrap_err()
        .downcast::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(msg.contains("unbounded"), "{msg}");
    let r = std::panic::catch_unwind(|| chan::bounded::<u64>(usize::MAX / 4));
    let msg = r
        .unwrap_err()
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(msg.contains("does not fit"), "{msg}");
    // A large but possible capacity costs nothing until used.
    let (tx, _rx) = chan::bounded::<u64>(1 << 30);
    tx.send(1).unwrap();
}

#[test]
fn never_is_never_ready() {
    let rx = chan::never::<i32>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(!rx.is_closed());
}

#[test]
fn iterators() {
    let (tx, rx) = chan::bounded(10);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [2, 3, 4]);
    let (tx, rx) = chan::unbounded();
    tx.send("a").unwrap();
    drop(tx);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn many_goroutines_parked_on_one_channel_all_wake() {
    within(120, || {
        let (tx, rx) = chan::bounded::<u32>(0);
        let n = 20_000;
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let rx = rx.clone();
                gort::go(move || rx.recv().unwrap())
            })
            .collect();
        for i in 0..n {
            tx.send(i).unwrap();
        }
        let mut got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
    });
}
