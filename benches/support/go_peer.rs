//! Runs the Go peer of a bench (a program under `benches/go/`) when `go` is installed.
//! The Go program times the workload itself and prints nanoseconds, so process start-up
//! is not measured.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Path of the built Go program `name` (`benches/go/<name>`), or `None` without Go.
pub fn go_binary(name: &str) -> Option<PathBuf> {
    static WARNED: OnceLock<()> = OnceLock::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("go-bench").join(name);
    if out.exists() {
        return Some(out);
    }
    let built = Command::new("go")
        .current_dir(root.join("benches").join("go"))
        .args(["build", "-o"])
        .arg(&out)
        .arg(format!("./{name}"))
        .status();
    match built {
        Ok(s) if s.success() => Some(out),
        _ => {
            WARNED.get_or_init(|| {
                eprintln!(
                    "note: Go is not installed (apt-get install golang-go): skipping Go peers"
                )
            });
            None
        }
    }
}

/// Runs the Go program with `args` and returns the time it reported.
pub fn run_go(bin: &PathBuf, args: &[&str]) -> Duration {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("run Go bench program");
    assert!(
        out.status.success(),
        "Go bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ns: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("Go printed ns");
    Duration::from_nanos(ns)
}
