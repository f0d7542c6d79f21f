//! One million goroutines parked at once, then released, on the stock kernel (guard page
//! on every stack, vm.max_map_count untouched). Asserts what a parked goroutine costs the
//! process in total, resident memory plus the page tables that map it, and that the page
//! tables are given back once they exit. Ignored by default: it needs ~5 GiB of RAM and a
//! release build. CI runs it with
//! `cargo test --release --test stack_million -- --ignored`.

mod common;
use common::within;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 1_000_000;

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Bytes of page tables of this process (`VmPTE`).
fn page_table_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmPTE"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        .unwrap()
        * 1024
}

#[test]
#[ignore = "needs ~5 GiB of RAM and a release build: cargo test --release --test stack_million -- --ignored"]
fn million_parked_goroutines() {
    within(300, || {
        gort::run(|| {
            let (rss0, pte0) = (rss_bytes(), page_table_bytes());
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
            let rss = (rss_bytes() - rss0) as f64 / N as f64 / 1024.0;
            let peak = page_table_bytes() - pte0;
            let pte = peak as f64 / N as f64 / 1024.0;
            println!(
                "{N} goroutines parked: {:.2} KiB RSS + page tables each ({rss:.2} KiB RSS, \
                 {pte:.2} KiB page tables)",
                rss + pte
            );
            assert!(gort::num_goroutine() >= N);
            // Everything counted, including the JoinHandles and the token list. About 4.85
            // KiB today; 1 MiB stack reservations made it 6.45 (2 KiB of page tables each).
            assert!(
                rss + pte <= 5.5,
                "{:.2} KiB per parked goroutine ({rss:.2} KiB RSS, {pte:.2} KiB page tables)",
                rss + pte
            );
            for t in tokens.lock().drain(..) {
                t.wake();
            }
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), i);
            }
            // The scavenger releases idle stacks and unmaps idle arenas within a few periods.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let left = page_table_bytes().saturating_sub(pte0);
                if left * 10 < peak {
                    println!("page tables after exit: {left} of a peak of {peak} bytes");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "page tables not given back: {left} of a peak of {peak} bytes"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    });
}
