// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select7.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/select7.go`: select when discarding a value. Three ways to receive
//! and drop a value (plain receive, a one-case select, a select with a second never-ready
//! channel) against three ways to send it (plain send, a one-case select, a select with a
//! second never-ready channel), all nine pairs over an unbuffered channel, many times.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Sender};
use gort::select;

fn recv1(c: Receiver<i32>) {
    let _ = c.recv().unwrap();
}

fn recv2(c: Receiver<i32>) {
    select! {
        recv(c) -> v => { v.unwrap(); }
    }
}

fn recv3(c: Receiver<i32>) {
    let (_c2_tx, c2) = chan::bounded::<i32>(0);
    select! {
        recv(c) -> v => { v.unwrap(); },
        recv(c2) -> _ => panic!("c2 is never ready"),
    }
}

fn send1(c: &Sender<i32>) {
    c.send(1).unwrap();
}

fn send2(c: &Sender<i32>) {
    select! {
        send(c, 1) -> r => r.unwrap(),
    }
}

fn send3(c: &Sender<i32>) {
    let (c2, _c2_rx) = chan::bounded::<i32>(0);
    select! {
        send(c, 1) -> r => r.unwrap(),
        send(c2, 1) -> _ => panic!("c2 is never ready"),
    }
}

type RecvFn = fn(Receiver<i32>);
type SendFn = fn(&Sender<i32>);

fn pair(kind: Kind, send: SendFn, recv: RecvFn) {
    let (tx, rx) = chan::bounded::<i32>(0);
    let j = spawn(kind, move || recv(rx));
    gort::yield_now();
    send(&tx);
    j();
}

fn all_pairs(kind: Kind, rounds: usize) {
    scenario(120, kind, move || {
        let recvs: [RecvFn; 3] = [recv1, recv2, recv3];
        let sends: [SendFn; 3] = [send1, send2, send3];
        for _ in 0..rounds {
            for recv in recvs {
                for send in sends {
                    pair(kind, send, recv);
                }
            }
        }
    })
}

#[test]
fn discard_goroutines() {
    all_pairs(Kind::Goroutine, 500);
}

#[test]
fn discard_threads() {
    all_pairs(Kind::Thread, 60);
}
