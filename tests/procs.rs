//! Ps: GOMAXPROCS, set_procs, fairness on one P, work spreading over every P.
//! Tests that change `procs` run in child processes so they do not disturb each other.

mod common;
use common::{child, child_ok, is_child, spawn_yielders, within};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

#[test]
fn gomaxprocs_env_is_honoured() {
    if is_child("gomaxprocs_env_is_honoured") {
        println!("procs={}", gort::procs());
        return;
    }
    for (env, want) in [("1", "procs=1"), ("3", "procs=3")] {
        let out = child("gomaxprocs_env_is_honoured", &[("GOMAXPROCS", env)]);
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(want), "GOMAXPROCS={env}: {stdout}");
    }
}

#[test]
fn malformed_gomaxprocs_warns_and_uses_the_cpu_count() {
    if is_child("malformed_gomaxprocs_warns_and_uses_the_cpu_count") {
        println!("procs={}", gort::procs());
        assert_eq!(gort::run(|| 1 + 1), 2);
        return;
    }
    let ncpu = std::thread::available_parallelism().unwrap().get();
    for bad in ["abc", "0", "-2", ""] {
        let out = child(
            "malformed_gomaxprocs_warns_and_uses_the_cpu_count",
            &[("GOMAXPROCS", bad)],
        );
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains(&format!("procs={ncpu}")),
            "GOMAXPROCS={bad:?}: {stdout}"
        );
        assert!(
            stderr.contains("ignoring GOMAXPROCS"),
            "no warning for {bad:?}: {stderr}"
        );
    }
}

#[test]
fn set_procs_zero_panics_with_a_clear_message() {
    let r = std::panic::catch_unwind(|| gort::set_procs(0));
    let p = r.expect_err("set_procs(0) must panic");
    let msg = p.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("procs must be at least 1"), "{msg}");
}

