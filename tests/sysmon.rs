//! Sysmon: blocking syscalls, unmarked blocking calls and CPU hogs do not stall the other
//! goroutines; deadlocks are reported; an idle process gets no sysmon wake-ups.
//! Each scenario runs in a child process with GOMAXPROCS=2 (goroutines stuck forever in a
//! scenario must not outlive it).

mod common;
use common::{child, is_child, within};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// 1000 channel round trips between two goroutines and 100 timer sleeps, which must all
/// complete while four goroutines are stuck in `stuck`.
fn others_make_progress(stuck: impl Fn() + Send + Sync + 'static) {
    let stuck = Arc::new(stuck);
    for _ in 0..4 {
        let stuck = stuck.clone();
        drop(gort::go(move || stuck()));
    }
    within(60, || {
        gort::run(|| {
            let (ping, pings) = gort::chan::bounded::<u32>(0);
            let (pong, pongs) = gort::chan::bounded::<u32>(0);
            let echo = gort::go(move || {
                for v in &pings {
                    pong.send(v + 1).unwrap();
                }
            });
            for i in 0..1000 {
                ping.send(i).unwrap();
                assert_eq!(pongs.recv().unwrap(), i + 1);
            }
            drop(ping);
            echo.join().unwrap();
            for _ in 0..100 {
                gort::time::sleep(Duration::from_micros(500));
            }
        })
    });
}

