//! Stress tests of `gort::sync` with 8 procs (on however few cores the machine has),
//! goroutines and plain threads mixed, many iterations, and checksums. Each test runs in a
//! child process with `GOMAXPROCS=8`. Nothing here asserts timing.

mod common;
use common::{child, is_child, within};
use gort::sync::{Barrier, Cond, Mutex, OnceLock, RwLock, Semaphore, WaitGroup};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `body` in a child process with 8 procs; the parent asserts it succeeded.
fn with_8_procs(name: &str, body: impl FnOnce() + Send + 'static) {
    if is_child(name) {
        gort::set_procs(8);
        within(300, body);
        return;
    }
    let out = child(name, &[("GOMAXPROCS", "8")]);
    assert!(
        out.status.success(),
        "child failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `goroutines` goroutines and `threads` plain threads running `f(worker index)`,
/// and waits for all of them.
fn mixed<F>(goroutines: usize, threads: usize, f: F)
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let gs: Vec<_> = (0..goroutines)
        .map(|i| {
            let f = f.clone();
            gort::go(move || f(i))
        })
        .collect();
    let ts: Vec<_> = (0..threads)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || f(goroutines + i))
        })
        .collect();
    for g in gs {
        g.join().unwrap();
    }
    for t in ts {
        t.join().unwrap();
    }
}

/// A cheap deterministic pseudo-random step.
fn mix(x: u64) -> u64 {
    x.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
}

#[test]
fn mutex_stress_checksum() {
    with_8_procs("mutex_stress_checksum", || {
        const WORKERS: usize = 36; // 32 goroutines + 4 threads
        const ITERS: u64 = 100_000;
        // Two fields updated non-atomically: a torn critical section breaks `a + b == 0`.
        let m = Arc::new(Mutex::new((0i64, 0i64, 0u64)));
        let m2 = m.clone();
        mixed(32, 4, move |w| {
            let mut x = w as u64;
            for i in 0..ITERS {
                x = mix(x);
                let mut g = m2.lock();
                assert_eq!(g.0 + g.1, 0, "torn critical section");
                g.0 += (x % 1000) as i64;
                if i % 64 == 0 {
                    gort::yield_now(); // hold the lock across a scheduling point
                }
                g.1 -= (x % 1000) as i64;
                g.2 = g.2.wrapping_add(x % 1000);
            }
        });
        let expected: u64 = (0..WORKERS)
            .map(|w| {
                let mut x = w as u64;
                (0..ITERS).fold(0u64, |s, _| {
                    x = mix(x);
                    s.wrapping_add(x % 1000)
                })
            })
            .fold(0, u64::wrapping_add);
        let g = m.lock();
        assert_eq!(g.0 + g.1, 0);
        assert_eq!(g.2, expected, "lost or doubled updates");
    });
}

/// No waiter starves: 8 contenders (6 goroutines, 2 threads) take the lock back to back,
/// holding it for a while each time, until 10,000 acquisitions. Normal mode lets a running
/// contender re-take the lock before a woken waiter runs, so waiters that wait past 1 ms
/// switch the mutex to starvation mode, which hands the lock over in FIFO order.
///
/// Asserted: every contender got the lock; no contender, while waiting for one
/// acquisition, saw more than a quarter of all acquisitions go to others (a mutex without
/// starvation mode lets one running contender take nearly all of them); and starvation
/// mode engaged.
#[test]
fn mutex_fairness_no_waiter_starves() {
    with_8_procs("mutex_fairness_no_waiter_starves", || {
        const WORKERS: usize = 8;
        const TOTAL: usize = 10_000;
        let before = gort::sync::starvation_count();
        let m = Arc::new(Mutex::new(0usize));
        // Acquisitions so far (mirrors the mutex's counter, readable without the lock).
        let served = Arc::new(AtomicUsize::new(0));
        let counts: Arc<Vec<AtomicUsize>> =
            Arc::new((0..WORKERS).map(|_| AtomicUsize::new(0)).collect());
        let overtaken: Arc<Vec<AtomicUsize>> =
            Arc::new((0..WORKERS).map(|_| AtomicUsize::new(0)).collect());
        let (m2, s2, c2, o2) = (m.clone(), served.clone(), counts.clone(), overtaken.clone());
        mixed(6, 2, move |w| loop {
            let asked = s2.load(SeqCst);
            let mut g = m2.lock();
            if *g >= TOTAL {
                return;
            }
            *g += 1;
            let others = *g - 1 - asked;
            o2[w].fetch_max(others, SeqCst);
            s2.store(*g, SeqCst);
            c2[w].fetch_add(1, SeqCst);
            // Work inside the critical section (about 20 µs), so others queue up.
            let until = Instant::now() + Duration::from_micros(20);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        });
        let counts: Vec<usize> = counts.iter().map(|c| c.load(SeqCst)).collect();
        let overtaken: Vec<usize> = overtaken.iter().map(|c| c.load(SeqCst)).collect();
        let switches = gort::sync::starvation_count() - before;
        println!(
            "acquisitions per contender: {counts:?}; most acquisitions by others during one \
             wait: {overtaken:?}; starvation mode entered {switches} times"
        );
        assert_eq!(counts.iter().sum::<usize>(), TOTAL);
        assert!(
            counts.iter().all(|&c| c > 0),
            "a contender never got the lock: {counts:?}"
        );
        assert!(
            overtaken.iter().all(|&o| o < TOTAL / 4),
            "a waiter was overtaken by a quarter of all acquisitions: {overtaken:?}"
        );
        assert!(switches > 0, "starvation mode never engaged");
    });
}

