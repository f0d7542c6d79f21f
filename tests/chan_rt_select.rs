// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/runtime/chan_test.go (https://github.com/golang/go); Go's LICENSE file
// is tests/LICENSE-GO. gort's changes are described below.

//! Ports of the select tests of Go's `src/runtime/chan_test.go`: `TestNonblockSelectRace`
//! and `TestNonblockSelectRace2` (a select acts on one instant's state: with one channel
//! always ready it never takes `default`), `TestSelfSelect` (send and receive on the same
//! channel in one select, never pairing with itself), `TestSelectStress` (plain and select
//! senders and receivers on four channels interacting chaotically, checked by checksums),
//! `TestSelectFairness` (10-sigma bound), `TestPseudoRandomSend` and
//! `TestSelectDuplicateChannel` (a select queued twice on one channel).

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use gort::select;

fn nonblock_select_race(kind: Kind, n: usize, close_c2: bool) {
    scenario(120, kind, move || {
        let (done_tx, done) = chan::bounded::<bool>(1);
        for _ in 0..n {
            let (c1_tx, c1) = chan::bounded::<i32>(1);
            let (c2_tx, c2) = chan::bounded::<i32>(if close_c2 { 0 } else { 1 });
            c1_tx.send(1).unwrap();
            let (r1, r2, d) = (c1.clone(), c2.clone(), done_tx.clone());
            let j = spawn(kind, move || {
                let ok = select! {
                    recv(r1) -> _ => true,
                    recv(r2) -> _ => true,
                    default => false,
                };
                d.send(ok).unwrap();
            });
            if close_c2 {
                c2_tx.close().unwrap();
            } else {
                c2_tx.send(1).unwrap();
            }
            select! {
                recv(c1) -> _ => {},
                default => {}
            }
            assert!(done.recv().unwrap(), "no chan is ready");
            j();
        }
    })
}

#[test]
fn nonblock_select_race_goroutines() {
    nonblock_select_race(Kind::Goroutine, 20_000, false);
}

#[test]
fn nonblock_select_race_threads() {
    nonblock_select_race(Kind::Thread, 3_000, false);
}

#[test]
fn nonblock_select_race2_goroutines() {
    nonblock_select_race(Kind::Goroutine, 20_000, true);
}

#[test]
fn nonblock_select_race2_threads() {
    nonblock_select_race(Kind::Thread, 3_000, true);
}

/// Two parties, each selecting between sending its id and receiving on one channel (case
/// order varied). Unbuffered, a party never receives its own id, and the sends of one are
/// exactly the receives of the other.
fn self_select(kind: Kind, iters: usize) {
    scenario(120, kind, move || {
        for chan_cap in [0, 10] {
            let (tx, rx) = chan::bounded::<usize>(chan_cap);
            let (counts_tx, counts_rx) = chan::bounded::<(usize, (usize, usize))>(2);
            let js: Vec<_> = (0..2usize)
                .map(|p| {
                    let (tx, rx, counts_tx) = (tx.clone(), rx.clone(), counts_tx.clone());
                    spawn(kind, move || {
                        let (mut sent, mut got) = (0usize, 0usize);
                        for i in 0..iters {
                            let r = if p == 0 || i % 2 == 0 {
                                select! {
                                    send(tx, p) -> r => { r.unwrap(); None },
                                    recv(rx) -> v => Some(v.unwrap()),
                                }
                            } else {
                                select! {
                                    recv(rx) -> v => Some(v.unwrap()),
                                    send(tx, p) -> r => { r.unwrap(); None },
                                }
                            };
                            match r {
                                None => sent += 1,
                                Some(v) => {
                                    assert!(!(chan_cap == 0 && v == p), "self receive");
                                    got += 1;
                                }
                            }
                        }
                        counts_tx.send((p, (sent, got))).unwrap();
                    })
                })
                .collect();
            join_all(js);
            let mut counts = [(0, 0); 2];
            for _ in 0..2 {
                let (p, c) = counts_rx.recv().unwrap();
                counts[p] = c;
            }
            let ((s0, g0), (s1, g1)) = (counts[0], counts[1]);
            assert_eq!(s0 + g0, iters);
            assert_eq!(s1 + g1, iters);
            if chan_cap == 0 {
                assert_eq!((s0, g0), (g1, s1), "unbuffered: sends and receives pair up");
            } else {
                assert_eq!(
                    s0 + s1,
                    g0 + g1 + rx.len(),
                    "buffered: sent = received + buffered"
                );
            }
        }
    })
}

