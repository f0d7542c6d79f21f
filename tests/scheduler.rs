//! Scheduler behaviour: spawning, joining, panics, yielding, spreading, locked threads.

mod common;
use common::{spawn_yielders, tid, within};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn spawn_and_join_100k() {
    let sum = within(120, || {
        gort::run(|| {
            let hs: Vec<_> = (0..100_000u64).map(|i| gort::go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    });
    assert_eq!(sum, (0..100_000u64).sum::<u64>());
}

#[test]
fn spawn_100k_from_a_plain_thread() {
    let sum = within(120, || {
        let hs: Vec<_> = (0..100_000u64).map(|i| gort::go(move || i * 2)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, (0..100_000u64).map(|i| i * 2).sum::<u64>());
}

fn tree(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let hs: Vec<_> = (0..3).map(|_| gort::go(move || tree(depth - 1))).collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn goroutines_spawning_goroutines_10_levels_deep() {
    for _ in 0..3 {
        let leaves = within(120, || gort::run(|| tree(10)));
        assert_eq!(leaves, 3u64.pow(10));
    }
}

#[test]
fn join_from_thread_and_from_goroutine() {
    within(60, || {
        for i in 0..200u64 {
            // Spawned on a thread, joined on a thread.
            assert_eq!(gort::go(move || i + 1).join().unwrap(), i + 1);
            // Spawned on a thread, joined in a goroutine.
            let h = gort::go(move || i + 2);
            assert_eq!(gort::go(move || h.join().unwrap()).join().unwrap(), i + 2);
            // Spawned in a goroutine, joined on another plain thread.
            let h = gort::go(move || gort::go(move || i + 3)).join().unwrap();
            assert_eq!(
                std::thread::spawn(move || h.join().unwrap())
                    .join()
                    .unwrap(),
                i + 3
            );
        }
    });
}

#[test]
fn join_waits_for_a_goroutine_that_parks() {
    within(60, || {
        for _ in 0..500 {
            let inner = gort::go(|| {
                for _ in 0..10 {
                    gort::yield_now();
                }
                7
            });
            let outer = gort::go(move || inner.join().unwrap() * 6);
            assert_eq!(outer.join().unwrap(), 42);
        }
    });
}

#[test]
fn panic_reaches_join_and_the_runtime_keeps_working() {
    within(60, || {
        for i in 0..100 {
            let h = gort::go(move || {
                if i % 2 == 0 {
                    panic!("boom {i}");
                }
                i
            });
            match h.join() {
                Ok(v) => assert_eq!(v, i),
                Err(p) => {
                    assert_eq!(i % 2, 0);
                    let msg = p
                        .downcast_ref::<String>()
                        .expect("panic message is a String");
                    assert_eq!(msg, &format!("boom {i}"));
                }
            }
        }
        assert_eq!(gort::run(|| 5), 5);
    });
}

#[test]
fn run_resumes_the_main_goroutines_panic() {
    let r = std::panic::catch_unwind(|| gort::run(|| -> u32 { panic!("main failed") }));
    let p = r.expect_err("run must resume the panic");
    assert_eq!(p.downcast_ref::<&str>(), Some(&"main failed"));
}

#[test]
fn large_results_and_results_of_detached_goroutines() {
    within(60, || {
        let big = gort::go(|| [7u64; 64]).join().unwrap();
        assert_eq!(big, [7u64; 64]);
        let s = gort::go(|| "x".repeat(1000)).join().unwrap();
        assert_eq!(s.len(), 1000);
        // Detached goroutines: their results are dropped exactly once.
        let drops = Arc::new(AtomicUsize::new(0));
        struct D(Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..1000 {
            let (d, done) = (drops.clone(), done.clone());
            drop(gort::go(move || {
                done.fetch_add(1, SeqCst);
                D(d)
            }));
        }
        while drops.load(SeqCst) < 1000 {
            std::thread::yield_now();
        }
        assert_eq!(done.load(SeqCst), 1000);
        assert_eq!(drops.load(SeqCst), 1000);
    });
}

#[test]
fn builder_names_and_stack_sizes() {
    within(60, || {
        let h = gort::Builder::new()
            .name("worker-7")
            .spawn(gort::goroutine_id)
            .unwrap();
        assert_eq!(h.name(), Some("worker-7"));
        let id = h.id();
        assert_eq!(h.join().unwrap(), Some(id));
        assert_eq!(
            gort::goroutine_id(),
            None,
            "a plain thread is not a goroutine"
        );

        // A 256 KiB stack holds 200 KiB of locals.
        let h = gort::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| {
                let buf = [1u8; 200 << 10];
                std::hint::black_box(&buf)
                    .iter()
                    .map(|&b| b as usize)
                    .sum::<usize>()
            })
            .unwrap();
        assert_eq!(h.join().unwrap(), 200 << 10);
    });
}

#[test]
fn ids_are_unique() {
    within(60, || {
        let ids: Vec<u64> = gort::run(|| {
            let hs: Vec<_> = (0..5000)
                .map(|_| gort::go(|| gort::goroutine_id().unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let set: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(set.len(), ids.len());
    });
}

#[test]
fn lock_os_thread_keeps_the_thread_and_the_thread_runs_nothing_else() {
    use std::sync::atomic::AtomicI64;
    within(120, || {
        for _ in 0..5 {
            let stop = Arc::new(AtomicBool::new(false));
            // The locked thread's id while the lock is held, else 0.
            let locked_tid = Arc::new(AtomicI64::new(0));
            let violations = Arc::new(AtomicUsize::new(0));
            let others: Vec<_> = (0..8)
                .map(|_| {
                    let (stop, locked_tid, violations) =
                        (stop.clone(), locked_tid.clone(), violations.clone());
                    gort::go(move || {
                        while !stop.load(SeqCst) {
                            if locked_tid.load(SeqCst) == tid() {
                                violations.fetch_add(1, SeqCst);
                            }
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            let lt = locked_tid.clone();
            let locked = gort::go(move || {
                gort::lock_os_thread();
                let me = tid();
                lt.store(me, SeqCst);
                for i in 0..1000 {
                    gort::yield_now();
                    assert_eq!(tid(), me, "locked goroutine moved threads at yield {i}");
                    if i % 100 == 0 {
                        // Park too, not only yield.
                        gort::go(|| ()).join().unwrap();
                        assert_eq!(tid(), me, "locked goroutine moved threads after a park");
                    }
                }
                lt.store(0, SeqCst);
                gort::unlock_os_thread();
            });
            locked.join().unwrap();
            stop.store(true, SeqCst);
            for h in others {
                h.join().unwrap();
            }
            assert_eq!(
                violations.load(SeqCst),
                0,
                "another goroutine ran on the locked thread"
            );
        }
    });
}

#[test]
fn goroutine_ending_while_locked_takes_its_thread_along() {
    within(60, || {
        for _ in 0..20 {
            let t = gort::go(|| {
                gort::lock_os_thread();
                tid()
            })
            .join()
            .unwrap();
            // The runtime keeps working, and that thread no longer runs goroutines.
            let tids: HashSet<i64> = (0..200)
                .map(|_| gort::go(tid))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect();
            assert!(
                !tids.contains(&t),
                "the locked thread was reused after its goroutine ended"
            );
        }
    });
}

#[test]
fn lock_os_thread_is_a_no_op_on_plain_threads() {
    gort::lock_os_thread();
    gort::unlock_os_thread();
    gort::unlock_os_thread();
}

#[test]
fn goroutine_locals_are_per_goroutine_and_dropped_at_exit() {
    use std::cell::Cell;
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Tracked(Cell<u64>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    gort::local! {
        static COUNTER: Tracked = Tracked(Cell::new(0));
        static NAME: std::cell::RefCell<String> = std::cell::RefCell::new(String::new());
    }
    within(60, || {
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                gort::go(move || {
                    NAME.with(|n| *n.borrow_mut() = format!("g{i}"));
                    for _ in 0..i {
                        COUNTER.with(|c| c.0.set(c.0.get() + 1));
                        gort::yield_now(); // may move threads: the value follows
                    }
                    (
                        COUNTER.with(|c| c.0.get()),
                        NAME.with(|n| n.borrow().clone()),
                    )
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), (i as u64, format!("g{i}")));
        }
        assert_eq!(
            DROPS.load(SeqCst),
            100,
            "each goroutine's local was dropped once"
        );
        // On a plain thread the value is per thread.
        COUNTER.with(|c| c.0.set(41));
        assert_eq!(
            std::thread::spawn(|| COUNTER.with(|c| c.0.get()))
                .join()
                .unwrap(),
            0
        );
        assert_eq!(COUNTER.with(|c| c.0.get()), 41);
    });
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    within(60, || {
        let release = Arc::new(AtomicBool::new(false));
        let before = gort::num_goroutine();
        let hs = spawn_yielders(50, &release);
        assert!(gort::num_goroutine() >= before + 50);
        release.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        let s = gort::stats();
        assert!(s.procs >= 1 && s.per_proc.len() >= s.procs);
    });
}
