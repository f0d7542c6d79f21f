// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/goroutines.go (https://github.com/golang/go); Go's LICENSE file
// is tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/goroutines.go`: make a lot of parties threaded together by
//! unbuffered channels (each does `left <- <-right`), push one value in at the right end and
//! take it out at the left, then tear everything down cleanly. Each link adds one, so the
//! value that comes out counts the hops.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Sender};

fn link(left: Sender<u64>, right: Receiver<u64>) {
    let v = right.recv().expect("right");
    left.send(v + 1).expect("left");
}

fn daisy_chain(kind: Kind, n: usize) {
    scenario(120, kind, move || {
        let (leftmost_tx, leftmost) = chan::bounded::<u64>(0);
        let mut left = leftmost_tx;
        let mut js = Vec::with_capacity(n + 1);
        for _ in 0..n {
            let (right_tx, right_rx) = chan::bounded(0);
            js.push(spawn(kind, move || link(left, right_rx)));
            left = right_tx;
        }
        js.push(spawn(kind, move || left.send(1).expect("rightmost")));
        assert_eq!(leftmost.recv().unwrap(), 1 + n as u64, "hops lost");
        join_all(js);
        // Every link has gone, so the leftmost channel is closed.
        assert!(leftmost.recv().is_err());
    })
}

#[test]
fn daisy_chain_goroutines() {
    daisy_chain(Kind::Goroutine, 10_000);
}

#[test]
fn daisy_chain_threads() {
    daisy_chain(Kind::Thread, 300);
}

/// The same chain, torn down by closing instead: every link waits on its right; dropping the
/// rightmost sender closes the first channel, each link's failing receive drops its left
/// sender, and the close ripples to the left end.
#[test]
fn close_ripples_through_the_chain() {
    for (kind, n) in [(Kind::Goroutine, 5_000), (Kind::Thread, 200)] {
        scenario(120, kind, move || {
            let (leftmost_tx, leftmost) = chan::bounded::<u64>(0);
            let mut left = leftmost_tx;
            let mut js = Vec::with_capacity(n);
            for _ in 0..n {
                let (right_tx, right_rx) = chan::bounded::<u64>(0);
                js.push(spawn(kind, move || {
                    if let Ok(v) = right_rx.recv() {
                        let _ = left.send(v);
                    }
                }));
                left = right_tx;
            }
            drop(left);
            assert!(
                leftmost.recv().is_err(),
                "close did not ripple to the left end"
            );
            join_all(js);
        });
    }
}