#[test]
fn self_select_goroutines() {
    self_select(Kind::Goroutine, 1000);
}

#[test]
fn self_select_threads() {
    self_select(Kind::Thread, 1000);
}

/// Four channels (capacities 0, 0, 2, 3); per channel a plain sender and a plain receiver of
/// N values; plus one party sending N values on each through one select (a channel's case
/// left out once it has had N) and one receiving N from each likewise. Checked by
/// checksums: per channel, the sum received equals the sum sent.
fn select_stress(kind: Kind, n: u64) {
    scenario(120, kind, move || {
        let caps = [0, 0, 2, 3];
        let chans: Vec<(Sender<u64>, Receiver<u64>)> =
            caps.iter().map(|&c| chan::bounded(c)).collect();
        let (sum_tx, sums) = chan::unbounded::<(usize, u64)>();
        let mut js = Vec::new();
        for (k, (tx, rx)) in chans.iter().enumerate() {
            let tx = tx.clone();
            js.push(spawn(kind, move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            }));
            let (rx, st) = (rx.clone(), sum_tx.clone());
            js.push(spawn(kind, move || {
                let mut s = 0;
                for _ in 0..n {
                    s += rx.recv().unwrap();
                }
                st.send((k, s)).unwrap();
            }));
        }
        let txs: Vec<Sender<u64>> = chans.iter().map(|c| c.0.clone()).collect();
        js.push(spawn(kind, move || {
            let mut cnt = [0u64; 4];
            for _ in 0..4 * n {
                let mut sel = Select::new();
                let mut idx = Vec::with_capacity(4);
                // Go lists the cases 3, 2, 0, 1.
                for k in [3, 2, 0, 1] {
                    if cnt[k] < n {
                        idx.push((sel.send(&txs[k], cnt[k]), k));
                    }
                }
                let op = sel.select();
                let k = idx.iter().find(|c| c.0 == op.index()).unwrap().1;
                op.send(&txs[k]).unwrap();
                cnt[k] += 1;
            }
            assert_eq!(cnt, [n; 4]);
        }));
        let rxs: Vec<Receiver<u64>> = chans.iter().map(|c| c.1.clone()).collect();
        let st = sum_tx.clone();
        js.push(spawn(kind, move || {
            let mut cnt = [0u64; 4];
            let mut s = [0u64; 4];
            for _ in 0..4 * n {
                let mut sel = Select::new();
                let mut idx = Vec::with_capacity(4);
                for (k, rx) in rxs.iter().enumerate() {
                    if cnt[k] < n {
                        idx.push((sel.recv(rx), k));
                    }
                }
                let op = sel.select();
                let k = idx.iter().find(|c| c.0 == op.index()).unwrap().1;
                s[k] += op.recv(&rxs[k]).unwrap();
                cnt[k] += 1;
            }
            for (k, s) in s.into_iter().enumerate() {
                st.send((k, s)).unwrap();
            }
        }));
        drop(sum_tx);
        drop(chans);
        join_all(js);
        let mut total = [0u64; 4];
        for (k, s) in sums.iter() {
            total[k] += s;
        }
        let want = n * (n - 1); // two senders of 0..n per channel
        assert_eq!(total, [want; 4], "checksums: messages lost or duplicated");
    })
}

#[test]
fn select_stress_goroutines() {
    select_stress(Kind::Goroutine, 100_000);
}

