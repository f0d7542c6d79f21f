//! Channel protocols (`chan/src/channel.rs`, `chan/src/select.rs`): hand-off on an
//! unbuffered channel, a bounded(1) buffer, close racing with blocked parties, and select
//! registration (exactly one case completes; a losing case never consumes a value; a
//! non-blocking select sees one instant).
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
