//! Go's deadlock report: a real deadlock is reported (exit 2), a correct program never is.
//!
//! A test binary without libtest's harness: libtest runs each test on a thread of its own
//! while its main thread waits outside gort, and a thread that gort cannot see might still
//! wake a goroutine, so sysmon (rightly) reports no deadlock there. This binary runs each
//! scenario as a child process of itself, on the child's main thread, several times
//! (`GORT_DEADLOCK_RUNS` sets how many; the no-false-report shapes each failed every time,
//! or 18 times in 20, before the check was rebuilt on exact state).

use gort::chan::{bounded, Receiver, Sender};
use gort::select;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the plain thread of the "later" scenarios waits in a timed gort call.
const LATER: Duration = Duration::from_millis(150);

/// A goroutine waits on an unbuffered channel that the plain main thread sends on after
/// `wait` returns; `wait` is a gort call with a timeout, on the plain thread.
fn thread_sends_after(wait: impl FnOnce()) {
    let (tx, rx) = bounded::<u32>(0);
    let g = gort::go(move || rx.recv().unwrap());
    wait();
    tx.send(7).unwrap();
    assert_eq!(g.join().unwrap(), 7);
    println!("received 7");
}

fn scenario(name: &str) -> bool {
    match name {
        // Real deadlocks: reported.
        "deadlock" => {
            let (tx, rx) = bounded::<u32>(0);
            gort::run(move || {
                let _rx = rx;
                tx.send(1).unwrap(); // nobody ever receives
            });
            unreachable!("the send cannot complete");
        }
        "deadlock_many" => {
            // 100k goroutines stuck on one channel; the main goroutine waits for them.
            let (tx, rx) = bounded::<u32>(0);
            gort::run(move || {
                let hs: Vec<_> = (0..100_000)
                    .map(|_| {
                        let rx = rx.clone();
                        gort::go(move || rx.recv())
                    })
                    .collect();
                for h in hs {
                    let _ = h.join();
                }
                drop(tx);
            });
            unreachable!("the receives cannot complete");
        }
        "deadlock_with_parked_thread" => {
            // A plain thread is parked in gort for good too: it cannot wake anyone.
            let (tx, rx) = bounded::<u32>(0);
            let (tx2, rx2) = bounded::<u32>(0);
            std::thread::spawn(move || {
                let _tx = tx2;
                rx.recv().unwrap()
            });
            gort::run(move || {
                let _tx = tx;
                rx2.recv().unwrap()
            });
            unreachable!("nobody sends");
        }
        "deadlock_after_cancelled_timer" => {
            // The main goroutine waits with a one-hour timeout and is woken early (its
            // timer is cancelled), then waits for good: a real deadlock, reported at once,
            // not when the cancelled hour is up.
            let (tx, rx) = bounded::<u32>(0);
            gort::run(move || {
                gort::go(move || {
                    gort::time::sleep(Duration::from_millis(10));
                    tx.send(1).unwrap();
                });
                rx.recv_timeout(Duration::from_secs(3600)).unwrap();
                let (_never_tx, never) = bounded::<u32>(0);
                never.recv().unwrap()
            });
            unreachable!("nobody sends");
        }
        "deadlock_after_thread_exits" => {
            // A plain thread sleeps in gort, then exits without sending (its sender leaked,
            // so the channel never closes): only then is it a deadlock.
            let (tx, rx) = bounded::<u32>(0);
            std::thread::spawn(move || {
                gort::time::sleep(LATER);
                std::mem::forget(tx);
            });
            gort::run(move || rx.recv().unwrap());
            unreachable!("nobody sends");
        }
        "deadlock_after_hand_offs" => {
            // Two goroutines hand a value back and forth (each park switches straight to
            // the partner it readied), then both wait for values nobody sends.
            let (ping_tx, ping_rx) = bounded::<u32>(0);
            let (pong_tx, pong_rx) = bounded::<u32>(0);
            gort::run(move || {
                let echo = gort::go(move || {
                    for v in &ping_rx {
                        pong_tx.send(v).unwrap();
                    }
                });
                for i in 0..10_000 {
                    ping_tx.send(i).unwrap();
                    pong_rx.recv().unwrap();
                }
                let _keep = ping_tx;
                pong_rx.recv().unwrap(); // the echo waits for a ping, we for a pong
                echo.join().unwrap();
            });
            unreachable!("nobody sends");
        }
        // Correct programs: never reported.
        "goroutine_ping_pong" => {
            // Goroutines hand values back and forth (direct switches between them) while a
            // plain thread waits for the result.
            let (ping_tx, ping_rx) = bounded::<u32>(0);
            let (pong_tx, pong_rx) = bounded::<u32>(0);
            let (done_tx, done_rx) = bounded::<u32>(0);
            gort::go(move || {
                for v in &ping_rx {
                    pong_tx.send(v).unwrap();
                }
            });
            gort::go(move || {
                for i in 0..20_000 {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv().unwrap(), i);
                }
                done_tx.send(20_000).unwrap();
            });
            println!("received {}", done_rx.recv().unwrap());
        }
        "later" => {
            let (tx, rx) = bounded::<u32>(0);
            std::thread::spawn(move || {
                std::thread::sleep(LATER);
                tx.send(7).unwrap();
            });
            let v = gort::run(move || rx.recv().unwrap());
            println!("received {v}");
        }
        "sleep" => thread_sends_after(|| gort::time::sleep(LATER)),
        "recv_timeout" => thread_sends_after(|| {
            let (_tx, rx) = bounded::<u32>(0);
            assert!(rx.recv_timeout(LATER).is_err());
        }),
        "select_timeout" => thread_sends_after(|| {
            let (_tx, rx) = bounded::<u32>(0);
            let r = select! { recv(rx) -> _ => 1, default(LATER) => 2 };
            assert_eq!(r, 2);
        }),
        "cond_wait_timeout" => thread_sends_after(|| {
            let m = gort::sync::Mutex::new(());
            let c = gort::sync::Cond::new();
            let (_g, timed_out) = c.wait_timeout(m.lock(), LATER);
            assert!(timed_out);
        }),
        "semaphore_acquire_until" => thread_sends_after(|| {
            let s = gort::sync::Semaphore::new(1);
            s.acquire(1);
            assert!(!s.acquire_until(1, Instant::now() + LATER));
        }),
        "sleep_ctx" => thread_sends_after(|| {
            let ctx = gort::context::background();
            gort::context::sleep_ctx(&ctx, LATER).unwrap();
        }),
        "waits_for_a_signal" => waits_for_a_signal(),
        "deadlock_with_idle_signal_thread" => deadlock_with_idle_signal_thread(),
        "thread_ping_pong" => {
            // Two plain threads ping-pong over gort channels while the main goroutine
            // waits for them to finish.
            let (done_tx, done_rx) = bounded::<u32>(0);
            let (a_tx, a_rx): (Sender<u32>, Receiver<u32>) = bounded(0);
            let (b_tx, b_rx): (Sender<u32>, Receiver<u32>) = bounded(0);
            const ROUNDS: u32 = 20_000;
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    a_tx.send(i).unwrap();
                    assert_eq!(b_rx.recv().unwrap(), i);
                }
                done_tx.send(ROUNDS).unwrap();
            });
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let v = a_rx.recv().unwrap();
                    b_tx.send(v).unwrap();
                }
            });
            let n = gort::run(move || done_rx.recv().unwrap());
            println!("received {n}");
        }
        _ => return false,
    }
    true
}