#[test]
fn select_stress_threads() {
    select_stress(Kind::Thread, 20_000);
}

/// `TestSelectFairness`: two always-ready channels among four cases; over 10,000 trials each
/// must be chosen within 10 sigma of half the time.
fn select_fairness(kind: Kind, dynamic: bool) {
    scenario(120, kind, move || {
        const TRIALS: usize = 10_000;
        let (c1_tx, c1) = chan::bounded::<u8>(TRIALS + 1);
        let (c2_tx, c2) = chan::bounded::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.send(1).unwrap();
            c2_tx.send(2).unwrap();
        }
        let (_c3_tx, c3) = chan::bounded::<u8>(0);
        let (_c4_tx, c4) = chan::bounded::<u8>(0);
        let (out_tx, out) = chan::bounded::<u8>(0);
        let (done_tx, done) = chan::bounded::<u8>(0);
        let j = spawn(kind, move || loop {
            let b = if dynamic {
                let mut sel = Select::new();
                let i3 = sel.recv(&c3);
                let i4 = sel.recv(&c4);
                let i1 = sel.recv(&c1);
                let i2 = sel.recv(&c2);
                let op = sel.select();
                match op.index() {
                    i if i == i3 => op.recv(&c3).unwrap(),
                    i if i == i4 => op.recv(&c4).unwrap(),
                    i if i == i1 => op.recv(&c1).unwrap(),
                    i => {
                        assert_eq!(i, i2);
                        op.recv(&c2).unwrap()
                    }
                }
            } else {
                select! {
                    recv(c3) -> b => b.unwrap(),
                    recv(c4) -> b => b.unwrap(),
                    recv(c1) -> b => b.unwrap(),
                    recv(c2) -> b => b.unwrap(),
                }
            };
            select! {
                send(out_tx, b) -> r => r.unwrap(),
                recv(done) -> _ => return,
            }
        });
        let (mut cnt1, mut cnt2) = (0, 0);
        for _ in 0..TRIALS {
            match out.recv().unwrap() {
                1 => cnt1 += 1,
                2 => cnt2 += 1,
                b => panic!("unexpected value {b} on channel"),
            }
        }
        // 10 sigma is a lot, but some systematic bias is fine as long as it isn't severe.
        let mean = TRIALS as f64 * 0.5;
        let stddev = (TRIALS as f64 * 0.5 * 0.5).sqrt();
        assert!(
            (cnt1 as f64 - mean).abs() <= 10.0 * stddev,
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done_tx.close().unwrap();
        j();
    })
}

#[test]
fn select_fairness_goroutines() {
    select_fairness(Kind::Goroutine, false);
}

#[test]
fn select_fairness_threads() {
    select_fairness(Kind::Thread, false);
}

#[test]
fn select_fairness_dynamic_goroutines() {
    select_fairness(Kind::Goroutine, true);
}

#[test]
fn select_fairness_dynamic_threads() {
    select_fairness(Kind::Thread, true);
}

