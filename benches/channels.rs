//! Channel workloads side by side: gort (goroutines, and plain threads), Go, crossbeam-channel,
//! flume and std mpsc (threads), may (coroutines; unbounded channels only), tokio (tasks and
//! `tokio::sync::mpsc`, which has no rendezvous and a single consumer: its ping-pong uses
//! capacity 1 and it has no 4x4 row). Units per group: a round trip (pingpong), a message
//! (mpmc_4x4), a select (select4), a channel (create), a send+recv pair (uncontended).

#[path = "support/go_peer.rs"]
mod go_peer;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

macro_rules! thread_pingpong {
    ($bounded:path) => {
        |n: u64| {
            let (ping_tx, ping_rx) = $bounded(0);
            let (pong_tx, pong_rx) = $bounded(0);
            let echo = std::thread::spawn(move || {
                while let Ok(v) = ping_rx.recv() {
                    pong_tx.send(v).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            let el = start.elapsed();
            drop(ping_tx);
            echo.join().unwrap();
            el
        }
    };
}

fn gort_pingpong(n: u64) -> Duration {
    gort::run(move || {
        let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || {
            for v in &ping_rx {
                pong_tx.send(v).unwrap();
            }
        });
        let start = Instant::now();
        for i in 0..n {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let el = start.elapsed();
        drop(ping_tx);
        echo.join().unwrap();
        el
    })
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(gort::procs())
        .build()
        .expect("tokio runtime")
}

/// tokio has no rendezvous channel: the smallest bounded mpsc (capacity 1) stands in.
fn tokio_pingpong(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).await.unwrap();
                pong_rx.recv().await.unwrap();
            }
            let el = start.elapsed();
            drop(ping_tx);
            echo.await.unwrap();
            el
        })
        .await
        .unwrap()
    })
}

fn tokio_select4(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let per = n / 4;
        let mut rxs = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(128);
            tokio::spawn(async move {
                for i in 0..per {
                    tx.send(i).await.unwrap();
                }
            });
            rxs.push(rx);
        }
        let [mut r0, mut r1, mut r2, mut r3]: [_; 4] = rxs.try_into().unwrap();
        // A finished producer's channel reports `None` at once; the `Some(_)` patterns
        // disable such a branch instead of counting it.
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..per * 4 {
                tokio::select! {
                    Some(_) = r0.recv() => {}
                    Some(_) = r1.recv() => {}
                    Some(_) = r2.recv() => {}
                    Some(_) = r3.recv() => {}
                }
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

fn may_pingpong(n: u64) -> Duration {
    let (ping_tx, ping_rx) = may::sync::mpmc::channel::<u64>();
    let (pong_tx, pong_rx) = may::sync::mpmc::channel::<u64>();
    let (done_tx, done_rx) = may::sync::mpmc::channel::<Duration>();
    // SAFETY (may's contract): the coroutines use no thread-local storage.
    unsafe {
        may::coroutine::spawn(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v).unwrap();
            }
        });
        may::coroutine::spawn(move || {
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            done_tx.send(start.elapsed()).unwrap();
        });
    }
    done_rx.recv().unwrap()
}

macro_rules! mpmc_4x4 {
    ($bounded:expr, $spawn:expr) => {
        |n: u64| {
            let (tx, rx) = $bounded;
            let per = n / 4;
            let start = Instant::now();
            let mut hs = Vec::new();
            for _ in 0..4 {
                let tx = tx.clone();
                hs.push($spawn(Box::new(move || {
                    for i in 0..per {
                        tx.send(i).unwrap();
                    }
                }) as Box<dyn FnOnce() + Send>));
            }
            for _ in 0..4 {
                let rx = rx.clone();
                hs.push($spawn(Box::new(move || {
                    for _ in 0..per {
                        rx.recv().unwrap();
                    }
                })));
            }
            for h in hs {
                h();
            }
            start.elapsed()
        }
    };
}

