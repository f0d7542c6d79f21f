//! Channel protocols (`chan/src/channel.rs`, `chan/src/select.rs`): hand-off on an
//! unbuffered channel, a bounded(1) buffer, close racing with blocked parties, and select
//! registration (exactly one case completes; a losing case never consumes a value; a
//! non-blocking select sees one instant), and the wake-up protocol of bounded channels'
//! lock-free ring (a push or pop without the lock never misses a party about to park).
#![cfg(loom)]

use gort_chan::{bounded, select, RecvError};
use loom::thread;

/// A send and a receive on an unbuffered channel meet, whichever blocks first.
#[test]
fn unbuffered_handoff() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv(), Ok(7));
        t.join().unwrap();
    });
}

/// Two values through a one-slot buffer: FIFO, nothing lost, both sides may block.
#[test]
fn bounded_one_fifo() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        t.join().unwrap();
        assert_eq!(rx.recv(), Err(RecvError), "the sender is gone: closed");
    });
}

/// Close races with a blocked receiver and a blocked sender: both wake, the receiver with
/// an error, the sender with its value back (or it was received before the close).
#[test]
fn close_while_blocked() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let tx2 = tx.clone();
        let receiver = thread::spawn(move || rx2.recv());
        let sender = thread::spawn(move || tx2.send(5));
        tx.close().unwrap();
        let got = receiver.join().unwrap();
        let sent = sender.join().unwrap();
        match (got, sent) {
            (Ok(5), Ok(())) => {}
            (Err(RecvError), Err(e)) => assert_eq!(e.into_inner(), 5),
            other => panic!("inconsistent close outcome: {other:?}"),
        }
        drop(rx);
    });
}

/// A select over two buffered channels, each fed once: the select takes exactly one value
/// and the other stays in its channel (a losing case never consumes).
#[test]
fn select_takes_exactly_one() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(1);
        let (t2, r2) = bounded::<u32>(1);
        let a = thread::spawn(move || t1.send(1).unwrap());
        let b = thread::spawn(move || t2.send(2).unwrap());
        let got = select! {
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
        };
        a.join().unwrap();
        b.join().unwrap();
        let left: Vec<u32> = [r1.try_recv().ok(), r2.try_recv().ok()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(left.len(), 1, "exactly one value must remain");
        assert_ne!(left[0], got);
    });
}

/// A parked select on two unbuffered channels races with two senders that give up if no
/// receiver is ready (`try_send`): at most one send succeeds, and if one does, the select
/// got exactly that value.
#[test]
fn select_registration_races_with_senders() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(0);
        let (t2, r2) = bounded::<u32>(0);
        let s = thread::spawn(move || {
            select! {
                recv(r1) -> v => v.ok(),
                recv(r2) -> v => v.ok(),
            }
        });
        let ok1 = t1.try_send(1).is_ok();
        let ok2 = t2.try_send(2).is_ok();
        assert!(!(ok1 && ok2), "a select completed two cases");
        if !ok1 && !ok2 {
            // Neither found it registered yet: release it by closing.
            drop(t1);
            drop(t2);
            assert_eq!(s.join().unwrap(), None);
        } else {
            assert_eq!(s.join().unwrap(), Some(if ok1 { 1 } else { 2 }));
        }
    });
}

/// A non-blocking select judges all its cases at one instant (Go's
/// `TestNonblockSelectRace`): while another party makes c2 ready and only then drains c1,
/// one of the two is always ready, so `default` must never be taken. Under loom the shuffle
/// is fixed and polls the second case first: the model reaches the interleaving where c2
/// is looked at before it is filled and c1 after it is drained, which a select that looks
/// at its cases one after another, each under its own lock only, gets wrong.
#[test]
fn nonblocking_select_sees_one_instant() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(1);
        let (t2, r2) = bounded::<u32>(1);
        t1.send(1).unwrap();
        let (r1_sel, r2_sel) = (r1.clone(), r2.clone());
        let s = thread::spawn(move || {
            select! {
                recv(r1_sel) -> _ => true,
                recv(r2_sel) -> _ => true,
                default => false,
            }
        });
        t2.send(2).unwrap();
        let _ = r1.try_recv();
        assert!(
            s.join().unwrap(),
            "the select took `default` while c1 or c2 was ready"
        );
        drop(r2);
    });
}

