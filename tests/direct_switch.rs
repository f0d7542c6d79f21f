//! A goroutine that yields, parks or ends hands the M straight to the goroutine that runs
//! next (a direct switch, no trip through the scheduler's stack): `yield_now` and the end
//! to the head of its P's queue, a park to the channel partner it readied just before
//! (`runnext`). The goroutines keep their registers, state and identity, a panic still reaches `join`, an
//! overflow still names the right goroutine, timers still fire while every goroutine
//! switches directly, a wake-up that arrives during the switch is not lost, a goroutine
//! that ends that way gives back its G and stack and runs its exit hooks, a deadlock
//! after hand-offs is still reported (tests/deadlock.rs), and goroutines that cannot take
//! the direct path (locked, inside `syscall`) still yield and park. Tests that change
//! `procs` run in child processes so they do not disturb each other.

mod common;
use common::{child, child_ok, is_child, within};
use gort::chan::{bounded, Receiver, Sender};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A goroutine's work between yields: live integers and floats (some in callee-saved
/// registers across the switch) and a heap value, checked at the end.
fn yielding_worker(seed: u64, rounds: u64) -> (u64, u64) {
    let id = gort::goroutine_id().expect("on a goroutine");
    let mut a = seed;
    let mut b = seed.wrapping_mul(31);
    let mut f = seed as f64 * 0.5;
    let mut v = vec![seed; 8];
    for r in 0..rounds {
        gort::yield_now();
        assert_eq!(
            gort::goroutine_id(),
            Some(id),
            "a goroutine changed identity"
        );
        a = a.wrapping_add(r);
        b = b.wrapping_mul(3).wrapping_add(a);
        f += 1.0;
        v[(r % 8) as usize] = v[(r % 8) as usize].wrapping_add(r);
        black_box((&a, &b, &f, &v));
    }
    assert_eq!(f, seed as f64 * 0.5 + rounds as f64);
    (a ^ b, v.iter().fold(0, |s, x| s.wrapping_add(*x)))
}

/// What `yielding_worker` returns, computed without yielding.
fn expected(seed: u64, rounds: u64) -> (u64, u64) {
    let (mut a, mut b) = (seed, seed.wrapping_mul(31));
    let mut v = [seed; 8];
    for r in 0..rounds {
        a = a.wrapping_add(r);
        b = b.wrapping_mul(3).wrapping_add(a);
        v[(r % 8) as usize] = v[(r % 8) as usize].wrapping_add(r);
    }
    (a ^ b, v.iter().fold(0, |s, x| s.wrapping_add(*x)))
}

