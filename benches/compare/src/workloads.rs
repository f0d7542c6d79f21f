//! The workloads: DESIGN.md's Targets table, one row per workload, with the cell of every
//! runtime that can run it and the reason for every one that cannot.

/// A column of the results table: the runtime (or channel library) that ran the cell.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Col {
    Gort,
    Go,
    Tokio,
    May,
    Crossbeam,
    Flume,
    StdMpsc,
}

impl Col {
    /// Every column, in table order.
    pub const ALL: [Col; 7] = [
        Col::Gort,
        Col::Go,
        Col::Tokio,
        Col::May,
        Col::Crossbeam,
        Col::Flume,
        Col::StdMpsc,
    ];

    /// The column's heading.
    pub fn name(self) -> &'static str {
        match self {
            Col::Gort => "gort",
            Col::Go => "Go",
            Col::Tokio => "tokio",
            Col::May => "may",
            Col::Crossbeam => "crossbeam",
            Col::Flume => "flume",
            Col::StdMpsc => "std mpsc",
        }
    }
}

/// Which way is better for a row's unit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Better {
    Lower,
    Higher,
}

/// A network server measured by the echo or HTTP load.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Server {
    GortEcho,
    GoEcho,
    TokioEcho,
    MayEcho,
    GortHttp,
    GoHttp,
    MayHttp,
    /// The timers workload: echo servers that reset a read deadline before every read.
    GortDeadlineEcho,
    GoDeadlineEcho,
    TokioDeadlineEcho,
    MayDeadlineEcho,
}

impl Server {
    /// Whether this is a server of the timers workload.
    pub fn resets_deadlines(self) -> bool {
        matches!(
            self,
            Server::GortDeadlineEcho
                | Server::GoDeadlineEcho
                | Server::TokioDeadlineEcho
                | Server::MayDeadlineEcho
        )
    }
}

