// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/sieve2.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/sieve2.go`: the prime sieve of Eratosthenes over odd candidates,
//! built from parties: a generator of odd numbers, one generator of odd multiples per prime,
//! a merger that keeps the multiple generators in a heap and emits composites in order, a
//! feedback loop of primes through a send proxy with an expanding buffer (a select whose send
//! case is left out while the buffer is empty, like Go's nil channel), and the sieve itself.
//! Checks the first primes against trial division, then drops the consumer and checks every
//! party returns.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Odd numbers from 5.
fn odds(fam: &Family) -> Receiver<u64> {
    let (tx, rx) = chan::bounded(50);
    fam.go(move |_| {
        let mut n = 5;
        while tx.send(n).is_ok() {
            n += 2;
        }
    });
    rx
}

/// Odd multiples of `p` from `p * p`.
fn multiples(fam: &Family, p: u64) -> Receiver<u64> {
    let (tx, rx) = chan::bounded(10);
    fam.go(move |_| {
        let mut n = p * p;
        while tx.send(n).is_ok() {
            n += 2 * p;
        }
    });
    rx
}

/// A channel and the value last taken from it; ordered so that `BinaryHeap` pops the
/// smallest head.
struct PeekCh {
    head: u64,
    ch: Receiver<u64>,
}

impl PartialEq for PeekCh {
    fn eq(&self, o: &Self) -> bool {
        self.head == o.head
    }
}
impl Eq for PeekCh {}
impl PartialOrd for PeekCh {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for PeekCh {
    fn cmp(&self, o: &Self) -> Ordering {
        o.head.cmp(&self.head)
    }
}

/// A sending proxy for `out`: a party buffers whatever arrives, so sending to the proxy
/// never blocks for long.
fn sendproxy(fam: &Family, out: Sender<u64>) -> Sender<u64> {
    let (proxy_tx, proxy) = chan::bounded::<u64>(10);
    fam.go(move |_| {
        let mut buf = VecDeque::with_capacity(16);
        loop {
            let mut sel = Select::new();
            let ir = sel.recv(&proxy);
            // Buffer empty: the output case is left out (Go's nil channel).
            let is = buf.front().map(|&e| sel.send(&out, e));
            let op = sel.select();
            if op.index() == ir {
                match op.recv(&proxy) {
                    Ok(e) => buf.push_back(e),
                    Err(_) => return,
                }
            } else {
                assert_eq!(Some(op.index()), is);
                if op.send(&out).is_err() {
                    return;
                }
                buf.pop_front();
            }
        }
    });
    proxy_tx
}

/// Returns a channel of the primes.
fn sieve(fam: &Family) -> Receiver<u64> {
    let (out_tx, out) = chan::bounded(10);
    out_tx.send(2).unwrap();
    out_tx.send(3).unwrap();
    // All composites to eliminate, in increasing order.
    let (composites_tx, composites) = chan::bounded::<u64>(50);
    // The feedback loop.
    let (primes_tx, primes_rx) = chan::bounded::<u64>(10);
    primes_tx.send(3).unwrap();

    // Merge the channels of multiples of the primes into composites.
    fam.go(move |fam| {
        let step = || -> Option<()> {
            let mut h = BinaryHeap::new();
            let mut min = 15;
            loop {
                let m = multiples(fam, primes_rx.recv().ok()?);
                let head = m.recv().ok()?;
                while min < head {
                    composites_tx.send(min).ok()?;
                    let mut minchan: PeekCh = h.pop().unwrap();
                    min = minchan.head;
                    minchan.head = minchan.ch.recv().ok()?;
                    h.push(minchan);
                }
                while min == head {
                    let mut minchan: PeekCh = h.pop().unwrap();
                    min = minchan.head;
                    minchan.head = minchan.ch.recv().ok()?;
                    h.push(minchan);
                }
                composites_tx.send(head).ok()?;
                h.push(PeekCh {
                    head: m.recv().ok()?,
                    ch: m,
                });
            }
        };
        let _ = step();
    });

    // Sieve the composites out of the candidates.
    fam.go(move |fam| {
        let step = || -> Option<()> {
            // Only primes up to sqrt(n) are needed for the n-th prime, so the merger takes
            // from `primes` much more slowly than this party sends: the proxy buffers.
            let primes = sendproxy(fam, primes_tx);
            let candidates = odds(fam);
            let mut p = candidates.recv().ok()?;
            loop {
                let c = composites.recv().ok()?;
                while p < c {
                    primes.send(p).ok()?;
                    out_tx.send(p).ok()?;
                    p = candidates.recv().ok()?;
                }
                if p == c {
                    p = candidates.recv().ok()?;
                }
            }
        };
        let _ = step();
    });
    out
}

fn run_sieve(kind: Kind, n: usize) {
    scenario(120, kind, move || {
        let (fam, done) = Family::new(kind);
        let primes = sieve(&fam);
        for (i, &p) in first_primes(n).iter().enumerate() {
            let x = primes.recv().unwrap();
            assert_eq!(x, p, "prime #{i}: {x} != {p}");
        }
        drop(primes);
        fam.wait(done);
    })
}

#[test]
fn sieve2_goroutines() {
    run_sieve(Kind::Goroutine, 500);
}

#[test]
fn sieve2_threads() {
    run_sieve(Kind::Thread, 200);
}
