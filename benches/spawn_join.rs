//! spawn + exit of many goroutines joined by a WaitGroup, side by side with Go
//! (`sync.WaitGroup`), tokio tasks (a count and a `Notify`: tokio has no WaitGroup) and may
//! coroutines (`may::sync::WaitGroup`). Throughput element: one goroutine.
//!
//! `gort_scope` and `may_scope` are the same loop in a scope, whose goroutines may borrow
//! (Go's closures that capture `wg` by reference, in Rust): `gort::scope` and may's
//! `coroutine::scope`; tokio has no scoped tasks.

#[path = "support/go_peer.rs"]
mod go_peer;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spawns `n` goroutines that each call `done` once on a `gort::sync::WaitGroup`; waits for
/// all of them (Go's `wg.Add(1); go func() { wg.Done() }()` ... `wg.Wait()`, with the group
/// shared through an `Arc` as a Rust user shares it).
fn gort_spawn(n: u64) -> Duration {
    gort::run(move || {
        let start = Instant::now();
        let wg = Arc::new(gort::sync::WaitGroup::new());
        for _ in 0..n {
            wg.add(1);
            let wg = wg.clone();
            drop(gort::go(move || wg.done()));
        }
        wg.wait();
        start.elapsed()
    })
}

/// Spawns `n` goroutines in a `gort::scope`, which waits for them all (each handle dropped
/// at once).
fn gort_scope(n: u64) -> Duration {
    gort::run(move || {
        let start = Instant::now();
        gort::scope(|s| {
            for _ in 0..n {
                drop(s.go(|| ()));
            }
        });
        start.elapsed()
    })
}

/// tokio has no WaitGroup: a shared count of tasks left and a `Notify` for the last one.
fn tokio_spawn(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        let left = Arc::new(AtomicUsize::new(n as usize));
        let done = Arc::new(tokio::sync::Notify::new());
        for _ in 0..n {
            let (left, done) = (left.clone(), done.clone());
            drop(tokio::spawn(async move {
                if left.fetch_sub(1, AcqRel) == 1 {
                    done.notify_one();
                }
            }));
        }
        done.notified().await;
        start.elapsed()
    })
}

/// may's own `WaitGroup` (crossbeam-style: each coroutine holds a clone and drops it).
fn may_spawn(n: u64) -> Duration {
    let start = Instant::now();
    let wg = may::sync::WaitGroup::new();
    for _ in 0..n {
        let wg = wg.clone();
        // SAFETY (may's contract): the coroutine uses no thread-local storage.
        drop(unsafe { may::coroutine::spawn(move || drop(wg)) });
    }
    wg.wait();
    start.elapsed()
}

/// may's scoped coroutines: the scope joins each one when it ends (in a list of deferred
/// joins, one per coroutine).
fn may_scope(n: u64) -> Duration {
    let start = Instant::now();
    may::coroutine::scope(|s| {
        for _ in 0..n {
            // SAFETY (may's contract): the coroutine uses no thread-local storage.
            drop(unsafe { s.spawn(|| ()) });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let procs = gort::procs();
    let mut g = c.benchmark_group("spawn_join");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("gort", |b| b.iter_custom(gort_spawn));
    g.bench_function("gort_scope", |b| b.iter_custom(gort_scope));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs)
        .build()
        .unwrap();
    g.bench_function("tokio", |b| b.iter_custom(|n| tokio_spawn(&rt, n)));
    may::config().set_workers(procs);
    g.bench_function("may", |b| b.iter_custom(may_spawn));
    g.bench_function("may_scope", |b| b.iter_custom(may_scope));
    if let Some(go) = go_peer::go_binary("sched") {
        g.bench_function("go", |b| {
            b.iter_custom(|n| go_peer::run_go(&go, &["-bench", "spawn", "-n", &n.to_string()]))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