#[test]
fn goroutines_yielding_to_each_other_keep_their_state_at_every_procs() {
    const NAME: &str = "goroutines_yielding_to_each_other_keep_their_state_at_every_procs";
    if is_child(NAME) {
        for procs in [1, 2, 4] {
            gort::set_procs(procs);
            for iter in 0..20u64 {
                gort::run(move || {
                    // Yielders, goroutines that park on a channel fed by a plain thread
                    // in between, and new goroutines spawned while the others yield: the
                    // direct switch lands in all three kinds of suspended goroutine.
                    let (tx, rx) = gort::chan::bounded::<u64>(0);
                    let feeder = std::thread::spawn(move || {
                        for i in 0..400 {
                            tx.send(i).unwrap();
                        }
                    });
                    let mut hs = Vec::new();
                    for k in 0..8u64 {
                        let seed = iter * 100 + k;
                        hs.push(gort::go(move || yielding_worker(seed, 300 + k * 7)));
                    }
                    let parker = gort::go(move || {
                        let mut sum = 0u64;
                        while let Ok(v) = rx.recv() {
                            sum += v;
                            gort::yield_now();
                        }
                        sum
                    });
                    let late: Vec<_> = (0..8u64)
                        .map(|k| {
                            gort::yield_now();
                            let seed = iter * 100 + 50 + k;
                            gort::go(move || yielding_worker(seed, 100))
                        })
                        .collect();
                    for (k, h) in hs.into_iter().enumerate() {
                        let seed = iter * 100 + k as u64;
                        assert_eq!(h.join().unwrap(), expected(seed, 300 + k as u64 * 7));
                    }
                    for (k, h) in late.into_iter().enumerate() {
                        let seed = iter * 100 + 50 + k as u64;
                        assert_eq!(h.join().unwrap(), expected(seed, 100));
                    }
                    feeder.join().unwrap();
                    assert_eq!(parker.join().unwrap(), (0..400).sum::<u64>());
                });
            }
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}

#[test]
fn a_panic_after_direct_yields_reaches_join() {
    within(60, || {
        for _ in 0..50 {
            gort::run(|| {
                let calm: Vec<_> = (0..4)
                    .map(|k| gort::go(move || yielding_worker(k, 200)))
                    .collect();
                let bad = gort::go(|| {
                    for _ in 0..57 {
                        gort::yield_now();
                    }
                    panic!("boom after yielding");
                });
                let err = bad.join().expect_err("the panic must reach join");
                let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
                assert_eq!(msg, "boom after yielding");
                for (k, h) in calm.into_iter().enumerate() {
                    assert_eq!(h.join().unwrap(), expected(k as u64, 200));
                }
            });
        }
    });
}

/// Recurses forever with 1 KiB frames (until the guard page stops it).
#[inline(never)]
#[allow(unconditional_recursion)]
fn unbounded(n: u64) -> u64 {
    let buf = black_box([n as u8; 1024]);
    unbounded(n + 1) + buf[n as usize % 1024] as u64
}

#[test]
fn an_overflow_after_direct_yields_names_the_goroutine() {
    const NAME: &str = "an_overflow_after_direct_yields_names_the_goroutine";
    if is_child(NAME) {
        gort::set_procs(1);
        gort::run(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let other = gort::Builder::new()
                .name("innocent")
                .spawn(move || {
                    while !s.load(SeqCst) {
                        gort::yield_now();
                    }
                })
                .unwrap();
            let deep = gort::Builder::new()
                .name("deep-after-yields")
                .stack_size(64 << 10)
                .spawn(|| {
                    for _ in 0..1000 {
                        gort::yield_now();
                    }
                    unbounded(0)
                })
                .unwrap();
            let _ = deep.join();
            stop.store(true, SeqCst);
            let _ = other.join();
        });
        unreachable!("the overflow must abort the process");
    }
    assert_overflow_report_names(NAME, "deep-after-yields");
}

/// Runs test `name` in a child process, which must die of a stack overflow reported in
/// goroutine `culprit`, not in the goroutine named "innocent".
fn assert_overflow_report_names(name: &str, culprit: &str) {
    let out = child(name, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "child succeeded: {err}");
    assert!(
        err.contains("fatal error: stack overflow in goroutine ")
            && err.contains(&format!("\"{culprit}\""))
            && !err.contains("\"innocent\""),
        "unexpected stderr: {err}"
    );
}

/// A sleep, a receive with a deadline and a timer callback, in the calling goroutine: all
/// three need the timer path (on the scheduler's stack) to end.
fn timers_fire() {
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let _t = gort::time::after_func(Duration::from_millis(2), move || {
        f.fetch_add(1, SeqCst);
    });
    gort::time::sleep(Duration::from_millis(3));
    let (_keep, never) = bounded::<u64>(0);
    assert!(never.recv_timeout(Duration::from_millis(2)).is_err());
    while fired.load(SeqCst) == 0 {
        gort::yield_now();
    }
}

#[test]
fn timers_fire_while_every_goroutine_yields_on_one_p() {
    const NAME: &str = "timers_fire_while_every_goroutine_yields_on_one_p";
    if is_child(NAME) {
        gort::set_procs(1);
        for _ in 0..20 {
            gort::run(|| {
                let stop = Arc::new(AtomicBool::new(false));
                let yielders = common::spawn_yielders(3, &stop);
                // The yielders keep the P busy with direct switches meanwhile.
                timers_fire();
                stop.store(true, SeqCst);
                for h in yielders {
                    h.join().unwrap();
                }
            });
        }
        return;
    }
    within(120, || child_ok(NAME, &[]));
}

#[test]
fn locked_and_syscall_goroutines_yield_among_direct_yielders() {
    const NAME: &str = "locked_and_syscall_goroutines_yield_among_direct_yielders";
    if is_child(NAME) {
        for procs in [1, 2] {
            gort::set_procs(procs);
            for _ in 0..10 {
                gort::run(|| {
                    let workers: Vec<_> = (0..4u64)
                        .map(|k| gort::go(move || yielding_worker(k, 300)))
                        .collect();
                    let locked = gort::go(|| {
                        gort::lock_os_thread();
                        let tid = common::tid();
                        for _ in 0..200 {
                            gort::yield_now();
                            assert_eq!(common::tid(), tid, "a locked goroutine moved");
                        }
                        gort::unlock_os_thread();
                    });
                    let in_syscall = gort::go(|| {
                        gort::syscall(|| {
                            for _ in 0..200 {
                                gort::yield_now();
                            }
                        })
                    });
                    for (k, h) in workers.into_iter().enumerate() {
                        assert_eq!(h.join().unwrap(), expected(k as u64, 300));
                    }
                    locked.join().unwrap();
                    in_syscall.join().unwrap();
                });
            }
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}

/// A goroutine of a relay ring: receives a value, works on live integers, floats and a heap
/// value (some in callee-saved registers across the park), sends the value on. Each round
/// readies the next goroutine of the ring (parked in its receive) and then parks in its own
/// receive: a direct switch to that goroutine. Returns its checksum.
fn relay(rx: Receiver<u64>, tx: Sender<u64>, seed: u64) -> (u64, u64) {
    let id = gort::goroutine_id();
    let (mut a, mut b) = (seed, seed.wrapping_mul(31));
    let mut f = 0.0f64;
    let mut v = vec![seed; 8];
    let mut rounds = 0u64;
    while let Ok(x) = rx.recv() {
        assert_eq!(gort::goroutine_id(), id, "a goroutine changed identity");
        a = a.wrapping_add(x);
        b = b.wrapping_mul(3).wrapping_add(a);
        f += 1.0;
        v[(x % 8) as usize] = v[(x % 8) as usize].wrapping_add(x);
        black_box((&a, &b, &f, &v));
        rounds += 1;
        if tx.send(x + 1).is_err() {
            break;
        }
    }
    assert_eq!(f, rounds as f64);
    (a ^ b, v.iter().fold(0, |s, x| s.wrapping_add(*x)))
}

/// What `relay` returns for the values `xs`, computed without channels.
fn relay_expected(seed: u64, xs: impl Iterator<Item = u64>) -> (u64, u64) {
    let (mut a, mut b) = (seed, seed.wrapping_mul(31));
    let mut v = [seed; 8];
    for x in xs {
        a = a.wrapping_add(x);
        b = b.wrapping_mul(3).wrapping_add(a);
        v[(x % 8) as usize] = v[(x % 8) as usize].wrapping_add(x);
    }
    (a ^ b, v.iter().fold(0, |s, x| s.wrapping_add(*x)))
}

#[test]
fn goroutines_handing_off_through_channels_keep_their_state_at_every_procs() {
    const NAME: &str = "goroutines_handing_off_through_channels_keep_their_state_at_every_procs";
    const RING: u64 = 6;
    const LAPS: u64 = 300;
    if is_child(NAME) {
        for procs in [1, 2, 4] {
            gort::set_procs(procs);
            for iter in 0..20u64 {
                gort::run(move || {
                    // A ring: the main goroutine, RING relay goroutines and, between the
                    // last two, a plain thread (so wake-ups also come from outside the
                    // scheduler, racing the direct switches).
                    let (first_tx, mut rx) = bounded::<u64>(0);
                    let mut relays = Vec::new();
                    for k in 0..RING {
                        let (tx, next_rx) = bounded::<u64>(0);
                        let seed = iter * 100 + k;
                        if k == RING - 1 {
                            let (ttx, trx) = bounded::<u64>(0);
                            let thread_rx = std::mem::replace(&mut rx, trx);
                            std::thread::spawn(move || {
                                for x in &thread_rx {
                                    if ttx.send(x).is_err() {
                                        break;
                                    }
                                }
                            });
                        }
                        let my_rx = std::mem::replace(&mut rx, next_rx);
                        relays.push(gort::go(move || relay(my_rx, tx, seed)));
                    }
                    for lap in 0..LAPS {
                        let x = lap * 1000;
                        first_tx.send(x).unwrap();
                        assert_eq!(rx.recv().unwrap(), x + RING);
                    }
                    drop(first_tx);
                    for (k, h) in relays.into_iter().enumerate() {
                        let k = k as u64;
                        let xs = (0..LAPS).map(|lap| lap * 1000 + k);
                        assert_eq!(h.join().unwrap(), relay_expected(iter * 100 + k, xs));
                    }
                });
            }
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}

#[test]
fn a_wake_up_during_a_direct_park_is_not_lost() {
    const NAME: &str = "a_wake_up_during_a_direct_park_is_not_lost";
    const ROUNDS: u64 = 20_000;
    if is_child(NAME) {
        for procs in [1, 2] {
            gort::set_procs(procs);
            for _ in 0..10 {
                gort::run(|| {
                    // The waiter readies its partner, then parks on a channel that a plain
                    // thread sends on at any moment: often while the waiter is still
                    // switching to its partner, before its park is committed.
                    let (to_partner, partner_rx) = bounded::<u64>(0);
                    let (thread_tx, from_thread) = bounded::<u64>(1);
                    let feeder = std::thread::spawn(move || {
                        for i in 0..ROUNDS {
                            thread_tx.send(i).unwrap();
                        }
                    });
                    let partner = gort::go(move || partner_rx.iter().sum::<u64>());
                    let waiter = gort::go(move || {
                        let mut sum = 0;
                        for i in 0..ROUNDS {
                            to_partner.send(i).unwrap();
                            sum += from_thread.recv().unwrap();
                        }
                        sum
                    });
                    let total = (0..ROUNDS).sum::<u64>();
                    assert_eq!(waiter.join().unwrap(), total);
                    assert_eq!(partner.join().unwrap(), total);
                    feeder.join().unwrap();
                });
            }
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}

#[test]
fn a_panic_after_direct_parks_reaches_join() {
    within(60, || {
        for _ in 0..50 {
            gort::run(|| {
                let (tx, rx) = bounded::<u64>(0);
                let (back_tx, back_rx) = bounded::<u64>(0);
                let echo = gort::go(move || relay(rx, back_tx, 7));
                let bad = gort::go(move || {
                    for i in 0..57 {
                        tx.send(i).unwrap();
                        assert_eq!(back_rx.recv().unwrap(), i + 1);
                    }
                    panic!("boom after parking");
                });
                let err = bad.join().expect_err("the panic must reach join");
                let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
                assert_eq!(msg, "boom after parking");
                assert_eq!(echo.join().unwrap(), relay_expected(7, 0..57));
            });
        }
    });
}

#[test]
fn an_overflow_after_direct_parks_names_the_goroutine() {
    const NAME: &str = "an_overflow_after_direct_parks_names_the_goroutine";
    if is_child(NAME) {
        gort::set_procs(1);
        gort::run(|| {
            let (tx, rx) = bounded::<u64>(0);
            let (back_tx, back_rx) = bounded::<u64>(0);
            let _innocent = gort::Builder::new()
                .name("innocent")
                .spawn(move || relay(rx, back_tx, 1))
                .unwrap();
            let deep = gort::Builder::new()
                .name("deep-after-parks")
                .stack_size(64 << 10)
                .spawn(move || {
                    for i in 0..1000 {
                        tx.send(i).unwrap();
                        back_rx.recv().unwrap();
                    }
                    unbounded(0)
                })
                .unwrap();
            let _ = deep.join();
        });
        unreachable!("the overflow must abort the process");
    }
    assert_overflow_report_names(NAME, "deep-after-parks");
}

#[test]
fn timers_fire_while_two_goroutines_hand_off_on_one_p() {
    const NAME: &str = "timers_fire_while_two_goroutines_hand_off_on_one_p";
    if is_child(NAME) {
        gort::set_procs(1);
        for _ in 0..20 {
            gort::run(|| {
                let stop = Arc::new(AtomicBool::new(false));
                let (tx, rx) = bounded::<u64>(0);
                let (back_tx, back_rx) = bounded::<u64>(0);
                let echo = gort::go(move || relay(rx, back_tx, 3));
                let s = stop.clone();
                let pinger = gort::go(move || {
                    let mut i = 0;
                    while !s.load(SeqCst) {
                        tx.send(i).unwrap();
                        assert_eq!(back_rx.recv().unwrap(), i + 1);
                        i += 1;
                    }
                });
                // The pair keeps the P busy with direct switches meanwhile.
                timers_fire();
                stop.store(true, SeqCst);
                pinger.join().unwrap();
                echo.join().unwrap();
            });
        }
        return;
    }
    within(120, || child_ok(NAME, &[]));
}

#[test]
fn locked_and_syscall_goroutines_hand_off_among_direct_parkers() {
    const NAME: &str = "locked_and_syscall_goroutines_hand_off_among_direct_parkers";
    if is_child(NAME) {
        for procs in [1, 2] {
            gort::set_procs(procs);
            for _ in 0..10 {
                gort::run(|| {
                    // Two pairs: a locked goroutine with a free echo, a goroutine inside
                    // `syscall` with a free echo; each round parks the pinger.
                    let pair = |locked: bool| {
                        let (tx, rx) = bounded::<u64>(0);
                        let (back_tx, back_rx) = bounded::<u64>(0);
                        let echo = gort::go(move || relay(rx, back_tx, 5));
                        let pinger = gort::go(move || {
                            let rounds = || {
                                for i in 0..300 {
                                    tx.send(i).unwrap();
                                    assert_eq!(back_rx.recv().unwrap(), i + 1);
                                }
                            };
                            if locked {
                                gort::lock_os_thread();
                                let tid = common::tid();
                                rounds();
                                assert_eq!(common::tid(), tid, "a locked goroutine moved");
                                gort::unlock_os_thread();
                            } else {
                                gort::syscall(rounds);
                            }
                        });
                        (echo, pinger)
                    };
                    let (e1, p1) = pair(true);
                    let (e2, p2) = pair(false);
                    p1.join().unwrap();
                    p2.join().unwrap();
                    assert_eq!(e1.join().unwrap(), relay_expected(5, 0..300));
                    assert_eq!(e2.join().unwrap(), relay_expected(5, 0..300));
                });
            }
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}

#[test]
fn goroutines_ending_one_after_another_are_finished_at_every_procs() {
    const NAME: &str = "goroutines_ending_one_after_another_are_finished_at_every_procs";
    if is_child(NAME) {
        use gort::JoinHandleExt;
        for procs in [1, 2, 4] {
            gort::set_procs(procs);
            // Warm the G caches, then count: ended goroutines must give their Gs back.
            gort::run(|| {
                let hs: Vec<_> = (0..2000u64).map(|i| gort::go(move || i)).collect();
                hs.into_iter().for_each(|h| drop(h.join()));
            });
            let before = gort::stats().gs_allocated;
            for round in 0..20u64 {
                gort::run(move || {
                    // Short goroutines queued behind each other: each one's end switches
                    // straight to the next. Results, panics, dropped handles and exit
                    // hooks (the `done` channel) all go through the end that follows.
                    let hs: Vec<_> = (0..2000u64)
                        .map(|i| {
                            gort::go(move || {
                                if i % 97 == 13 {
                                    panic!("boom {i}");
                                }
                                black_box(vec![round; 4]).len() as u64 + i
                            })
                        })
                        .collect();
                    for i in 0..500u64 {
                        drop(gort::go(move || black_box(i)));
                    }
                    let dones: Vec<_> = hs.iter().step_by(10).map(|h| h.done()).collect();
                    for (i, h) in hs.into_iter().enumerate() {
                        let i = i as u64;
                        match h.join() {
                            Ok(v) => assert_eq!(v, i + 4),
                            Err(e) => {
                                assert_eq!(i % 97, 13, "goroutine {i} panicked");
                                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                                assert_eq!(msg, format!("boom {i}"));
                            }
                        }
                    }
                    for d in dones {
                        assert!(d.recv().is_err(), "a done channel stayed open");
                    }
                });
            }
            let grew = gort::stats().gs_allocated - before;
            assert!(
                grew < 2000,
                "{grew} new Gs for 20 rounds of 2500 goroutines"
            );
        }
        return;
    }
    within(300, || child_ok(NAME, &[]));
}
