//! Measuring one cell: building what the workloads need, then running a criterion bench, a
//! network server under load, the ticker, or the RSS program, as a separate process, and
//! reading its number.

use crate::workloads::{Col, How, Server};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Sizes and durations of one run (full or `--quick`).
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Criterion warm-up and measurement time, seconds.
    pub warm_up: f64,
    pub measure: f64,
    /// Seconds of load per echo or HTTP measurement.
    pub net_secs: f64,
    /// Ticks of the 1 ms ticker.
    pub ticks: u32,
    /// Goroutine counts for the memory measurement; the table quotes the largest.
    pub rss_counts: Vec<usize>,
    /// Goroutines spawned from a plain thread and joined one by one.
    pub spawn_handles: usize,
    /// Connections of the timers workload (an echo server resetting a read deadline per
    /// message).
    pub timer_conns: usize,
}

/// Everything built for the run, and where the results go.
pub struct Lab {
    pub root: PathBuf,
    pub target: PathBuf,
    pub sizes: Sizes,
    criterion_home: PathBuf,
    benches: HashMap<String, PathBuf>,
    examples: HashMap<String, PathBuf>,
    /// Go programs by name, when Go is installed.
    go: HashMap<String, PathBuf>,
    pub have_go: bool,
    pub have_wrk: bool,
    /// Server CPU per message (or request) of the echo and HTTP runs not yet claimed by a
    /// `ServerCpu` cell, in run order per server: one load run gives both the rate and the
    /// server's CPU.
    server_cpu: RefCell<HashMap<Server, VecDeque<Outcome>>>,
    /// Clock ticks per second of /proc/<pid>/stat.
    clk_tck: f64,
}

/// One measurement, or why there is none.
pub type Outcome = Result<f64, String>;

const BENCHES: [&str; 6] = [
    "spawn_join",
    "spawn_handles",
    "yield_switch",
    "channels",
    "context",
    "net_peers",
];
const EXAMPLES: [&str; 4] = ["echo", "http_hello", "ticker_lateness", "rss_per_goroutine"];
const GO_PROGRAMS: [&str; 7] = ["sched", "chan", "context", "echo", "http", "ticker", "rss"];

/// The longest any one measurement may take before it counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(300);