/// Four ready cases (receives, sends, and with `default`): each chosen within 10 sigma of a
/// quarter of the time; `default` never while a case is ready.
#[test]
fn select_fairness_among_four_ready() {
    within(120, || {
        const TRIALS: usize = 20_000;
        let stddev = (TRIALS as f64 * 0.25 * 0.75).sqrt();
        let check = |cnt: [usize; 4], what: &str| {
            for c in cnt {
                assert!(
                    (c as f64 - TRIALS as f64 / 4.0).abs() <= 10.0 * stddev,
                    "unfair {what}: {cnt:?}"
                );
            }
        };
        let chans: Vec<(Sender<usize>, Receiver<usize>)> =
            (0..4).map(|_| chan::bounded(1)).collect();
        let (t, r): (Vec<_>, Vec<_>) = chans.into_iter().unzip();
        let mut cnt = [0; 4];
        for _ in 0..TRIALS {
            for (k, t) in t.iter().enumerate() {
                if t.is_empty() {
                    t.send(k).unwrap();
                }
            }
            let k = select! {
                recv(r[0]) -> v => v.unwrap(),
                recv(r[1]) -> v => v.unwrap(),
                recv(r[2]) -> v => v.unwrap(),
                recv(r[3]) -> v => v.unwrap(),
                default => panic!("default while four cases are ready"),
            };
            cnt[k] += 1;
        }
        check(cnt, "receive select");
        for r in &r {
            let _ = r.try_recv();
        }
        let mut cnt = [0; 4];
        for _ in 0..TRIALS {
            let k = select! {
                send(t[0], 0) -> _ => 0,
                send(t[1], 1) -> _ => 1,
                send(t[2], 2) -> _ => 2,
                send(t[3], 3) -> _ => 3,
            };
            assert_eq!(r[k].try_recv(), Ok(k));
            cnt[k] += 1;
        }
        check(cnt, "send select");
        let mut cnt = [0; 4];
        for _ in 0..TRIALS {
            let mut sel = Select::new();
            let idx: Vec<usize> = t.iter().enumerate().map(|(k, t)| sel.send(t, k)).collect();
            let op = sel.try_select().expect("four sends are ready");
            let k = idx.iter().position(|&i| i == op.index()).unwrap();
            op.send(&t[k]).unwrap();
            assert_eq!(r[k].try_recv(), Ok(k));
            cnt[k] += 1;
        }
        check(cnt, "dynamic send select");
    });
}

/// `TestPseudoRandomSend`: a select of two sends on one channel picks both values.
fn pseudo_random_send(kind: Kind) {
    scenario(60, kind, move || {
        const N: usize = 100;
        for chan_cap in [0, N] {
            let (tx, rx) = chan::bounded::<usize>(chan_cap);
            let (l_tx, l_rx) = chan::bounded::<Vec<usize>>(1);
            let j = spawn(kind, move || {
                let mut l = Vec::with_capacity(N);
                for _ in 0..N {
                    gort::yield_now();
                    l.push(rx.recv().unwrap());
                }
                l_tx.send(l).unwrap();
            });
            for _ in 0..N {
                select! {
                    send(tx, 1) -> r => r.unwrap(),
                    send(tx, 0) -> r => r.unwrap(),
                }
            }
            let l = l_rx.recv().unwrap();
            j();
            let n1: usize = l.iter().sum();
            let n0 = N - n1;
            assert!(
                n0 > N / 10 && n1 > N / 10,
                "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {chan_cap})"
            );
        }
    })
}

#[test]
fn pseudo_random_send_goroutines() {
    pseudo_random_send(Kind::Goroutine);
}

#[test]
fn pseudo_random_send_threads() {
    pseudo_random_send(Kind::Thread);
}

/// `TestSelectDuplicateChannel`: party A selects on c, c and d (queued twice on c); B
/// receives on c; d wakes A, which must dequeue itself from c (both entries); then a send on
/// c must wake B, not the departed A.
fn select_duplicate_channel(kind: Kind, rounds: usize, dynamic: bool) {
    scenario(120, kind, move || {
        for _ in 0..rounds {
            let (c_tx, c) = chan::bounded::<i32>(0);
            let (d_tx, d) = chan::bounded::<i32>(0);
            let (e_tx, e) = chan::bounded::<i32>(0);
            let ca = c.clone();
            let a = spawn(kind, move || {
                let v = if dynamic {
                    let mut sel = Select::new();
                    let i1 = sel.recv(&ca);
                    let i2 = sel.recv(&ca);
                    let i3 = sel.recv(&d);
                    let op = sel.select();
                    if op.index() == i1 || op.index() == i2 {
                        op.recv(&ca).unwrap()
                    } else {
                        assert_eq!(op.index(), i3);
                        op.recv(&d).unwrap()
                    }
                } else {
                    select! {
                        recv(ca) -> v => v.unwrap(),
                        recv(ca) -> v => v.unwrap(),
                        recv(d) -> v => v.unwrap(),
                    }
                };
                assert_eq!(v, 7, "A was woken by c");
                e_tx.send(9).unwrap();
            });
            pause(); // make sure A is queued first on c
            let b = spawn(kind, move || assert_eq!(c.recv(), Ok(8)));
            pause(); // make sure B is queued on c before continuing
            d_tx.send(7).unwrap(); // wake A; it dequeues itself from c
            assert_eq!(e.recv(), Ok(9)); // A is done
            c_tx.send(8).unwrap(); // wake B
            a();
            b();
        }
    })
}

