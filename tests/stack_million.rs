//! One million goroutines parked at once, then released, on the stock kernel (guard page
//! on every stack, vm.max_map_count untouched). Ignored by default: it needs ~5 GiB of RAM
//! and a release build. CI runs it with
//! `cargo test --release --test stack_million -- --ignored`.

mod common;
use common::within;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

const N: usize = 1_000_000;

fn statm(field: usize) -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(field).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
#[ignore = "needs ~5 GiB of RAM and a release build: cargo test --release --test stack_million -- --ignored"]
fn million_parked_goroutines() {
    within(300, || {
        gort::run(|| {
            let base = statm(1);
            let tokens = Arc::new(Mutex::new(Vec::with_capacity(N)));
            let parked = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..N)
                .map(|i| {
                    let (tokens, parked) = (tokens.clone(), parked.clone());
                    gort::go(move || {
                        let t = gort::park::prepare();
                        tokens.lock().push(t);
                        parked.fetch_add(1, Relaxed);
                        gort::park::park();
                        i
                    })
                })
                .collect();
            while parked.load(Relaxed) < N {
                gort::yield_now();
            }
            let rss = statm(1);
            let per = (rss - base) as f64 / N as f64 / 1024.0;
            let pte = std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find(|l| l.starts_with("VmPTE"))
                .map(str::to_string)
                .unwrap_or_default();
            println!("{N} goroutines parked: {per:.2} KiB RSS each ({pte})");
            assert!(gort::num_goroutine() >= N);
            // Everything counted, including the JoinHandles and the token list.
            assert!(per <= 5.0, "{per:.2} KiB RSS per parked goroutine");
            for t in tokens.lock().drain(..) {
                t.wake();
            }
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
        });
    });
}
