//! When buffered values are dropped, and what a panicking `Drop` does: values left in a
//! channel are dropped when the last receiver goes (nobody can receive them any more), each
//! exactly once, outside the channel's lock; a `Drop` that panics propagates from there like
//! any other panic, and a second one does not abort the process. On goroutines and threads.

mod common_chan;
use common_chan::{common, scenario, spawn, Kind, KINDS};
use gort::chan;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Counts its drops; panics in `drop` with `"drop {id}"` if `panics`.
struct Noisy {
    id: usize,
    panics: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.panics {
            panic!("drop {}", self.id);
        }
    }
}

fn noisy(id: usize, panics: bool, drops: &Arc<AtomicUsize>) -> Noisy {
    Noisy {
        id,
        panics,
        drops: drops.clone(),
    }
}

/// The message of a panic payload.
fn message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs `f` as a party of `kind` and returns its panic message, if it panicked.
fn panic_of(kind: Kind, f: impl FnOnce() + Send + 'static) -> Option<String> {
    let join = spawn(kind, f);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(join))
        .err()
        .map(|p| message(&*p))
}

/// Two buffered values whose `Drop` panics, freed with the channel: the first panic
/// propagates from the drop of the last end, both values are dropped once, and the process
/// lives. (Before: the second panic while unwinding aborted the process.) Run in a child
/// process, so that an abort fails this test instead of killing the test binary.
#[test]
fn two_panicking_drops_propagate_the_first_panic() {
    const NAME: &str = "two_panicking_drops_propagate_the_first_panic";
    if !common::is_child(NAME) {
        let out = common::child(NAME, &[]);
        assert!(
            out.status.success(),
            "the child process failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    for kind in KINDS {
        for rx_last in [true, false] {
            for cap in [2, 8] {
                scenario(30, kind, move || {
                    let drops = Arc::new(AtomicUsize::new(0));
                    let (tx, rx) = chan::bounded(cap);
                    tx.send(noisy(0, true, &drops)).unwrap();
                    tx.send(noisy(1, true, &drops)).unwrap();
                    let msg = panic_of(kind, move || {
                        if rx_last {
                            drop(tx);
                            drop(rx);
                        } else {
                            drop(rx);
                            drop(tx);
                        }
                    });
                    assert_eq!(msg.as_deref(), Some("drop 0"), "{kind:?}");
                    assert_eq!(drops.load(SeqCst), 2, "each value dropped exactly once");
                });
            }
        }
        // Unbounded too, with panicking and quiet values mixed.
        scenario(30, kind, move || {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = chan::unbounded();
            for i in 0..10 {
                tx.send(noisy(i, i % 3 == 1, &drops)).unwrap();
            }
            drop(tx);
            let msg = panic_of(kind, move || drop(rx));
            assert_eq!(msg.as_deref(), Some("drop 1"));
            assert_eq!(drops.load(SeqCst), 10);
        });
    }
}

/// The buffered values are dropped when the last receiver goes, while senders still live
/// (crossbeam drops them then too). Before: they stayed until the last sender went.
#[test]
fn buffered_values_are_dropped_with_the_last_receiver() {
    for kind in KINDS {
        for cap in [Some(1), Some(4), None] {
            scenario(30, kind, move || {
                let drops = Arc::new(AtomicUsize::new(0));
                let (tx, rx) = match cap {
                    Some(c) => chan::bounded(c),
                    None => chan::unbounded(),
                };
                let n = cap.unwrap_or(100);
                for i in 0..n {
                    tx.send(noisy(i, false, &drops)).unwrap();
                }
                let rx2 = rx.clone();
                spawn(kind, move || drop(rx))();
                assert_eq!(drops.load(SeqCst), 0, "a receiver is left");
                spawn(kind, move || drop(rx2))();
                assert_eq!(drops.load(SeqCst), n, "dropped with the last receiver");
                assert!(tx.is_empty());
                // Sends fail now and hand their value back.
                let v = tx.send(noisy(n, false, &drops)).unwrap_err().into_inner();
                assert_eq!(v.id, n);
                drop(v);
                drop(tx);
                assert_eq!(drops.load(SeqCst), n + 1, "nothing dropped twice");
            });
        }
    }
}

/// A buffered value whose `Drop` uses the channel (sends on it, looks at its length): the
/// last receiver's drop must not hold the channel's lock while dropping it. Before: the
/// value was never dropped (it holds a sender, so the channel was never freed).
#[test]
fn a_buffered_values_drop_may_use_the_channel() {
    struct Echo {
        tx: chan::Sender<Echo>,
        seen: Arc<Mutex<Vec<String>>>,
    }
    impl Drop for Echo {
        fn drop(&mut self) {
            let (tx, seen) = (self.tx.clone(), self.seen.clone());
            let r = tx.try_send(Echo {
                tx: self.tx.clone(),
                seen: seen.clone(),
            });
            let what = match r {
                Ok(()) => "sent".to_string(),
                Err(e) => {
                    let back = e.into_inner();
                    // The returned value must not echo forever: forget its echo.
                    std::mem::forget(back);
                    format!("refused, len {}", tx.len())
                }
            };
            seen.lock().unwrap().push(what);
        }
    }
    for kind in KINDS {
        scenario(30, kind, move || {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (tx, rx) = chan::bounded(2);
            tx.send(Echo {
                tx: tx.clone(),
                seen: seen.clone(),
            })
            .unwrap();
            drop(tx);
            spawn(kind, move || drop(rx))();
            assert_eq!(*seen.lock().unwrap(), vec!["refused, len 0".to_string()]);
        });
    }
}

/// A panicking `Drop` at the last receiver's drop while a sender lives and another sender
/// is blocked: the panic propagates, every value is dropped once, the blocked sender gets
/// its value back and later sends fail.
#[test]
fn a_panicking_drop_at_the_last_receiver_loses_no_wake_up() {
    for kind in KINDS {
        scenario(30, kind, move || {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = chan::bounded(2);
            tx.send(noisy(0, true, &drops)).unwrap();
            tx.send(noisy(1, true, &drops)).unwrap();
            let (tx2, d2) = (tx.clone(), drops.clone());
            let blocked = spawn(kind, move || {
                let v = tx2.send(noisy(2, false, &d2)).unwrap_err().into_inner();
                assert_eq!(v.id, 2);
            });
            while rx.__waiters().1 == 0 {
                gort::yield_now();
                std::thread::yield_now();
            }
            let msg = panic_of(kind, move || drop(rx));
            assert_eq!(msg.as_deref(), Some("drop 0"));
            blocked();
            assert_eq!(drops.load(SeqCst), 3);
            assert!(tx.send(noisy(3, false, &drops)).is_err());
            assert_eq!(drops.load(SeqCst), 4);
        });
    }
}

/// Senders racing with the last receiver's drop: every value is received, handed back by
/// a failed send, or dropped with the buffer, exactly once, and all of that has happened by
/// the time the senders see their sends fail (while they still hold their senders).
#[test]
fn values_racing_the_last_receivers_drop_are_accounted_once() {
    const SENDERS: usize = 4;
    for kind in KINDS {
        for cap in [Some(0), Some(1), Some(16), None] {
            scenario(120, kind, move || {
                for round in 0..50 {
                    let made = Arc::new(AtomicUsize::new(0));
                    let drops = Arc::new(AtomicUsize::new(0));
                    let (tx, rx) = match cap {
                        Some(c) => chan::bounded(c),
                        None => chan::unbounded(),
                    };
                    let (done_tx, done_rx) = chan::unbounded::<chan::Sender<Noisy>>();
                    let senders: Vec<_> = (0..SENDERS)
                        .map(|s| {
                            let (tx, made, drops, done_tx) =
                                (tx.clone(), made.clone(), drops.clone(), done_tx.clone());
                            spawn(kind, move || {
                                // Bounded, so an unbounded channel's senders stop too.
                                for i in 0..20_000 {
                                    made.fetch_add(1, SeqCst);
                                    if tx.send(noisy(s * 1_000_000 + i, false, &drops)).is_err() {
                                        break;
                                    }
                                }
                                // Keep the sender alive past the check below.
                                done_tx.send(tx).unwrap();
                            })
                        })
                        .collect();
                    drop(tx);
                    let received = spawn(kind, move || {
                        for _ in 0..(round % 7) * 10 {
                            if rx.recv().is_err() {
                                break;
                            }
                        }
                        drop(rx);
                    });
                    received();
                    let kept: Vec<_> = (0..SENDERS).map(|_| done_rx.recv().unwrap()).collect();
                    assert_eq!(
                        drops.load(SeqCst),
                        made.load(SeqCst),
                        "{kind:?} cap {cap:?} round {round}: every value dropped once while \
                         senders live"
                    );
                    drop(kept);
                    common_chan::join_all(senders);
                    assert_eq!(drops.load(SeqCst), made.load(SeqCst));
                }
            });
        }
    }
}

/// An unbounded channel gives a burst's memory back once the burst is over (the buffer
/// empties after a small fill), and keeps its buffer for a backlog that keeps coming back
/// to the same size (regrowing it every time costs 22% per value at 50,000). Before: the
/// peak backlog's buffer stayed until the channel was dropped.
#[test]
fn an_unbounded_buffer_gives_a_bursts_memory_back() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (tx, rx) = chan::unbounded::<u64>();
            // The burst: a sender far ahead of its receiver.
            let tx2 = tx.clone();
            spawn(kind, move || {
                for i in 0..200_000 {
                    tx2.send(i).unwrap();
                }
            })();
            let rx2 = rx.clone();
            spawn(kind, move || {
                for i in 0..200_000 {
                    assert_eq!(rx2.recv(), Ok(i));
                }
            })();
            let burst = rx.__buffer_slots();
            // A backlog of the same size again keeps the buffer.
            for i in 0..150_000 {
                tx.send(i).unwrap();
            }
            while rx.try_recv().is_ok() {}
            assert_eq!(
                rx.__buffer_slots(),
                burst,
                "a repeated backlog keeps its buffer"
            );
            // A small fill after the burst: the memory goes back.
            tx.send(1).unwrap();
            assert_eq!(rx.recv(), Ok(1));
            assert!(
                rx.__buffer_slots() <= 2048,
                "{} slots kept after the burst",
                rx.__buffer_slots()
            );
        });
    }
}
