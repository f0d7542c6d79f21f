// Copyright 2010 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/select2.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/select2.go`: selects do not consume undue memory. After a
//! warm-up round of 100,000 selects (a receive that fires and a dummy receive that never
//! does, against a sender party on an unbuffered channel), a second round must not grow the
//! live heap by more than Go's bound (110,000 bytes). Live bytes are counted by this test
//! binary's global allocator, so this file holds a single test.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Select, Sender};
use gort::select;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

const BOUND: isize = 110_000;

fn receiver(c: &Receiver<i32>, dummy: &Receiver<i32>, n: usize, dynamic: bool) {
    for _ in 0..n {
        if dynamic {
            let mut sel = Select::new();
            let ic = sel.recv(c);
            let id = sel.recv(dummy);
            let op = sel.select();
            if op.index() == ic {
                assert_eq!(op.recv(c), Ok(1));
            } else {
                assert_eq!(op.index(), id);
                let _ = op.recv(dummy);
                panic!("dummy");
            }
        } else {
            select! {
                recv(c) -> v => assert_eq!(v, Ok(1)),
                recv(dummy) -> _ => panic!("dummy"),
            }
        }
    }
}

fn round(
    kind: Kind,
    tx: &Sender<i32>,
    c: &Receiver<i32>,
    dummy: &Receiver<i32>,
    n: usize,
    dynamic: bool,
) {
    let tx = tx.clone();
    let j = spawn(kind, move || {
        for _ in 0..n {
            tx.send(1).unwrap();
        }
    });
    receiver(c, dummy, n, dynamic);
    j();
}

fn growth(kind: Kind, n: usize, dynamic: bool) -> isize {
    scenario(120, kind, move || {
        let (tx, c) = chan::bounded::<i32>(0);
        let (_dtx, dummy) = chan::bounded::<i32>(0);
        round(kind, &tx, &c, &dummy, n, dynamic); // warm up
        let before = LIVE.load(Relaxed);
        round(kind, &tx, &c, &dummy, n, dynamic);
        LIVE.load(Relaxed) - before
    })
}

#[test]
fn selects_do_not_leak_memory() {
    // One test only: the counter is process-wide.
    for (kind, n) in [(Kind::Goroutine, 100_000), (Kind::Thread, 20_000)] {
        for dynamic in [false, true] {
            let g = growth(kind, n, dynamic);
            assert!(
                g <= BOUND,
                "{kind:?} dynamic={dynamic}: too much memory for {n} selects: {g} bytes"
            );
        }
    }
}
