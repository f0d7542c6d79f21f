// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/closedchan.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/closedchan.go`: close(c) and receiving from a closed channel, through
//! direct operations, single-case selects and larger selects (and here also the dynamic
//! `Select`). Receives from a closed channel complete at once with `Err(RecvError)` (Go's
//! zero value and `ok == false`), after the buffered values; a send on a closed channel
//! gives the value back as an error (Go panics); closing twice is an error (Go panics).
//!
//! Go's file notes it "doesn't check behavior of close(c) when there are blocked
//! senders/receivers"; this port adds that: close wakes every blocked receiver and sender
//! (goroutines and threads, in plain operations and in selects), blocked senders get their
//! own values back, and dropping the last sender / last receiver acts the same way.

mod common_chan;
use common_chan::*;
use gort::chan::{
    self, CloseError, Receiver, RecvError, RecvTimeoutError, Select, SendError, SendTimeoutError,
    Sender, TryRecvError, TrySendError,
};
use gort::select;
use std::time::Duration;

#[derive(Debug, PartialEq)]
enum Nb {
    Sent,
    NotReady(i32),
    Closed(i32),
}

trait Chan {
    fn send(&self, x: i32) -> Result<(), SendError<i32>>;
    fn nbsend(&self, x: i32) -> Nb;
    fn recv(&self) -> Result<i32, RecvError>;
    /// `None`: not selected (would block).
    fn nbrecv(&self) -> Option<Result<i32, RecvError>>;
    fn close(&self) -> Result<(), CloseError>;
    fn name(&self) -> &'static str;
}

struct Ends {
    tx: Sender<i32>,
    rx: Receiver<i32>,
    // For the larger selects: never ready, but a real channel.
    _dummy_tx: Sender<bool>,
    dummy: Receiver<bool>,
}

fn ends(tx: Sender<i32>, rx: Receiver<i32>) -> Ends {
    let (_dummy_tx, dummy) = chan::bounded(0);
    Ends {
        tx,
        rx,
        _dummy_tx,
        dummy,
    }
}

/// Direct operations.
struct XChan(Ends);
/// Single-case selects (with `default` for the non-blocking ones).
struct SChan(Ends);
/// Larger selects, with a dummy case.
struct SSChan(Ends);
/// The dynamic `Select`, with a dummy case.
struct DChan(Ends);

impl Chan for XChan {
    fn send(&self, x: i32) -> Result<(), SendError<i32>> {
        self.0.tx.send(x)
    }
    fn nbsend(&self, x: i32) -> Nb {
        match self.0.tx.try_send(x) {
            Ok(()) => Nb::Sent,
            Err(TrySendError::Full(v)) => Nb::NotReady(v),
            Err(TrySendError::Disconnected(v)) => Nb::Closed(v),
        }
    }
    fn recv(&self) -> Result<i32, RecvError> {
        self.0.rx.recv()
    }
    fn nbrecv(&self) -> Option<Result<i32, RecvError>> {
        match self.0.rx.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
        }
    }
    fn close(&self) -> Result<(), CloseError> {
        self.0.tx.close()
    }
    fn name(&self) -> &'static str {
        "direct"
    }
}

impl Chan for SChan {
    fn send(&self, x: i32) -> Result<(), SendError<i32>> {
        select! {
            send(self.0.tx, x) -> r => r,
        }
    }
    fn nbsend(&self, x: i32) -> Nb {
        select! {
            send(self.0.tx, x) -> r => match r {
                Ok(()) => Nb::Sent,
                Err(SendError(v)) => Nb::Closed(v),
            },
            default => Nb::NotReady(x),
        }
    }
    fn recv(&self) -> Result<i32, RecvError> {
        select! {
            recv(self.0.rx) -> v => v,
        }
    }
    fn nbrecv(&self) -> Option<Result<i32, RecvError>> {
        select! {
            recv(self.0.rx) -> v => Some(v),
            default => None,
        }
    }
    fn close(&self) -> Result<(), CloseError> {
        self.0.rx.close()
    }
    fn name(&self) -> &'static str {
        "select"
    }
}

