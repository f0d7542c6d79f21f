// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select6.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/select6.go` (Go issue 2075): a select that loses must leave the
//! wait queues of its other channels intact. Party A waits on `<-c1`; party B selects on
//! `<-c1` and `<-c2`, wins on c2 (party C sends it), then waits on `<-c1` again. The two
//! sends on c1 that follow must reach both A and B; a corrupted queue loses a waiter and
//! hangs. Repeated many times, with the macro and with the dynamic `Select`.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Select};
use gort::select;

fn issue2075(kind: Kind, rounds: usize, dynamic: bool) {
    scenario(120, kind, move || {
        for _ in 0..rounds {
            let (c1_tx, c1) = chan::bounded::<bool>(0);
            let (c2_tx, c2) = chan::bounded::<bool>(0);
            let (c3_tx, c3) = chan::bounded::<bool>(0);
            let a_c1 = c1.clone();
            let a = spawn(kind, move || assert_eq!(a_c1.recv(), Ok(true)));
            let b = spawn(kind, move || {
                if dynamic {
                    let mut sel = Select::new();
                    let i1 = sel.recv(&c1);
                    let i2 = sel.recv(&c2);
                    let op = sel.select();
                    if op.index() == i1 {
                        let _ = op.recv(&c1);
                        panic!("dummy");
                    }
                    assert_eq!(op.index(), i2);
                    assert_eq!(op.recv(&c2), Ok(true));
                } else {
                    select! {
                        recv(c1) -> _ => panic!("dummy"),
                        recv(c2) -> v => assert_eq!(v, Ok(true)),
                    }
                }
                c3_tx.send(true).unwrap();
                assert_eq!(c1.recv(), Ok(true));
            });
            let c = spawn(kind, move || c2_tx.send(true).unwrap());
            assert_eq!(c3.recv(), Ok(true));
            c1_tx.send(true).unwrap();
            c1_tx.send(true).unwrap();
            join_all([a, b, c]);
        }
    })
}

#[test]
fn issue2075_goroutines() {
    issue2075(Kind::Goroutine, 10_000, false);
}

#[test]
fn issue2075_threads() {
    issue2075(Kind::Thread, 1_000, false);
}

#[test]
fn issue2075_dynamic_goroutines() {
    issue2075(Kind::Goroutine, 10_000, true);
}

#[test]
fn issue2075_dynamic_threads() {
    issue2075(Kind::Thread, 1_000, true);
}
