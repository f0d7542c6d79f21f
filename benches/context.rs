//! Contexts, side by side with Go (`benches/go/context`, after Go's
//! `src/context/benchmark_test.go`):
//!
//! - `cancel_tree`: build a tree of fan-out 10, depth 4 (11,110 contexts below the root),
//!   park a goroutine on each of the 10,000 leaves' `done()`, cancel the root, wait until
//!   every goroutine woke. Element: one whole tree. `cancel_tree_wake` times only the
//!   cancel-to-all-woken part.
//! - `with_cancel`: derive a child of a cancelable parent and cancel it.
//! - `with_timeout`: `with_timeout(background, 1 h)` and cancel it (a runtime timer added
//!   and stopped).
//! - `check_canceled`: `err()` on a cancelled context.
//! - `deep_value`: look up a missing key through 10 and 100 `with_value` layers.

#[path = "support/go_peer.rs"]
mod go_peer;

#[path = "support/ctx_tree.rs"]
mod ctx_tree;
use ctx_tree::{build_tree, Wg};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gort::context::{self, Key};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};
use std::time::{Duration, Instant};

/// One tree (on the calling goroutine): (whole, cancel-to-all-woken).
fn cancel_tree() -> (Duration, Duration) {
    let start = Instant::now();
    let (root, cancel) = context::background().with_cancel();
    let leaves = build_tree(&root);
    let started: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let wg = Wg::new(leaves.len());
    for leaf in &leaves {
        let leaf = leaf.clone();
        drop(gort::go(move || {
            let done = leaf.done();
            started.fetch_add(1, AcqRel);
            let _ = done.recv();
            wg.done();
        }));
    }
    while started.load(Acquire) != leaves.len() {
        gort::yield_now();
    }
    gort::yield_now();
    let c = Instant::now();
    cancel.cancel();
    wg.wait();
    let end = Instant::now();
    (end - start, end - c)
}

fn gort_trees(n: u64, wake_only: bool) -> Duration {
    gort::run(move || {
        (0..n)
            .map(|_| {
                let (whole, wake) = cancel_tree();
                if wake_only {
                    wake
                } else {
                    whole
                }
            })
            .sum()
    })
}

#[derive(PartialEq)]
struct IntKey(i64);
impl Key for IntKey {
    type Value = i64;
}

fn go_peer(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    args: &'static [&'static str],
) {
    if let Some(go) = go_peer::go_binary("context") {
        c.bench_function("go", |b| {
            b.iter_custom(|n| {
                let n = n.to_string();
                let mut a: Vec<&str> = args.to_vec();
                a.extend(["-n", &n]);
                go_peer::run_go(&go, &a)
            })
        });
    }
}

fn bench(c: &mut Criterion) {
    for (name, wake_only) in [("cancel_tree", false), ("cancel_tree_wake", true)] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        g.sample_size(10);
        g.bench_function("gort", |b| b.iter_custom(|n| gort_trees(n, wake_only)));
        go_peer(
            &mut g,
            if wake_only {
                &["-bench", "cancel_tree_wake"]
            } else {
                &["-bench", "cancel_tree"]
            },
        );
        g.finish();
    }

    let mut g = c.benchmark_group("with_cancel");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| {
        b.iter_custom(|n| {
            gort::run(move || {
                let (parent, pc) = context::background().with_cancel();
                let start = Instant::now();
                for _ in 0..n {
                    let (c, cancel) = parent.with_cancel();
                    cancel.cancel();
                    black_box(c);
                }
                let t = start.elapsed();
                pc.cancel();
                t
            })
        })
    });
    go_peer(&mut g, &["-bench", "with_cancel"]);
    g.finish();

    let mut g = c.benchmark_group("with_timeout");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gort", |b| {
        b.iter_custom(|n| {
            gort::run(move || {
                let bg = context::background();
                let start = Instant::now();
                for _ in 0..n {
                    let (c, cancel) = bg.with_timeout(Duration::from_secs(3600));
                    cancel.cancel();
                    black_box(c);
                }
                start.elapsed()
            })
        })
    });
    go_peer(&mut g, &["-bench", "with_timeout"]);
    g.finish();

    let mut g = c.benchmark_group("check_canceled");
    g.throughput(Throughput::Elements(1));
    let (ctx, cancel) = context::background().with_cancel();
    cancel.cancel();
    g.bench_function("gort", |b| {
        b.iter(|| assert!(black_box(&ctx).err().is_some()))
    });
    go_peer(&mut g, &["-bench", "check_canceled"]);
    g.finish();

    for (depth, args) in [
        (
            10,
            &["-bench", "deep_value", "-depth", "10"] as &'static [&'static str],
        ),
        (100, &["-bench", "deep_value", "-depth", "100"]),
    ] {
        let mut g = c.benchmark_group(format!("deep_value_{depth}"));
        g.throughput(Throughput::Elements(1));
        let mut ctx = context::background();
        for i in 0..depth {
            ctx = ctx.with_value(IntKey(i), i);
        }
        g.bench_function("gort", |b| {
            b.iter(|| assert!(black_box(&ctx).value(&IntKey(-1)).is_none()))
        });
        go_peer(&mut g, args);
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