impl Chan for SSChan {
    fn send(&self, x: i32) -> Result<(), SendError<i32>> {
        select! {
            recv(self.0.dummy) -> _ => panic!("dummy"),
            send(self.0.tx, x) -> r => r,
        }
    }
    fn nbsend(&self, x: i32) -> Nb {
        select! {
            recv(self.0.dummy) -> _ => panic!("dummy"),
            send(self.0.tx, x) -> r => match r {
                Ok(()) => Nb::Sent,
                Err(SendError(v)) => Nb::Closed(v),
            },
            default => Nb::NotReady(x),
        }
    }
    fn recv(&self) -> Result<i32, RecvError> {
        select! {
            recv(self.0.dummy) -> _ => panic!("dummy"),
            recv(self.0.rx) -> v => v,
        }
    }
    fn nbrecv(&self) -> Option<Result<i32, RecvError>> {
        select! {
            recv(self.0.dummy) -> _ => panic!("dummy"),
            recv(self.0.rx) -> v => Some(v),
            default => None,
        }
    }
    fn close(&self) -> Result<(), CloseError> {
        self.0.tx.close()
    }
    fn name(&self) -> &'static str {
        "larger select"
    }
}

impl DChan {
    fn sel_send(&self, x: i32, block: bool) -> Nb {
        let e = &self.0;
        let mut sel = Select::new();
        let _id = sel.recv(&e.dummy);
        let is = sel.send(&e.tx, x);
        let op = if block {
            sel.select()
        } else {
            match sel.try_select() {
                Ok(op) => op,
                Err(_) => return Nb::NotReady(x),
            }
        };
        assert_eq!(op.index(), is, "dummy chosen");
        match op.send(&e.tx) {
            Ok(()) => Nb::Sent,
            Err(SendError(v)) => Nb::Closed(v),
        }
    }
    fn sel_recv(&self, block: bool) -> Option<Result<i32, RecvError>> {
        let e = &self.0;
        let mut sel = Select::new();
        let _id = sel.recv(&e.dummy);
        let ir = sel.recv(&e.rx);
        let op = if block {
            sel.select()
        } else {
            sel.try_select().ok()?
        };
        assert_eq!(op.index(), ir, "dummy chosen");
        Some(op.recv(&e.rx))
    }
}

impl Chan for DChan {
    fn send(&self, x: i32) -> Result<(), SendError<i32>> {
        match self.sel_send(x, true) {
            Nb::Sent => Ok(()),
            Nb::Closed(v) => Err(SendError(v)),
            Nb::NotReady(_) => unreachable!(),
        }
    }
    fn nbsend(&self, x: i32) -> Nb {
        self.sel_send(x, false)
    }
    fn recv(&self) -> Result<i32, RecvError> {
        self.sel_recv(true).unwrap()
    }
    fn nbrecv(&self) -> Option<Result<i32, RecvError>> {
        self.sel_recv(false)
    }
    fn close(&self) -> Result<(), CloseError> {
        self.0.rx.close()
    }
    fn name(&self) -> &'static str {
        "dynamic select"
    }
}

type Mk = fn(Sender<i32>, Receiver<i32>) -> Box<dyn Chan>;
const MKS: [Mk; 4] = [
    |t, r| Box::new(XChan(ends(t, r))),
    |t, r| Box::new(SChan(ends(t, r))),
    |t, r| Box::new(SSChan(ends(t, r))),
    |t, r| Box::new(DChan(ends(t, r))),
];

fn test1(c: &dyn Chan) {
    let name = c.name();
    for _ in 0..3 {
        // A close signal, at once, every time.
        assert_eq!(c.recv(), Err(RecvError), "test1: recv on closed {name}");
        // Through select: selected, not blocked.
        assert_eq!(
            c.nbrecv(),
            Some(Err(RecvError)),
            "test1: recv on closed nb {name}"
        );
    }
    // A send on a closed channel is selected and fails, giving the value back.
    assert_eq!(c.nbsend(1), Nb::Closed(1), "test1: nbsend on closed {name}");
    // And the value was discarded.
    assert_eq!(
        c.recv(),
        Err(RecvError),
        "test1: recv after send on closed {name}"
    );
    assert_eq!(c.send(2), Err(SendError(2)), "test1: send on closed {name}");
    assert_eq!(
        c.recv(),
        Err(RecvError),
        "test1: recv after send on closed {name}"
    );
    // Closing again is an error, from either side.
    assert_eq!(c.close(), Err(CloseError), "test1: second close {name}");
}

