// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's test/chan/zerosize.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Port of Go's `test/chan/zerosize.go`: channels of zero-sized types can be made, buffered
//! and unbuffered. Extended to use them: values of `()`, `[u8; 0]` and an empty struct pass
//! through every kind of channel, buffers count them (`len`, `is_full`), close drains them,
//! and a zero-sized channel works as a semaphore and as a done signal between parties.

mod common_chan;
use common_chan::*;
use gort::chan::{self, Receiver, Sender, TrySendError};
use gort::select;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Empty;

fn make<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    match cap {
        Some(c) => chan::bounded(c),
        None => chan::unbounded(),
    }
}

fn zst_roundtrip<T: Copy + PartialEq + std::fmt::Debug + Send + 'static>(v: T) {
    // make(chan T), make(chan T, 1), and the unbounded kind.
    let _ = chan::bounded::<T>(0);
    let _ = chan::bounded::<T>(1);
    let _ = chan::unbounded::<T>();

    let (tx, rx) = chan::bounded::<T>(1);
    assert_eq!(tx.capacity(), Some(1));
    tx.send(v).unwrap();
    assert_eq!(tx.len(), 1);
    assert!(tx.is_full());
    assert!(matches!(tx.try_send(v), Err(TrySendError::Full(_))));
    assert_eq!(rx.recv(), Ok(v));
    assert!(rx.is_empty());

    // Buffers count zero-sized values like any others.
    let (tx, rx) = chan::bounded::<T>(1000);
    for _ in 0..1000 {
        tx.send(v).unwrap();
    }
    assert_eq!(rx.len(), 1000);
    assert!(tx.is_full());
    tx.close().unwrap();
    assert_eq!(
        rx.iter().count(),
        1000,
        "close must not drop buffered zero-sized values"
    );
    assert!(rx.recv().is_err());

    let (tx, rx) = chan::unbounded::<T>();
    assert_eq!(tx.capacity(), None);
    for _ in 0..100_000 {
        tx.send(v).unwrap();
    }
    assert_eq!(rx.len(), 100_000);
    drop(tx);
    assert_eq!(rx.into_iter().count(), 100_000);

    // Through select.
    let (tx, rx) = chan::bounded::<T>(1);
    select! {
        send(tx, v) -> r => r.unwrap(),
        default => panic!("buffer space is ready"),
    }
    select! {
        recv(rx) -> got => assert_eq!(got, Ok(v)),
        default => panic!("a value is ready"),
    }
}

#[test]
fn zero_sized_channels() {
    within(60, || {
        zst_roundtrip(());
        zst_roundtrip([0u8; 0]);
        zst_roundtrip(Empty);
    });
}

fn zst_between_parties(kind: Kind, cap: Option<usize>, producers: usize, n: usize) {
    scenario(60, kind, move || {
        let (tx, rx) = make::<()>(cap);
        let mut js = Vec::new();
        for _ in 0..producers {
            let tx = tx.clone();
            js.push(spawn(kind, move || {
                for _ in 0..n {
                    tx.send(()).unwrap();
                }
            }));
        }
        drop(tx);
        let mut got = 0;
        for () in &rx {
            got += 1;
        }
        join_all(js);
        assert_eq!(
            got,
            producers * n,
            "cap {cap:?}: zero-sized messages lost or duplicated"
        );
    })
}

#[test]
fn zero_sized_between_parties() {
    for cap in [Some(0), Some(1), Some(10), None] {
        zst_between_parties(Kind::Goroutine, cap, 4, 5_000);
        zst_between_parties(Kind::Thread, cap, 4, 1_000);
    }
}

/// A buffered `chan struct{}` as a counting semaphore: no more than `cap` parties inside.
#[test]
fn zero_sized_semaphore() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    for kind in KINDS {
        scenario(60, kind, move || {
            const CAP: usize = 3;
            let (sem, sem_rx) = chan::bounded::<Empty>(CAP);
            let inside = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let js: Vec<_> = (0..12)
                .map(|_| {
                    let (sem, sem_rx) = (sem.clone(), sem_rx.clone());
                    let (inside, max) = (inside.clone(), max.clone());
                    spawn(kind, move || {
                        for _ in 0..50 {
                            sem.send(Empty).unwrap();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            max.fetch_max(now, SeqCst);
                            gort::yield_now();
                            inside.fetch_sub(1, SeqCst);
                            sem_rx.recv().unwrap();
                        }
                    })
                })
                .collect();
            join_all(js);
            let max = max.load(SeqCst);
            assert!(
                (1..=CAP).contains(&max),
                "{max} parties inside a semaphore of {CAP}"
            );
            assert!(sem.is_empty());
        });
    }
}
