//! `select!` and `Select`: readiness, default and timeout, fairness, closed channels,
//! `never`, clean-up of lost registrations, and stress with goroutines and threads.

mod common;
use common::within;
use gort::chan::{self, RecvError, Select};
use gort::select;
use std::time::{Duration, Instant};

#[test]
fn picks_the_ready_case_and_runs_its_branch() {
    let (tx1, rx1) = chan::bounded::<i32>(1);
    let (_tx2, rx2) = chan::bounded::<&str>(1);
    tx1.send(5).unwrap();
    let got = select! {
        recv(rx1) -> v => v.unwrap() * 2,
        recv(rx2) -> _ => unreachable!(),
    };
    assert_eq!(got, 10);
    // A send case on a buffered channel with room is ready; branch bodies can be blocks.
    let r = select! {
        send(tx1, 6) -> res => { res.unwrap(); "sent" }
        recv(rx2) -> _v => { "received" }
    };
    assert_eq!(r, "sent");
    assert_eq!(rx1.recv(), Ok(6));
}

#[test]
fn default_and_timeouts() {
    let (_tx, rx) = chan::bounded::<i32>(0);
    let r = select! { recv(rx) -> _ => 1, default => 2 };
    assert_eq!(r, 2);
    let t = Instant::now();
    let r = select! { recv(rx) -> _ => 1, default(Duration::from_millis(20)) => 2 };
    assert_eq!(r, 2);
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!(
        rx.__waiters(),
        (0, 0),
        "the timed-out select left nothing queued"
    );
    // In a goroutine too.
    let r = gort::go(move || {
        let r = select! { recv(rx) -> _ => 1, default(Duration::from_millis(20)) => 2 };
        (r, rx.__waiters())
    })
    .join()
    .unwrap();
    assert_eq!(r, (2, (0, 0)));
    // `after` as a timeout case, as in Go's `case <-time.After(d)`.
    let (_tx, rx) = chan::bounded::<i32>(0);
    let r = select! {
        recv(rx) -> _ => "value",
        recv(gort::time::after(Duration::from_millis(10))) -> t => { t.unwrap(); "timeout" }
    };
    assert_eq!(r, "timeout");
}

#[test]
fn closed_channels_are_ready_and_never_is_not() {
    let (tx, rx) = chan::bounded::<i32>(0);
    tx.close().unwrap();
    let n = chan::never::<i32>();
    for _ in 0..100 {
        let r = select! { recv(n) -> _ => unreachable!(), recv(rx) -> v => v };
        assert_eq!(r, Err(RecvError));
    }
    let r = select! { send(tx, 3) -> res => res.unwrap_err().into_inner() };
    assert_eq!(r, 3, "a send case on a closed channel gives the value back");
    let r = select! { recv(n) -> _ => 1, default(Duration::from_millis(5)) => 2 };
    assert_eq!(r, 2);
}

#[test]
fn fairness_among_ready_cases_is_uniform() {
    let chans: Vec<_> = (0..4).map(|_| chan::bounded::<usize>(1)).collect();
    let mut counts = [0usize; 4];
    let rounds = 40_000;
    for _ in 0..rounds {
        for (i, (tx, _)) in chans.iter().enumerate() {
            let _ = tx.try_send(i);
        }
        let i = select! {
            recv(chans[0].1) -> v => v.unwrap(),
            recv(chans[1].1) -> v => v.unwrap(),
            recv(chans[2].1) -> v => v.unwrap(),
            recv(chans[3].1) -> v => v.unwrap(),
        };
        counts[i] += 1;
    }
    // Each case is chosen a quarter of the time; 5 standard deviations is ~0.5% of rounds.
    for c in counts {
        let expected = rounds / 4;
        assert!(c.abs_diff(expected) < rounds / 50, "unfair: {counts:?}");
    }
}

#[test]
fn a_parked_select_is_completed_by_any_case_and_cleans_up_the_others() {
    within(120, || {
        for round in 0..300 {
            let (tx1, rx1) = chan::bounded::<u32>(0);
            let (tx2, rx2) = chan::bounded::<u32>(0);
            let (tx3, rx3) = chan::bounded::<u32>(0);
            let (r1, r2) = (rx1.clone(), rx2.clone());
            let h = gort::go(move || {
                select! {
                    recv(r1) -> v => (1, v.unwrap()),
                    recv(r2) -> v => (2, v.unwrap()),
                    send(tx3, 33) -> r => { r.unwrap(); (3, 0) }
                }
            });
            while rx1.__waiters().0 == 0 || rx2.__waiters().0 == 0 || rx3.__waiters().1 == 0 {
                std::thread::yield_now();
            }
            let got = match round % 3 {
                0 => {
                    tx1.send(11).unwrap();
                    h.join().unwrap()
                }
                1 => {
                    tx2.send(22).unwrap();
                    h.join().unwrap()
                }
                _ => {
                    assert_eq!(rx3.recv(), Ok(33));
                    h.join().unwrap()
                }
            };
            assert_eq!(got, [(1, 11), (2, 22), (3, 0)][round % 3]);
            for w in [rx1.__waiters(), rx2.__waiters(), rx3.__waiters()] {
                assert_eq!(w, (0, 0), "a lost registration was left queued");
            }
        }
    });
}