fn closedsync(mk: Mk) -> Box<dyn Chan> {
    let (t, r) = chan::bounded(0);
    let c = mk(t, r);
    c.close().unwrap();
    c
}

fn closedasync(mk: Mk) -> Box<dyn Chan> {
    let (t, r) = chan::bounded(2);
    let c = mk(t, r);
    c.send(1).unwrap();
    c.close().unwrap();
    c
}

#[test]
fn closed_sync_channels() {
    for kind in KINDS {
        scenario(60, kind, || {
            for mk in MKS {
                test1(&*closedsync(mk));
            }
        });
    }
}

#[test]
fn closed_async_channels_drain_first() {
    for kind in KINDS {
        scenario(60, kind, || {
            for mk in MKS {
                // testasync1/2: the last value via a (blocking) receive.
                let c = closedasync(mk);
                assert_eq!(c.recv(), Ok(1), "testasync: recv {}", c.name());
                test1(&*c);
                // testasync3/4: via a non-blocking receive.
                let c = closedasync(mk);
                assert_eq!(c.nbrecv(), Some(Ok(1)), "testasync: nbrecv {}", c.name());
                test1(&*c);
            }
        });
    }
}

#[test]
fn close_twice_is_an_error() {
    let (tx, rx) = chan::bounded::<i32>(0);
    assert!(!tx.is_closed() && !rx.is_closed());
    assert_eq!(rx.close(), Ok(()));
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.close(), Err(CloseError));
    assert_eq!(rx.close(), Err(CloseError));
    let (tx, _rx) = chan::unbounded::<i32>();
    assert_eq!(tx.close(), Ok(()));
    assert_eq!(tx.clone().close(), Err(CloseError));
}

