// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/runtime/chan_test.go (https://github.com/golang/go); Go's LICENSE file
// is tests/LICENSE-GO. gort's changes are described below.

//! Go's `TestChan` and `TestSelectStress` run under `GOMAXPROCS(4)` and `GOMAXPROCS(10)`:
//! this binary re-runs two goroutine stress scenarios (the select stress of
//! `src/runtime/chan_test.go` and its `TestMultiConsumer`) with 1, 4 and 10 Ps, changing
//! the count between runs. It is a binary of its own because the P count is process-wide.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use gort::select;

/// Per channel (capacities 0, 0, 2, 3) a plain sender and receiver of `n` values, plus one
/// select sender and one select receiver over all four; per-channel checksums.
fn select_stress(n: u64) {
    let caps = [0, 0, 2, 3];
    let chans: Vec<(Sender<u64>, Receiver<u64>)> = caps.iter().map(|&c| chan::bounded(c)).collect();
    let (sum_tx, sums) = chan::unbounded::<(usize, u64)>();
    let mut js = Vec::new();
    for (k, (tx, rx)) in chans.iter().enumerate() {
        let tx = tx.clone();
        js.push(spawn(Kind::Goroutine, move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        }));
        let (rx, st) = (rx.clone(), sum_tx.clone());
        js.push(spawn(Kind::Goroutine, move || {
            let s: u64 = (0..n).map(|_| rx.recv().unwrap()).sum();
            st.send((k, s)).unwrap();
        }));
    }
    let txs: Vec<Sender<u64>> = chans.iter().map(|c| c.0.clone()).collect();
    js.push(spawn(Kind::Goroutine, move || {
        let mut cnt = [0u64; 4];
        for _ in 0..4 * n {
            let mut sel = Select::new();
            let mut idx = Vec::with_capacity(4);
            for k in [3, 2, 0, 1] {
                if cnt[k] < n {
                    idx.push((sel.send(&txs[k], cnt[k]), k));
                }
            }
            let op = sel.select();
            let k = idx.iter().find(|c| c.0 == op.index()).unwrap().1;
            op.send(&txs[k]).unwrap();
            cnt[k] += 1;
        }
    }));
    let rxs: Vec<Receiver<u64>> = chans.iter().map(|c| c.1.clone()).collect();
    let st = sum_tx.clone();
    js.push(spawn(Kind::Goroutine, move || {
        let mut cnt = [0u64; 4];
        let mut s = [0u64; 4];
        // A channel that has had its n is replaced by a never-ready one (Go's nil).
        let nv = chan::never::<u64>();
        for _ in 0..4 * n {
            let pick = |k: usize| if cnt[k] < n { &rxs[k] } else { &nv };
            let (r0, r1, r2, r3) = (pick(0), pick(1), pick(2), pick(3));
            let (k, v) = select! {
                recv(r0) -> v => (0, v),
                recv(r1) -> v => (1, v),
                recv(r2) -> v => (2, v),
                recv(r3) -> v => (3, v),
            };
            s[k] += v.unwrap();
            cnt[k] += 1;
        }
        assert_eq!(cnt, [n; 4]);
        for (k, s) in s.into_iter().enumerate() {
            st.send((k, s)).unwrap();
        }
    }));
    drop(sum_tx);
    drop(chans);
    join_all(js);
    let total: u64 = sums.iter().map(|(_, s)| s).sum();
    assert_eq!(
        total,
        4 * n * (n - 1),
        "checksum: messages lost or duplicated"
    );
}

fn multi_consumer(niter: usize) {
    const NWORK: usize = 23;
    const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
    let (q_tx, q) = chan::bounded::<usize>(NWORK * 3);
    let (r_tx, r) = chan::bounded::<usize>(NWORK * 3);
    let workers: Vec<_> = (0..NWORK)
        .map(|w| {
            let (q, r_tx) = (q.clone(), r_tx.clone());
            spawn(Kind::Goroutine, move || {
                for v in &q {
                    if PN[w % PN.len()] == v {
                        gort::yield_now();
                    }
                    r_tx.send(v).unwrap();
                }
            })
        })
        .collect();
    drop((q, r_tx));
    let expect: usize = (0..niter).map(|i| PN[i % PN.len()]).sum();
    let feeder = spawn(Kind::Goroutine, move || {
        for i in 0..niter {
            q_tx.send(PN[i % PN.len()]).unwrap();
        }
    });
    let (mut n, mut s) = (0, 0);
    for v in &r {
        n += 1;
        s += v;
    }
    feeder();
    join_all(workers);
    assert!(
        n == niter && s == expect,
        "expected sum {expect} (got {s}) from {niter} iter (saw {n})"
    );
}

#[test]
fn stress_under_various_procs() {
    within(120, || {
        let old = gort::procs();
        for procs in [1, 4, 10, 2] {
            gort::set_procs(procs);
            gort::run(|| {
                select_stress(10_000);
                multi_consumer(50_000);
            });
        }
        gort::set_procs(old);
    });
}
