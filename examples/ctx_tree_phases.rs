//! Phase timing of the `cancel_tree` context bench (benches/context.rs), a profiling aid:
//! medians of build, spawn+park, `cancel()` alone, cancel-to-all-woken, the canceller's
//! thread CPU time and the process CPU time of the wake phase.
//!
//! `cargo run --release --example ctx_tree_phases [trees] [stack bytes]`; with `STATS=1`
//! each tree prints the goroutines each P ran and stole during the wake phase. To profile
//! the wake phase alone:
//!
//! ```text
//! mkfifo /tmp/ctl
//! PERF_CTL=/tmp/ctl perf record -D -1 --control fifo:/tmp/ctl target/release/examples/ctx_tree_phases 200
//! ```
#[path = "../benches/support/ctx_tree.rs"]
mod ctx_tree;
use ctx_tree::{build_tree, Wg};

use gort::context;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};
use std::time::{Duration, Instant};

fn cpu(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// With `PERF_CTL=<fifo>` (perf record --control fifo:<fifo> -D -1), samples only the
/// cancel-to-all-woken phase.
fn perf_ctl(cmd: &[u8]) {
    use std::io::Write;
    static CTL: std::sync::OnceLock<Option<std::sync::Mutex<std::fs::File>>> =
        std::sync::OnceLock::new();
    let ctl = CTL.get_or_init(|| {
        let p = std::env::var("PERF_CTL").ok()?;
        Some(std::sync::Mutex::new(
            std::fs::OpenOptions::new().write(true).open(p).ok()?,
        ))
    });
    if let Some(f) = ctl {
        let _ = f.lock().unwrap().write_all(cmd);
    }
}

fn one() -> [Duration; 6] {
    let start = Instant::now();
    let (root, cancel) = context::background().with_cancel();
    let leaves = build_tree(&root);
    let built = Instant::now();
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
    perf_ctl(b"enable\n");
    let p0 = cpu(libc::CLOCK_PROCESS_CPUTIME_ID);
    let t0 = cpu(libc::CLOCK_THREAD_CPUTIME_ID);
    let s0 = gort::stats();
    let c = Instant::now();
    cancel.cancel();
    let cancelled = Instant::now();
    let t1 = cpu(libc::CLOCK_THREAD_CPUTIME_ID);
    wg.wait();
    let end = Instant::now();
    let p1 = cpu(libc::CLOCK_PROCESS_CPUTIME_ID);
    perf_ctl(b"disable\n");
    if std::env::var_os("STATS").is_some() {
        let s1 = gort::stats();
        for (a, b) in s0.per_proc.iter().zip(&s1.per_proc) {
            eprint!(
                "P{}: runs {} steals {}  ",
                a.id,
                b.runs - a.runs,
                b.steals - a.steals
            );
        }
        eprintln!("threads {}", s1.threads);
    }
    [
        built - start,
        c - built,
        cancelled - c,
        end - c,
        t1 - t0,
        p1 - p0,
    ]
}

fn main() {
    let n: usize = std::env::args().nth(1).map_or(50, |s| s.parse().unwrap());
    if let Some(s) = std::env::args().nth(2) {
        gort::stack::set_default_stack_size(s.parse().unwrap());
    }
    let mut v: Vec<[Duration; 6]> = gort::run(move || (0..n).map(|_| one()).collect());
    let names = [
        "build",
        "spawn+park",
        "cancel()",
        "cancel->all woken",
        "cancel() thread cpu",
        "wake process cpu",
    ];
    for i in 0..6 {
        v.sort_by_key(|x| x[i]);
        println!("{:>20}: median {:?}", names[i], v[n / 2][i]);
    }
}