#[test]
fn closed_channel_timeouts_and_tries() {
    within(60, || {
        for cap in [Some(0), Some(3), None] {
            let (tx, rx) = match cap {
                Some(c) => chan::bounded::<i32>(c),
                None => chan::unbounded(),
            };
            if cap != Some(0) {
                tx.send(5).unwrap();
            }
            tx.close().unwrap();
            assert_eq!(tx.try_send(1), Err(TrySendError::Disconnected(1)));
            assert_eq!(
                tx.send_timeout(2, Duration::from_secs(30)),
                Err(SendTimeoutError::Disconnected(2))
            );
            if cap != Some(0) {
                assert_eq!(rx.len(), 1);
                assert_eq!(rx.try_recv(), Ok(5), "buffered value after close");
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            assert_eq!(
                rx.recv_timeout(Duration::from_secs(30)),
                Err(RecvTimeoutError::Disconnected)
            );
            assert_eq!(rx.iter().next(), None);
        }
    });
}

/// Close with blocked receivers: every one wakes with `Err(RecvError)`, whether in a plain
/// receive, a `select!` or a dynamic `Select`.
fn close_wakes_receivers(kind: Kind, parties: usize, by_drop: bool) {
    scenario(60, kind, move || {
        for cap in [0, 4] {
            let (tx, rx) = chan::bounded::<i32>(cap);
            let js: Vec<_> = (0..parties)
                .map(|i| {
                    let rx = rx.clone();
                    spawn(kind, move || {
                        let nv = chan::never::<i32>();
                        let r = match i % 3 {
                            0 => rx.recv(),
                            1 => select! {
                                recv(nv) -> _ => unreachable!(),
                                recv(rx) -> v => v,
                            },
                            _ => {
                                let mut sel = Select::new();
                                sel.recv(&nv);
                                let ir = sel.recv(&rx);
                                let op = sel.select();
                                assert_eq!(op.index(), ir);
                                op.recv(&rx)
                            }
                        };
                        assert_eq!(r, Err(RecvError), "party {i} woke with a value");
                    })
                })
                .collect();
            pause();
            if by_drop {
                drop(tx);
            } else {
                tx.close().unwrap();
            }
            join_all(js);
        }
    })
}

#[test]
fn close_wakes_blocked_receivers() {
    close_wakes_receivers(Kind::Goroutine, 30, false);
    close_wakes_receivers(Kind::Thread, 12, false);
}

#[test]
fn dropping_last_sender_wakes_blocked_receivers() {
    close_wakes_receivers(Kind::Goroutine, 30, true);
    close_wakes_receivers(Kind::Thread, 12, true);
}

/// Close with blocked senders: each gets its own value back; values already buffered still
/// drain; nothing else arrives.
fn close_wakes_senders(kind: Kind, parties: usize, by_drop: bool) {
    scenario(60, kind, move || {
        for cap in [0usize, 3] {
            let (tx, rx) = chan::bounded::<i32>(cap);
            for k in 0..cap {
                tx.send(-(k as i32) - 1).unwrap();
            }
            let js: Vec<_> = (0..parties)
                .map(|i| {
                    let tx = tx.clone();
                    let v = i as i32;
                    spawn(kind, move || {
                        let r = match i % 3 {
                            0 => tx.send(v),
                            1 => select! {
                                send(tx, v) -> r => r,
                            },
                            _ => {
                                let mut sel = Select::new();
                                let is = sel.send(&tx, v);
                                let op = sel.select();
                                assert_eq!(op.index(), is);
                                op.send(&tx)
                            }
                        };
                        assert_eq!(r, Err(SendError(v)), "party {i}: its value back");
                    })
                })
                .collect();
            pause();
            if by_drop {
                drop(rx);
                join_all(js);
            } else {
                rx.close().unwrap();
                join_all(js);
                let drained: Vec<i32> = rx.iter().collect();
                let want: Vec<i32> = (0..cap as i32).map(|k| -k - 1).collect();
                assert_eq!(
                    drained, want,
                    "buffered values drain after close, nothing else"
                );
            }
        }
    })
}

#[test]
fn close_wakes_blocked_senders() {
    close_wakes_senders(Kind::Goroutine, 30, false);
    close_wakes_senders(Kind::Thread, 12, false);
}

#[test]
fn dropping_last_receiver_wakes_blocked_senders() {
    close_wakes_senders(Kind::Goroutine, 30, true);
    close_wakes_senders(Kind::Thread, 12, true);
}

/// Close racing with a stream: every value sent successfully is received exactly once,
/// every failed send returned its own value, and the receiver ends with `Err`.
fn close_races_with_senders(kind: Kind, rounds: usize) {
    scenario(60, kind, move || {
        for round in 0..rounds {
            let cap = round % 3;
            let (tx, rx) = chan::bounded::<u64>(cap);
            let (res_tx, res_rx) = chan::unbounded::<(u64, u64)>();
            let js: Vec<_> = (0..3u64)
                .map(|p| {
                    let (tx, res_tx) = (tx.clone(), res_tx.clone());
                    spawn(kind, move || {
                        let (mut ok_sum, mut ok_n) = (0, 0);
                        for i in 0.. {
                            let v = p * 1_000_000 + i;
                            match tx.send(v) {
                                Ok(()) => {
                                    ok_sum += v;
                                    ok_n += 1;
                                }
                                Err(SendError(back)) => {
                                    assert_eq!(back, v);
                                    break;
                                }
                            }
                        }
                        res_tx.send((ok_sum, ok_n)).unwrap();
                    })
                })
                .collect();
            drop(res_tx);
            let (mut sum, mut n) = (0, 0);
            for _ in 0..50 {
                let v = rx.recv().unwrap();
                sum += v;
                n += 1;
            }
            tx.close().unwrap();
            for v in rx.iter() {
                sum += v;
                n += 1;
            }
            join_all(js);
            let (mut ok_sum, mut ok_n) = (0, 0);
            for (s, k) in res_rx.iter() {
                ok_sum += s;
                ok_n += k;
            }
            assert_eq!((sum, n), (ok_sum, ok_n), "round {round}: sent vs received");
        }
    })
}

#[test]
fn close_races_with_senders_goroutines() {
    close_races_with_senders(Kind::Goroutine, 1_000);
}

#[test]
fn close_races_with_senders_threads() {
    close_races_with_senders(Kind::Thread, 200);
}
