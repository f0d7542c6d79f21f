// Ported from crossbeam-channel 0.5.17, tests/same_channel.rs
// (https://github.com/crossbeam-rs/crossbeam/tree/master/crossbeam-channel).
// Copyright (c) 2019 The Crossbeam Project Developers.
// Licensed under the Apache License, Version 2.0 or the MIT license, at your option
// (crossbeam's LICENSE-APACHE and LICENSE-MIT, copied in tests/crossbeam/).
//
// Changes for gort: the imports point at gort through `crate::shim`; each test's body runs
// through `crate::shim::run`, on threads and on goroutines (tests/crossbeam.rs); the
// crate-level attributes moved to tests/crossbeam.rs; tests that check behaviour gort
// differs in on purpose are `#[ignore]`d with the reason (see the `gort_chan` docs).

use std::time::Duration;

use crate::shim::cb::{after, bounded, never, tick, unbounded};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn after_same_channel() {
    crate::shim::run(GOROUTINES, false, after_same_channel_body)
}

fn after_same_channel_body() {
    let r = after(ms(50));

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    let r3 = after(ms(50));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));

    let r4 = after(ms(100));
    assert!(!r.same_channel(&r4));
    assert!(!r2.same_channel(&r4));
}

#[test]
fn array_same_channel() {
    crate::shim::run(GOROUTINES, false, array_same_channel_body)
}

fn array_same_channel_body() {
    let (s, r) = bounded::<usize>(1);

    let s2 = s.clone();
    assert!(s.same_channel(&s2));

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    let (s3, r3) = bounded::<usize>(1);
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
fn list_same_channel() {
    crate::shim::run(GOROUTINES, false, list_same_channel_body)
}

fn list_same_channel_body() {
    let (s, r) = unbounded::<usize>();

    let s2 = s.clone();
    assert!(s.same_channel(&s2));

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    let (s3, r3) = unbounded::<usize>();
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
#[ignore = "each never() is a channel of its own; crossbeam's never() receivers are all one channel"]
fn never_same_channel() {
    crate::shim::run(GOROUTINES, false, never_same_channel_body)
}

fn never_same_channel_body() {
    let r = never::<usize>();

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    // Never channel are always equal to one another.
    let r3 = never::<usize>();
    assert!(r.same_channel(&r3));
    assert!(r2.same_channel(&r3));
}

#[test]
fn tick_same_channel() {
    crate::shim::run(GOROUTINES, false, tick_same_channel_body)
}

fn tick_same_channel_body() {
    let r = tick(ms(50));

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    let r3 = tick(ms(50));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));

    let r4 = tick(ms(100));
    assert!(!r.same_channel(&r4));
    assert!(!r2.same_channel(&r4));
}

#[test]
fn zero_same_channel() {
    crate::shim::run(GOROUTINES, false, zero_same_channel_body)
}

fn zero_same_channel_body() {
    let (s, r) = bounded::<usize>(0);

    let s2 = s.clone();
    assert!(s.same_channel(&s2));

    let r2 = r.clone();
    assert!(r.same_channel(&r2));

    let (s3, r3) = bounded::<usize>(0);
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
fn different_flavors_same_channel() {
    crate::shim::run(GOROUTINES, false, different_flavors_same_channel_body)
}

fn different_flavors_same_channel_body() {
    let (s1, r1) = bounded::<usize>(0);
    let (s2, r2) = unbounded::<usize>();

    assert!(!s1.same_channel(&s2));
    assert!(!r1.same_channel(&r2));
}
