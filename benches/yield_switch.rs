//! Yield switch between two goroutines on one P (Go's `runtime.Gosched` with
//! GOMAXPROCS=1), side by side with Go, tokio (current-thread) and may (one worker).
//! Throughput element: one switch.

#[path = "support/go_peer.rs"]
mod go_peer;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

fn gort_yield(switches: u64) -> Duration {
    let per = switches / 2;
    gort::run(move || {
        let start = Instant::now();
        let a = gort::go(move || (0..per).for_each(|_| gort::yield_now()));
        let b = gort::go(move || (0..per).for_each(|_| gort::yield_now()));
        a.join().unwrap();
        b.join().unwrap();
        start.elapsed()
    })
}

fn tokio_yield(rt: &tokio::runtime::Runtime, switches: u64) -> Duration {
    let per = switches / 2;
    rt.block_on(async move {
        let start = Instant::now();
        let task = || async move {
            for _ in 0..per {
                tokio::task::yield_now().await;
            }
        };
        let (a, b) = (tokio::spawn(task()), tokio::spawn(task()));
        a.await.unwrap();
        b.await.unwrap();
        start.elapsed()
    })
}

fn may_yield(switches: u64) -> Duration {
    let per = switches / 2;
    let start = Instant::now();
    // SAFETY (may's contract): the coroutines use no thread-local storage.
    let (a, b) = unsafe {
        (
            may::coroutine::spawn(move || (0..per).for_each(|_| may::coroutine::yield_now())),
            may::coroutine::spawn(move || (0..per).for_each(|_| may::coroutine::yield_now())),
        )
    };
    a.join().unwrap();
    b.join().unwrap();
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    gort::set_procs(1);
    let mut g = c.benchmark_group("yield_switch");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| b.iter_custom(gort_yield));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("tokio", |b| b.iter_custom(|n| tokio_yield(&rt, n)));
    may::config().set_workers(1);
    g.bench_function("may", |b| b.iter_custom(may_yield));
    if let Some(go) = go_peer::go_binary("sched") {
        g.bench_function("go", |b| {
            b.iter_custom(|n| go_peer::run_go(&go, &["-bench", "yield", "-n", &n.to_string()]))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