#[test]
fn many_selects_leave_no_registrations_behind() {
    within(120, || {
        let (tx_a, rx_a) = chan::bounded::<u64>(0);
        let (_tx_b, rx_b) = chan::bounded::<u64>(0);
        let n = 100_000u64;
        let h = gort::go(move || {
            for i in 0..n {
                tx_a.send(i).unwrap();
            }
        });
        let mut sum = 0;
        for _ in 0..n {
            select! {
                recv(rx_a) -> v => sum += v.unwrap(),
                recv(rx_b) -> _ => unreachable!(),
            }
        }
        h.join().unwrap();
        assert_eq!(sum, n * (n - 1) / 2);
        assert_eq!(rx_b.__waiters(), (0, 0));
        assert_eq!(rx_a.__waiters(), (0, 0));
    });
}

#[test]
fn select_stress_with_goroutines_and_threads() {
    within(120, || {
        let (tx1, rx1) = chan::bounded::<u64>(0);
        let (tx2, rx2) = chan::bounded::<u64>(3);
        let per = 5000u64;
        let mut senders = Vec::new();
        for s in 0..4u64 {
            let (t1, t2) = (tx1.clone(), tx2.clone());
            let body = move || {
                for i in 0..per {
                    let v = s * per + i;
                    select! {
                        send(t1, v) -> r => r.unwrap(),
                        send(t2, v) -> r => r.unwrap(),
                    }
                }
            };
            if s % 2 == 0 {
                let h = gort::go(body);
                senders.push(Box::new(move || h.join().unwrap()) as Box<dyn FnOnce()>);
            } else {
                let h = std::thread::spawn(body);
                senders.push(Box::new(move || h.join().unwrap()));
            }
        }
        drop((tx1, tx2));
        let mut receivers = Vec::new();
        for r in 0..4 {
            let (r1, r2) = (rx1.clone(), rx2.clone());
            let body = move || {
                let (mut open1, mut open2, mut got) = (true, true, Vec::new());
                while open1 || open2 {
                    let never = chan::never();
                    let a = if open1 { &r1 } else { &never };
                    let b = if open2 { &r2 } else { &never };
                    select! {
                        recv(a) -> v => match v { Ok(v) => got.push(v), Err(_) => open1 = false },
                        recv(b) -> v => match v { Ok(v) => got.push(v), Err(_) => open2 = false },
                    }
                }
                got
            };
            if r % 2 == 0 {
                let h = gort::go(body);
                receivers
                    .push(Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() -> Vec<u64>>);
            } else {
                let h = std::thread::spawn(body);
                receivers.push(Box::new(move || h.join().unwrap()));
            }
        }
        for s in senders {
            s();
        }
        let mut all: Vec<u64> = receivers.into_iter().flat_map(|r| r()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..4 * per).collect::<Vec<_>>());
    });
}

#[test]
fn self_select_never_pairs_a_select_with_itself() {
    // Two goroutines, each select offering both a send and a receive on one channel: on an
    // unbuffered channel every completion pairs the two goroutines, never one with itself.
    within(120, || {
        for cap in [0, 10] {
            for _ in 0..20 {
                let (tx, rx) = chan::bounded::<u64>(cap);
                let hs: Vec<_> = (0..2u64)
                    .map(|id| {
                        let (tx, rx) = (tx.clone(), rx.clone());
                        gort::go(move || {
                            for i in 0..1000 {
                                let recv_first = id == 1 && i % 2 == 1;
                                let v = if recv_first {
                                    select! {
                                        recv(rx) -> v => Some(v.unwrap()),
                                        send(tx, id) -> r => { r.unwrap(); None }
                                    }
                                } else {
                                    select! {
                                        send(tx, id) -> r => { r.unwrap(); None }
                                        recv(rx) -> v => Some(v.unwrap()),
                                    }
                                };
                                if cap == 0 {
                                    assert_ne!(v, Some(id), "a select received its own send");
                                }
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        }
    });
}

#[test]
fn duplicate_channel_in_one_select() {
    within(60, || {
        let (tx, rx) = chan::bounded::<i32>(0);
        let h = gort::go(move || {
            let mut n = 0;
            for _ in 0..1000 {
                select! {
                    recv(rx) -> v => n += v.unwrap(),
                    recv(rx) -> v => n += v.unwrap(),
                }
            }
            n
        });
        for _ in 0..1000 {
            tx.send(1).unwrap();
        }
        assert_eq!(h.join().unwrap(), 1000);
    });
}

#[test]
fn dynamic_select_builder() {
    within(60, || {
        let chans: Vec<_> = (0..10).map(|_| chan::bounded::<usize>(1)).collect();
        chans[7].0.send(70).unwrap();
        let mut sel = Select::new();
        let idx: Vec<usize> = chans.iter().map(|(_, r)| sel.recv(r)).collect();
        let op = sel.select();
        let i = op.index();
        assert_eq!(i, idx[7]);
        assert_eq!(op.recv(&chans[7].1), Ok(70));

        let mut sel = Select::new();
        sel.recv(&chans[0].1);
        assert!(sel.try_select().is_err());
        assert!(sel.select_timeout(Duration::from_millis(5)).is_err());

        let (tx, rx) = chan::bounded::<String>(0);
        let h = gort::go(move || rx.recv().unwrap());
        let never = chan::never::<usize>();
        let mut sel = Select::new();
        sel.recv(&never);
        let s = sel.send(&tx, "hello".to_string());
        let op = sel.select();
        assert_eq!(op.index(), s);
        op.send(&tx).unwrap();
        assert_eq!(h.join().unwrap(), "hello");
    });
}

#[test]
#[should_panic(expected = "not the one of the selected case")]
fn selected_operation_checks_its_channel() {
    let (tx, rx) = chan::bounded::<i32>(1);
    let (_tx2, rx2) = chan::bounded::<i32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    let _ = op.recv(&rx2);
}
