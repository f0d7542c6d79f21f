//! What `gort::syscall` adds around a call that does not block (the fast path: the goroutine
//! keeps its P). Compared with calling the same function directly, in a goroutine.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Instant;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("syscall_overhead");
    g.bench_function("direct", |b| {
        b.iter_custom(|n| {
            gort::run(move || {
                let t = Instant::now();
                for i in 0..n {
                    black_box(black_box(i).wrapping_mul(3));
                }
                t.elapsed()
            })
        })
    });
    g.bench_function("gort_syscall", |b| {
        b.iter_custom(|n| {
            gort::run(move || {
                let t = Instant::now();
                for i in 0..n {
                    black_box(gort::syscall(|| black_box(i).wrapping_mul(3)));
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