/// Waits only for a signal: the signal thread could wake it, so no deadlock (as in Go).
fn waits_for_a_signal() {
    use gort::signal::{self, Signal};
    let got = gort::run(|| {
        let rx = signal::notify(&[Signal::SIGALRM]);
        // SAFETY: plain system call; SIGALRM comes from the kernel in a second.
        unsafe { libc::alarm(1) };
        rx.recv().unwrap()
    });
    println!("received {got}");
}

/// The signal thread exists but relays no signal: it cannot wake anyone, so a deadlock is
/// still reported.
fn deadlock_with_idle_signal_thread() {
    use gort::signal::{self, Signal};
    // The runtime's own default actions (the goroutine dump) cannot wake a goroutine either.
    gort::debug::dump_on(Signal::SIGUSR1).unwrap();
    let rx = signal::notify(&[Signal::SIGUSR2]);
    signal::stop(&rx);
    scenario("deadlock");
}

/// What a scenario must end with.
enum Expect {
    Deadlock,
    Received,
}

/// Extra environment of a scenario's child process.
type Env = &'static [(&'static str, &'static str)];

const SCENARIOS: &[(&str, Expect, Env)] = &[
    ("deadlock", Expect::Deadlock, &[]),
    // GORT_SCHEDTRACE used to switch the check off: a real deadlock then hung.
    ("deadlock", Expect::Deadlock, &[("GORT_SCHEDTRACE", "20")]),
    ("deadlock_many", Expect::Deadlock, &[]),
    ("deadlock_with_parked_thread", Expect::Deadlock, &[]),
    ("deadlock_after_thread_exits", Expect::Deadlock, &[]),
    ("deadlock_after_cancelled_timer", Expect::Deadlock, &[]),
    ("deadlock_after_hand_offs", Expect::Deadlock, &[]),
    (
        "deadlock_after_hand_offs",
        Expect::Deadlock,
        &[("GOMAXPROCS", "1")],
    ),
    ("later", Expect::Received, &[]),
    ("sleep", Expect::Received, &[]),
    ("recv_timeout", Expect::Received, &[]),
    ("select_timeout", Expect::Received, &[]),
    ("cond_wait_timeout", Expect::Received, &[]),
    ("semaphore_acquire_until", Expect::Received, &[]),
    ("sleep_ctx", Expect::Received, &[]),
    ("thread_ping_pong", Expect::Received, &[]),
    ("thread_ping_pong", Expect::Received, &[("GOMAXPROCS", "1")]),
    ("goroutine_ping_pong", Expect::Received, &[]),
    (
        "goroutine_ping_pong",
        Expect::Received,
        &[("GOMAXPROCS", "1")],
    ),
    // Waiting only for a signal is no deadlock (the signal thread relays it, as in Go);
    // an idle signal thread (relaying nothing) does not hide one.
    ("waits_for_a_signal", Expect::Received, &[]),
    ("deadlock_with_idle_signal_thread", Expect::Deadlock, &[]),
];