/// Runs `cmd` to completion (killing it after [`HANG_LIMIT`]) and returns its stdout, or an
/// error with the end of its stderr.
fn run_checked(cmd: &mut Command, what: &str) -> Result<String, String> {
    // Output goes to files, so a chatty child never blocks on a full pipe while we wait.
    let dir = std::env::temp_dir();
    let tag = format!("gort-compare-{}", std::process::id());
    let (out_path, err_path) = (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    );
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{what}: {e}"));
    let mut child = cmd
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            break Some(status);
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    let tail = || {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    match status {
        None => Err(format!(
            "{what}: no result after {} s, killed",
            HANG_LIMIT.as_secs()
        )),
        Some(s) if !s.success() => Err(format!("{what} failed ({s}): {}", tail())),
        Some(_) => Ok(stdout),
    }
}

/// Runs a build step (its progress on our stderr, no time limit) and returns its stdout.
fn run_build(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `"executable":"<path>"` values of cargo's JSON messages for the given target names.
fn executables(json: &str, kind_marker: &str, names: &[&str]) -> HashMap<String, PathBuf> {
    let mut found = HashMap::new();
    for line in json.lines().filter(|l| l.contains(kind_marker)) {
        let Some(exe) = line.split("\"executable\":\"").nth(1) else {
            continue;
        };
        let exe = &exe[..exe.find('"').unwrap_or(exe.len())];
        for n in names {
            if line.contains(&format!("\"name\":\"{n}\"")) {
                found.insert(n.to_string(), PathBuf::from(exe));
            }
        }
    }
    found
}

impl Lab {
    /// Builds the bench binaries, the examples and the Go programs.
    pub fn build(root: &Path, sizes: Sizes) -> Result<Lab, String> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            root.join(target)
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("compare: building the benches and examples (release)...");
        let mut bench = Command::new(&cargo);
        bench
            .current_dir(root)
            .args(["bench", "--no-run", "--message-format=json", "-p", "gort"]);
        for b in BENCHES {
            bench.args(["--bench", b]);
        }
        let json = run_build(&mut bench, "cargo bench --no-run")?;
        let benches = executables(&json, "\"kind\":[\"bench\"]", &BENCHES);
        let mut ex = Command::new(&cargo);
        ex.current_dir(root)
            .args(["build", "--release", "--message-format=json", "-p", "gort"]);
        for e in EXAMPLES {
            ex.args(["--example", e]);
        }
        let json = run_build(&mut ex, "cargo build --examples")?;
        let examples = executables(&json, "\"kind\":[\"example\"]", &EXAMPLES);
        for n in BENCHES {
            if !benches.contains_key(n) {
                return Err(format!("bench binary {n} was not built"));
            }
        }
        for n in EXAMPLES {
            if !examples.contains_key(n) {
                return Err(format!("example {n} was not built"));
            }
        }

        // The Go programs go where benches/support/go_peer.rs looks for them.
        let go_dir = root.join("target").join("go-bench");
        let mut go = HashMap::new();
        let have_go = Command::new("go").arg("version").output().is_ok();
        if have_go {
            std::fs::create_dir_all(&go_dir).map_err(|e| e.to_string())?;
            for p in GO_PROGRAMS {
                let out = go_dir.join(p);
                run_build(
                    Command::new("go")
                        .current_dir(root.join("benches").join("go"))
                        .args(["build", "-o"])
                        .arg(&out)
                        .arg(format!("./{p}")),
                    &format!("go build ./{p}"),
                )?;
                go.insert(p.to_string(), out);
            }
        } else {
            eprintln!("compare: Go is not installed (apt-get install golang-go): no Go column");
        }
        let have_wrk = Command::new("wrk").arg("--version").output().is_ok();
        if !have_wrk {
            eprintln!("compare: wrk is not installed (apt-get install wrk): no HTTP row");
        }
        let criterion_home = target.join("compare-criterion");
        // USER_HZ: 100 on every Linux architecture in practice; asked in case it is not.
        let clk_tck = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        Ok(Lab {
            root: root.to_path_buf(),
            target,
            sizes,
            criterion_home,
            benches,
            examples,
            go,
            have_go,
            have_wrk,
            server_cpu: RefCell::new(HashMap::new()),
            clk_tck,
        })
    }

    /// Measures one cell; `procs` sets GOMAXPROCS (gort, Go, and the benches' tokio and may
    /// worker counts follow it).
    pub fn measure(&self, col: Col, how: &How, procs: Option<usize>) -> Outcome {
        if col == Col::Go && !self.have_go {
            return Err("Go not installed".into());
        }
        match how {
            How::Criterion { bench, id } => self.criterion(bench, id, procs),
            How::SpawnHandles => self.spawn_handles(col, procs),
            How::Echo(server) => self.echo(*server),
            How::ServerCpu(server) => self.server_cpu(*server),
            How::Http(server) => self.http(*server),
            How::Ticker { mode } => self.ticker(col, mode),
            How::Sleepers { mode } => self.sleepers(col, mode),
            How::Rss | How::Park => {
                let n = *self.sizes.rss_counts.iter().max().expect("an RSS count");
                let p = self.parked(col, n)?;
                Ok(if let How::Rss = how {
                    p.total
                } else {
                    p.secs * 1e3
                })
            }
        }
    }

    /// Runs one criterion bench id and returns its median, in ns per iteration.
    fn criterion(&self, bench: &str, id: &str, procs: Option<usize>) -> Outcome {
        let estimates = self
            .criterion_home
            .join(id)
            .join("new")
            .join("estimates.json");
        let _ = std::fs::remove_file(&estimates);
        let mut cmd = Command::new(&self.benches[bench]);
        cmd.current_dir(&self.root)
            .env("CRITERION_HOME", &self.criterion_home)
            .args(["--bench", "--exact", id, "--noplot", "--warm-up-time"])
            .arg(self.sizes.warm_up.to_string())
            .arg("--measurement-time")
            .arg(self.sizes.measure.to_string());
        if let Some(p) = procs {
            cmd.env("GOMAXPROCS", p.to_string());
        }
        run_checked(&mut cmd, &format!("{bench} {id}"))?;
        let json = std::fs::read_to_string(&estimates).map_err(|_| {
            format!("{id}: criterion wrote no estimate (not built with this peer?)")
        })?;
        median_estimate(&json).ok_or_else(|| format!("{id}: unreadable estimates.json"))
    }

    /// Spawn N goroutines from a plain thread and join each handle (`benches/spawn_handles.rs`,
    /// Go's `sched -bench spawn-handles`); ns per goroutine.
    fn spawn_handles(&self, col: Col, procs: Option<usize>) -> Outcome {
        let n = self.sizes.spawn_handles.to_string();
        let mut cmd = match col {
            Col::Go => {
                let mut c = Command::new(&self.go["sched"]);
                c.args(["-bench", "spawn-handles", "-n", &n]);
                c
            }
            Col::Gort | Col::Tokio | Col::May => {
                let mut c = Command::new(&self.benches["spawn_handles"]);
                c.args([col.name(), &n]);
                c
            }
            _ => unreachable!("no spawn-handles program for {col:?}"),
        };
        if let Some(p) = procs {
            cmd.env("GOMAXPROCS", p.to_string());
        }
        let out = run_checked(&mut cmd, &format!("spawn-handles {}", col.name()))?;
        if col == Col::Go {
            // Go's twin prints the elapsed nanoseconds.
            let ns: f64 = out
                .trim()
                .parse()
                .map_err(|_| format!("Go printed no time: {out}"))?;
            return Ok(ns / self.sizes.spawn_handles as f64);
        }
        // "spawned and joined 1000000 goroutines in 0.580 s: 580.3 ns/goroutine"
        out.split(" ns/goroutine")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("spawn_handles printed no time: {out}"))
    }

    /// The echo example's load client (100 connections) against `server`, or the timers
    /// workload's client against a deadline server; messages per second. The server's own
    /// CPU time (user + system, from /proc/<pid>/stat) over the load, per
    /// message, is kept for the `ServerCpu` cell of the same server.
    fn echo(&self, server: Server) -> Outcome {
        let addr = free_addr()?;
        let echo = &self.examples["echo"];
        let mut cmd = match server {
            Server::GortEcho => Command::new(echo),
            Server::GoEcho | Server::GoDeadlineEcho => Command::new(&self.go["echo"]),
            Server::TokioEcho
            | Server::MayEcho
            | Server::GortDeadlineEcho
            | Server::TokioDeadlineEcho
            | Server::MayDeadlineEcho => Command::new(&self.benches["net_peers"]),
            _ => unreachable!("not an echo server"),
        };
        match server {
            Server::GortEcho => cmd.args(["--server", &addr]),
            Server::TokioEcho => cmd.args(["tokio-echo", &addr]),
            Server::MayEcho => cmd.args(["may-echo", &addr]),
            Server::GoDeadlineEcho => cmd.args([&addr, "deadline"]),
            Server::GortDeadlineEcho => cmd.args(["gort-deadline-echo", &addr]),
            Server::TokioDeadlineEcho => cmd.args(["tokio-deadline-echo", &addr]),
            Server::MayDeadlineEcho => cmd.args(["may-deadline-echo", &addr]),
            _ => cmd.arg(&addr),
        };
        let srv = self.start_server(&mut cmd, &addr)?;
        if server.resets_deadlines() {
            return self.deadline_load(server, srv, &addr);
        }
        let cpu_before = self.cpu_secs(srv.0.id());
        let out = run_checked(
            Command::new(echo).args([
                "--client",
                &addr,
                "--load",
                "100",
                "--duration",
                &self.sizes.net_secs.to_string(),
            ]),
            "echo client",
        );
        let cpu_after = self.cpu_secs(srv.0.id());
        drop(srv);
        let parsed = out.and_then(|out| {
            // "echo: 100 connections, 504000 messages of 64 bytes in 4.00 s: 126000 msgs/s, ..."
            let rate: Option<f64> = out
                .split(" msgs/s")
                .next()
                .and_then(|s| s.rsplit(' ').next())
                .and_then(|v| v.parse().ok());
            let msgs: Option<f64> = out
                .split(" messages of")
                .next()
                .and_then(|s| s.rsplit(' ').next())
                .and_then(|v| v.parse().ok());
            match (rate, msgs) {
                (Some(r), Some(m)) => Ok((r, m)),
                _ => Err(format!("echo client printed no rate: {out}")),
            }
        });
        self.keep_server_cpu(server, parsed, cpu_before, cpu_after, "the echo client")
    }

    /// Keeps the server's CPU per unit of a load run (`parsed`: its rate and how many
    /// units it did) for the `ServerCpu` cell of the same server; returns the rate.
    fn keep_server_cpu(
        &self,
        server: Server,
        parsed: Result<(f64, f64), String>,
        cpu_before: Result<f64, String>,
        cpu_after: Result<f64, String>,
        client: &str,
    ) -> Outcome {
        let cpu = match (&parsed, cpu_before, cpu_after) {
            (Err(e), _, _) => Err(e.clone()),
            (Ok((_, n)), Ok(b), Ok(a)) if *n > 0.0 => Ok((a - b) / n * 1e6),
            (Ok(_), Ok(_), Ok(_)) => Err(format!("{client} got nothing through")),
            (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        };
        self.server_cpu
            .borrow_mut()
            .entry(server)
            .or_default()
            .push_back(cpu);
        parsed.map(|(rate, _)| rate)
    }

    /// The timers workload's client (`net_peers deadline-client`) against a deadline server:
    /// messages per second over a window that opens once every connection made a round
    /// trip, so connecting and accepting are left out; the server's CPU per message over the
    /// same window is kept for the `ServerCpu` cell.
    fn deadline_load(&self, server: Server, srv: RunningServer, addr: &str) -> Outcome {
        let out = run_checked(
            Command::new(&self.benches["net_peers"]).args([
                "deadline-client",
                addr,
                &self.sizes.timer_conns.to_string(),
                &self.sizes.net_secs.to_string(),
                &srv.0.id().to_string(),
            ]),
            "deadline client",
        );
        drop(srv);
        // "deadline client: 10000 connections, ... s: 80000 msgs/s, server CPU 5.120 us/message"
        let field = |out: &str, before: &str| -> Option<f64> {
            out.split(before).next()?.rsplit(' ').next()?.parse().ok()
        };
        let parsed =
            out.and_then(
                |out| match (field(&out, " msgs/s"), field(&out, " us/message")) {
                    (Some(rate), Some(cpu)) => Ok((rate, cpu)),
                    _ => Err(format!("deadline client printed no rate: {out}")),
                },
            );
        self.server_cpu
            .borrow_mut()
            .entry(server)
            .or_default()
            .push_back(parsed.clone().map(|(_, cpu)| cpu));
        parsed.map(|(rate, _)| rate)
    }

    /// The server's CPU per message (µs) of the oldest echo run of `server` not yet
    /// claimed, or of a new run when there is none (a `--only` without the rate row).
    fn server_cpu(&self, server: Server) -> Outcome {
        let queued = |lab: &Lab| {
            lab.server_cpu
                .borrow_mut()
                .get_mut(&server)
                .and_then(VecDeque::pop_front)
        };
        if let Some(r) = queued(self) {
            return r;
        }
        match server {
            Server::GortHttp | Server::GoHttp | Server::MayHttp => self.http(server)?,
            _ => self.echo(server)?,
        };
        queued(self).unwrap_or_else(|| Err("no load run".into()))
    }

    /// User + system CPU seconds of process `pid` so far, all its threads (dead ones too),
    /// from /proc/<pid>/stat.
    fn cpu_secs(&self, pid: u32) -> Result<f64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("server CPU: /proc/{pid}/stat: {e}"))?;
        // After the command name (in parentheses, which may hold spaces): field 3 onwards;
        // utime and stime are fields 14 and 15.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .ok_or("server CPU: unreadable /proc stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64, String> {
            f.get(i - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| "server CPU: unreadable /proc stat".to_string())
        };
        Ok((ticks(14)? + ticks(15)?) / self.clk_tck)
    }

    fn http(&self, server: Server) -> Outcome {
        if !self.have_wrk {
            return Err("wrk not installed".into());
        }
        let addr = free_addr()?;
        let mut cmd = match server {
            Server::GortHttp => Command::new(&self.examples["http_hello"]),
            Server::GoHttp => Command::new(&self.go["http"]),
            Server::MayHttp => Command::new(&self.benches["net_peers"]),
            _ => unreachable!("not an HTTP server"),
        };
        match server {
            Server::GortHttp => cmd.args(["--server", &addr]),
            Server::MayHttp => cmd.args(["may-http", &addr]),
            _ => cmd.arg(&addr),
        };
        let srv = self.start_server(&mut cmd, &addr)?;
        let secs = self.sizes.net_secs.ceil().max(1.0) as u64;
        let cpu_before = self.cpu_secs(srv.0.id());
        let out = run_checked(
            Command::new("wrk").args([
                "-t2",
                "-c100",
                &format!("-d{secs}s"),
                &format!("http://{addr}/"),
            ]),
            "wrk",
        );
        let cpu_after = self.cpu_secs(srv.0.id());
        drop(srv);
        let parsed = out.and_then(|out| {
            // "  755367 requests in 4.00s, 62.67MB read" ... "Requests/sec: 188841.75"
            let rate: Option<f64> = out
                .lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok());
            let requests: Option<f64> = out
                .lines()
                .find(|l| l.contains(" requests in "))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|v| v.parse().ok());
            match (rate, requests) {
                (Some(r), Some(n)) => Ok((r, n)),
                _ => Err(format!("wrk printed no rate: {out}")),
            }
        });
        self.keep_server_cpu(server, parsed, cpu_before, cpu_after, "wrk")
    }

    /// Starts a server (output to `compare-server.log` in the target directory) and waits
    /// until it accepts connections; it is killed when the returned value is dropped.
    fn start_server(&self, cmd: &mut Command, addr: &str) -> Result<RunningServer, String> {
        let log_path = self.target.join("compare-server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start server: {e}"))?;
        let mut srv = RunningServer(child);
        wait_listening(addr, &mut srv.0, &log_path)?;
        Ok(srv)
    }

    fn ticker(&self, col: Col, mode: &str) -> Outcome {
        let ticks = self.sizes.ticks.to_string();
        let mut cmd = match col {
            Col::Gort => Command::new(&self.examples["ticker_lateness"]),
            Col::Go => Command::new(&self.go["ticker"]),
            _ => unreachable!("no ticker program for {col:?}"),
        };
        let out = run_checked(cmd.args([mode, &ticks]), "ticker")?;
        // "... lateness p50=12us p99=116us max=..."
        out.split("p99=")
            .nth(1)
            .and_then(|s| s.split("us").next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("ticker printed no p99: {out}"))
    }

    /// Milliseconds until 1000 goroutines in a 500 ms blocking sleep finished (the ticker
    /// program's `sleeps` modes).
    fn sleepers(&self, col: Col, mode: &str) -> Outcome {
        let mut cmd = match col {
            Col::Gort => Command::new(&self.examples["ticker_lateness"]),
            Col::Go => Command::new(&self.go["ticker"]),
            _ => unreachable!("no sleepers program for {col:?}"),
        };
        // Enough ticks to outlast the sleepers.
        let out = run_checked(cmd.args([mode, "700"]), "sleepers")?;
        // "1000 sleepers of 500 ms done in 712ms"
        out.split("done in ")
            .nth(1)
            .and_then(|s| s.split("ms").next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("sleepers printed no time: {out}"))
    }

    /// Memory per parked goroutine (task, coroutine) at `n`, and the time to park them.
    pub fn parked(&self, col: Col, n: usize) -> Result<Parked, String> {
        let n = n.to_string();
        let mut cmd = match col {
            Col::Go => {
                if !self.have_go {
                    return Err("Go not installed".into());
                }
                let mut c = Command::new(&self.go["rss"]);
                c.arg(&n);
                c
            }
            Col::Gort | Col::Tokio | Col::May => {
                let mut c = Command::new(&self.examples["rss_per_goroutine"]);
                c.args([col.name(), &n]);
                c
            }
            _ => unreachable!("no RSS program for {col:?}"),
        };
        let out = run_checked(&mut cmd, &format!("rss {} {n}", col.name()))?;
        Parked::parse(&out).ok_or_else(|| format!("rss printed no sizes: {out}"))
    }
}