fn thread_spawn(f: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()> {
    let h = std::thread::spawn(f);
    Box::new(move || h.join().unwrap())
}

fn go_spawn(f: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()> {
    let h = gort::go(f);
    Box::new(move || h.join().unwrap())
}

fn may_spawn(f: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()> {
    // SAFETY (may's contract): the coroutines use no thread-local storage.
    let h = unsafe { may::coroutine::spawn(f) };
    Box::new(move || h.join().unwrap())
}

fn gort_select4(n: u64) -> Duration {
    gort::run(move || {
        let per = n / 4;
        let chans: Vec<_> = (0..4).map(|_| gort::chan::bounded::<u64>(128)).collect();
        for (tx, _) in &chans {
            let tx = tx.clone();
            gort::go(move || (0..per).for_each(|i| tx.send(i).unwrap()));
        }
        let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
        let start = Instant::now();
        for _ in 0..per * 4 {
            gort::select! {
                recv(r0) -> v => { v.unwrap(); }
                recv(r1) -> v => { v.unwrap(); }
                recv(r2) -> v => { v.unwrap(); }
                recv(r3) -> v => { v.unwrap(); }
            }
        }
        start.elapsed()
    })
}

/// Select over 4 buffered channels fed by 4 producer threads, on plain threads: `$bounded`
/// makes a channel, `$($select)::+` is a crossbeam-syntax `select!` (crossbeam's, gort's).
macro_rules! thread_select4 {
    ($bounded:path, $($select:ident)::+) => {
        |n: u64| {
            let per = n / 4;
            let chans: Vec<(_, _)> = (0..4).map(|_| $bounded(128)).collect();
            let hs: Vec<_> = chans
                .iter()
                .map(|(tx, _)| {
                    let tx = tx.clone();
                    std::thread::spawn(move || (0..per).for_each(|i| tx.send(i).unwrap()))
                })
                .collect();
            let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
            let start = Instant::now();
            for _ in 0..per * 4 {
                $($select)::+! {
                    recv(r0) -> v => { v.unwrap(); }
                    recv(r1) -> v => { v.unwrap(); }
                    recv(r2) -> v => { v.unwrap(); }
                    recv(r3) -> v => { v.unwrap(); }
                }
            }
            let el = start.elapsed();
            hs.into_iter().for_each(|h| h.join().unwrap());
            el
        }
    };
}

fn flume_select4(n: u64) -> Duration {
    let per = n / 4;
    let chans: Vec<_> = (0..4).map(|_| flume::bounded::<u64>(128)).collect();
    let hs: Vec<_> = chans
        .iter()
        .map(|(tx, _)| {
            let tx = tx.clone();
            std::thread::spawn(move || (0..per).for_each(|i| tx.send(i).unwrap()))
        })
        .collect();
    let start = Instant::now();
    for _ in 0..per * 4 {
        flume::Selector::new()
            .recv(&chans[0].1, |v| v.unwrap())
            .recv(&chans[1].1, |v| v.unwrap())
            .recv(&chans[2].1, |v| v.unwrap())
            .recv(&chans[3].1, |v| v.unwrap())
            .wait();
    }
    let el = start.elapsed();
    hs.into_iter().for_each(|h| h.join().unwrap());
    el
}

fn uncontended_gort(n: u64) -> Duration {
    let (tx, rx) = gort::chan::bounded::<u64>(1);
    let start = Instant::now();
    for i in 0..n {
        tx.send(i).unwrap();
        rx.recv().unwrap();
    }
    start.elapsed()
}

fn uncontended_crossbeam(n: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(1);
    let start = Instant::now();
    for i in 0..n {
        tx.send(i).unwrap();
        rx.recv().unwrap();
    }
    start.elapsed()
}

fn uncontended_flume(n: u64) -> Duration {
    let (tx, rx) = flume::bounded::<u64>(1);
    let start = Instant::now();
    for i in 0..n {
        tx.send(i).unwrap();
        rx.recv().unwrap();
    }
    start.elapsed()
}

fn go_bench(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, which: &str) {
    if let Some(go) = go_peer::go_binary("chan") {
        c.bench_function("go", |b| {
            b.iter_custom(|n| go_peer::run_go(&go, &["-bench", which, "-n", &n.to_string()]))
        });
    }
}

fn bench(c: &mut Criterion) {
    may::config().set_workers(gort::procs());
    let rt = tokio_rt();

    let mut g = c.benchmark_group("pingpong");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| b.iter_custom(gort_pingpong));
    g.bench_function("gort_threads", |b| {
        b.iter_custom(thread_pingpong!(gort::chan::bounded))
    });
    g.bench_function("crossbeam", |b| {
        b.iter_custom(thread_pingpong!(crossbeam_channel::bounded))
    });
    g.bench_function("flume", |b| b.iter_custom(thread_pingpong!(flume::bounded)));
    g.bench_function("std_mpsc", |b| {
        b.iter_custom(thread_pingpong!(std::sync::mpsc::sync_channel))
    });
    g.bench_function("may", |b| b.iter_custom(may_pingpong));
    g.bench_function("tokio", |b| b.iter_custom(|n| tokio_pingpong(&rt, n)));
    go_bench(&mut g, "pingpong");
    g.finish();

    let mut g = c.benchmark_group("mpmc_4x4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| {
        b.iter_custom(|n| {
            gort::run(move || mpmc_4x4!(gort::chan::bounded::<u64>(128), go_spawn)(n))
        })
    });
    g.bench_function("gort_threads", |b| {
        b.iter_custom(mpmc_4x4!(gort::chan::bounded::<u64>(128), thread_spawn))
    });
    g.bench_function("crossbeam", |b| {
        b.iter_custom(mpmc_4x4!(
            crossbeam_channel::bounded::<u64>(128),
            thread_spawn
        ))
    });
    g.bench_function("flume", |b| {
        b.iter_custom(mpmc_4x4!(flume::bounded::<u64>(128), thread_spawn))
    });
    g.bench_function("may", |b| {
        b.iter_custom(mpmc_4x4!(may::sync::mpmc::channel::<u64>(), may_spawn))
    });
    go_bench(&mut g, "mpmc");
    g.finish();

    let mut g = c.benchmark_group("select4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| b.iter_custom(gort_select4));
    g.bench_function("gort_threads", |b| {
        b.iter_custom(thread_select4!(gort::chan::bounded, gort::select))
    });
    g.bench_function("crossbeam", |b| {
        b.iter_custom(thread_select4!(
            crossbeam_channel::bounded,
            crossbeam_channel::select
        ))
    });
    g.bench_function("flume", |b| b.iter_custom(flume_select4));
    g.bench_function("tokio", |b| b.iter_custom(|n| tokio_select4(&rt, n)));
    go_bench(&mut g, "select4");
    g.finish();

    let mut g = c.benchmark_group("create");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| b.iter(|| gort::chan::bounded::<u64>(0)));
    g.bench_function("crossbeam", |b| {
        b.iter(|| crossbeam_channel::bounded::<u64>(0))
    });
    g.bench_function("flume", |b| b.iter(|| flume::bounded::<u64>(0)));
    go_bench(&mut g, "create");
    g.finish();

    let mut g = c.benchmark_group("uncontended");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| b.iter_custom(uncontended_gort));
    g.bench_function("crossbeam", |b| b.iter_custom(uncontended_crossbeam));
    g.bench_function("flume", |b| b.iter_custom(uncontended_flume));
    go_bench(&mut g, "uncontended");
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
