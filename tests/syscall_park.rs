//! A closure passed to `gort::syscall` that parks (`gort::syscall(|| rx.recv())`): the
//! goroutine leaves the syscall state while it waits and enters it again on whichever M
//! resumes it. Before, the M it left kept its syscall mark, so sysmon handed off the P of
//! whatever that M ran next, and leaving the syscall wrote another thread's M.
//!
//! Each test runs in a child process with its own GOMAXPROCS, since it counts hand-offs.

mod common;
use common::{child_ok, is_child, spawn_yielders, within};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn run_child(name: &str, procs: &str) {
    child_ok(name, &[("GOMAXPROCS", procs)]);
}

/// At procs=1, a goroutine parks inside `syscall` while another keeps the only M busy
/// with goroutines that yield: nothing is in a system call, so no P is handed off (the old
/// code handed it off within a few sysmon rounds).
#[test]
fn a_syscall_that_parks_leaves_no_syscall_mark() {
    const NAME: &str = "a_syscall_that_parks_leaves_no_syscall_mark";
    if !is_child(NAME) {
        return run_child(NAME, "1");
    }
    within(60, || {
        gort::run(|| {
            let (tx, rx) = gort::chan::bounded::<u32>(0);
            let parked = gort::go(move || gort::syscall(|| rx.recv().unwrap()));
            // Let it park inside the syscall.
            while gort::stats().syscalls == 0 {
                gort::yield_now();
            }
            for _ in 0..10 {
                gort::yield_now();
            }
            let before = gort::stats().handoffs;
            // Keep the M busy for a while with goroutines that yield (no syscalls).
            let stop = Arc::new(AtomicBool::new(false));
            let busy = spawn_yielders(2, &stop);
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(300) {
                gort::yield_now();
            }
            let handoffs = gort::stats().handoffs - before;
            stop.store(true, SeqCst);
            busy.into_iter().for_each(|h| h.join().unwrap());
            tx.send(5).unwrap();
            assert_eq!(parked.join().unwrap(), 5);
            assert_eq!(
                handoffs, 0,
                "sysmon handed off a P while no goroutine was in a system call"
            );
        })
    });
}

/// Many goroutines park inside `syscall` and block in it too (so sysmon hands their Ps
/// off and they leave the syscall without a P, on whichever M resumed them), fed by
/// goroutines and plain threads; every value arrives once.
fn park_and_block_in_syscalls() {
    within(120, || {
        const WORKERS: u64 = 16;
        const ROUNDS: u64 = 200;
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        let sum = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let rx = rx.clone();
                let sum = sum.clone();
                gort::go(move || {
                    for _ in 0..ROUNDS {
                        let v = gort::syscall(|| {
                            let v = rx.recv().unwrap();
                            // Block the thread a little, as a real system call does.
                            std::thread::sleep(Duration::from_micros(50));
                            v
                        });
                        sum.fetch_add(v, SeqCst);
                    }
                })
            })
            .collect();
        let total = WORKERS * ROUNDS;
        // Values 0..total, a quarter from each of two goroutines and two plain threads.
        let values = move |k: u64| (0..total).filter(move |v| v % 4 == k);
        let feeders: Vec<_> = (0..2)
            .map(|k| {
                let tx = tx.clone();
                gort::go(move || values(k).for_each(|v| tx.send(v).unwrap()))
            })
            .collect();
        let threads: Vec<_> = (2..4)
            .map(|k| {
                let tx = tx.clone();
                std::thread::spawn(move || values(k).for_each(|v| tx.send(v).unwrap()))
            })
            .collect();
        drop(tx);
        feeders.into_iter().for_each(|h| h.join().unwrap());
        threads.into_iter().for_each(|h| h.join().unwrap());
        workers.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sum.load(SeqCst), (0..total).sum::<u64>());
    });
}

#[test]
fn syscalls_that_park_and_block_at_procs_1() {
    const NAME: &str = "syscalls_that_park_and_block_at_procs_1";
    if !is_child(NAME) {
        return run_child(NAME, "1");
    }
    park_and_block_in_syscalls();
}

#[test]
fn syscalls_that_park_and_block_at_procs_4() {
    const NAME: &str = "syscalls_that_park_and_block_at_procs_4";
    if !is_child(NAME) {
        return run_child(NAME, "4");
    }
    park_and_block_in_syscalls();
}

#[test]
fn syscall_that_parks_on_a_plain_thread_just_runs() {
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let g = gort::go(move || tx.send(3).unwrap());
    assert_eq!(gort::syscall(|| rx.recv().unwrap()), 3);
    g.join().unwrap();
}

/// A closure that panics inside `syscall` leaves no syscall mark behind: before, the G
/// (reused by later goroutines) and its M stayed marked, so the goroutines that reused the
/// G showed as in a syscall (and sysmon could hand off their P).
#[test]
fn a_syscall_that_panics_leaves_no_syscall_mark() {
    const NAME: &str = "a_syscall_that_panics_leaves_no_syscall_mark";
    if !is_child(NAME) {
        return run_child(NAME, "2");
    }
    within(60, || {
        gort::run(|| {
            for _ in 0..8 {
                let h = gort::go(|| gort::syscall(|| panic!("inside a syscall")));
                assert!(h.join().is_err());
            }
            let stop = Arc::new(AtomicBool::new(false));
            // These reuse the Gs of the goroutines that panicked.
            let busy: Vec<_> = (0..8)
                .map(|_| {
                    let stop = stop.clone();
                    gort::go(move || {
                        while !stop.load(SeqCst) {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            let ids: Vec<u64> = busy.iter().map(|h| h.id()).collect();
            let mut seen = 0;
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(300) {
                for g in gort::debug::goroutines() {
                    if ids.contains(&g.id) && g.state == gort::debug::GoroutineState::Syscall {
                        seen += 1;
                    }
                }
                gort::yield_now();
            }
            stop.store(true, SeqCst);
            busy.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(seen, 0, "goroutines that reused a G showed as in a syscall");
        })
    });
}