/// A select parked on two channels is released by closing them.
#[test]
fn select_released_by_close() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(0);
        let (t2, r2) = bounded::<u32>(0);
        let s = thread::spawn(move || {
            select! {
                recv(r1) -> v => v.ok(),
                recv(r2) -> v => v.ok(),
            }
        });
        drop(t1);
        drop(t2);
        assert_eq!(s.join().unwrap(), None);
    });
}

/// A blocked receive is released by the sender's drop.
#[test]
fn recv_released_by_close() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(0);
        let s = thread::spawn(move || r1.recv().ok());
        drop(t1);
        assert_eq!(s.join().unwrap(), None);
    });
}

// The lock-free ring of bounded channels (`chan/src/array.rs`): a push or pop takes no lock,
// so a party about to park could miss it. The protocol's steps, and the model that fails
// (loom reports the lost wake-up as a deadlock) when the step is taken out (each was taken
// out once and the model run):
//
// 1. The waiter publishes "someone waits", fences, and tries the ring again under the lock
//    before it parks: without the try again, `ring_push_wakes_parking_receiver` fails.
// 2. A push or pop without the lock fences before it reads the flag: without that fence,
//    `ring_pop_wakes_parking_sender` fails.
// 3. A select fences after registering and looks at its ring cases again before it parks:
//    without that look, `ring_push_wakes_parking_select` fails.
// 4. A close marks the ring under the lock before it wakes the waiters, who retry: without
//    the mark, `ring_close_drains_in_flight_value` fails (the woken receiver's retry finds
//    an empty, open ring and parks for good).
//
// Models with three parties on one ring (two receivers racing for a woken one's value) do
// not finish under loom: the ring's waits for a party that reserved a slot explode its
// branches (tokio-rs/loom#398, the same queue in heapless); `tests/chan_ring.rs` runs them
// on goroutines and threads instead.

/// A receiver parks on an empty ring while a sender pushes without the lock.
#[test]
fn ring_push_wakes_parking_receiver() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        // The sender stays alive until the receive returns: its drop (a close) would wake
        // the receiver too and hide a lost wake-up.
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        assert_eq!(rx.recv(), Ok(1));
        drop(t.join().unwrap());
    });
}

/// A sender parks on a full ring while a receiver pops without the lock.
#[test]
fn ring_pop_wakes_parking_sender() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(0).unwrap();
        let t = thread::spawn(move || tx.send(1).unwrap());
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(rx.recv(), Ok(1));
        t.join().unwrap();
    });
}

/// A select registering on two ring channels while a sender pushes into one of them
/// without the lock: the select gets that value.
#[test]
fn ring_push_wakes_parking_select() {
    loom::model(|| {
        let (t1, r1) = bounded::<u32>(1);
        let (t2, r2) = bounded::<u32>(1);
        // As above, the sender outlives the select.
        let t = thread::spawn(move || {
            t2.send(2).unwrap();
            t2
        });
        let got = select! {
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
        };
        assert_eq!(got, 2);
        drop(t.join().unwrap());
        drop(t1);
    });
}

/// A close races with a value in flight: the receiver gets the value (sent before the
/// close) and then the close, or only the close (the send failed with its value).
#[test]
fn ring_close_drains_in_flight_value() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let tx2 = tx.clone();
        let t = thread::spawn(move || tx2.send(1).is_ok());
        tx.close().unwrap();
        let first = rx.recv();
        let sent = t.join().unwrap();
        if sent {
            assert_eq!(first, Ok(1));
            assert_eq!(rx.recv(), Err(RecvError));
        } else {
            assert_eq!(first, Err(RecvError));
        }
    });
}
