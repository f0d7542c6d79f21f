// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/sieve1.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/sieve1.go`: the classical (inefficient) concurrent prime sieve, a
//! linear chain of divisibility filters, one party per prime, joined by unbuffered channels.
//! Checks the first primes against trial division; then drops the consumer's receiver and
//! checks the whole chain tears itself down (each stage returns when its send fails because
//! the next stage has gone).

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Sender};

/// Sends 2, 3, 4, ... to `ch`.
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return;
        }
    }
}

/// Copies `inp` to `out`, removing the multiples of `prime`.
fn filter(inp: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in &inp {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

/// Daisy-chains filters together.
fn sieve(fam: &Family, primes: Sender<u64>) {
    let (tx, mut ch) = chan::bounded(0);
    fam.go(move |_| generate(tx));
    loop {
        let Ok(prime) = ch.recv() else { return };
        if primes.send(prime).is_err() {
            return;
        }
        let (tx1, ch1) = chan::bounded(0);
        fam.go(move |_| filter(ch, tx1, prime));
        ch = ch1;
    }
}

fn run_sieve(kind: Kind, n: usize) {
    scenario(120, kind, move || {
        let (fam, done) = Family::new(kind);
        let (primes_tx, primes) = chan::bounded(0);
        fam.go(move |f| sieve(f, primes_tx));
        let want = first_primes(n);
        for (i, &p) in want.iter().enumerate() {
            let x = primes.recv().unwrap();
            assert_eq!(x, p, "prime #{i}: {x} != {p}");
        }
        drop(primes);
        fam.wait(done);
    })
}

#[test]
fn sieve_goroutines() {
    run_sieve(Kind::Goroutine, 150);
}

#[test]
fn sieve_threads() {
    run_sieve(Kind::Thread, 25);
}