#[test]
fn rwlock_stress_readers_never_see_torn_writes() {
    with_8_procs("rwlock_stress_readers_never_see_torn_writes", || {
        let rw = Arc::new(RwLock::new((0u64, 0u64)));
        let reads = Arc::new(AtomicU64::new(0));
        let (rw2, reads2) = (rw.clone(), reads.clone());
        // Workers 0..6 write, the rest read; threads are readers and writers too.
        mixed(28, 4, move |w| {
            for i in 0..50_000u64 {
                if w % 5 == 0 {
                    let mut g = rw2.write();
                    g.0 += 1;
                    if i % 32 == 0 {
                        gort::yield_now();
                    }
                    g.1 += 1;
                } else {
                    let g = rw2.read();
                    assert_eq!(g.0, g.1, "reader saw a torn write");
                    if i % 32 == 0 {
                        gort::yield_now(); // readers overlap across scheduling points
                    }
                    reads2.fetch_add(1, SeqCst);
                }
            }
        });
        let writers = (0..32).filter(|w| w % 5 == 0).count() as u64;
        assert_eq!(*rw.read(), (writers * 50_000, writers * 50_000));
        assert_eq!(reads.load(SeqCst), (32 - writers) * 50_000);
    });
}

#[test]
fn waitgroup_stress_rounds_with_several_waiters() {
    with_8_procs("waitgroup_stress_rounds_with_several_waiters", || {
        let wg = Arc::new(WaitGroup::new());
        for round in 0..2_000u64 {
            let sum = Arc::new(AtomicU64::new(0));
            let n = 50 + round % 50;
            wg.add(n as i32);
            for i in 0..n {
                let (wg, sum) = (wg.clone(), sum.clone());
                if i % 10 == 0 {
                    std::thread::spawn(move || {
                        sum.fetch_add(i, SeqCst);
                        wg.done();
                    });
                } else {
                    gort::go(move || {
                        sum.fetch_add(i, SeqCst);
                        wg.done();
                    });
                }
            }
            // Two more waiters (a goroutine and a thread) besides this one.
            let (w1, s1) = (wg.clone(), sum.clone());
            let g = gort::go(move || {
                w1.wait();
                s1.load(SeqCst)
            });
            let (w2, s2) = (wg.clone(), sum.clone());
            let t = std::thread::spawn(move || {
                w2.wait();
                s2.load(SeqCst)
            });
            wg.wait();
            let want = n * (n - 1) / 2;
            assert_eq!(sum.load(SeqCst), want, "round {round}: wait returned early");
            assert_eq!(g.join().unwrap(), want);
            assert_eq!(t.join().unwrap(), want);
        }
    });
}

