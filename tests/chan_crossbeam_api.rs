//! The parts of crossbeam-channel's API a crossbeam user reaches for: `Select::ready`,
//! `try_ready`, `ready_timeout` and `remove`; `select_biased!`; `at`; `select!`'s trailing
//! commas, `default()` and temporaries in its operands; `UnwindSafe` ends; and
//! `Sender::never` (Go's nil channel in a send case). On goroutines and threads.

mod common_chan;
use common_chan::{join_all, pause, scenario, spawn, KINDS};
use gort::chan::{self, Receiver, Select, Sender};
use gort::{select, select_biased};
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn select_accepts_trailing_commas_and_default_parens() {
    let (s, r) = chan::unbounded::<usize>();
    select! {
        send(s, 1,) -> _ => {},
        recv(r,) -> _ => {},
        default(ms(1000),) => {},
    }
    let (s, r) = chan::bounded::<i32>(0);
    select! {
        send(s, 0) -> _ => panic!(),
        default() => {}
    }
    select! {
        recv(r) -> _ => panic!(),
        default() => {},
    }
    select! {
        default() => {}
    }
}

#[allow(clippy::unnecessary_literal_unwrap)] // the temporaries are the point
#[test]
fn select_keeps_temporaries_in_operands_alive() {
    let (s, r) = chan::unbounded::<i32>();
    s.send(1).unwrap();
    select! {
        recv(Some(&r).unwrap_or(&chan::never())) -> v => assert_eq!(v, Ok(1)),
        default => panic!("r had a value"),
    }
    let none: Option<&Receiver<i32>> = None;
    select! {
        recv(none.unwrap_or(&chan::never())) -> _ => panic!("never is never ready"),
        default => {}
    }
    select! {
        send(Some(&s).unwrap_or(&Sender::never()), 2) -> res => res.unwrap(),
    }
    assert_eq!(r.try_recv(), Ok(2));
    select! {
        recv(chan::after(ms(1))) -> v => assert!(v.is_ok()),
    }
}

#[test]
fn select_biased_picks_the_first_ready_case() {
    for kind in KINDS {
        scenario(60, kind, move || {
            let (s1, r1) = chan::unbounded::<()>();
            let (s2, r2) = chan::unbounded::<()>();
            let (s3, r3) = chan::unbounded::<()>();
            for _ in 0..1000 {
                s1.send(()).unwrap();
                s2.send(()).unwrap();
            }
            s3.send(()).unwrap();
            let mut hits = [0; 3];
            for _ in 0..2000 {
                select_biased! {
                    recv(r1) -> _ => hits[0] += 1,
                    recv(r2) -> _ => hits[1] += 1,
                    recv(r3) -> _ => hits[2] += 1,
                    default() => unreachable!(),
                }
            }
            assert_eq!(hits, [1000, 1000, 0]);
            // Blocking: the case woken first is the one taken.
            let (s4, r4) = chan::bounded::<i32>(0);
            let j = spawn(kind, move || {
                pause();
                s4.send(4).unwrap();
            });
            select_biased! {
                recv(r3) -> v => assert_eq!(v, Ok(())),
                recv(r4) -> _ => panic!("r3 was ready"),
            }
            select_biased! {
                recv(r3) -> _ => panic!("r3 is empty"),
                recv(r4) -> v => assert_eq!(v, Ok(4)),
            }
            j();
        });
    }
}

#[test]
fn ends_are_unwind_safe() {
    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_unwind_safe::<Sender<i32>>();
    assert_unwind_safe::<Receiver<i32>>();
    let (s, r) = chan::unbounded::<i32>();
    let caught = std::panic::catch_unwind(|| {
        s.send(1).unwrap();
        panic!("after a send");
    });
    assert!(caught.is_err());
    assert_eq!(r.recv(), Ok(1));
}

