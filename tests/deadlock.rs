//! Go's deadlock report. A test binary without libtest's harness: libtest runs each test on
//! a thread of its own while its main thread waits outside gort, and a thread that gort
//! cannot see might still wake a goroutine, so sysmon (rightly) reports no deadlock there.
//! This binary runs each scenario as a child process of itself, on the child's main thread.

use std::process::Command;
use std::time::Duration;

fn deadlock() {
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    gort::run(move || {
        let _rx = rx;
        tx.send(1).unwrap(); // nobody ever receives
    });
    unreachable!("the send cannot complete");
}

fn plain_thread_sends_later() {
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(7).unwrap();
    });
    let v = gort::run(move || rx.recv().unwrap());
    println!("received {v} from a plain thread");
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
    gort_runtime::signal::set_default_action(Signal::SIGUSR1, Some(std::sync::Arc::new(|_| ())))
        .unwrap();
    let rx = signal::notify(&[Signal::SIGUSR2]);
    signal::stop(&rx);
    deadlock();
}

fn child(scenario: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.arg(scenario);
    // A generous limit turns a hang (a missed deadlock report) into a failure.
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("scenario {scenario} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("deadlock") => return deadlock(),
        Some("later") => return plain_thread_sends_later(),
        Some("signal") => return waits_for_a_signal(),
        Some("signal-idle") => return deadlock_with_idle_signal_thread(),
        _ => {}
    }
    let mut failed = 0;
    for (scenario, name) in [
        ("deadlock", "a_deadlock_is_reported_not_hung"),
        (
            "signal-idle",
            "a_deadlock_is_reported_while_no_signal_is_relayed",
        ),
    ] {
        let out = child(scenario);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(2)
            && stderr.contains("fatal error: all goroutines are asleep - deadlock!")
        {
            println!("test {name} ... ok");
        } else {
            println!("test {name} ... FAILED\n{:?}\n{stderr}", out.status);
            failed += 1;
        }
    }
    let out = child("signal");
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("received SIGALRM") {
        println!("test waiting_for_a_signal_is_no_deadlock ... ok");
    } else {
        println!(
            "test waiting_for_a_signal_is_no_deadlock ... FAILED\n{:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        failed += 1;
    }
    let out = child("later");
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("received 7") {
        println!("test a_plain_thread_that_sends_later_is_no_deadlock ... ok");
    } else {
        println!(
            "test a_plain_thread_that_sends_later_is_no_deadlock ... FAILED\n{:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        failed += 1;
    }
    println!("deadlock: {} passed, {failed} failed", 4 - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
