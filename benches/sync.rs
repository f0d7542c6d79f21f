//! `gort::sync` side by side with Go's `sync`, `parking_lot` and `std`. Units per group: one
//! lock+unlock (uncontended), one lock+increment+unlock shared by 8 goroutines or threads
//! (contended_8), one goroutine or thread of a round of 1000 joined by a WaitGroup
//! (waitgroup_1000). Go runs with its default GOMAXPROCS (the CPU count), as gort does.

#[path = "support/go_peer.rs"]
mod go_peer;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKERS: u64 = 8;
const GROUP: u64 = 1000;

macro_rules! uncontended {
    ($m:expr, $lock:ident $(. $unwrap:ident ())?) => {
        |n: u64| {
            let m = $m;
            let start = Instant::now();
            for _ in 0..n {
                *black_box(&m).$lock()$(.$unwrap())? += 1;
            }
            let el = start.elapsed();
            assert_eq!(*m.$lock()$(.$unwrap())?, n);
            el
        }
    };
}

/// `n` increments shared by 8 OS threads (for the thread-only peers).
macro_rules! contended_threads {
    ($m:expr, $lock:ident $(. $unwrap:ident ())?) => {
        |n: u64| {
            let per = n.div_ceil(WORKERS);
            let m = Arc::new($m);
            let barrier = Arc::new(std::sync::Barrier::new(WORKERS as usize + 1));
            let ts: Vec<_> = (0..WORKERS)
                .map(|_| {
                    let (m, barrier) = (m.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        for _ in 0..per {
                            *m.$lock()$(.$unwrap())? += 1;
                        }
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            for t in ts {
                t.join().unwrap();
            }
            let el = start.elapsed();
            assert_eq!(*m.$lock()$(.$unwrap())?, per * WORKERS);
            el
        }
    };
}

/// `n` increments shared by 8 goroutines, joined with a gort WaitGroup.
fn gort_contended(n: u64) -> Duration {
    gort::run(move || {
        let per = n.div_ceil(WORKERS);
        let m = Arc::new(gort::sync::Mutex::new(0u64));
        let wg = Arc::new(gort::sync::WaitGroup::new());
        let start = Instant::now();
        for _ in 0..WORKERS {
            wg.add(1);
            let (m, wg) = (m.clone(), wg.clone());
            gort::go(move || {
                for _ in 0..per {
                    *m.lock() += 1;
                }
                wg.done();
            });
        }
        wg.wait();
        let el = start.elapsed();
        assert_eq!(*m.lock(), per * WORKERS);
        el
    })
}

/// Rounds of 1000 goroutines: `add(1)`, spawn, `done()` in each, `wait()`.
fn gort_waitgroup(n: u64) -> Duration {
    gort::run(move || {
        let rounds = n.div_ceil(GROUP);
        let start = Instant::now();
        for _ in 0..rounds {
            let wg = Arc::new(gort::sync::WaitGroup::new());
            for _ in 0..GROUP {
                wg.add(1);
                let wg = wg.clone();
                drop(gort::go(move || wg.done()));
            }
            wg.wait();
        }
        start.elapsed()
    })
}

/// The same with OS threads, joined one by one (the thread peer).
fn thread_waitgroup(n: u64) -> Duration {
    let rounds = n.div_ceil(GROUP);
    let start = Instant::now();
    for _ in 0..rounds {
        let ts: Vec<_> = (0..GROUP).map(|_| std::thread::spawn(|| ())).collect();
        for t in ts {
            t.join().unwrap();
        }
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let go = go_peer::go_binary("sync");
    let go_run = |bench: &'static str| {
        let go = go.clone();
        move |n: u64| {
            let bin = go.as_ref().unwrap();
            go_peer::run_go(bin, &["-bench", bench, "-n", &n.to_string()])
        }
    };

    let mut g = c.benchmark_group("mutex_uncontended");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| {
        b.iter_custom(uncontended!(gort::sync::Mutex::new(0u64), lock))
    });
    g.bench_function("gort_in_goroutine", |b| {
        b.iter_custom(|n| gort::run(move || uncontended!(gort::sync::Mutex::new(0u64), lock)(n)))
    });
    g.bench_function("parking_lot", |b| {
        b.iter_custom(uncontended!(parking_lot::Mutex::new(0u64), lock))
    });
    g.bench_function("std", |b| {
        b.iter_custom(uncontended!(std::sync::Mutex::new(0u64), lock.unwrap()))
    });
    if go.is_some() {
        g.bench_function("go", |b| b.iter_custom(go_run("uncontended")));
    }
    g.finish();

    let mut g = c.benchmark_group("mutex_contended_8");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("gort", |b| b.iter_custom(gort_contended));
    g.bench_function("parking_lot_threads", |b| {
        b.iter_custom(contended_threads!(parking_lot::Mutex::new(0u64), lock))
    });
    g.bench_function("std_threads", |b| {
        b.iter_custom(contended_threads!(
            std::sync::Mutex::new(0u64),
            lock.unwrap()
        ))
    });
    if go.is_some() {
        g.bench_function("go", |b| b.iter_custom(go_run("contended")));
    }
    g.finish();

    let mut g = c.benchmark_group("waitgroup_1000");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("gort", |b| b.iter_custom(gort_waitgroup));
    g.bench_function("std_threads", |b| b.iter_custom(thread_waitgroup));
    if go.is_some() {
        g.bench_function("go", |b| b.iter_custom(go_run("waitgroup")));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