#[test]
fn select_duplicate_channel_goroutines() {
    select_duplicate_channel(Kind::Goroutine, 50, false);
    select_duplicate_channel(Kind::Goroutine, 50, true);
}

#[test]
fn select_duplicate_channel_threads() {
    select_duplicate_channel(Kind::Thread, 30, false);
    select_duplicate_channel(Kind::Thread, 30, true);
}

/// A sharper `TestNonblockSelectRace`: a long-lived checker and the main party start each
/// round together (spinning on a round counter, not spawning), so the checker's
/// non-blocking select over c1, c2 and six never-ready unbuffered channels overlaps the
/// main party's `c2 <- 1; <-c1` as closely as the machine allows. At every instant c1 or
/// c2 holds a value, so the select must never take `default`: it has to judge all its
/// cases at one instant (Go locks them all), not one after another.
fn nonblock_select_one_instant(kind: Kind, rounds: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering::*};
    use std::sync::Arc;
    scenario(120, kind, move || {
        let (c1_tx, c1) = chan::bounded::<i32>(1);
        let (c2_tx, c2) = chan::bounded::<i32>(1);
        let pads: Vec<(Sender<i32>, Receiver<i32>)> = (0..6).map(|_| chan::bounded(0)).collect();
        let round = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(0));
        let wait = move |a: &AtomicUsize, r: usize| {
            while a.load(Acquire) != r {
                std::hint::spin_loop();
                if kind == Kind::Goroutine {
                    gort::yield_now();
                }
            }
        };
        let checker = {
            let (c1, c2) = (c1.clone(), c2.clone());
            let pads: Vec<Receiver<i32>> = pads.iter().map(|(_, r)| r.clone()).collect();
            let (round, done, failures) = (round.clone(), done.clone(), failures.clone());
            spawn(kind, move || {
                for r in 1..=rounds {
                    let mut sel = Select::new();
                    sel.recv(&c1);
                    sel.recv(&c2);
                    for p in &pads {
                        sel.recv(p);
                    }
                    wait(&round, r);
                    if sel.try_select().is_err() {
                        failures.fetch_add(1, Relaxed);
                    }
                    done.store(r, Release);
                }
            })
        };
        let mut rng = Rng::new(7);
        for r in 1..=rounds {
            while c1.try_recv().is_ok() || c2.try_recv().is_ok() {}
            c1_tx.send(1).unwrap();
            // A varying head start for the checker, so that over the rounds the pair of
            // operations below lands everywhere inside its select.
            let lead = rng.below(400);
            round.store(r, Release);
            for _ in 0..lead {
                std::hint::spin_loop();
            }
            c2_tx.send(1).unwrap();
            let _ = c1.try_recv();
            wait(&done, r);
        }
        checker();
        drop(pads);
        let failures = failures.load(Relaxed);
        assert_eq!(
            failures, 0,
            "a non-blocking select took `default` while a case was ready, {failures} times in \
             {rounds} rounds"
        );
    })
}

#[test]
fn nonblock_select_one_instant_goroutines() {
    nonblock_select_one_instant(Kind::Goroutine, 100_000);
}

#[test]
fn nonblock_select_one_instant_threads() {
    nonblock_select_one_instant(Kind::Thread, 100_000);
}
