//! Lateness of a 1 ms ticker goroutine while other goroutines misbehave, procs=2 (the
//! sysmon workload; Go's twin is `benches/go/ticker`).
//!
//! ```text
//! cargo run --release --example ticker_lateness -- syscalls   # 4 goroutines blocked in gort::syscall
//! cargo run --release --example ticker_lateness -- hogs       # 4 goroutines spinning on the CPU
//! cargo run --release --example ticker_lateness -- none       # nothing else running
//! cargo run --release --example ticker_lateness -- sleeps        # 1000 goroutines in an unmarked 500 ms std::thread::sleep
//! cargo run --release --example ticker_lateness -- sleeps-marked # the same sleeps inside gort::syscall
//! ```
//!
//! The ticker sleeps until `start + k ms` for k = 1..=N and records how late it woke.
//! Prints p50, p99 and max lateness in microseconds; in the `sleeps` modes, also how long
//! the 1000 sleepers took to finish (sysmon hands off the P of an M blocked in an unmarked
//! call by itself; `gort::syscall` marks it at once).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "none".into());
    let ticks: u32 = std::env::args()
        .nth(2)
        .map_or(2000, |s| s.parse().expect("tick count"));
    gort::set_procs(2);
    let sleepers = match mode.as_str() {
        "sleeps" | "sleeps-marked" => Some(start_sleepers(mode == "sleeps-marked")),
        _ => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..4 {
        let stop = stop.clone();
        match mode.as_str() {
            "syscalls" => drop(gort::go(|| {
                let mut fds = [0; 2];
                // SAFETY: pipe() fills the two descriptors.
                unsafe { libc::pipe(fds.as_mut_ptr()) };
                let mut b = [0u8; 1];
                // Blocks forever: nobody writes.
                // SAFETY: reading into a live one-byte buffer.
                gort::syscall(|| unsafe { libc::read(fds[0], b.as_mut_ptr() as *mut _, 1) });
            })),
            "hogs" => drop(gort::go(move || {
                while !stop.load(Relaxed) {
                    std::hint::spin_loop();
                }
            })),
            "none" | "sleeps" | "sleeps-marked" => {}
            other => {
                panic!("unknown mode {other:?}: syscalls | hogs | none | sleeps | sleeps-marked")
            }
        }
    }
    let mut late = gort::run(move || {
        let start = Instant::now();
        let mut late = Vec::with_capacity(ticks as usize);
        for k in 1..=ticks {
            let due = start + Duration::from_millis(k as u64);
            gort::time::sleep_until(due);
            late.push(due.elapsed().as_micros() as u64);
        }
        late
    });
    stop.store(true, Relaxed);
    if let Some(sleepers) = sleepers {
        let took = sleepers.recv().expect("the sleepers finish");
        println!("1000 sleepers of 500 ms done in {}ms", took.as_millis());
    }
    late.sort_unstable();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
    println!(
        "gort {mode}: {ticks} ticks of 1 ms, lateness p50={}us p99={}us max={}us",
        pct(0.5),
        pct(0.99),
        late[late.len() - 1]
    );
}

/// Starts 1000 goroutines that each block their thread for 500 ms (inside `gort::syscall`
/// if `marked`); the receiver gets how long they all took.
fn start_sleepers(marked: bool) -> gort::chan::Receiver<Duration> {
    let (tx, rx) = gort::chan::bounded(1);
    let start = Instant::now();
    let wg = Arc::new(gort::sync::WaitGroup::new());
    for _ in 0..1000 {
        wg.add(1);
        let wg = wg.clone();
        drop(gort::go(move || {
            let nap = || std::thread::sleep(Duration::from_millis(500));
            if marked {
                gort::syscall(nap);
            } else {
                nap();
            }
            wg.done();
        }));
    }
    drop(gort::go(move || {
        wg.wait();
        tx.send(start.elapsed()).unwrap();
    }));
    rx
}