/// Runs a scenario in a child process; `None` if it hung.
fn child(scenario: &str, env: &[(&str, &str)]) -> Option<std::process::Output> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.arg(scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // A generous limit turns a hang (a missed deadlock report) into a failure.
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let mut filter = None;
    if let Some(name) = std::env::args().nth(1) {
        if scenario(&name) {
            return;
        }
        // libtest-style arguments: a filter (a part of a scenario's name), or flags.
        if !name.starts_with('-') {
            filter = Some(name);
        }
    }
    let runs: usize = std::env::var("GORT_DEADLOCK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (mut passed, mut failed) = (0, 0);
    for (name, expect, env) in SCENARIOS {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let label = if env.is_empty() {
            name.to_string()
        } else {
            format!("{name} {env:?}")
        };
        let mut why = None;
        for run in 0..runs {
            let Some(out) = child(name, env) else {
                why = Some(format!("run {run}: hung for 60 s"));
                break;
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let ok = match expect {
                Expect::Deadlock => {
                    out.status.code() == Some(2)
                        && stderr.contains("fatal error: all goroutines are asleep - deadlock!")
                }
                Expect::Received => out.status.success() && stdout.contains("received"),
            };
            if !ok {
                why = Some(format!("run {run}: {:?}\n{stderr}", out.status));
                break;
            }
        }
        match why {
            None => {
                println!("test {label} ... ok");
                passed += 1;
            }
            Some(why) => {
                println!("test {label} ... FAILED\n{why}");
                failed += 1;
            }
        }
    }
    println!("deadlock: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