#[test]
fn a_never_sender_never_fires() {
    for kind in KINDS {
        scenario(30, kind, move || {
            let off = Sender::<i32>::never();
            assert!(matches!(off.try_send(1), Err(chan::TrySendError::Full(1))));
            assert!(off.send_timeout(1, ms(10)).is_err());
            let (s, r) = chan::bounded::<i32>(1);
            // Go's idiom: a nil channel switches a send case off.
            for i in 0..4 {
                let out = if i % 2 == 0 { &s } else { &off };
                select! {
                    send(out, i) -> res => res.unwrap(),
                    default(ms(20)) => assert_eq!(i % 2, 1),
                }
                if i % 2 == 0 {
                    assert_eq!(r.recv(), Ok(i));
                }
            }
        });
    }
}

#[test]
fn at_fires_at_an_instant() {
    for kind in KINDS {
        scenario(30, kind, move || {
            let start = Instant::now();
            let when = start + ms(20);
            let fired = chan::at(when).recv().unwrap();
            assert!(fired >= when);
            // In the past: at once.
            assert!(chan::at(start)
                .recv_timeout(Duration::from_secs(10))
                .is_ok());
        });
    }
}

#[test]
fn select_remove_keeps_the_other_indices() {
    let (s1, r1) = chan::unbounded::<i32>();
    let (s2, r2) = chan::unbounded::<i32>();
    s1.send(1).unwrap();
    s2.send(2).unwrap();
    let mut sel = Select::new();
    let o1 = sel.recv(&r1);
    let o2 = sel.recv(&r2);
    sel.remove(o1);
    let op = sel.select();
    assert_eq!(op.index(), o2);
    assert_eq!(op.recv(&r2), Ok(2));
    let o3 = sel.recv(&r1);
    assert!(o3 != o1 && o3 != o2);
    assert_eq!(sel.try_ready(), Ok(o3));
    assert_eq!(r1.try_recv(), Ok(1));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sel.remove(o1)));
    assert!(r.is_err(), "removing twice panics");
}

#[test]
fn ready_reports_without_completing() {
    let (s1, r1) = chan::unbounded::<i32>();
    let (s2, r2) = chan::bounded::<i32>(0);
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.try_ready(), Err(chan::TryReadyError));
    assert_eq!(sel.ready_timeout(ms(20)), Err(chan::ReadyTimeoutError));
    s1.send(1).unwrap();
    assert_eq!(sel.try_ready(), Ok(0));
    assert_eq!(sel.ready(), 0);
    assert_eq!(r1.try_recv(), Ok(1), "ready took nothing");
    drop(s2);
    assert_eq!(sel.ready(), 1, "a closed channel is ready");
    // Sends: room, no receivers.
    let (s3, r3) = chan::bounded::<i32>(1);
    let mut sel = Select::new();
    sel.send(&s3, 0);
    assert_eq!(sel.try_ready(), Ok(0));
    s3.send(9).unwrap();
    assert_eq!(sel.try_ready(), Err(chan::TryReadyError));
    drop(r3);
    assert_eq!(sel.try_ready(), Ok(0), "a send without receivers is ready");
}

/// `ready` parks until another party makes a case ready: a value sent, a receiver queued
/// on an unbuffered channel (for a send case), a close.
#[test]
fn ready_wakes_on_every_kind_of_change() {
    for kind in KINDS {
        scenario(60, kind, move || {
            for round in 0..200 {
                let (s1, r1) = chan::bounded::<i32>(0);
                let (s2, r2) = chan::bounded::<i32>(round % 3);
                let (s3, r3) = chan::bounded::<i32>(0);
                let r1b = r1.clone();
                let peer = spawn(kind, move || match round % 3 {
                    0 => s2.send(7).unwrap(),
                    1 => assert_eq!(r1b.recv(), Ok(5)),
                    _ => drop(s2),
                });
                let mut sel = Select::new();
                let send1 = sel.send(&s1, 5);
                let recv2 = sel.recv(&r2);
                let _recv3 = sel.recv(&r3);
                match sel
                    .ready_timeout(Duration::from_secs(20))
                    .expect("a case got ready")
                {
                    i if i == recv2 && round % 3 != 1 => {
                        let v = r2.recv();
                        assert_eq!(v.ok(), (round % 3 == 0).then_some(7));
                    }
                    i if i == send1 && round % 3 == 1 => s1.send(5).unwrap(),
                    i => panic!("round {round}: case {i} reported ready"),
                }
                drop(sel);
                peer();
                drop((s3, r1));
            }
        });
    }
}

