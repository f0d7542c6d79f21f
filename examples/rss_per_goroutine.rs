//! Memory per parked goroutine: `rss_per_goroutine [gort|tokio|may] [count]` starts `count`
//! goroutines (tasks, coroutines) that all block on one channel (or semaphore), and prints
//! what they added, per goroutine: resident memory (from /proc/self/statm) plus the page
//! tables that map it (`VmPTE` in /proc/self/status), which the kernel allocates for the
//! process too, and RSS alone beside it; also the time it took to start them all and see
//! them parked. For gort it then releases them, waits for the stack scavenger, and prints
//! how much of the page tables is left. One runtime per process; `benches/compare.sh` runs
//! all of them side by side with the Go peer (`benches/go/rss`).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

fn statm(field: usize) -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = s.split_whitespace().nth(field).unwrap().parse().unwrap();
    pages * 4096
}

/// Bytes of page tables (`VmPTE`, reported in kB).
fn page_tables() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmPTE"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        .unwrap_or(0)
        * 1024
}

/// Memory and time before the goroutines are started.
#[derive(Clone, Copy)]
struct Before {
    rss: usize,
    pte: usize,
    at: std::time::Instant,
}

fn before() -> Before {
    Before {
        rss: statm(1),
        pte: page_tables(),
        at: std::time::Instant::now(),
    }
}

/// Watches the count of parked goroutines: exits with an error if it stops growing for 10 s
/// before reaching `n` (a runtime that failed to create one, e.g. may once its stack
/// mappings exceed `vm.max_map_count`, would otherwise leave this program waiting forever).
struct Stall {
    last: usize,
    since: std::time::Instant,
}

impl Stall {
    fn new() -> Stall {
        Stall {
            last: 0,
            since: std::time::Instant::now(),
        }
    }
    fn check(&mut self, who: &str, parked: usize, n: usize) {
        if parked != self.last {
            self.last = parked;
            self.since = std::time::Instant::now();
        } else if self.since.elapsed() > std::time::Duration::from_secs(10) {
            let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
            eprintln!(
                "{who}: only {parked} of {n} started after 10 s without progress (vm.max_map_count = {})",
                maps.trim()
            );
            std::process::exit(1);
        }
    }
}

/// Prints one line; `benches/compare` parses it (keep the format).
fn report(who: &str, n: usize, b: Before, parked_at: std::time::Instant) {
    let rss = statm(1).saturating_sub(b.rss) as f64 / n as f64 / 1024.0;
    let pte = page_tables().saturating_sub(b.pte) as f64 / n as f64 / 1024.0;
    println!(
        "{who:5} {n:8} goroutines parked: {:.2} KiB RSS+PT each ({rss:.2} KiB RSS, {pte:.2} KiB \
         page tables; {:.3} s to park them)",
        rss + pte,
        (parked_at - b.at).as_secs_f64()
    );
}

fn gort_rss(n: usize) {
    gort::run(move || {
        let b = before();
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let parked = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (rx, parked) = (rx.clone(), parked.clone());
                gort::go(move || {
                    parked.fetch_add(1, Relaxed);
                    let _ = rx.recv();
                })
            })
            .collect();
        let mut stall = Stall::new();
        while parked.load(Relaxed) < n {
            gort::yield_now();
            stall.check("gort", parked.load(Relaxed), n);
        }
        let parked_at = std::time::Instant::now();
        // Let the last ones reach recv.
        for _ in 0..100 {
            gort::yield_now();
        }
        report("gort", n, b, parked_at);
        let peak = page_tables().saturating_sub(b.pte);
        drop(tx);
        for h in hs {
            h.join().unwrap();
        }
        // The scavenger releases stacks idle for one to two periods of 250 ms, then unmaps
        // the arenas that are wholly idle: give it a few periods.
        let mut left = page_tables().saturating_sub(b.pte);
        for _ in 0..20 {
            gort::time::sleep(std::time::Duration::from_millis(250));
            left = page_tables().saturating_sub(b.pte);
            if left * 20 < peak {
                break;
            }
        }
        println!(
            "gort  {n:8} goroutines exited: page tables {} KiB ({:.1}% of the peak of {} KiB), \
             RSS {} MiB",
            left >> 10,
            left as f64 * 100.0 / peak.max(1) as f64,
            peak >> 10,
            statm(1) >> 20
        );
    });
}

fn tokio_rss(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let b = before();
        let sem = Arc::new(tokio::sync::Semaphore::new(0));
        let parked = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (sem, parked) = (sem.clone(), parked.clone());
                tokio::spawn(async move {
                    parked.fetch_add(1, Relaxed);
                    let _p = sem.acquire().await.unwrap();
                })
            })
            .collect();
        let mut stall = Stall::new();
        while parked.load(Relaxed) < n {
            tokio::task::yield_now().await;
            stall.check("tokio", parked.load(Relaxed), n);
        }
        report("tokio", n, b, std::time::Instant::now());
        sem.add_permits(n);
        for h in hs {
            h.await.unwrap();
        }
    });
}

fn may_rss(n: usize) {
    may::config().set_workers(2);
    let b = before();
    let sem = Arc::new(may::sync::Semphore::new(0));
    let parked = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (sem, parked) = (sem.clone(), parked.clone());
            may::go!(move || {
                parked.fetch_add(1, Relaxed);
                sem.wait();
            })
        })
        .collect();
    let mut stall = Stall::new();
    while parked.load(Relaxed) < n {
        std::thread::sleep(std::time::Duration::from_millis(1));
        stall.check("may", parked.load(Relaxed), n);
    }
    let parked_at = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(100));
    report("may", n, b, parked_at);
    for _ in 0..n {
        sem.post();
    }
    for h in hs {
        h.join().unwrap();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let who: &'static str = args.next().unwrap_or_else(|| "gort".into()).leak();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    // A runtime that runs out of mappings panics in its spawn while memory is short, and the
    // default hook's backtrace then hangs the process: report the panic in one line and exit.
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<&str>()
            .copied()
            .or(p.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("panic");
        eprintln!("{who}: failed at {n} goroutines: {msg}");
        std::process::exit(1);
    }));
    match who {
        "gort" => gort_rss(n),
        "tokio" => tokio_rss(n),
        "may" => may_rss(n),
        other => panic!("unknown runtime {other}: use gort, tokio or may"),
    }
}
