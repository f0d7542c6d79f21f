//! Lateness of a 1 ms ticker goroutine while other goroutines misbehave, procs=2 (the
//! sysmon workload; Go's twin is `benches/go/ticker`).
//!
//! ```text
//! cargo run --release --example ticker_lateness -- syscalls   # 4 goroutines blocked in gort::syscall
//! cargo run --release --example ticker_lateness -- hogs       # 4 goroutines spinning on the CPU
//! cargo run --release --example ticker_lateness -- none       # nothing else running
//! ```
//!
//! The ticker sleeps until `start + k ms` for k = 1..=N and records how late it woke.
//! Prints p50, p99 and max lateness in microseconds.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "none".into());
    let ticks: u32 = std::env::args()
        .nth(2)
        .map_or(2000, |s| s.parse().expect("tick count"));
    gort::set_procs(2);
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
            "none" => {}
            other => panic!("unknown mode {other:?}: syscalls | hogs | none"),
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
    late.sort_unstable();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
    println!(
        "gort {mode}: {ticks} ticks of 1 ms, lateness p50={}us p99={}us max={}us",
        pct(0.5),
        pct(0.99),
        late[late.len() - 1]
    );
}
