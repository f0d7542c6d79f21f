//! What the numbers were measured on: CPU, cores, memory, kernel, and the versions of Go,
//! rustc and every Rust peer (from Cargo.lock).

use std::path::Path;
use std::process::Command;

/// The machine and software of a run, as Markdown lines.
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub mem_gib: f64,
    pub kernel: String,
    pub software: String,
}

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// The version of `name` in Cargo.lock.
fn locked(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == format!("name = \"{name}\"") {
            let v = lines.next()?;
            return Some(
                v.trim_start_matches("version = ")
                    .trim_matches('"')
                    .to_string(),
            );
        }
    }
    None
}

impl Machine {
    /// Reads /proc, `uname`, `go version`, `rustc -V`, `wrk --version` and Cargo.lock.
    pub fn probe(root: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or("unknown CPU".into(), |s| s.trim().to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = first_line("uname", &["-sr"]).unwrap_or_else(|| "unknown kernel".into());
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
        let mut sw = Vec::new();
        if let Some(go) = first_line("go", &["version"]) {
            sw.push(go.trim_start_matches("go version ").to_string());
        }
        if let Some(rustc) = first_line("rustc", &["-V"]) {
            sw.push(rustc);
        }
        for c in [
            "tokio",
            "may",
            "crossbeam-channel",
            "flume",
            "may_minihttp",
            "criterion",
        ] {
            if let Some(v) = locked(&lock, c) {
                sw.push(format!("{c} {v}"));
            }
        }
        if let Some(wrk) = first_line("wrk", &["--version"]) {
            sw.push(wrk.split(" [").next().unwrap_or(&wrk).to_string());
        }
        Machine {
            cpu,
            cores,
            mem_gib: mem_kib / 1024.0 / 1024.0,
            kernel,
            software: sw.join(", "),
        }
    }

    /// One line naming the machine.
    pub fn line(&self) -> String {
        format!(
            "{} cores of {}, {:.0} GiB, {}",
            self.cores, self.cpu, self.mem_gib, self.kernel
        )
    }
}
