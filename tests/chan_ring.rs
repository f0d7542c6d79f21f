//! Bounded channels of 1 to 1024 slots keep their values in a lock-free ring
//! (`chan/src/array.rs`), where a wake-up only says "try again": a woken party can lose the
//! value (or the room) to one that never parked, and must then wait again without the next
//! wake-up going astray. These scenarios race many parties on small rings, on goroutines, on
//! plain threads, and on both at once, through every way of waiting (`recv`, `send`, their
//! timeouts, `select!`), and check that every value arrives exactly once, that each sender's
//! values keep their order, and that a close releases every waiter after the values drain.
//! (The loom models in `loom-tests/tests/chan.rs` check the protocol's steps with two
//! parties; models with three parties on one ring do not finish under loom.)

mod common_chan;
use common_chan::common;
use common_chan::*;
use gort::chan::{self, Receiver, RecvTimeoutError, Sender};
use gort::select;
use std::time::Duration;

const SENDERS: usize = 4;
const RECEIVERS: usize = 4;
const PER_SENDER: u64 = 2_000;
const ROUNDS: usize = 4;

/// How a party of a mixed scenario runs: a goroutine or a plain thread, alternating.
fn kind_of(mixed: bool, kind: Kind, i: usize) -> Kind {
    match mixed {
        true => KINDS[i % 2],
        false => kind,
    }
}

/// Receives until the channel is closed and drained, in the way `how` picks (plain `recv`,
/// `recv_timeout` retried, `select!` beside a channel that never fires, or `try_recv` with
/// a yield); returns the values received, per sender, in the order received.
fn drain(rx: Receiver<(usize, u64)>, how: usize) -> Vec<Vec<u64>> {
    let mut got = vec![Vec::new(); SENDERS];
    let never = chan::never::<()>();
    loop {
        let v = match how % 4 {
            0 => rx.recv().ok(),
            1 => loop {
                match rx.recv_timeout(Duration::from_micros(50)) {
                    Ok(v) => break Some(v),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break None,
                }
            },
            2 => select! {
                recv(rx) -> v => v.ok(),
                recv(never) -> _ => unreachable!("never fires"),
            },
            _ => loop {
                match rx.try_recv() {
                    Ok(v) => break Some(v),
                    Err(chan::TryRecvError::Empty) => gort::yield_now(),
                    Err(chan::TryRecvError::Disconnected) => break None,
                }
            },
        };
        match v {
            Some((s, i)) => got[s].push(i),
            None => return got,
        }
    }
}

/// Sends `PER_SENDER` values tagged with `me`, in the way `how` picks (plain `send`,
/// `send_timeout` retried, or `select!` beside a send that never completes).
fn feed(tx: Sender<(usize, u64)>, me: usize, how: usize) {
    let off = Sender::<(usize, u64)>::never();
    for i in 0..PER_SENDER {
        match how % 3 {
            0 => tx.send((me, i)).unwrap(),
            1 => {
                let mut v = (me, i);
                loop {
                    match tx.send_timeout(v, Duration::from_micros(50)) {
                        Ok(()) => break,
                        Err(chan::SendTimeoutError::Timeout(back)) => v = back,
                        Err(e) => panic!("send failed: {e:?}"),
                    }
                }
            }
            _ => select! {
                send(tx, (me, i)) -> r => r.unwrap(),
                send(off, (me, i)) -> _ => unreachable!("never completes"),
            },
        }
    }
}

/// Many senders and receivers on one small ring: every value arrives exactly once, and
/// each sender's values arrive in order at each receiver.
fn many_parties(kind: Kind, mixed: bool) {
    for cap in [1, 2, 7] {
        for round in 0..ROUNDS {
            let (tx, rx) = chan::bounded(cap);
            let mut receivers = Vec::new();
            for r in 0..RECEIVERS {
                let rx = rx.clone();
                let (done_tx, done_rx) = chan::bounded(1);
                let j = spawn(kind_of(mixed, kind, r + round), move || {
                    done_tx.send(drain(rx, r + round)).unwrap();
                });
                receivers.push((j, done_rx));
            }
            drop(rx);
            let mut senders = Vec::new();
            for s in 0..SENDERS {
                let tx = tx.clone();
                senders.push(spawn(kind_of(mixed, kind, s + round + 1), move || {
                    feed(tx, s, s + round)
                }));
            }
            drop(tx);
            join_all(senders);
            let mut count = vec![0u64; SENDERS];
            for (j, done) in receivers {
                let got = done.recv().unwrap();
                j();
                for (s, values) in got.iter().enumerate() {
                    assert!(
                        values.windows(2).all(|w| w[0] < w[1]),
                        "cap {cap}: sender {s}'s values out of order at one receiver"
                    );
                    count[s] += values.len() as u64;
                }
            }
            assert_eq!(
                count,
                vec![PER_SENDER; SENDERS],
                "cap {cap}: values lost or duplicated"
            );
        }
    }
}

#[test]
fn racing_parties_get_every_value_once_goroutines() {
    scenario(240, Kind::Goroutine, || {
        many_parties(Kind::Goroutine, false)
    });
}

#[test]
fn racing_parties_get_every_value_once_threads() {
    scenario(240, Kind::Thread, || many_parties(Kind::Thread, false));
}

