//! "Spawn from a plain thread, join each handle", run by `benches/compare.sh` (not a
//! criterion bench): the main thread, outside any runtime's own threads, spawns N goroutines
//! (tasks, coroutines) that return at once, keeping every handle, then joins the handles in
//! spawn order. This is what a Rust user writes with `std::thread::spawn` and
//! `JoinHandle::join`; all N are alive (or finished and unjoined) at once, so the cost of a
//! goroutine's memory shows too.
//!
//! - `gort N`: `gort::go` from the main thread, `JoinHandle::join` on the main thread;
//! - `tokio N`: `Runtime::spawn` from the main thread, each `JoinHandle` awaited in one
//!   `block_on` (a plain thread can only wait on a future inside `block_on`);
//! - `may N`: `may::coroutine::spawn` from the main thread, `JoinHandle::join`.
//!
//! The Go twin is `benches/go/sched -bench spawn-handles`. Workers: GOMAXPROCS when set
//! (as gort reads it), else the CPU count. Prints
//! `spawned and joined N goroutines in S s: X ns/goroutine`.
//!
//! Run through `cargo bench --bench spawn_handles -- gort 1000000`. Without a command (plain
//! `cargo bench`) it prints how to use it and exits.

use std::time::{Duration, Instant};

/// GOMAXPROCS when set, else the CPU count: the worker count of tokio and may (read here, so
/// their runs do not start gort's scheduler).
fn procs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&p| p > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn gort_handles(n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|_| gort::go(|| ())).collect();
    for h in handles {
        h.join().expect("goroutine panicked");
    }
    start.elapsed()
}

fn tokio_handles(n: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs())
        .build()
        .expect("tokio runtime");
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|_| rt.spawn(async {})).collect();
    rt.block_on(async {
        for h in handles {
            h.await.expect("task panicked");
        }
    });
    start.elapsed()
}

fn may_handles(n: usize) -> Duration {
    may::config().set_workers(procs());
    let start = Instant::now();
    // SAFETY (may's contract): the coroutines use no thread-local storage.
    let handles: Vec<_> = (0..n)
        .map(|_| unsafe { may::coroutine::spawn(|| ()) })
        .collect();
    for h in handles {
        h.join().expect("coroutine panicked");
    }
    start.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (peer, n) = match args.as_slice() {
        [peer, n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => (peer.as_str(), n),
            _ => {
                eprintln!("spawn_handles: N must be a positive count, not {n:?}");
                std::process::exit(2);
            }
        },
        _ => {
            println!(
                "spawn_handles: for benches/compare.sh (gort N | tokio N | may N); nothing to do"
            );
            return;
        }
    };
    let el = match peer {
        "gort" => gort_handles(n),
        "tokio" => tokio_handles(n),
        "may" => may_handles(n),
        _ => {
            eprintln!("spawn_handles: unknown peer {peer:?} (gort | tokio | may)");
            std::process::exit(2);
        }
    };
    println!(
        "spawned and joined {n} goroutines in {:.3} s: {:.1} ns/goroutine",
        el.as_secs_f64(),
        el.as_nanos() as f64 / n as f64
    );
}