#[test]
fn set_procs_up_and_down_while_goroutines_run() {
    if !is_child("set_procs_up_and_down_while_goroutines_run") {
        return child_ok(
            "set_procs_up_and_down_while_goroutines_run",
            &[("GOMAXPROCS", "2")],
        );
    }
    within(120, || {
        let stop = Arc::new(AtomicBool::new(false));
        let work = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..64)
            .map(|_| {
                let (stop, work) = (stop.clone(), work.clone());
                gort::go(move || {
                    while !stop.load(SeqCst) {
                        work.fetch_add(1, SeqCst);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        for n in [4, 1, 8, 2, 1, 3] {
            gort::set_procs(n);
            assert_eq!(gort::procs(), n);
            // Progress continues at every setting.
            let before = work.load(SeqCst);
            while work.load(SeqCst) < before + 10_000 {
                std::thread::yield_now();
            }
            assert_eq!(gort::stats().procs, n);
        }
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(gort::set_procs(2), 3);
    });
}

#[test]
fn yield_now_is_fair_on_one_p() {
    if !is_child("yield_now_is_fair_on_one_p") {
        return child_ok("yield_now_is_fair_on_one_p", &[("GOMAXPROCS", "1")]);
    }
    within(60, || {
        assert_eq!(gort::procs(), 1);
        for _ in 0..20 {
            const N: usize = 8;
            const ROUNDS: usize = 500;
            let turns = Arc::new(Mutex::new(Vec::with_capacity(N * ROUNDS)));
            gort::run({
                let turns = turns.clone();
                move || {
                    let hs: Vec<_> = (0..N)
                        .map(|id| {
                            let turns = turns.clone();
                            gort::go(move || {
                                for _ in 0..ROUNDS {
                                    turns.lock().unwrap().push(id);
                                    gort::yield_now();
                                }
                            })
                        })
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                }
            });
            // Round robin: in every window of N turns each goroutine appears at most twice,
            // and between two turns of one goroutine every other one runs at most twice.
            let turns = turns.lock().unwrap();
            assert_eq!(turns.len(), N * ROUNDS);
            // since[a][b]: turns goroutine b had since goroutine a last ran.
            let mut since = [[0usize; N]; N];
            let mut seen = [false; N];
            for (i, &id) in turns.iter().enumerate() {
                if seen[id] {
                    let max_others = since[id].iter().copied().max().unwrap();
                    assert!(
                        max_others <= 2,
                        "goroutine {id} waited too long at turn {i}"
                    );
                }
                seen[id] = true;
                since[id] = [0; N];
                for (other, row) in since.iter_mut().enumerate() {
                    if other != id {
                        row[id] += 1;
                    }
                }
            }
        }
    });
}

#[test]
fn work_spreads_over_every_p() {
    if !is_child("work_spreads_over_every_p") {
        return child_ok("work_spreads_over_every_p", &[("GOMAXPROCS", "4")]);
    }
    within(120, || {
        assert_eq!(gort::procs(), 4);
        let before: Vec<u64> = gort::stats().per_proc.iter().map(|p| p.runs).collect();
        gort::run(|| {
            let start = Arc::new(AtomicBool::new(false));
            let hs: Vec<_> = (0..2000)
                .map(|_| {
                    let start = start.clone();
                    gort::go(move || {
                        while !start.load(SeqCst) {
                            gort::yield_now();
                        }
                        for _ in 0..50 {
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            start.store(true, SeqCst);
            for h in hs {
                h.join().unwrap();
            }
        });
        let s = gort::stats();
        for p in s.per_proc.iter().take(4) {
            let b = before.get(p.id).copied().unwrap_or(0);
            assert!(p.runs > b, "P{} ran no goroutine: {:?}", p.id, s.per_proc);
        }
        assert!(
            s.per_proc.iter().map(|p| p.steals).sum::<u64>() > 0,
            "nothing was stolen"
        );
    });
}

#[test]
fn a_runnext_ping_pong_does_not_starve_the_global_queue() {
    if !is_child("a_runnext_ping_pong_does_not_starve_the_global_queue") {
        return child_ok(
            "a_runnext_ping_pong_does_not_starve_the_global_queue",
            &[("GOMAXPROCS", "1")],
        );
    }
    use gort::park::{self, Token};
    // Two goroutines wake each other in turn, never yielding: each wake-up puts the other
    // in `runnext`, so without a bound on inherited time slices they would own the P.
    #[derive(Default)]
    struct Turn {
        state: Mutex<(u64, Option<Token>)>, // turns posted, waiter
    }
    impl Turn {
        fn wait_for(&self, n: u64) {
            loop {
                let t = park::prepare();
                {
                    let mut s = self.state.lock().unwrap();
                    if s.0 >= n {
                        drop(s);
                        park::cancel();
                        return;
                    }
                    s.1 = Some(t);
                }
                park::park();
            }
        }
        fn post(&self, n: u64) {
            let waiter = {
                let mut s = self.state.lock().unwrap();
                s.0 = n;
                s.1.take()
            };
            if let Some(t) = waiter {
                t.wake();
            }
        }
    }
    within(60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let (a, b) = (Arc::new(Turn::default()), Arc::new(Turn::default()));
        let rounds = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let pinger = {
            let (a, b, stop, rounds) = (a.clone(), b.clone(), stop.clone(), rounds.clone());
            gort::go(move || {
                let mut i = 0;
                while !stop.load(SeqCst) {
                    i += 1;
                    rounds.store(i, SeqCst);
                    b.post(i);
                    a.wait_for(i);
                }
                b.post(u64::MAX);
            })
        };
        let ponger = gort::go(move || {
            let mut i = 0;
            loop {
                i += 1;
                b.wait_for(i);
                a.post(i);
                if b.state.lock().unwrap().0 == u64::MAX {
                    return;
                }
            }
        });
        // Once the pair is well under way, queue a goroutine on the global queue (spawned
        // from this plain thread); it must get a turn.
        while rounds.load(SeqCst) < 1000 {
            std::thread::yield_now();
        }
        let s = stop.clone();
        gort::go(move || s.store(true, SeqCst)).join().unwrap();
        pinger.join().unwrap();
        ponger.join().unwrap();
    });
}

/// Shrinking `procs` while a goroutine is inside `gort::syscall` must not strand the
/// goroutines queued on its P: the P is beyond the new `procs`, sysmon no longer looks at
/// it, and its queue moved to the global queue only when the syscall returned (Go's
/// `procresize` moves a removed P's queue at once; sysmon now takes such a P at once).
/// Here the syscall waits for a thread that waits for the queued goroutine: a hang (5 s
/// here), seen within 300 rounds in 6 of 6 runs at GOMAXPROCS=2 before the fix. Found by
/// tests/chaos.rs.
#[test]
fn shrinking_procs_during_a_syscall_strands_no_goroutine() {
    if is_child("shrinking_procs_during_a_syscall_strands_no_goroutine") {
        gort::run(|| {
            for round in 0..300 {
                gort::set_procs(8);
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        gort::go(|| {
                            let (tx, rx) = gort::chan::bounded::<u32>(0);
                            let t = std::thread::spawn(move || {
                                rx.recv_timeout(std::time::Duration::from_secs(5))
                            });
                            // Queued on this goroutine's P, which the syscall keeps.
                            let _x = gort::go(move || tx.send(1));
                            gort::syscall(|| t.join().unwrap()).is_ok()
                        })
                    })
                    .collect();
                gort::set_procs(1);
                let stranded = hs.into_iter().map(|h| h.join().unwrap());
                let stranded = stranded.filter(|ok| !ok).count();
                assert_eq!(
                    stranded, 0,
                    "round {round}: {stranded} goroutines never ran in 5 s"
                );
            }
        });
        return;
    }
    // `common::child`, with GOMAXPROCS=2.
    let name = "shrinking_procs_during_a_syscall_strands_no_goroutine";
    let out = within(300, move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env("GORT_TEST_CHILD", name)
            .env("GOMAXPROCS", "2")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Goroutines that only yield, on one P, still let a goroutine in the global queue run
/// (one spawned, and one woken, from a plain thread): the yield fast path leaves the
/// global queue to `find_runnable` on its fairness tick.
#[test]
fn yielding_goroutines_do_not_starve_the_global_queue() {
    if !is_child("yielding_goroutines_do_not_starve_the_global_queue") {
        return child_ok(
            "yielding_goroutines_do_not_starve_the_global_queue",
            &[("GOMAXPROCS", "1")],
        );
    }
    within(60, || {
        assert_eq!(gort::procs(), 1);
        for _ in 0..50 {
            gort::run(|| {
                let stop = Arc::new(AtomicBool::new(false));
                let spinners = spawn_yielders(3, &stop);
                let (tx, rx) = gort::chan::bounded::<()>(0);
                let woken = gort::go(move || rx.recv().unwrap());
                let from_thread = std::thread::spawn({
                    let stop = stop.clone();
                    move || {
                        // Spawned from a plain thread: the global queue.
                        let h = gort::go(|| 7);
                        assert_eq!(h.join().unwrap(), 7);
                        // Wakes a parked goroutine from a plain thread: the global queue.
                        tx.send(()).unwrap();
                        stop.store(true, SeqCst);
                    }
                });
                woken.join().unwrap();
                from_thread.join().unwrap();
                for h in spinners {
                    h.join().unwrap();
                }
            });
        }
    });
}