/// What the memory programs print about `n` parked goroutines.
#[derive(Clone, Copy, Debug)]
pub struct Parked {
    /// KiB of RSS plus page tables per goroutine: what the user pays.
    pub total: f64,
    /// KiB of RSS alone per goroutine.
    pub rss: f64,
    /// Seconds from the first spawn until all were parked.
    pub secs: f64,
}

impl Parked {
    /// The median of each field over `runs` (not empty), field by field, as a row's cell
    /// takes it.
    pub fn median(runs: &[Parked]) -> Parked {
        let med = |f: fn(&Parked) -> f64| {
            let cell = crate::report::Cell {
                runs: runs.iter().map(f).collect(),
                error: None,
            };
            cell.median().expect("no runs")
        };
        Parked {
            total: med(|p| p.total),
            rss: med(|p| p.rss),
            secs: med(|p| p.secs),
        }
    }

    /// Parses "... parked: 4.71 KiB RSS+PT each (4.45 KiB RSS, 0.26 KiB page tables; 0.284 s
    /// to park them)".
    fn parse(out: &str) -> Option<Parked> {
        let line = out.lines().find(|l| l.contains(" KiB RSS+PT each"))?;
        let total = line.split(" KiB RSS+PT each").next()?.rsplit(' ').next()?;
        let rss = line.split(" KiB RSS,").next()?.rsplit('(').next()?;
        let secs = line.split(" s to park").next()?.rsplit(' ').next()?;
        Some(Parked {
            total: total.parse().ok()?,
            rss: rss.trim().parse().ok()?,
            secs: secs.parse().ok()?,
        })
    }
}

/// The median point estimate from criterion's estimates.json.
fn median_estimate(json: &str) -> Option<f64> {
    let median = json.split("\"median\":").nth(1)?;
    let pe = median.split("\"point_estimate\":").nth(1)?;
    pe[..pe.find([',', '}'])?].trim().parse().ok()
}

/// A loopback address with a port that was free a moment ago.
fn free_addr() -> Result<String, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.to_string())
}

/// Waits until the server accepts connections (or has exited).
fn wait_listening(addr: &str, srv: &mut Child, log: &Path) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect(addr).is_ok() {
            // Let the server finish serving that probe's close.
            std::thread::sleep(Duration::from_millis(50));
            return Ok(());
        }
        if let Ok(Some(status)) = srv.try_wait() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("server exited ({status}): {}", err.trim()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("server did not listen on {addr} within 10 s"))
}

/// A server process that is killed when dropped.
struct RunningServer(Child);

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