/// Many parties use `ready` on the same channels at once: each value is taken once, and
/// nobody sleeps through a change (a lost wake-up would hang until the guard fails).
#[test]
fn ready_stress_many_parties() {
    const N: usize = 2000;
    for kind in KINDS {
        scenario(120, kind, move || {
            let (s1, r1) = chan::unbounded::<usize>();
            let (s2, r2) = chan::bounded::<usize>(3);
            let (done_s, done_r) = chan::unbounded::<usize>();
            let takers: Vec<_> = (0..4)
                .map(|_| {
                    let (r1, r2, done_s) = (r1.clone(), r2.clone(), done_s.clone());
                    spawn(kind, move || {
                        let mut got = 0;
                        loop {
                            let mut sel = Select::new();
                            sel.recv(&r1);
                            sel.recv(&r2);
                            let i = sel.ready();
                            let r = if i == 0 { &r1 } else { &r2 };
                            match r.try_recv() {
                                Ok(v) if v == usize::MAX => break,
                                Ok(_) => got += 1,
                                Err(chan::TryRecvError::Empty) => {} // another taker won
                                Err(chan::TryRecvError::Disconnected) => break,
                            }
                        }
                        done_s.send(got).unwrap();
                    })
                })
                .collect();
            for i in 0..N {
                if i % 2 == 0 {
                    s1.send(i).unwrap();
                } else {
                    s2.send(i).unwrap();
                }
            }
            drop(s2);
            for _ in 0..4 {
                s1.send(usize::MAX).unwrap();
            }
            join_all(takers);
            drop(done_s);
            let total: usize = done_r.iter().sum();
            // The takers stop at the markers; the values they did not get are still there.
            let left = r1.try_iter().filter(|&v| v != usize::MAX).count() + r2.try_iter().count();
            assert_eq!(total + left, N);
        });
    }
}

/// Go's `<-ctx.Done()`: `Context::wait` returns the error once done; `done().recv()` is
/// `Err` then (the signal, a closed channel).
#[test]
fn context_wait_is_go_receive_from_done() {
    use gort::context::{self, Error};
    for kind in KINDS {
        scenario(30, kind, move || {
            let (ctx, cancel) = context::background().with_cancel();
            let c2 = ctx.clone();
            let waiter = spawn(kind, move || assert_eq!(c2.wait(), Error::Canceled));
            pause();
            cancel.cancel();
            waiter();
            assert_eq!(ctx.wait(), Error::Canceled);
            assert!(ctx.done().recv().is_err(), "a closed channel: the signal");
            let (ctx, _c) = context::background().with_timeout(ms(10));
            assert_eq!(ctx.wait(), Error::DeadlineExceeded);
        });
    }
}

/// A clone of a `Ticker`'s receiver keeps the ticker alive after the `Ticker` is dropped
/// (before: the temporary ticker stopped at once and the clone saw a closed channel).
#[test]
fn a_ticker_receiver_clone_keeps_ticking() {
    for kind in KINDS {
        scenario(30, kind, move || {
            let rx = gort::time::Ticker::new(ms(2)).receiver().clone();
            for _ in 0..3 {
                assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok());
            }
            assert!(!rx.is_closed());
            // Alone, a dropped Ticker stops: nothing arrives after the one buffered tick.
            let t = gort::time::Ticker::new(ms(1));
            gort::time::sleep(ms(5));
            drop(t);
        });
    }
}
