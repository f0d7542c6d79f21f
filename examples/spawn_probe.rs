use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::time::Instant;
struct Wg { n: AtomicUsize, done: gort::park::Token }
fn main() {
    let n: usize = std::env::args().nth(1).map_or(1_000_000, |s| s.parse().unwrap());
    for _ in 0..4 {
        let el = gort::run(move || {
            let start = Instant::now();
            let wg: &'static Wg = Box::leak(Box::new(Wg { n: AtomicUsize::new(1), done: gort::park::prepare() }));
            let batch: usize = std::env::var("BATCH").map_or(usize::MAX, |b| b.parse().unwrap());
            for i in 0..n {
                if i % batch == batch - 1 { gort::yield_now(); }
                wg.n.fetch_add(1, AcqRel);
                drop(gort::go(move || {
                    if wg.n.fetch_sub(1, AcqRel) == 1 { wg.done.wake(); }
                }));
            }
            if wg.n.fetch_sub(1, AcqRel) == 1 { gort::park::cancel(); } else { gort::park::park(); }
            start.elapsed()
        });
        println!("{:.1} ns/goroutine  {:?}", el.as_nanos() as f64 / n as f64, gort::stats().threads);
    }
}
