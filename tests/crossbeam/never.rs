// Ported from crossbeam-channel 0.5.17, tests/never.rs
// (https://github.com/crossbeam-rs/crossbeam/tree/master/crossbeam-channel).
// Copyright (c) 2019 The Crossbeam Project Developers.
// Licensed under the Apache License, Version 2.0 or the MIT license, at your option
// (crossbeam's LICENSE-APACHE and LICENSE-MIT, copied in tests/crossbeam/).
//
// Changes for gort: the imports point at gort through `crate::shim`; each test's body runs
// through `crate::shim::run`, on threads and on goroutines (tests/crossbeam.rs); the
// crate-level attributes moved to tests/crossbeam.rs; tests that check behaviour gort
// differs in on purpose are `#[ignore]`d with the reason (see the `gort_chan` docs).

// Tests for the never channel flavor.

use crate::shim::thread;
use std::time::{Duration, Instant};

use crate::shim::cb::{never, select, tick, unbounded};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn smoke() {
    crate::shim::run(GOROUTINES, true, smoke_body)
}

fn smoke_body() {
    select! {
        recv(never::<i32>()) -> _ => panic!(),
        default => {}
    }
}

#[test]
fn optional() {
    crate::shim::run(GOROUTINES, true, optional_body)
}

fn optional_body() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    s.send(2).unwrap();

    let mut r = Some(&r);
    select! {
        recv(r.unwrap_or(&never())) -> _ => {}
        default => panic!(),
    }

    r = None;
    select! {
        recv(r.unwrap_or(&never())) -> _ => panic!(),
        default => {}
    }
}

#[test]
fn tick_n() {
    crate::shim::run(GOROUTINES, true, tick_n_body)
}

fn tick_n_body() {
    let mut r = tick(ms(100));
    let mut step = 0;

    loop {
        select! {
            recv(r) -> _ => step += 1,
            default(ms(500)) => break,
        }

        if step == 10 {
            r = never();
        }
    }

    assert_eq!(step, 10);
}

#[test]
fn capacity() {
    crate::shim::run(GOROUTINES, true, capacity_body)
}

fn capacity_body() {
    let r = never::<i32>();
    assert_eq!(r.capacity(), Some(0));
}

#[test]
fn len_empty_full() {
    crate::shim::run(GOROUTINES, true, len_empty_full_body)
}

fn len_empty_full_body() {
    let r = never::<i32>();
    assert_eq!(r.len(), 0);
    assert!(r.is_empty());
    assert!(r.is_full());
}

#[test]
fn try_recv() {
    crate::shim::run(GOROUTINES, true, try_recv_body)
}

fn try_recv_body() {
    let r = never::<i32>();
    assert!(r.try_recv().is_err());

    thread::sleep(ms(100));
    assert!(r.try_recv().is_err());
}

#[test]
fn recv_timeout() {
    crate::shim::run(GOROUTINES, true, recv_timeout_body)
}

fn recv_timeout_body() {
    let start = Instant::now();
    let r = never::<i32>();

    assert!(r.recv_timeout(ms(100)).is_err());
    let now = Instant::now();
    assert!(now - start >= ms(100));
    assert!(now - start <= ms(150));

    assert!(r.recv_timeout(ms(100)).is_err());
    let now = Instant::now();
    assert!(now - start >= ms(200));
    assert!(now - start <= ms(250));
}
