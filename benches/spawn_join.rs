//! spawn + exit of many goroutines with a WaitGroup-style join, side by side with Go,
//! tokio tasks and may coroutines. Throughput element: one goroutine.

#[path = "support/go_peer.rs"]
mod go_peer;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A minimal WaitGroup over the park seam, shaped like Go's: `add(1)` before each spawn,
/// `done()` in the goroutine, `wait()` at the end. (gort::sync::WaitGroup replaces it once
/// the sync issue lands.) Leaked per measurement so goroutines capture a plain reference,
/// as Go closures capture `&wg`.
struct Wg {
    n: AtomicUsize,
    waiter: gort::park::Token,
}

impl Wg {
    fn new() -> &'static Wg {
        // The waiter's own count keeps it from reaching zero before `wait`.
        Box::leak(Box::new(Wg {
            n: AtomicUsize::new(1),
            waiter: gort::park::prepare(),
        }))
    }
    fn add(&self) {
        self.n.fetch_add(1, AcqRel);
    }
    fn done(&self) {
        if self.n.fetch_sub(1, AcqRel) == 1 {
            self.waiter.wake();
        }
    }
    fn wait(&self) {
        if self.n.fetch_sub(1, AcqRel) == 1 {
            gort::park::cancel();
        } else {
            gort::park::park();
        }
    }
}

/// Spawns `n` goroutines that each call `done` once; waits for all of them.
fn gort_spawn(n: u64) -> Duration {
    gort::run(move || {
        let start = Instant::now();
        let wg = Wg::new();
        for _ in 0..n {
            wg.add();
            drop(gort::go(move || wg.done()));
        }
        wg.wait();
        start.elapsed()
    })
}

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

fn may_spawn(n: u64) -> Duration {
    let start = Instant::now();
    let left = Arc::new(AtomicUsize::new(n as usize));
    let (tx, rx) = may::sync::mpsc::channel::<()>();
    for _ in 0..n {
        let (left, tx) = (left.clone(), tx.clone());
        // SAFETY (may's contract): the coroutine uses no thread-local storage.
        drop(unsafe {
            may::coroutine::spawn(move || {
                if left.fetch_sub(1, AcqRel) == 1 {
                    tx.send(()).unwrap();
                }
            })
        });
    }
    rx.recv().unwrap();
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let procs = gort::procs();
    let mut g = c.benchmark_group("spawn_join");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("gort", |b| b.iter_custom(gort_spawn));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs)
        .build()
        .unwrap();
    g.bench_function("tokio", |b| b.iter_custom(|n| tokio_spawn(&rt, n)));
    may::config().set_workers(procs);
    g.bench_function("may", |b| b.iter_custom(may_spawn));
    if let Some(go) = go_peer::go_binary("sched") {
        g.bench_function("go", |b| {
            b.iter_custom(|n| go_peer::run_go(&go, &["-bench", "spawn", "-n", &n.to_string()]))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
