// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/doubleselect.go (https://github.com/golang/go); Go's LICENSE file
// is tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/doubleselect.go`: a select with four ready-able send cases must
//! run exactly one of them per iteration. A sender picks one of four unbuffered channels per
//! value; four muxes forward onto one channel; the receiver checks that every value arrives
//! exactly once (a select that ran two cases would duplicate a value; one that ran none and
//! still returned would lose it).

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use gort::select;
use std::collections::HashSet;

fn sender_macro(n: u64, c1: Sender<u64>, c2: Sender<u64>, c3: Sender<u64>, c4: Sender<u64>) {
    for i in 0..n {
        select! {
            send(c1, i) -> r => r.expect("send c1"),
            send(c2, i) -> r => r.expect("send c2"),
            send(c3, i) -> r => r.expect("send c3"),
            send(c4, i) -> r => r.expect("send c4"),
        }
    }
    // Dropping the senders closes the four channels (Go closes them with defer).
}

fn sender_dynamic(n: u64, cs: Vec<Sender<u64>>) {
    for i in 0..n {
        let mut sel = Select::new();
        let idx: Vec<usize> = cs.iter().map(|c| sel.send(c, i)).collect();
        let op = sel.select();
        let k = idx
            .iter()
            .position(|&j| j == op.index())
            .expect("select returned an index it never handed out");
        op.send(&cs[k]).expect("send");
    }
}

fn mux(out: Sender<u64>, inp: Receiver<u64>) {
    for v in &inp {
        out.send(v).expect("mux forward");
    }
}

fn recver(n: u64, inp: Receiver<u64>) {
    let mut seen = HashSet::new();
    for v in &inp {
        assert!(v < n, "value out of range: {v}");
        assert!(seen.insert(v), "got duplicate value: {v}");
    }
    assert_eq!(seen.len() as u64, n, "values lost");
}

fn doubleselect(kind: Kind, n: u64, dynamic: bool) {
    scenario(120, kind, move || {
        let (t1, r1) = chan::bounded(0);
        let (t2, r2) = chan::bounded(0);
        let (t3, r3) = chan::bounded(0);
        let (t4, r4) = chan::bounded(0);
        let (tmux, rmux) = chan::bounded(0);
        let mut js = vec![spawn(kind, move || {
            if dynamic {
                sender_dynamic(n, vec![t1, t2, t3, t4])
            } else {
                sender_macro(n, t1, t2, t3, t4)
            }
        })];
        for r in [r1, r2, r3, r4] {
            let out = tmux.clone();
            js.push(spawn(kind, move || mux(out, r)));
        }
        drop(tmux);
        recver(n, rmux);
        join_all(js);
    })
}

#[test]
fn doubleselect_goroutines() {
    doubleselect(Kind::Goroutine, 100_000, false);
}

#[test]
fn doubleselect_threads() {
    doubleselect(Kind::Thread, 20_000, false);
}

#[test]
fn doubleselect_dynamic_goroutines() {
    doubleselect(Kind::Goroutine, 100_000, true);
}

#[test]
fn doubleselect_dynamic_threads() {
    doubleselect(Kind::Thread, 20_000, true);
}
