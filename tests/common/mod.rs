//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Spawns `n` goroutines that do nothing but yield until `stop` is set: they keep their Ps
/// busy without ever blocking.
pub fn spawn_yielders(n: usize, stop: &Arc<AtomicBool>) -> Vec<gort::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            gort::go(move || {
                while !stop.load(SeqCst) {
                    gort::yield_now();
                }
            })
        })
        .collect()
}

/// Runs `f` on a fresh thread and fails the test if it takes longer than `secs`: the
/// timeout only turns a hang into a failure, it asserts nothing about speed.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("test hung: no result after {secs} s"),
    }
}

/// The OS thread id of the caller.
pub fn tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// Whether this process is a child started by [`child`] for test `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var("GORT_TEST_CHILD").is_ok_and(|v| v == name)
}

/// Re-runs the current test binary with only test `name`, in a child process with extra
/// environment `env`, and returns its output.
pub fn child(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORT_TEST_CHILD", name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn child test process")
}

/// Runs test `name` in a child process (see [`child`]) and fails with its output unless it
/// succeeded.
pub fn child_ok(name: &str, env: &[(&str, &str)]) {
    let out = child(name, env);
    assert!(
        out.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// CPU time (user + system) this process has used.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
