//! `JoinHandle`: a goroutine's result waits in a join packet apart from its G, so the G is
//! reused as soon as the goroutine ends, while its handle still holds the result, the
//! name and the exit hooks. Spawned and joined from a goroutine and from a plain thread.

mod common;
use common::within;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

const BATCH: usize = 2_000;

/// A result too large to be stored inline in the packet (boxed), to test both forms.
type Big = [u64; 16];

fn big(i: usize) -> Big {
    [i as u64; 16]
}

/// Waits until every handle says its goroutine ended.
fn until_finished<T>(hs: &[gort::JoinHandle<T>]) {
    while !hs.iter().all(|h| h.is_finished()) {
        gort::yield_now();
        std::thread::yield_now();
    }
}

/// Two batches of goroutines that end at once, the first batch's handles not joined until
/// the second has ended too: the second batch runs on the first batch's Gs (the count of
/// Gs grows by far less than a batch), and every handle still gets its own result, name
/// and exit hook.
fn finished_goroutines_free_their_gs_before_join() {
    let hooks = Arc::new(AtomicUsize::new(0));
    let spawn = |base: usize| -> (Vec<gort::JoinHandle<usize>>, Vec<gort::JoinHandle<Big>>) {
        let small = (0..BATCH)
            .map(|i| {
                gort::Builder::new()
                    .name(format!("g{}", base + i))
                    .spawn(move || base + i)
                    .unwrap()
            })
            .collect();
        let large = (0..BATCH)
            .map(|i| gort::go(move || big(base + i)))
            .collect();
        (small, large)
    };
    let (small1, large1) = spawn(0);
    until_finished(&small1);
    until_finished(&large1);
    let before = gort::stats().gs_allocated;
    let (small2, large2) = spawn(1_000_000);
    until_finished(&small2);
    until_finished(&large2);
    let grew = gort::stats().gs_allocated - before;
    assert!(
        grew < BATCH,
        "{grew} new Gs for {} goroutines while {} finished ones wait for join: \
         finished goroutines keep their Gs",
        2 * BATCH,
        2 * BATCH
    );
    for h in small1.iter().chain(&small2) {
        let hooks = hooks.clone();
        h.on_finish(Box::new(move || {
            hooks.fetch_add(1, SeqCst);
        }));
    }
    assert_eq!(
        hooks.load(SeqCst),
        2 * BATCH,
        "hooks of ended goroutines run at once"
    );
    for (base, small, large) in [(0, small1, large1), (1_000_000, small2, large2)] {
        for (i, h) in small.into_iter().enumerate() {
            assert_eq!(h.name(), Some(format!("g{}", base + i).as_str()));
            assert_eq!(h.join().unwrap(), base + i);
        }
        for (i, h) in large.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), big(base + i));
        }
    }
}

#[test]
fn finished_goroutines_free_their_gs_before_join_from_a_thread() {
    within(120, finished_goroutines_free_their_gs_before_join);
}

#[test]
fn finished_goroutines_free_their_gs_before_join_from_a_goroutine() {
    within(120, || {
        gort::run(finished_goroutines_free_their_gs_before_join)
    });
}

/// Handles dropped before, while and after their goroutines end (detached): every result
/// is dropped exactly once, by whoever lets go last, and reused Gs and packets carry no
/// stale result into the next goroutine.
#[test]
fn detached_results_are_dropped_once() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    within(120, || {
        let drops = Arc::new(AtomicUsize::new(0));
        for round in 0..20 {
            let hs: Vec<_> = (0..500)
                .map(|i| {
                    let drops = drops.clone();
                    gort::go(move || {
                        if i % 3 == 0 {
                            gort::yield_now();
                        }
                        Counted(drops)
                    })
                })
                .collect();
            let mut kept = Vec::new();
            for (i, h) in hs.into_iter().enumerate() {
                match i % 3 {
                    0 => drop(h),
                    1 => kept.push(h),
                    _ => drop(h.join().unwrap()),
                }
            }
            for h in kept {
                drop(h);
            }
            // Every goroutine has ended once all its results were dropped.
            let want = 500 * (round + 1);
            while drops.load(SeqCst) < want {
                gort::yield_now();
                std::thread::yield_now();
            }
            assert_eq!(drops.load(SeqCst), want, "round {round}");
        }
    });
}
