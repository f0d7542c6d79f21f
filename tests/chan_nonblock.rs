// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/nonblock.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/nonblock.go`: channel operations that test for blocking, with
//! several operand types and with buffer sizes 0 and 1. A non-blocking receive from an empty
//! channel is not ready; a non-blocking send succeeds once a receiver waits (or buffer space
//! exists), a non-blocking receive once a sender waits (or a value is buffered). The
//! non-blocking operations are exercised three ways: `select!` with `default`, `try_send` /
//! `try_recv`, and `Select::try_select`; parties are goroutines or threads, in every mix with
//! the main body.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender, TryRecvError, TrySendError};
use gort::select;
use std::fmt::Debug;

#[derive(Clone, Copy, Debug)]
enum How {
    Macro,
    Try,
    Dynamic,
}

/// A non-blocking send: `Err(v)` gives the value back when the send was not ready.
fn nb_send<T: Clone>(how: How, c: &Sender<T>, v: T) -> Result<(), T> {
    match how {
        How::Macro => select! {
            send(c, v.clone()) -> r => {
                assert!(r.is_ok(), "send on an open channel failed");
                Ok(())
            },
            default => Err(v),
        },
        How::Try => match c.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(v)) => Err(v),
            Err(TrySendError::Disconnected(_)) => panic!("channel is not closed"),
        },
        How::Dynamic => {
            let mut sel = Select::new();
            let i = sel.send(c, v.clone());
            match sel.try_select() {
                Ok(op) => {
                    assert_eq!(op.index(), i);
                    assert!(op.send(c).is_ok(), "send on an open channel failed");
                    Ok(())
                }
                Err(_) => Err(v),
            }
        }
    }
}

/// A non-blocking receive: `None` when not ready.
fn nb_recv<T>(how: How, c: &Receiver<T>) -> Option<T> {
    match how {
        How::Macro => select! {
            recv(c) -> v => Some(v.expect("channel is not closed")),
            default => None,
        },
        How::Try => match c.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => panic!("channel is not closed"),
        },
        How::Dynamic => {
            let mut sel = Select::new();
            let i = sel.recv(c);
            match sel.try_select() {
                Ok(op) => {
                    assert_eq!(op.index(), i);
                    Some(op.recv(c).expect("channel is not closed"))
                }
                Err(_) => None,
            }
        }
    }
}

/// One type's worth of Go's test: `a` is what the main body sends, `b` what it receives.
fn check_type<T>(how: How, party: Kind, buffer: usize, a: T, b: T)
where
    T: Clone + PartialEq + Debug + Send + 'static,
{
    let (c_tx, c_rx) = chan::bounded::<T>(buffer);
    let (sync_tx, sync_rx) = chan::bounded::<bool>(0);

    assert!(
        nb_recv(how, &c_rx).is_none(),
        "{how:?} buffer={buffer}: blocked sender"
    );

    // A receiver party; the main body's non-blocking send succeeds once it waits. With
    // Dynamic, the receiver waits inside a select with a never-ready case.
    let (rx, st, want) = (c_rx.clone(), sync_tx.clone(), a.clone());
    let j = spawn(party, move || {
        let nv = chan::never::<T>();
        let got = match how {
            How::Dynamic => select! {
                recv(rx) -> v => v.unwrap(),
                recv(nv) -> _ => unreachable!("never() fired"),
            },
            _ => rx.recv().unwrap(),
        };
        assert_eq!(got, want, "receiver got the wrong value");
        st.send(true).unwrap();
    });
    let mut v = a;
    loop {
        match nb_send(how, &c_tx, v) {
            Ok(()) => break,
            Err(back) => {
                v = back;
                breathe();
            }
        }
    }
    assert!(sync_rx.recv().unwrap());
    j();

    // A sender party; the main body's non-blocking receive succeeds once it waits (or, with
    // a buffer, once it has sent and signalled).
    let (tx, st, give) = (c_tx.clone(), sync_tx.clone(), b.clone());
    let j = spawn(party, move || {
        tx.send(give).unwrap();
        st.send(true).unwrap();
    });
    if buffer > 0 {
        assert!(sync_rx.recv().unwrap());
    }
    let got = loop {
        match nb_recv(how, &c_rx) {
            Some(v) => break v,
            None => breathe(),
        }
    };
    assert_eq!(got, b, "{how:?} buffer={buffer}: sender value");
    if buffer == 0 {
        assert!(sync_rx.recv().unwrap());
    }
    j();
}

fn nonblock(main: Kind, party: Kind) {
    for how in [How::Macro, How::Try, How::Dynamic] {
        scenario(60, main, move || {
            for buffer in 0..2 {
                check_type::<i32>(how, party, buffer, 123, 234);
                check_type::<i64>(how, party, buffer, 123_456, 234_567);
                check_type::<bool>(how, party, buffer, true, true);
                check_type::<String>(how, party, buffer, "hello".into(), "hello again".into());
                check_type::<[u64; 8]>(how, party, buffer, [7; 8], [9; 8]);
            }
        });
    }
}

#[test]
fn nonblock_goroutines() {
    nonblock(Kind::Goroutine, Kind::Goroutine);
}

#[test]
fn nonblock_threads() {
    nonblock(Kind::Thread, Kind::Thread);
}

#[test]
fn nonblock_goroutine_main_thread_parties() {
    nonblock(Kind::Goroutine, Kind::Thread);
}

#[test]
fn nonblock_thread_main_goroutine_parties() {
    nonblock(Kind::Thread, Kind::Goroutine);
}

/// A non-blocking send into a full buffer, and a non-blocking receive from an empty
/// unbuffered channel with nobody waiting, are never ready, however often they are tried.
#[test]
fn not_ready_stays_not_ready() {
    for how in [How::Macro, How::Try, How::Dynamic] {
        let (tx, rx) = chan::bounded::<u32>(1);
        tx.send(1).unwrap();
        for i in 0..1000 {
            assert_eq!(
                nb_send(how, &tx, i),
                Err(i),
                "{how:?}: send into a full buffer"
            );
        }
        assert_eq!(rx.recv().unwrap(), 1);
        let (tx0, rx0) = chan::bounded::<u32>(0);
        for i in 0..1000 {
            assert_eq!(
                nb_send(how, &tx0, i),
                Err(i),
                "{how:?}: send with no receiver"
            );
            assert_eq!(nb_recv(how, &rx0), None, "{how:?}: receive with no sender");
        }
        assert!(rx.is_empty() && rx0.is_empty());
    }
}
