// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/fifo.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/fifo.go`: channels are FIFO. `AsynchFifo` fills a buffered
//! channel and drains it in order; `SynchFifo` threads a daisy chain of parties that each
//! receive one value from an unbuffered channel in turn. Extended with the FIFO property
//! under concurrency: one producer's values arrive in order for every capacity, and with
//! several producers each producer's own sequence stays in order.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Sender};

const N: usize = 10;

#[test]
fn asynch_fifo() {
    for kind in KINDS {
        scenario(60, kind, || {
            let (tx, rx) = chan::bounded(N);
            for i in 0..N {
                tx.send(i).unwrap();
            }
            assert!(tx.is_full());
            for i in 0..N {
                assert_eq!(rx.recv().unwrap(), i, "bad receive");
            }
            assert!(rx.is_empty());
            // Same through an unbounded channel.
            let (tx, rx) = chan::unbounded();
            for i in 0..1000 {
                tx.send(i).unwrap();
            }
            for i in 0..1000 {
                assert_eq!(rx.recv().unwrap(), i, "bad receive (unbounded)");
            }
        });
    }
}

fn chain(ch: Receiver<usize>, val: usize, inp: Receiver<i32>, out: Sender<i32>) {
    inp.recv().unwrap();
    assert_eq!(
        ch.recv().unwrap(),
        val,
        "chain link {val} got the wrong value"
    );
    out.send(1).unwrap();
}

#[test]
fn synch_fifo() {
    for kind in KINDS {
        for _round in 0..20 {
            scenario(60, kind, move || {
                let (ch_tx, ch_rx) = chan::bounded::<usize>(0);
                let (start, mut inp) = chan::bounded::<i32>(0);
                let mut js = Vec::new();
                for i in 0..N {
                    let (out_tx, out_rx) = chan::bounded(0);
                    let ch = ch_rx.clone();
                    js.push(spawn(kind, move || chain(ch, i, inp, out_tx)));
                    inp = out_rx;
                }
                start.send(0).unwrap();
                for i in 0..N {
                    ch_tx.send(i).unwrap();
                }
                inp.recv().unwrap();
                join_all(js);
            });
        }
    }
}

fn single_producer_order(kind: Kind, cap: Option<usize>, n: u64) {
    scenario(60, kind, move || {
        let (tx, rx) = match cap {
            Some(c) => chan::bounded(c),
            None => chan::unbounded(),
        };
        let j = spawn(kind, move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        });
        for i in 0..n {
            assert_eq!(rx.recv().unwrap(), i, "cap {cap:?}: out of order");
        }
        assert!(
            rx.recv().is_err(),
            "cap {cap:?}: closed after the producer left"
        );
        j();
    })
}

#[test]
fn single_producer_order_goroutines() {
    for cap in [Some(0), Some(1), Some(7), Some(64), None] {
        single_producer_order(Kind::Goroutine, cap, 20_000);
    }
}

#[test]
fn single_producer_order_threads() {
    for cap in [Some(0), Some(1), Some(7), Some(64), None] {
        single_producer_order(Kind::Thread, cap, 5_000);
    }
}

/// Several producers and several consumers: each producer's values are seen in increasing
/// order by each consumer (a channel is one FIFO queue), and nothing is lost or duplicated.
fn per_producer_order(kind: Kind, cap: Option<usize>, producers: u64, consumers: usize, n: u64) {
    scenario(60, kind, move || {
        let (tx, rx) = match cap {
            Some(c) => chan::bounded::<(u64, u64)>(c),
            None => chan::unbounded(),
        };
        let mut js = Vec::new();
        for p in 0..producers {
            let tx = tx.clone();
            js.push(spawn(kind, move || {
                for i in 0..n {
                    tx.send((p, i)).unwrap();
                }
            }));
        }
        drop(tx);
        let (res_tx, res_rx) = chan::unbounded::<(Vec<u64>, u64)>();
        for _ in 0..consumers {
            let rx = rx.clone();
            let res_tx = res_tx.clone();
            js.push(spawn(kind, move || {
                let mut last = vec![None::<u64>; producers as usize];
                let mut counts = vec![0u64; producers as usize];
                let mut sum = 0u64;
                for (p, i) in &rx {
                    if let Some(l) = last[p as usize] {
                        assert!(i > l, "producer {p}: {i} after {l}");
                    }
                    last[p as usize] = Some(i);
                    counts[p as usize] += 1;
                    sum += p * 1_000_003 + i;
                }
                res_tx.send((counts, sum)).unwrap();
            }));
        }
        drop(res_tx);
        drop(rx);
        let mut counts = vec![0u64; producers as usize];
        let mut sum = 0u64;
        for (c, s) in &res_rx {
            for (a, b) in counts.iter_mut().zip(c) {
                *a += b;
            }
            sum += s;
        }
        join_all(js);
        assert!(
            counts.iter().all(|&c| c == n),
            "counts {counts:?}, want {n} each"
        );
        let want: u64 = (0..producers)
            .map(|p| p * 1_000_003 * n + n * (n - 1) / 2)
            .sum();
        assert_eq!(sum, want, "checksum: messages lost or duplicated");
    })
}

#[test]
fn per_producer_order_goroutines() {
    for cap in [Some(0), Some(1), Some(16), None] {
        per_producer_order(Kind::Goroutine, cap, 4, 3, 5_000);
    }
}

#[test]
fn per_producer_order_threads() {
    for cap in [Some(0), Some(1), Some(16), None] {
        per_producer_order(Kind::Thread, cap, 4, 3, 1_500);
    }
}