#[test]
fn waitgroup_1000_goroutines() {
    with_8_procs("waitgroup_1000_goroutines", || {
        for _ in 0..300 {
            let wg = Arc::new(WaitGroup::new());
            let hits = Arc::new(AtomicUsize::new(0));
            for _ in 0..1000 {
                wg.add(1);
                let (wg, hits) = (wg.clone(), hits.clone());
                gort::go(move || {
                    hits.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(hits.load(SeqCst), 1000);
        }
    });
}

#[test]
fn oncelock_stress_one_initialiser_per_cell() {
    with_8_procs("oncelock_stress_one_initialiser_per_cell", || {
        const CELLS: usize = 10_000;
        let cells: Arc<Vec<OnceLock<usize>>> =
            Arc::new((0..CELLS).map(|_| OnceLock::new()).collect());
        let inits = Arc::new(AtomicUsize::new(0));
        let (c2, i2) = (cells.clone(), inits.clone());
        mixed(14, 2, move |w| {
            for k in 0..CELLS {
                let v = *c2[k].get_or_init(|| {
                    i2.fetch_add(1, SeqCst);
                    if k % 7 == w % 7 {
                        gort::yield_now(); // let others pile up on this cell
                    }
                    k * 3
                });
                assert_eq!(v, k * 3);
            }
        });
        assert_eq!(inits.load(SeqCst), CELLS, "an initialiser ran twice");
    });
}

#[test]
fn cond_stress_bounded_queue() {
    with_8_procs("cond_stress_bounded_queue", || {
        struct Q {
            items: Mutex<VecDeque<u64>>,
            not_empty: Cond,
            not_full: Cond,
        }
        const CAP: usize = 8;
        const PER_PRODUCER: u64 = 100_000;
        const PRODUCERS: u64 = 8;
        let q = Arc::new(Q {
            items: Mutex::new(VecDeque::new()),
            not_empty: Cond::new(),
            not_full: Cond::new(),
        });
        let got = Arc::new(AtomicU64::new(0));
        let taken = Arc::new(AtomicU64::new(0));
        let (q2, got2, taken2) = (q.clone(), got.clone(), taken.clone());
        // Workers 0..8 produce, 8..16 consume (2 of each kind are threads? see `mixed`:
        // the last 2 workers are threads, so two consumers are plain threads).
        mixed(14, 2, move |w| {
            if (w as u64) < PRODUCERS {
                for i in 0..PER_PRODUCER {
                    let v = w as u64 * PER_PRODUCER + i + 1;
                    let mut g = q2.not_full.wait_while(q2.items.lock(), |q| q.len() >= CAP);
                    g.push_back(v);
                    drop(g);
                    q2.not_empty.signal();
                }
            } else {
                loop {
                    let mut g = q2.items.lock();
                    loop {
                        if taken2.load(SeqCst) == PRODUCERS * PER_PRODUCER {
                            drop(g);
                            q2.not_empty.broadcast(); // release the other consumers
                            return;
                        }
                        if !g.is_empty() {
                            break;
                        }
                        g = q2.not_empty.wait(g);
                    }
                    let v = g.pop_front().unwrap();
                    taken2.fetch_add(1, SeqCst);
                    drop(g);
                    q2.not_full.signal();
                    got2.fetch_add(v, SeqCst);
                }
            }
        });
        let n = PRODUCERS * PER_PRODUCER;
        assert_eq!(taken.load(SeqCst), n);
        assert_eq!(
            got.load(SeqCst),
            n * (n + 1) / 2,
            "items lost or duplicated"
        );
    });
}

#[test]
fn semaphore_stress_weights_never_exceed_size() {
    with_8_procs("semaphore_stress_weights_never_exceed_size", || {
        const SIZE: usize = 10;
        let sem = Arc::new(Semaphore::new(SIZE));
        let held = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let (s2, h2, t2) = (sem.clone(), held.clone(), total.clone());
        mixed(22, 2, move |w| {
            let mut x = w as u64;
            for i in 0..20_000 {
                x = mix(x);
                let n = 1 + (x >> 33) as usize % SIZE; // 1..=SIZE, large ones included
                s2.acquire(n);
                let now = h2.fetch_add(n, SeqCst) + n;
                assert!(now <= SIZE, "{now} units held of {SIZE}");
                if i % 16 == 0 {
                    gort::yield_now();
                }
                h2.fetch_sub(n, SeqCst);
                t2.fetch_add(n as u64, SeqCst);
                s2.release(n);
            }
        });
        let expected: u64 = (0..24u64)
            .map(|w| {
                let mut x = w;
                (0..20_000)
                    .map(|_| {
                        x = mix(x);
                        1 + (x >> 33) % SIZE as u64
                    })
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(total.load(SeqCst), expected);
        assert_eq!(sem.available(), SIZE);
    });
}

#[test]
fn barrier_stress_rounds() {
    with_8_procs("barrier_stress_rounds", || {
        const PARTIES: usize = 8; // 6 goroutines + 2 threads
        const ROUNDS: usize = 10_000;
        let b = Arc::new(Barrier::new(PARTIES));
        let slots: Arc<Vec<AtomicUsize>> =
            Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
        let leaders = Arc::new(AtomicUsize::new(0));
        let (b2, s2, l2) = (b.clone(), slots.clone(), leaders.clone());
        mixed(6, 2, move |_| {
            for r in 0..ROUNDS {
                s2[r].fetch_add(1, SeqCst);
                if b2.wait().is_leader() {
                    l2.fetch_add(1, SeqCst);
                }
                // Everyone has arrived in round r before anyone leaves it.
                assert_eq!(s2[r].load(SeqCst), PARTIES, "left round {r} early");
            }
        });
        assert_eq!(leaders.load(SeqCst), ROUNDS, "one leader per round");
    });
}