/// How one cell is measured.
#[derive(Clone, Debug)]
pub enum How {
    /// A criterion bench: `bench` binary, `id` = "group/function"; ns per iteration.
    Criterion {
        bench: &'static str,
        id: &'static str,
    },
    /// Spawn N goroutines from a plain thread, keep every handle, join each; ns per
    /// goroutine.
    SpawnHandles,
    /// The echo example's load client (100 connections, 64-byte messages) against a server,
    /// or for a deadline server the timers client (`net_peers deadline-client`: 10,000
    /// connections, counted once all are served); messages per second.
    Echo(Server),
    /// The server's own CPU time (user + system) over an `Echo` (or `Http`) run of the same
    /// server, per message (request), µs: the runtime's cost with the shared client taken
    /// out.
    ServerCpu(Server),
    /// `wrk -t2 -c100` against a server; requests per second.
    Http(Server),
    /// The 1 ms ticker beside 4 misbehaving goroutines (`syscalls` or `hogs`), procs=2; p99
    /// lateness in µs.
    Ticker { mode: &'static str },
    /// 1000 goroutines in a 500 ms blocking sleep (`sleeps`: unmarked in gort;
    /// `sleeps-marked`: inside `gort::syscall`; Go marks its system calls itself) beside
    /// the 1 ms ticker, procs=2; milliseconds until all 1000 finished.
    Sleepers { mode: &'static str },
    /// RSS plus page tables per parked goroutine at the largest count of the run, KiB.
    Rss,
    /// Milliseconds to spawn the largest count of the run and see them all parked.
    Park,
}

/// A target from DESIGN.md, checked against the run.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// gort / Go must be at most this.
    GoAtMost(f64),
    /// gort / this column must be at most this.
    PeerAtMost(Col, f64),
    /// gort / this column must be at least this.
    PeerAtLeast(Col, f64),
    /// gort / the best other column (by the row's direction, Go included) must be at
    /// least this: for rows where higher is better.
    BestPeerAtLeast(f64),
    /// gort's own value must be at most this.
    ValueAtMost(f64),
}

impl Target {
    /// The target as DESIGN.md states it.
    pub fn text(self, unit: &str) -> String {
        match self {
            Target::GoAtMost(r) => format!("<= {r}x Go"),
            Target::PeerAtMost(c, r) => format!("<= {r}x {}", c.name()),
            Target::PeerAtLeast(c, r) => format!(">= {r}x {}", c.name()),
            Target::BestPeerAtLeast(r) => format!(">= {r}x best peer"),
            Target::ValueAtMost(v) => format!("<= {v} {unit}"),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short key, for `--only` and the plots.
    pub key: &'static str,
    /// What the row measures.
    pub title: &'static str,
    /// The unit of every cell.
    pub unit: &'static str,
    pub better: Better,
    pub target: Option<Target>,
    /// The cells that run.
    pub cells: Vec<(Col, How)>,
    /// Raw measurements (ns for criterion cells) are divided by this for the unit.
    pub scale: f64,
    /// Footnotes per column: why a column has no cell, or how its cell differs.
    pub notes: Vec<(Col, &'static str)>,
}

fn crit(bench: &'static str, id: &'static str) -> How {
    How::Criterion { bench, id }
}

/// The Targets table of DESIGN.md, in its order; channel rows come twice (goroutines, then
/// plain threads, where the peers are the thread channel libraries).
pub fn all() -> Vec<Workload> {
    use Col::*;
    let threads_only = "threads: see the next row";
    vec![
        Workload {
            key: "spawn",
            title: "spawn + exit, WaitGroup join",
            unit: "ns/goroutine",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.5)),
            cells: vec![
                (Gort, crit("spawn_join", "spawn_join/gort")),
                (Go, crit("spawn_join", "spawn_join/go")),
                (Tokio, crit("spawn_join", "spawn_join/tokio")),
                (May, crit("spawn_join", "spawn_join/may")),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "spawn_scope",
            title: "spawn + exit in a scope (closures borrow, as Go's do)",
            unit: "ns/goroutine",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, crit("spawn_join", "spawn_join/gort_scope")),
                (Go, crit("spawn_join", "spawn_join/go")),
                (May, crit("spawn_join", "spawn_join/may_scope")),
            ],
            scale: 1.0,
            notes: vec![
                (Go, "the spawn row's program: Go's closures borrow `wg`"),
                (Tokio, "no scoped tasks"),
            ],
        },
        Workload {
            key: "spawn_handles",
            title: "spawn 1M from a plain thread, join each handle",
            unit: "ns/goroutine",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, How::SpawnHandles),
                (Go, How::SpawnHandles),
                (Tokio, How::SpawnHandles),
                (May, How::SpawnHandles),
            ],
            scale: 1.0,
            notes: vec![
                (Go, "no join handle: a done channel per goroutine, received in spawn order"),
                (Tokio, "Runtime::spawn from the thread, the handles awaited in one block_on"),
            ],
        },
        Workload {
            key: "yield",
            title: "yield between 2 goroutines on 1 P",
            unit: "ns/switch",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.5)),
            cells: vec![
                (Gort, crit("yield_switch", "yield_switch/gort")),
                (Go, crit("yield_switch", "yield_switch/go")),
                (Tokio, crit("yield_switch", "yield_switch/tokio")),
                (May, crit("yield_switch", "yield_switch/may")),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "pingpong",
            title: "unbuffered ping-pong, goroutines",
            unit: "ns/round trip",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.6)),
            cells: vec![
                (Gort, crit("channels", "pingpong/gort")),
                (Go, crit("channels", "pingpong/go")),
                (Tokio, crit("channels", "pingpong/tokio")),
                (May, crit("channels", "pingpong/may")),
            ],
            scale: 1.0,
            notes: vec![
                (Tokio, "no rendezvous channel: mpsc with capacity 1"),
                (May, "no bounded channel: unbounded mpmc"),
                (Crossbeam, threads_only),
                (Flume, threads_only),
                (StdMpsc, threads_only),
            ],
        },
        Workload {
            key: "pingpong_threads",
            title: "unbuffered ping-pong, threads",
            unit: "ns/round trip",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, crit("channels", "pingpong/gort_threads")),
                (Crossbeam, crit("channels", "pingpong/crossbeam")),
                (Flume, crit("channels", "pingpong/flume")),
                (StdMpsc, crit("channels", "pingpong/std_mpsc")),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "mpmc",
            title: "buffered(128), 4 producers x 4 consumers, goroutines",
            unit: "ns/message",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.8)),
            cells: vec![
                (Gort, crit("channels", "mpmc_4x4/gort")),
                (Go, crit("channels", "mpmc_4x4/go")),
                (May, crit("channels", "mpmc_4x4/may")),
            ],
            scale: 1.0,
            notes: vec![
                (Tokio, "tokio's channels have a single consumer"),
                (May, "no bounded channel: unbounded mpmc"),
                (Crossbeam, threads_only),
                (Flume, threads_only),
            ],
        },
        Workload {
            key: "mpmc_threads",
            title: "buffered(128), 4 producers x 4 consumers, threads",
            unit: "ns/message",
            better: Better::Lower,
            target: Some(Target::PeerAtMost(Crossbeam, 1.0)),
            cells: vec![
                (Gort, crit("channels", "mpmc_4x4/gort_threads")),
                (Crossbeam, crit("channels", "mpmc_4x4/crossbeam")),
                (Flume, crit("channels", "mpmc_4x4/flume")),
            ],
            scale: 1.0,
            notes: vec![(StdMpsc, "std mpsc has a single consumer")],
        },
        Workload {
            key: "select",
            title: "select over 4 receiving channels, goroutines",
            unit: "ns/select",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.7)),
            cells: vec![
                (Gort, crit("channels", "select4/gort")),
                (Go, crit("channels", "select4/go")),
                (Tokio, crit("channels", "select4/tokio")),
            ],
            scale: 1.0,
            notes: vec![
                (
                    May,
                    "may's select! is not comparable (unbounded channels, coroutine-only)",
                ),
                (Crossbeam, threads_only),
                (Flume, threads_only),
            ],
        },
        Workload {
            key: "select_threads",
            title: "select over 4 receiving channels, threads",
            unit: "ns/select",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, crit("channels", "select4/gort_threads")),
                (Crossbeam, crit("channels", "select4/crossbeam")),
                (Flume, crit("channels", "select4/flume")),
            ],
            scale: 1.0,
            notes: vec![(StdMpsc, "std mpsc has no select")],
        },
        Workload {
            key: "cancel_tree",
            title: "cancel a context tree of 11,110 nodes, goroutine per leaf woken",
            unit: "ms/tree",
            better: Better::Lower,
            target: Some(Target::GoAtMost(0.5)),
            cells: vec![
                (Gort, crit("context", "cancel_tree/gort")),
                (Go, crit("context", "cancel_tree/go")),
            ],
            scale: 1e6,
            notes: vec![
                (
                    Tokio,
                    "no context tree (tokio-util's CancellationToken is not a peer here)",
                ),
                (May, "no context tree"),
            ],
        },
        Workload {
            key: "rss",
            title: "goroutines parked on a channel, RSS + page tables",
            unit: "KiB/goroutine",
            better: Better::Lower,
            target: Some(Target::ValueAtMost(5.0)),
            cells: vec![
                (Gort, How::Rss),
                (Go, How::Rss),
                (Tokio, How::Rss),
                (May, How::Rss),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "park",
            title: "spawn 1M goroutines that park",
            unit: "ms",
            better: Better::Lower,
            target: Some(Target::GoAtMost(1.0)),
            cells: vec![
                (Gort, How::Park),
                (Go, How::Park),
                (Tokio, How::Park),
                (May, How::Park),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "echo",
            title: "TCP echo, 100 connections, 64-byte messages, same client",
            unit: "msgs/s",
            better: Better::Higher,
            target: Some(Target::BestPeerAtLeast(1.0)),
            cells: vec![
                (Gort, How::Echo(Server::GortEcho)),
                (Go, How::Echo(Server::GoEcho)),
                (Tokio, How::Echo(Server::TokioEcho)),
                (May, How::Echo(Server::MayEcho)),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "echo_cpu",
            title: "echo: server CPU per message (user + sys of the server process)",
            unit: "µs/message",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, How::ServerCpu(Server::GortEcho)),
                (Go, How::ServerCpu(Server::GoEcho)),
                (Tokio, How::ServerCpu(Server::TokioEcho)),
                (May, How::ServerCpu(Server::MayEcho)),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "timers",
            title: "timers: echo, 10,000 connections, read deadline reset per message, same client",
            unit: "msgs/s",
            better: Better::Higher,
            target: None,
            cells: vec![
                (Gort, How::Echo(Server::GortDeadlineEcho)),
                (Go, How::Echo(Server::GoDeadlineEcho)),
                (Tokio, How::Echo(Server::TokioDeadlineEcho)),
                (May, How::Echo(Server::MayDeadlineEcho)),
            ],
            scale: 1.0,
            notes: vec![
                (Go, "SetReadDeadline before each Read"),
                (Tokio, "each read inside tokio::time::timeout"),
                (May, "set_read_timeout once: may arms it on each read"),
            ],
        },
        Workload {
            key: "timers_cpu",
            title: "timers: server CPU per message (10,000 connections, read deadline reset per message)",
            unit: "µs/message",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, How::ServerCpu(Server::GortDeadlineEcho)),
                (Go, How::ServerCpu(Server::GoDeadlineEcho)),
                (Tokio, How::ServerCpu(Server::TokioDeadlineEcho)),
                (May, How::ServerCpu(Server::MayDeadlineEcho)),
            ],
            scale: 1.0,
            notes: vec![],
        },
        Workload {
            key: "http",
            title: "HTTP hello world, wrk -t2 -c100",
            unit: "req/s",
            better: Better::Higher,
            target: Some(Target::PeerAtLeast(May, 1.05)),
            cells: vec![
                (Gort, How::Http(Server::GortHttp)),
                (Go, How::Http(Server::GoHttp)),
                (May, How::Http(Server::MayHttp)),
            ],
            scale: 1.0,
            notes: vec![(
                Tokio,
                "no HTTP server in tokio itself (hyper is not a peer here)",
            )],
        },
        Workload {
            key: "http_cpu",
            title: "HTTP hello: server CPU per request (user + sys of the server process)",
            unit: "µs/request",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, How::ServerCpu(Server::GortHttp)),
                (Go, How::ServerCpu(Server::GoHttp)),
                (May, How::ServerCpu(Server::MayHttp)),
            ],
            scale: 1.0,
            notes: vec![(
                Tokio,
                "no HTTP server in tokio itself (hyper is not a peer here)",
            )],
        },
        Workload {
            key: "ticker_syscalls",
            title: "1 ms ticker, 4 goroutines blocked in syscalls, procs=2: p99 lateness",
            unit: "µs",
            better: Better::Lower,
            target: Some(Target::GoAtMost(1.0)),
            cells: vec![
                (Gort, How::Ticker { mode: "syscalls" }),
                (Go, How::Ticker { mode: "syscalls" }),
            ],
            scale: 1.0,
            notes: vec![(
                Tokio,
                "async tasks have no blocking syscall hand-off to compare",
            )],
        },
        Workload {
            key: "ticker_hogs",
            title: "1 ms ticker, 4 goroutines spinning, procs=2: p99 lateness",
            unit: "µs",
            better: Better::Lower,
            target: Some(Target::ValueAtMost(25_000.0)),
            cells: vec![
                (Gort, How::Ticker { mode: "hogs" }),
                (Go, How::Ticker { mode: "hogs" }),
            ],
            scale: 1.0,
            notes: vec![(Tokio, "a spinning task is never preempted")],
        },
        Workload {
            key: "sleeps_unmarked",
            title: "1000 goroutines in an unmarked 500 ms std::thread::sleep, procs=2: time to finish",
            unit: "ms",
            better: Better::Lower,
            // Go marks every system call; the target is 2x the marked time.
            target: Some(Target::GoAtMost(2.0)),
            cells: vec![
                (Gort, How::Sleepers { mode: "sleeps" }),
                (Go, How::Sleepers { mode: "sleeps" }),
            ],
            scale: 1.0,
            notes: vec![(Tokio, "a blocking call in a task blocks its worker")],
        },
        Workload {
            key: "sleeps_marked",
            title: "1000 goroutines in a 500 ms sleep inside gort::syscall, procs=2: time to finish",
            unit: "ms",
            better: Better::Lower,
            target: None,
            cells: vec![
                (Gort, How::Sleepers { mode: "sleeps-marked" }),
                (Go, How::Sleepers { mode: "sleeps" }),
            ],
            scale: 1.0,
            notes: vec![(Tokio, "spawn_blocking is a thread pool, not a hand-off")],
        },
        Workload {
            key: "ticker_sleeps",
            title: "1 ms ticker beside 1000 goroutines in an unmarked 500 ms sleep, procs=2: p99 lateness",
            unit: "µs",
            better: Better::Lower,
            target: Some(Target::GoAtMost(2.0)),
            cells: vec![
                (Gort, How::Ticker { mode: "sleeps" }),
                (Go, How::Ticker { mode: "sleeps" }),
            ],
            scale: 1.0,
            notes: vec![(Tokio, "a blocking call in a task blocks its worker")],
        },
    ]
}

/// The procs counts of the scaling runs: beyond this machine's cores too (oversubscribed,
/// they expose lock convoys and lost wake-ups that few cores hide).
pub const SCALING_PROCS: [usize; 4] = [1, 2, 4, 8];

/// The workloads run again at each of [`SCALING_PROCS`] for the "row x procs" table: spawn
/// and every goroutine channel row, for the runtimes whose worker count follows GOMAXPROCS
/// (gort, Go, may).
pub fn scaling() -> Vec<Workload> {
    all()
        .into_iter()
        .filter(|w| matches!(w.key, "spawn" | "pingpong" | "mpmc" | "select"))
        .map(|mut w| {
            w.cells
                .retain(|(c, _)| matches!(c, Col::Gort | Col::Go | Col::May));
            w
        })
        .collect()
}