fn run_child(name: &str) {
    let out = child(name, &[("GOMAXPROCS", "2")]);
    assert!(
        out.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn goroutines_blocked_in_marked_syscalls_do_not_stall_others() {
    if !is_child("goroutines_blocked_in_marked_syscalls_do_not_stall_others") {
        return run_child("goroutines_blocked_in_marked_syscalls_do_not_stall_others");
    }
    others_make_progress(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe() fills the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut b = [0u8; 1];
        // Blocks forever: nobody writes to the pipe.
        // SAFETY: reading into a live one-byte buffer.
        gort::syscall(|| unsafe { libc::read(fds[0], b.as_mut_ptr() as *mut _, 1) });
    });
    assert!(gort::stats().handoffs >= 1, "{:?}", gort::stats());
}

#[test]
fn goroutines_blocked_in_unmarked_calls_do_not_stall_others() {
    if !is_child("goroutines_blocked_in_unmarked_calls_do_not_stall_others") {
        return run_child("goroutines_blocked_in_unmarked_calls_do_not_stall_others");
    }
    others_make_progress(|| std::thread::sleep(Duration::from_secs(3)));
    // Sysmon found the blocked Ms by itself (their CPU time still, their threads asleep).
    assert!(gort::stats().blocked_handoffs >= 1, "{:?}", gort::stats());
}

/// Many goroutines block their threads in unmarked std calls (sleeps, a contended std
/// `Mutex`, reads of a pipe) while others keep a 1 ms ticker going: all finish, and sysmon
/// handed off the blocked Ms' Ps by itself.
#[test]
fn unmarked_blocking_calls_are_handed_off() {
    const NAME: &str = "unmarked_blocking_calls_are_handed_off";
    if !is_child(NAME) {
        return run_child(NAME);
    }
    within(120, || {
        gort::run(|| {
            let ticker = gort::go(|| {
                let t = gort::time::Ticker::new(Duration::from_millis(1));
                for _ in 0..200 {
                    t.receiver().recv().unwrap();
                }
            });
            let lock = Arc::new(std::sync::Mutex::new(()));
            let held = lock.clone();
            let holder = std::thread::spawn(move || {
                let _g = held.lock().unwrap();
                std::thread::sleep(Duration::from_millis(200));
            });
            let mut fds = [0; 2];
            // SAFETY: pipe() fills the two descriptors.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            let blocked: Vec<_> = (0..60)
                .map(|i| {
                    let lock = lock.clone();
                    gort::go(move || match i % 3 {
                        0 => std::thread::sleep(Duration::from_millis(100)),
                        1 => drop(lock.lock().unwrap()),
                        _ => {
                            let mut b = [0u8; 1];
                            // SAFETY: reading into a live one-byte buffer.
                            let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
                            assert_eq!(n, 1);
                        }
                    })
                })
                .collect();
            // The readers' bytes, from a plain thread after a while.
            std::thread::sleep(Duration::from_millis(50));
            for _ in 0..20 {
                // SAFETY: writing one byte from a live buffer.
                assert_eq!(unsafe { libc::write(fds[1], [7u8].as_ptr().cast(), 1) }, 1);
            }
            blocked.into_iter().for_each(|h| h.join().unwrap());
            holder.join().unwrap();
            ticker.join().unwrap();
        });
    });
    let s = gort::stats();
    assert!(s.blocked_handoffs >= 1, "{s:?}");
    assert_eq!(s.goroutines, 0, "{s:?}");
}

#[test]
fn cpu_hogs_do_not_stall_others() {
    if !is_child("cpu_hogs_do_not_stall_others") {
        return run_child("cpu_hogs_do_not_stall_others");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    others_make_progress(move || {
        while !s.load(SeqCst) {
            std::hint::spin_loop();
        }
    });
    stop.store(true, SeqCst);
    assert!(gort::stats().retakes >= 1, "{:?}", gort::stats());
}

#[test]
fn a_hog_gets_a_p_back_and_finishes() {
    if !is_child("a_hog_gets_a_p_back_and_finishes") {
        return run_child("a_hog_gets_a_p_back_and_finishes");
    }
    within(60, || {
        let hs: Vec<_> = (0..6u64)
            .map(|i| {
                gort::go(move || {
                    // Busy for 50 ms without a scheduling point, then use the runtime.
                    let t = std::time::Instant::now();
                    while t.elapsed() < Duration::from_millis(50) {
                        std::hint::spin_loop();
                    }
                    let (tx, rx) = gort::chan::bounded(1);
                    gort::go(move || tx.send(i).unwrap());
                    rx.recv().unwrap()
                })
            })
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 15);
    });
}

#[test]
fn short_syscalls_keep_the_thread_count_bounded() {
    if !is_child("short_syscalls_keep_the_thread_count_bounded") {
        return run_child("short_syscalls_keep_the_thread_count_bounded");
    }
    within(60, || {
        gort::run(|| {
            for _ in 0..1000 {
                // A short real syscall, marked.
                // SAFETY: getpid has no preconditions.
                let pid = gort::syscall(|| unsafe { libc::getpid() });
                assert!(pid > 0);
                gort::time::sleep(Duration::from_micros(100));
            }
        });
        let s = gort::stats();
        assert!(s.syscalls >= 1000);
        assert!(
            s.threads <= 8,
            "short syscalls started {} threads: {s:?}",
            s.threads
        );
    });
}

#[test]
fn syscall_on_a_plain_thread_just_runs() {
    assert_eq!(gort::syscall(|| 5), 5);
}

#[test]
fn an_idle_runtime_gets_no_sysmon_wakeups() {
    if !is_child("an_idle_runtime_gets_no_sysmon_wakeups") {
        return run_child("an_idle_runtime_gets_no_sysmon_wakeups");
    }
    gort::run(|| {
        let hs: Vec<_> = (0..100).map(|_| gort::go(gort::yield_now)).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    std::thread::sleep(Duration::from_millis(200));
    let before = gort::stats().sysmon_rounds;
    std::thread::sleep(Duration::from_secs(1));
    let woke = gort::stats().sysmon_rounds - before;
    assert!(woke <= 1, "sysmon woke {woke} times in an idle second");
}

/// Sysmon sleeps at least 20 µs between rounds (Go's back-off) except, once, when a moment
/// it must look at is already due. A bug kept its back-off at zero once such a moment had
/// clamped it: from then on it went round without sleeping (about 780,000 rounds a second,
/// a third of the CPU of a 2-core run) until it next found work or slept for good.
/// Goroutines that each run a little longer than `BLOCKED_AFTER` (200 µs) without a
/// scheduling point make sysmon look at their P just as that moment passes. The bound (one
/// round per 5 µs, four times what a sleeping sysmon can do) fails only if it spins.
#[test]
fn sysmon_sleeps_between_rounds_while_goroutines_come_and_go() {
    if !is_child("sysmon_sleeps_between_rounds_while_goroutines_come_and_go") {
        return run_child("sysmon_sleeps_between_rounds_while_goroutines_come_and_go");
    }
    within(120, || {
        let mut worst = 0.0f64;
        for _ in 0..40 {
            // Idle long enough for sysmon to sleep for good (its longest round is 10 ms):
            // woken by the burst, it starts over at 20 µs rounds.
            std::thread::sleep(Duration::from_millis(15));
            let before = gort::stats().sysmon_rounds;
            let start = std::time::Instant::now();
            let handles: Vec<_> = (0..100)
                .map(|_| {
                    gort::go(|| {
                        let t = std::time::Instant::now();
                        while t.elapsed() < Duration::from_micros(230) {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
            let rounds = (gort::stats().sysmon_rounds - before) as f64;
            worst = worst.max(rounds / start.elapsed().as_micros().max(1) as f64);
        }
        assert!(
            worst <= 0.2,
            "sysmon went round {worst:.2} times a microsecond: it does not sleep between rounds"
        );
    });
}

#[test]
fn schedtrace_prints_a_line_per_interval() {
    if is_child("schedtrace_prints_a_line_per_interval") {
        gort::run(|| {
            for _ in 0..30 {
                gort::time::sleep(Duration::from_millis(10));
            }
        });
        return;
    }
    let out = child(
        "schedtrace_prints_a_line_per_interval",
        &[("GORT_SCHEDTRACE", "50")],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = stderr.lines().filter(|l| l.starts_with("SCHED ")).count();
    assert!(
        lines >= 2,
        "expected SCHED lines every 50 ms over ~300 ms:\n{stderr}"
    );
    assert!(
        stderr.contains("procs=") && stderr.contains("runqueue="),
        "{stderr}"
    );
}
