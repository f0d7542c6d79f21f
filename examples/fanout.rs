//! The main example until the netpoller lands: fan-out/fan-in over many goroutines.
//!
//! 1. A spawn tree: goroutines spawning goroutines, 6 levels of fan-out 8 (299,593 in all),
//!    each leaf returning 1, summed back up through `join`.
//! 2. Work spread: count the primes below 5,000,000 in 1,000 goroutines, one chunk each,
//!    and show how the scheduler spread them over the Ps.
//!
//! ```text
//! cargo run --release --example fanout            # full size
//! cargo run --release --example fanout -- --quick # small, for CI
//! ```

use std::time::Instant;

fn tree(depth: u32, fanout: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    let children: Vec<_> = (0..fanout)
        .map(|_| gort::go(move || tree(depth - 1, fanout)))
        .collect();
    1 + children.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (depth, limit, chunks) = if quick {
        (4, 200_000, 100)
    } else {
        (6, 5_000_000, 1_000)
    };
    println!("gort fan-out/fan-in on {} procs", gort::procs());

    let before = gort::stats();
    let (spawned, primes, t_tree, t_primes) = gort::run(move || {
        let t = Instant::now();
        let spawned = tree(depth, 8);
        let t_tree = t.elapsed();

        let t = Instant::now();
        let per = limit / chunks;
        let hs: Vec<_> = (0..chunks)
            .map(|c| gort::go(move || (c * per..(c + 1) * per).filter(|&n| is_prime(n)).count()))
            .collect();
        let primes: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        (spawned, primes, t_tree, t.elapsed())
    });

    println!(
        "spawn tree: {spawned} goroutines (depth {depth}, fan-out 8) in {t_tree:.2?} ({:.0} ns each)",
        t_tree.as_nanos() as f64 / spawned as f64
    );
    println!("primes below {limit}: {primes}, counted by {chunks} goroutines in {t_primes:.2?}");
    let after = gort::stats();
    for p in after.per_proc.iter().take(after.procs) {
        let b = before.per_proc.iter().find(|q| q.id == p.id);
        let runs = p.runs - b.map_or(0, |b| b.runs);
        let steals = p.steals - b.map_or(0, |b| b.steals);
        println!("  P{}: {runs} goroutine runs, {steals} steals", p.id);
    }
    println!(
        "threads: {}, live goroutines now: {}",
        after.threads,
        gort::num_goroutine()
    );
}