#[test]
fn racing_parties_get_every_value_once_goroutines_and_threads() {
    scenario(240, Kind::Goroutine, || many_parties(Kind::Goroutine, true));
}

/// Receivers parked on an empty ring, a few values, then a close: the values are received
/// once each, and every receiver returns (with a value, or with the close).
#[test]
fn close_releases_every_parked_receiver_after_the_values() {
    for kind in KINDS {
        scenario(120, kind, move || {
            for round in 0..50 {
                let (tx, rx) = chan::bounded::<u32>(2);
                let (got_tx, got_rx) = chan::unbounded();
                let parties: Vec<_> = (0..6)
                    .map(|i| {
                        let rx = rx.clone();
                        let got_tx = got_tx.clone();
                        spawn(kind_of(round % 2 == 1, kind, i), move || {
                            while let Ok(v) = rx.recv() {
                                got_tx.send(v).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(got_tx);
                if round % 3 == 0 {
                    pause(); // let them park first, sometimes
                }
                for v in 0..5 {
                    tx.send(v).unwrap();
                }
                tx.close().unwrap();
                join_all(parties);
                let mut got: Vec<u32> = got_rx.iter().collect();
                got.sort();
                assert_eq!(got, vec![0, 1, 2, 3, 4], "round {round}");
            }
        });
    }
}

/// Senders parked on a full ring, then every receiver goes: each blocked send fails with
/// its value back, and no send reports success for a value nobody can receive.
#[test]
fn receivers_gone_fail_every_parked_sender() {
    for kind in KINDS {
        scenario(120, kind, move || {
            for round in 0..50 {
                let (tx, rx) = chan::bounded::<u32>(1);
                tx.send(0).unwrap();
                let parties: Vec<_> = (0..4)
                    .map(|i| {
                        let tx = tx.clone();
                        spawn(kind_of(round % 2 == 1, kind, i), move || {
                            let e = tx.send(i as u32 + 1).unwrap_err();
                            assert_eq!(e.into_inner(), i as u32 + 1);
                        })
                    })
                    .collect();
                if round % 3 == 0 {
                    pause();
                }
                drop(rx);
                join_all(parties);
                assert!(tx.send(9).is_err());
            }
        });
    }
}

/// A `Select` used again after its send case completed has no value left to send: the
/// panic must come before a slot of the ring is reserved. It used to come after, leaving
/// the slot reserved and never filled, so the next receive that reached it waited forever
/// (this test then hangs and its guard fails it).
#[test]
fn a_select_reused_after_its_send_leaves_the_ring_whole() {
    for kind in KINDS {
        scenario(60, kind, || {
            let (tx, rx) = chan::bounded::<u32>(2);
            let mut sel = chan::Select::new();
            sel.send(&tx, 1);
            sel.select().send(&tx).unwrap();
            let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = sel.try_select();
            }));
            assert!(again.is_err(), "no value left to send: a panic");
            drop(sel);
            assert_eq!(rx.try_recv(), Ok(1));
            tx.send(2).unwrap();
            tx.send(3).unwrap();
            assert_eq!(rx.recv(), Ok(2));
            assert_eq!(rx.recv(), Ok(3));
        });
    }
}

/// Waits (yielding) until goroutine `id` is parked.
fn until_parked(id: u64) {
    while !gort::debug::goroutines()
        .iter()
        .any(|g| g.id == id && g.wait_reason.is_some())
    {
        gort::yield_now();
    }
}

/// A select woken for a ring case that lost the value to a party that never parked waits
/// again at the front of the queue, as a plain receive does (it waited already); at the
/// back, a receiver that queued after it would get the next value first. One P, so that
/// the sender takes the value back before the woken select runs.
#[test]
fn a_select_that_lost_its_wake_up_waits_at_the_front() {
    const NAME: &str = "a_select_that_lost_its_wake_up_waits_at_the_front";
    if !common::is_child(NAME) {
        return common::child_ok(NAME, &[("GOMAXPROCS", "1")]);
    }
    within(60, || {
        gort::run(|| {
            for round in 0..100u32 {
                let (tx, rx) = chan::bounded::<u32>(1);
                let (got_tx, got) = chan::unbounded::<(&str, u32)>();
                let (rx2, got2) = (rx.clone(), got_tx.clone());
                let never = chan::never::<()>();
                let s = gort::go(move || {
                    select! {
                        recv(rx2) -> v => got2.send(("select", v.unwrap())).unwrap(),
                        recv(never) -> _ => unreachable!(),
                    }
                });
                until_parked(s.id());
                let rx3 = rx.clone();
                let r = gort::go(move || got_tx.send(("recv", rx3.recv().unwrap())).unwrap());
                until_parked(r.id());
                // Wakes the select (first in the queue); this goroutine keeps the P and
                // takes the value back before the select retries.
                tx.send(1).unwrap();
                assert_eq!(rx.try_recv(), Ok(1), "round {round}");
                // The select retries, loses, and waits again.
                gort::yield_now();
                until_parked(s.id());
                tx.send(2).unwrap();
                assert_eq!(got.recv(), Ok(("select", 2)), "round {round}");
                tx.send(3).unwrap();
                assert_eq!(got.recv(), Ok(("recv", 3)), "round {round}");
                s.join().unwrap();
                r.join().unwrap();
            }
        })
    });
}
