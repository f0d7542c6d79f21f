//! The chaos test: seeded random workloads that mix everything gort offers, on goroutines
//! and plain threads at once, checked against invariants.
//!
//! Workers (goroutines and plain threads) pick operations at random until the run's time is
//! up: spawn/join trees (some children detached, some panicking), channels (bounded 0, 1
//! and N, unbounded) with close, drop and abandoned receivers, `select!` with `default` and
//! timeouts, context trees with deadlines and cancels, Mutex/RwLock/WaitGroup/Semaphore,
//! timers and tickers, TCP echo over loopback, scopes whose goroutines borrow; a monkey
//! changes `set_procs` meanwhile. Checked: every message is received exactly once (or, where
//! receivers give up, received, returned to its sender or dropped: exactly one of them),
//! locks exclude, counts balance, a context ends for the right reason and never before its
//! deadline, a cancelled timer never fires, a scope's results are all dropped before it
//! returns and its unjoined panic resumed, `num_goroutine` comes back to its baseline, no
//! message is leaked, RSS stays bounded, and the runtime never reports a deadlock (there is
//! none).
//!
//! Determinism: what each worker does (operations, their parameters, goroutine or thread)
//! follows from the seed alone; timing differs from run to run, and so does the order in
//! which things meet.
//!
//! No libtest harness: each run is a child process of this binary (fresh runtime, its own
//! `GOMAXPROCS`). In mode `gort-main` the child's main thread is inside `gort::run`, so
//! sysmon's deadlock detector is live and a false report (exit 2) fails the run; in mode
//! `plain-main` the main thread is a plain thread outside gort, as in a libtest test.
//! A watchdog turns a hang into a failure that names each worker's operation and shows
//! the scheduler's queues. A goroutine that joins a plain thread (a call that blocks
//! outside gort) does it inside `gort::syscall`, as a program must. On failure the parent
//! prints the seed and the command that replays it.
//!
//! Environment: `GORT_CHAOS_SECS` (total seconds, default 48: six runs of 8 s, procs 1, 2
//! and 8 in both modes, seeds 1 to 6; longer totals run more seeds), `GORT_CHAOS_SEED`
//! (replay one seed, or `random`), `GORT_CHAOS_MODE` and `GOMAXPROCS` (narrow a replay),
//! `GORT_CHAOS_RUN_SECS` (length of one run, default 8).

use gort::chan::{self, RecvTimeoutError, Sender, TryRecvError};
use gort::context::{self, Context};
use gort::net::{TcpListener, TcpStream};
use gort::select;
use gort::sync::{Mutex, RwLock, Semaphore, WaitGroup};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MODES: [&str; 2] = ["gort-main", "plain-main"];
const PROCS: [usize; 3] = [1, 2, 8];
/// Goroutine and plain-thread workers in each run.
const GOROUTINE_WORKERS: usize = 4;
const THREAD_WORKERS: usize = 2;
/// A run that has not finished this long after its time is up is hung.
const HANG_SECS: u64 = 60;
/// Upper bound for the child's resident set (a run needs about 10 MiB).
const RSS_LIMIT_MIB: u64 = 256;

// ---------------------------------------------------------------- random numbers

/// SplitMix64: small, seedable, good enough to pick operations.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.range(lo, hi))
    }
    /// An independent generator for a task this one starts.
    fn fork(&mut self) -> Rng {
        Rng::new(self.next())
    }
}

// ---------------------------------------------------------------- tasks

/// A goroutine or a plain thread.
enum Task<T> {
    G(gort::JoinHandle<T>),
    T(std::thread::JoinHandle<T>),
}

impl<T> Task<T> {
    fn join(self) -> T {
        self.join_result().expect("task panicked")
    }

    /// Joins a task that may have panicked on purpose ([`deliberate_panic`]). A goroutine
    /// joins a plain thread inside `gort::syscall`: it blocks its OS thread, and only
    /// then can the goroutines queued on its P run elsewhere.
    fn join_result(self) -> std::thread::Result<T> {
        match self {
            Task::G(h) => h.join(),
            Task::T(h) => gort::syscall(|| h.join()),
        }
    }
}

/// The payload of the panics the test raises on purpose; any other panic fails the run.
const DELIBERATE: &str = "chaos: a deliberate panic";

/// Deliberate panics seen by a join, for the summary.
static PANICS_JOINED: AtomicU64 = AtomicU64::new(0);

/// Panics on purpose: the panic unwinds the task's stack and its join returns `Err`.
fn deliberate_panic() -> ! {
    std::panic::panic_any(DELIBERATE)
}

/// Starts `f` on a plain thread if `thread`, else on a goroutine.
fn spawn<T: Send + 'static>(thread: bool, f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    if thread {
        Task::T(std::thread::spawn(f))
    } else {
        Task::G(gort::go(f))
    }
}

/// Picks goroutine or thread: threads are rarer (they cost more, and a debug build is slow).
fn on_thread(rng: &mut Rng) -> bool {
    rng.chance(20)
}

// ---------------------------------------------------------------- message accounting

/// Messages alive anywhere (created, not yet dropped): zero at the end of a run.
static LIVE_MSGS: AtomicI64 = AtomicI64::new(0);

/// How a message ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Live,
    Received,
    Returned,
    Dropped,
}

/// Every message of one operation: the fate of each send attempt, and its logical number.
struct Ledger {
    attempts: std::sync::Mutex<Vec<(usize, Fate)>>,
}

impl Ledger {
    fn new() -> Arc<Ledger> {
        Arc::new(Ledger {
            attempts: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// A new attempt to send logical message `seq`.
    fn msg(self: &Arc<Ledger>, seq: usize) -> Msg {
        let mut a = self.attempts.lock().unwrap();
        a.push((seq, Fate::Live));
        LIVE_MSGS.fetch_add(1, SeqCst);
        Msg {
            attempt: a.len() - 1,
            seq,
            fate: Fate::Dropped,
            ledger: self.clone(),
        }
    }

    /// Checks `n` logical messages: every attempt ended once; each message was received
    /// exactly once, or, if `abandoned` (receivers gave up), exactly one attempt was
    /// received, returned or dropped (attempts dropped unsent by a `select!` send case
    /// are only allowed when not `abandoned`).
    fn check(&self, what: &str, n: usize, abandoned: bool) {
        let a = self.attempts.lock().unwrap();
        let mut ends = vec![(0, 0, 0); n];
        for (i, &(seq, fate)) in a.iter().enumerate() {
            let e = &mut ends[seq];
            match fate {
                Fate::Live => panic!("{what}: message {seq} (attempt {i}) leaked: never dropped"),
                Fate::Received => e.0 += 1,
                Fate::Returned => e.1 += 1,
                Fate::Dropped => e.2 += 1,
            }
        }
        for (seq, &(recv, ret, dropped)) in ends.iter().enumerate() {
            if abandoned {
                assert_eq!(
                    recv + ret + dropped,
                    1,
                    "{what}: message {seq}: received {recv}, returned {ret}, dropped {dropped} \
                     times; expected exactly one"
                );
            } else {
                assert_eq!(
                    (recv, ret),
                    (1, 0),
                    "{what}: message {seq} received {recv} times, returned {ret} times; \
                     expected received exactly once"
                );
            }
        }
    }
}

/// A message: records its fate in its ledger when dropped (once: a duplicated message
/// would be dropped twice).
struct Msg {
    attempt: usize,
    seq: usize,
    fate: Fate,
    ledger: Arc<Ledger>,
}

impl Msg {
    fn received(mut self) -> usize {
        self.fate = Fate::Received;
        self.seq
    }
    fn returned(mut self) {
        self.fate = Fate::Returned;
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        let mut a = self.ledger.attempts.lock().unwrap();
        let slot = &mut a[self.attempt];
        assert_eq!(
            slot.1,
            Fate::Live,
            "message {} (attempt {}) dropped twice: duplicated",
            self.seq,
            self.attempt
        );
        slot.1 = self.fate;
        LIVE_MSGS.fetch_sub(1, SeqCst);
    }
}

// ---------------------------------------------------------------- operations

/// What each worker is doing, for the watchdog's report.
type Status = Arc<Vec<std::sync::Mutex<String>>>;

/// What every operation gets: its generator, the run's shared state.
struct Env {
    /// Operations completed, for the summary.
    ops: AtomicU64,
    msgs: AtomicU64,
    status: Status,
}

impl Env {
    /// Records what worker `w` is doing now.
    fn note(&self, w: usize, what: &str) {
        *self.status[w].lock().unwrap() = what.to_string();
    }
}

/// Operation names, for the watchdog's report and the summary.
const OPS: [&str; 9] = [
    "channel",
    "select-fan-in",
    "context-tree",
    "locks",
    "waitgroup-semaphore",
    "timers",
    "tcp-echo",
    "spawn-tree",
    "scope",
];

fn run_op(op: usize, rng: &mut Rng, env: &Env, w: usize) {
    match op {
        0 => op_channel(rng, env, w),
        1 => op_select(rng, env),
        2 => op_context(rng),
        3 => op_locks(rng),
        4 => op_waitgroup_semaphore(rng),
        5 => op_timers(rng),
        6 => op_tcp(rng),
        7 => op_spawn_tree(rng),
        8 => op_scope(rng),
        _ => unreachable!(),
    }
}

/// A random channel: unbuffered, one slot, a few slots or unbounded.
fn channel_of(rng: &mut Rng) -> (chan::Sender<Msg>, chan::Receiver<Msg>, String) {
    match rng.below(4) {
        0 => {
            let (s, r) = chan::bounded(0);
            (s, r, "bounded(0)".into())
        }
        1 => {
            let (s, r) = chan::bounded(1);
            (s, r, "bounded(1)".into())
        }
        2 => {
            let n = rng.range(2, 16) as usize;
            let (s, r) = chan::bounded(n);
            (s, r, format!("bounded({n})"))
        }
        _ => {
            let (s, r) = chan::unbounded();
            (s, r, "unbounded".into())
        }
    }
}

/// How a channel operation ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    /// The producers finish, then the last one closes the channel.
    Close,
    /// The producers finish and drop their senders.
    DropSenders,
    /// The consumers stop early and drop their receivers: later sends fail.
    AbandonReceivers,
    /// A consumer closes the channel early: later sends fail, what is buffered drains.
    ConsumerCloses,
}

/// Sends `msg`, in one of several ways; `Err` gives the message back if the channel is
/// closed or has no receivers. `select_ok`: a `select!` send case may be used (it drops
/// the value when it picks another case, so only where such drops are allowed).
fn send_somehow(tx: &Sender<Msg>, msg: Msg, rng: &mut Rng, select_ok: bool) -> Result<(), Msg> {
    match rng.below(if select_ok { 4 } else { 3 }) {
        0 => tx.send(msg).map_err(|e| e.0),
        1 => {
            let mut msg = msg;
            loop {
                match tx.send_timeout(msg, rng.ms(0, 5)) {
                    Ok(()) => return Ok(()),
                    Err(chan::SendTimeoutError::Timeout(m)) => msg = m,
                    Err(chan::SendTimeoutError::Disconnected(m)) => return Err(m),
                }
            }
        }
        2 => {
            // Non-blocking tries, then a blocking send: two non-blocking sides of an
            // unbuffered channel would never meet (in Go too).
            let mut msg = msg;
            for _ in 0..rng.range(1, 50) {
                match tx.try_send(msg) {
                    Ok(()) => return Ok(()),
                    Err(chan::TrySendError::Full(m)) => {
                        msg = m;
                        gort::yield_now();
                        if rng.chance(10) {
                            gort::time::sleep(Duration::from_micros(rng.range(1, 500)));
                        }
                    }
                    Err(chan::TrySendError::Disconnected(m)) => return Err(m),
                }
            }
            tx.send(msg).map_err(|e| e.0)
        }
        _ => {
            // A select! send case with a timeout; on timeout the value was dropped (its
            // attempt ends Dropped) and the caller retries with a new attempt.
            let (seq, ledger) = (msg.seq, msg.ledger.clone());
            let mut msg = Some(msg);
            loop {
                let m = msg.take().unwrap_or_else(|| ledger.msg(seq));
                let sent = select! {
                    send(tx, m) -> res => Some(res.map_err(|e| e.0)),
                    default(rng.ms(0, 5)) => None,
                };
                if let Some(res) = sent {
                    return res;
                }
            }
        }
    }
}

/// Receives one message in one of several ways; `None` once the channel is closed and
/// drained (or has no senders left).
fn recv_somehow(rx: &chan::Receiver<Msg>, rng: &mut Rng) -> Option<Msg> {
    match rng.below(5) {
        0 => rx.recv().ok(),
        1 => loop {
            match rx.recv_timeout(rng.ms(0, 5)) {
                Ok(m) => return Some(m),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        },
        2 => loop {
            select! {
                recv(rx) -> m => return m.ok(),
                default(rng.ms(0, 5)) => continue,
            }
        },
        3 => {
            // Non-blocking tries, then a blocking receive (see `send_somehow`).
            for _ in 0..rng.range(1, 50) {
                match rx.try_recv() {
                    Ok(m) => return Some(m),
                    Err(TryRecvError::Empty) => {
                        gort::yield_now();
                        if rng.chance(10) {
                            gort::time::sleep(Duration::from_micros(rng.range(1, 500)));
                        }
                    }
                    Err(TryRecvError::Disconnected) => return None,
                }
            }
            rx.recv().ok()
        }
        _ => {
            for _ in 0..rng.range(1, 50) {
                select! {
                    recv(rx) -> m => return m.ok(),
                    default => gort::yield_now(),
                }
            }
            select! {
                recv(rx) -> m => m.ok(),
            }
        }
    }
}

/// Producers and consumers on one channel, ending in one of the [`End`] ways.
fn op_channel(rng: &mut Rng, env: &Env, w: usize) {
    let (tx, rx, kind) = channel_of(rng);
    let producers = rng.range(1, 3) as usize;
    let consumers = rng.range(1, 3) as usize;
    let per = rng.range(1, 150) as usize;
    let n = producers * per;
    let end = match rng.below(4) {
        0 => End::Close,
        1 => End::DropSenders,
        2 => End::AbandonReceivers,
        _ => End::ConsumerCloses,
    };
    let what = format!("channel {kind} {producers}x{per} -> {consumers} {end:?}");
    env.note(w, &what);
    let ledger = Ledger::new();
    let remaining = Arc::new(AtomicUsize::new(producers));
    let abandoned = matches!(end, End::AbandonReceivers | End::ConsumerCloses);
    let mut tasks = Vec::new();
    for p in 0..producers {
        let (tx, ledger, remaining) = (tx.clone(), ledger.clone(), remaining.clone());
        let mut r = rng.fork();
        tasks.push(spawn(on_thread(rng), move || {
            for i in 0..per {
                let m = ledger.msg(p * per + i);
                if let Err(m) = send_somehow(&tx, m, &mut r, !abandoned) {
                    assert!(abandoned, "send failed on a channel nobody closed");
                    m.returned();
                }
            }
            if remaining.fetch_sub(1, SeqCst) == 1 && end == End::Close {
                tx.close().expect("only the last producer closes");
            }
            Vec::new()
        }));
    }
    drop(tx);
    for c in 0..consumers {
        let rx = rx.clone();
        let mut r = rng.fork();
        let stop_after = if abandoned {
            Some(r.below(n as u64 / consumers as u64 + 2) as usize)
        } else {
            None
        };
        tasks.push(spawn(on_thread(rng), move || {
            let mut got = Vec::new();
            loop {
                if stop_after == Some(got.len()) {
                    if end == End::AbandonReceivers {
                        return got; // drops this receiver
                    }
                    if c == 0 {
                        let _ = rx.close(); // Ok, or another consumer closed it first
                    }
                }
                match recv_somehow(&rx, &mut r) {
                    Some(m) => got.push(m.received()),
                    None => return got,
                }
            }
        }));
    }
    drop(rx);
    let mut received = 0;
    for t in tasks {
        received += t.join().len();
    }
    ledger.check(&what, n, abandoned);
    env.msgs.fetch_add(received as u64, SeqCst);
}

/// Two or three producers on their own channels, one consumer `select!`ing over all of
/// them (with `default` or a timeout), swapping a closed channel for `chan::never()`.
fn op_select(rng: &mut Rng, env: &Env) {
    let chans = rng.range(2, 3) as usize;
    let per = rng.range(1, 100) as usize;
    let ledger = Ledger::new();
    let mut rxs = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..chans {
        let (tx, rx, _) = channel_of(rng);
        rxs.push(rx);
        let ledger = ledger.clone();
        let mut r = rng.fork();
        let close = r.chance(50);
        tasks.push(spawn(on_thread(rng), move || {
            for i in 0..per {
                let m = ledger.msg(c * per + i);
                if send_somehow(&tx, m, &mut r, true).is_err() {
                    panic!("select fan-in: send failed on an open channel");
                }
            }
            if close {
                tx.close().unwrap();
            }
        }));
    }
    let mut r = rng.fork();
    let consumer = spawn(on_thread(rng), move || {
        let mut rxs = rxs;
        while rxs.len() < 3 {
            rxs.push(chan::never());
        }
        let mut open = chans;
        let mut got = 0usize;
        let style = r.below(3);
        while open > 0 {
            let mut which = None;
            let mut take = |i: usize, m: Result<Msg, chan::RecvError>| match m {
                Ok(m) => {
                    m.received();
                    got += 1;
                }
                Err(_) => which = Some(i),
            };
            match style {
                0 => select! {
                    recv(rxs[0]) -> m => take(0, m),
                    recv(rxs[1]) -> m => take(1, m),
                    recv(rxs[2]) -> m => take(2, m),
                },
                1 => select! {
                    recv(rxs[0]) -> m => take(0, m),
                    recv(rxs[1]) -> m => take(1, m),
                    recv(rxs[2]) -> m => take(2, m),
                    default(r.ms(0, 3)) => {},
                },
                _ => select! {
                    recv(rxs[0]) -> m => take(0, m),
                    recv(rxs[1]) -> m => take(1, m),
                    recv(rxs[2]) -> m => take(2, m),
                    default => gort::yield_now(),
                },
            }
            if let Some(i) = which {
                rxs[i] = chan::never();
                open -= 1;
            }
        }
        got
    });
    for t in tasks {
        t.join();
    }
    let got = consumer.join();
    assert_eq!(
        got,
        chans * per,
        "select fan-in: received {got} of {}",
        chans * per
    );
    ledger.check("select fan-in", chans * per, false);
    env.msgs.fetch_add(got as u64, SeqCst);
}

/// A node of a context tree: its context, its cancel, and what may end it.
struct Node {
    ctx: Context,
    cancel: context::CancelFunc,
    /// The earliest deadline on the path from the root (inclusive).
    deadline: Option<Instant>,
    /// Indices of the nodes on the path from the root (inclusive).
    path: Vec<usize>,
}

/// A random context tree (cancels and deadlines); waiters on goroutines and threads wait
/// for nodes to end in different ways; some nodes are cancelled, then the root. Each
/// waiter must return; a node that ended by deadline has a deadline on its path that has
/// passed; a node that ended by cancel had a cancel on its path.
fn op_context(rng: &mut Rng) {
    let size = rng.range(1, 8) as usize;
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..size {
        let parent_idx = (i > 0).then(|| rng.below(i as u64) as usize);
        let parent = match parent_idx {
            Some(p) => nodes[p].ctx.clone(),
            None => context::background(),
        };
        let (ctx, cancel, own) = if rng.chance(40) {
            let d = Instant::now() + rng.ms(0, 30);
            let (c, f) = if rng.chance(50) {
                parent.with_deadline(d)
            } else {
                parent.with_timeout(d.saturating_duration_since(Instant::now()))
            };
            let d = c.deadline();
            (c, f, d)
        } else {
            let (c, f) = parent.with_cancel();
            (c, f, None)
        };
        let (deadline, mut path) = match parent_idx {
            Some(p) => (
                match (nodes[p].deadline, own) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
                nodes[p].path.clone(),
            ),
            None => (own, Vec::new()),
        };
        path.push(i);
        nodes.push(Node {
            ctx,
            cancel,
            deadline,
            path,
        });
    }
    let cancelled: Arc<Vec<AtomicBool>> =
        Arc::new((0..size).map(|_| AtomicBool::new(false)).collect());
    let mut waiters = Vec::new();
    for _ in 0..rng.range(1, 6) {
        let i = rng.below(size as u64) as usize;
        let ctx = nodes[i].ctx.clone();
        let style = rng.below(4);
        let (tx, rx) = chan::bounded::<()>(0);
        waiters.push((
            i,
            spawn(on_thread(rng), move || {
                let _tx = tx; // nobody sends on it: recv_ctx below only ends with ctx
                match style {
                    0 => {
                        let _ = ctx.done().recv();
                    }
                    1 => loop {
                        select! {
                            recv(ctx.done()) -> _ => break,
                            default(Duration::from_millis(3)) => {},
                        }
                    },
                    2 => while context::sleep_ctx(&ctx, Duration::from_millis(7)).is_ok() {},
                    _ => {
                        let r = rx.recv_ctx(&ctx);
                        assert!(
                            matches!(r, Err(context::RecvCtxError::Done(_))),
                            "recv_ctx ended without its context: {r:?}"
                        );
                    }
                }
                let e = ctx.err().expect("done, but err() is None");
                (e, Instant::now())
            }),
        ));
    }
    // Cancel some nodes (recording it first), after a while the root: every waiter ends.
    for _ in 0..rng.below(3) {
        gort::time::sleep(rng.ms(0, 10));
        let i = rng.below(size as u64) as usize;
        cancelled[i].store(true, SeqCst);
        nodes[i].cancel.cancel();
    }
    gort::time::sleep(rng.ms(0, 20));
    cancelled[0].store(true, SeqCst);
    nodes[0].cancel.cancel();
    for (i, w) in waiters {
        let (e, at) = w.join();
        let n = &nodes[i];
        match e {
            context::Error::DeadlineExceeded => {
                let d = n
                    .deadline
                    .expect("deadline exceeded on a path without deadlines");
                assert!(at >= d, "context ended before its deadline");
            }
            context::Error::Canceled => assert!(
                n.path.iter().any(|&p| cancelled[p].load(SeqCst)),
                "context cancelled but nobody on its path was"
            ),
        }
    }
    for n in &nodes {
        assert!(
            n.ctx.err().is_some(),
            "the root is cancelled: every node is done"
        );
    }
}

/// Mutex and RwLock: exclusion under contention from goroutines and threads.
fn op_locks(rng: &mut Rng) {
    let tasks = rng.range(2, 6) as usize;
    let per = rng.range(1, 200);
    if rng.chance(50) {
        let m = Arc::new(Mutex::new((0u64, false)));
        let hs: Vec<_> = (0..tasks)
            .map(|_| {
                let (m, mut r) = (m.clone(), rng.fork());
                spawn(on_thread(rng), move || {
                    for _ in 0..per {
                        let mut g = m.lock();
                        assert!(!g.1, "two holders of one Mutex");
                        g.1 = true;
                        let v = g.0;
                        if r.chance(5) {
                            gort::yield_now();
                        }
                        g.0 = v + 1;
                        g.1 = false;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(Task::join);
        assert_eq!(m.lock().0, tasks as u64 * per, "Mutex lost increments");
    } else {
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let hs: Vec<_> = (0..tasks)
            .map(|t| {
                let (l, mut r) = (l.clone(), rng.fork());
                spawn(on_thread(rng), move || {
                    for _ in 0..per {
                        if t % 2 == 0 {
                            let mut g = l.write();
                            g.0 += 1;
                            if r.chance(5) {
                                gort::yield_now();
                            }
                            g.1 += 1;
                        } else {
                            let g = l.read();
                            assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(Task::join);
        let writers = tasks.div_ceil(2) as u64;
        assert_eq!(
            *l.read(),
            (writers * per, writers * per),
            "RwLock lost writes"
        );
    }
}

/// WaitGroup with several waiters; Semaphore with weighted, timed and try acquires.
fn op_waitgroup_semaphore(rng: &mut Rng) {
    let n = rng.range(1, 12) as usize;
    if rng.chance(50) {
        let wg = Arc::new(WaitGroup::new());
        let done = Arc::new(AtomicUsize::new(0));
        wg.add(n as i32);
        for _ in 0..n {
            let (wg, done, d) = (wg.clone(), done.clone(), rng.ms(0, 3));
            // Detached: the WaitGroup is the only join.
            drop(spawn(on_thread(rng), move || {
                gort::time::sleep(d);
                done.fetch_add(1, SeqCst);
                wg.done();
            }));
        }
        let waiters: Vec<_> = (0..rng.range(1, 3))
            .map(|_| {
                let (wg, done) = (wg.clone(), done.clone());
                spawn(on_thread(rng), move || {
                    wg.wait();
                    assert_eq!(done.load(SeqCst), n, "WaitGroup::wait returned early");
                })
            })
            .collect();
        waiters.into_iter().for_each(Task::join);
    } else {
        let size = rng.range(1, 4) as usize;
        let sem = Arc::new(Semaphore::new(size));
        let held = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (sem, held, mut r) = (sem.clone(), held.clone(), rng.fork());
                spawn(on_thread(rng), move || {
                    for _ in 0..r.range(1, 10) {
                        let w = r.range(1, size as u64) as usize;
                        let got = match r.below(3) {
                            0 => {
                                sem.acquire(w);
                                true
                            }
                            1 => sem.acquire_until(w, Instant::now() + r.ms(0, 5)),
                            _ => sem.try_acquire(w),
                        };
                        if got {
                            let now = held.fetch_add(w, SeqCst) + w;
                            assert!(now <= size, "Semaphore({size}) let {now} in");
                            if r.chance(30) {
                                gort::yield_now();
                            }
                            held.fetch_sub(w, SeqCst);
                            sem.release(w);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(Task::join);
        assert_eq!(sem.available(), size, "Semaphore permits do not balance");
    }
}

/// Runtime timers (some cancelled), `time::after` in a `select!`, a ticker, sleeps.
fn op_timers(rng: &mut Rng) {
    match rng.below(3) {
        0 => {
            let n = rng.range(1, 20) as usize;
            let (tx, rx) = chan::unbounded::<usize>();
            let fired: Arc<Vec<AtomicUsize>> =
                Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
            let mut ids = Vec::new();
            for i in 0..n {
                let (tx, fired) = (tx.clone(), fired.clone());
                let when = Instant::now() + rng.ms(0, 20);
                ids.push(gort::timer::add(
                    when,
                    gort::timer::Action::Call(Box::new(move || {
                        fired[i].fetch_add(1, SeqCst);
                        tx.try_send(i).expect("unbounded and received");
                    })),
                ));
            }
            drop(tx);
            let mut cancelled = vec![false; n];
            for (i, id) in ids.into_iter().enumerate() {
                if rng.chance(40) {
                    cancelled[i] = gort::timer::cancel(id);
                }
            }
            let expect = cancelled.iter().filter(|c| !**c).count();
            for _ in 0..expect {
                let i = rx
                    .recv()
                    .expect("a timer that was not cancelled never fired");
                assert!(!cancelled[i], "cancelled timer {i} fired");
            }
            // Every timer has fired or been cancelled; the callbacks hold the last senders.
            gort::time::sleep(Duration::from_millis(25));
            for (i, f) in fired.iter().enumerate() {
                let f = f.load(SeqCst);
                assert_eq!(f, usize::from(!cancelled[i]), "timer {i} fired {f} times");
            }
        }
        1 => {
            let (tx, rx) = chan::bounded::<u32>(0);
            let d = rng.ms(0, 10);
            let sender = spawn(on_thread(rng), move || {
                gort::time::sleep(d);
                let _ = tx.send_timeout(7, Duration::from_millis(50));
            });
            let t = gort::time::after(rng.ms(0, 10));
            select! {
                recv(rx) -> v => assert_eq!(v, Ok(7)),
                recv(t) -> v => assert!(v.is_ok(), "time::after's channel closed"),
            }
            sender.join();
        }
        _ => {
            let t = gort::time::Ticker::new(rng.ms(1, 5));
            for _ in 0..rng.range(1, 4) {
                t.receiver().recv().expect("ticker stopped ticking");
            }
            t.stop();
            gort::time::sleep(rng.ms(0, 5));
        }
    }
}

/// Deterministic bytes for a connection.
fn payload(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Echo round trips over loopback, from goroutines and threads at once, to an echo server
/// of this operation's own: a listener that outlived it would keep the deadlock detector
/// off (a socket's peer may wake its waiter) for the rest of the run.
fn op_tcp(rng: &mut Rng) {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, server) = echo_server(stop.clone());
    let conns = rng.range(1, 4);
    let hs: Vec<_> = (0..conns)
        .map(|_| {
            let mut r = rng.fork();
            spawn(on_thread(rng), move || {
                let c = TcpStream::connect(addr).expect("connect to the echo server");
                for _ in 0..r.range(1, 4) {
                    let len = r.range(1, 32 * 1024) as usize;
                    let data = payload(&mut r, len);
                    let reader = c.try_clone().unwrap();
                    // Write and read at once: a large payload would fill both buffers.
                    let echo = gort::go(move || {
                        let mut back = vec![0u8; len];
                        (&reader).read_exact(&mut back).map(|_| back)
                    });
                    (&c).write_all(&data).expect("write to the echo server");
                    let back = echo.join().unwrap().expect("read from the echo server");
                    assert!(back == data, "echo returned different bytes");
                }
            })
        })
        .collect();
    hs.into_iter().for_each(Task::join);
    stop.store(true, SeqCst);
    drop(TcpStream::connect(addr)); // wakes the accept loop, which sees `stop`
    server.join().expect("echo server");
}

/// A random tree of goroutines and threads; some children are detached and report
/// through a channel, some leaves panic (their join says so). Every node runs once.
fn op_spawn_tree(rng: &mut Rng) {
    fn node(
        mut r: Rng,
        depth: u32,
        may_panic: bool,
        ran: Arc<AtomicUsize>,
        detached: Sender<usize>,
    ) -> usize {
        ran.fetch_add(1, SeqCst);
        let mut joined = 1;
        let kids = if depth == 0 { 0 } else { r.below(4) };
        let panics = kids == 0 && r.chance(10);
        let mut hs = Vec::new();
        for _ in 0..kids {
            let (r2, ran, det) = (r.fork(), ran.clone(), detached.clone());
            let thread = r.chance(10);
            if r.chance(25) {
                let det2 = det.clone();
                drop(spawn(thread, move || {
                    let n = node(r2, depth - 1, false, ran, det2);
                    det.send(n)
                        .expect("the root receives until every sender is gone");
                }));
            } else {
                hs.push(spawn(thread, move || node(r2, depth - 1, true, ran, det)));
            }
        }
        for h in hs {
            joined += match h.join_result() {
                Ok(n) => n,
                Err(p) => {
                    assert_eq!(p.downcast_ref::<&str>(), Some(&DELIBERATE));
                    PANICS_JOINED.fetch_add(1, SeqCst);
                    1 // a leaf that ran and panicked
                }
            };
        }
        if panics && may_panic {
            deliberate_panic();
        }
        joined
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::unbounded();
    let root = {
        let (r, ran) = (rng.fork(), ran.clone());
        let depth = rng.range(1, 4) as u32;
        spawn(on_thread(rng), move || node(r, depth, false, ran, tx))
    };
    let mut total = root.join();
    total += rx.iter().sum::<usize>();
    assert_eq!(
        total,
        ran.load(SeqCst),
        "spawn tree: nodes ran and nodes counted differ"
    );
}

/// A `gort::scope` whose goroutines borrow the worker's locals: some start another on the
/// same scope, some panic; each handle is dropped at once, kept to the closure's end, or
/// joined. Checked: every goroutine ran, every result (which borrows a local) was dropped
/// before `scope` returned, and `scope` resumed a panic exactly when one went unjoined.
fn op_scope(rng: &mut Rng) {
    struct Counted<'a>(&'a AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let n = rng.range(1, 12) as usize;
    // (what happens to the handle: 0 dropped, 1 kept, 2 joined; panics; yields before)
    let plan: Vec<(u64, bool, u64)> = (0..n)
        .map(|_| (rng.below(3), rng.chance(10), rng.below(3)))
        .collect();
    let nested = rng.chance(30);
    let (ran, results) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let joined_panics = AtomicUsize::new(0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gort::scope(|s| {
            let mut kept = Vec::new();
            for &(fate, panics, yields) in &plan {
                let (ran, results) = (&ran, &results);
                let h = s.go(move || {
                    for _ in 0..yields {
                        gort::yield_now();
                    }
                    ran.fetch_add(1, SeqCst);
                    if nested {
                        drop(s.go(move || {
                            ran.fetch_add(1, SeqCst);
                            Counted(results)
                        }));
                    }
                    if panics {
                        deliberate_panic();
                    }
                    Counted(results)
                });
                match fate {
                    0 => drop(h),
                    1 => kept.push(h),
                    _ => match h.join() {
                        Ok(r) => drop(r),
                        Err(p) => {
                            assert_eq!(p.downcast_ref::<&str>(), Some(&DELIBERATE));
                            joined_panics.fetch_add(1, SeqCst);
                            PANICS_JOINED.fetch_add(1, SeqCst);
                        }
                    },
                }
            }
        })
    }));
    let panicking = plan.iter().filter(|p| p.1).count();
    let unjoined = plan.iter().filter(|p| p.1 && p.0 != 2).count();
    let goroutines = if nested { 2 * n } else { n };
    assert_eq!(
        ran.load(SeqCst),
        goroutines,
        "scope: returned before a goroutine ran"
    );
    assert_eq!(
        results.load(SeqCst),
        goroutines - panicking,
        "scope: a result outlived the scope (or was dropped twice)"
    );
    assert_eq!(joined_panics.load(SeqCst), panicking - unjoined);
    match outcome {
        Ok(()) => assert_eq!(unjoined, 0, "scope: an unjoined panic was lost"),
        Err(p) => {
            assert!(unjoined > 0, "scope: resumed a panic that was joined");
            assert_eq!(p.downcast_ref::<&str>(), Some(&DELIBERATE));
        }
    }
}

// ---------------------------------------------------------------- one run (the child)

/// The echo server: one goroutine per connection; `stop` ends the accept loop.
fn echo_server(stop: Arc<AtomicBool>) -> (std::net::SocketAddr, gort::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = gort::go(move || loop {
        let (mut c, _) = match l.accept() {
            Ok(x) => x,
            Err(e) => panic!("echo server: accept failed: {e}"),
        };
        if stop.load(SeqCst) {
            return;
        }
        gort::go(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    });
    (addr, h)
}

fn rss_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

/// Waits until `f` holds, up to `secs`; false if it never did.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        gort::time::sleep(Duration::from_millis(5)); // a goroutine or a thread
    }
    f()
}

/// The end of a run: every goroutine left waits on a plain thread that is itself in gort
/// calls with timeouts (a sleep, a `recv_timeout`, a `select!` timeout) before it sends.
/// Nothing else runs, no socket is open: the deadlock detector is live and must stay
/// silent, for the thread will wake them.
fn quiet_phase(rng: &mut Rng) {
    for _ in 0..3 {
        let (tx, rx) = chan::bounded::<u32>(0);
        let waiters: Vec<_> = (0..rng.range(1, 3))
            .map(|_| {
                let rx = rx.clone();
                gort::go(move || {
                    rx.recv()
                        .expect("the thread sends one value to each waiter")
                })
            })
            .collect();
        let (d, style, n) = (rng.ms(30, 120), rng.below(3), waiters.len());
        let thread = std::thread::spawn(move || {
            match style {
                0 => gort::time::sleep(d),
                1 => {
                    let (_keep, idle) = chan::bounded::<()>(0);
                    assert!(idle.recv_timeout(d).is_err());
                }
                _ => select! {
                    recv(chan::never::<()>()) -> _ => unreachable!(),
                    default(d) => {},
                },
            }
            for i in 0..n {
                tx.send(i as u32).expect("the waiters receive");
            }
        });
        for w in waiters {
            w.join().expect("waiter");
        }
        gort::syscall(|| thread.join()).expect("quiet-phase thread");
    }
}

/// One run: workers until `secs` are up, then the invariants.
fn chaos_run(seed: u64, secs: f64, status: Status, stop_watchdog: impl FnOnce()) -> String {
    let procs = gort::procs();
    let baseline = gort::num_goroutine();
    let env = Arc::new(Env {
        ops: AtomicU64::new(0),
        msgs: AtomicU64::new(0),
        status,
    });
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut seeds = Rng::new(seed);
    let mut workers = Vec::new();
    for w in 0..GOROUTINE_WORKERS + THREAD_WORKERS {
        let env = env.clone();
        let mut rng = seeds.fork();
        workers.push(spawn(w >= GOROUTINE_WORKERS, move || {
            while Instant::now() < end {
                let op = rng.below(OPS.len() as u64) as usize;
                env.note(w, OPS[op]);
                run_op(op, &mut rng, &env, w);
                env.ops.fetch_add(1, SeqCst);
            }
            env.note(w, "finished");
        }));
    }
    // The procs monkey: short stretches at another procs value, then back.
    let mut r = seeds.fork();
    let monkey = spawn(false, move || {
        let mut changes = 0;
        let mut max_rss = 0;
        while Instant::now() < end {
            gort::time::sleep(r.ms(100, 600));
            gort::set_procs([1, 2, 3, 8][r.below(4) as usize]);
            gort::time::sleep(r.ms(20, 200));
            gort::set_procs(procs);
            changes += 1;
            max_rss = max_rss.max(rss_mib());
        }
        (changes, max_rss)
    });
    for w in workers {
        w.join();
    }
    let (changes, max_rss) = monkey.join();
    env.note(GOROUTINE_WORKERS + THREAD_WORKERS, "final checks");
    assert_eq!(gort::procs(), procs, "set_procs did not restore procs");
    let live = LIVE_MSGS.load(SeqCst);
    assert_eq!(live, 0, "{live} messages leaked");
    let settled = eventually(20, || gort::num_goroutine() == baseline);
    assert!(
        settled,
        "num_goroutine is {} after every operation ended; it was {baseline} before",
        gort::num_goroutine()
    );
    let rss = rss_mib().max(max_rss);
    assert!(
        rss < RSS_LIMIT_MIB,
        "RSS reached {rss} MiB (limit {RSS_LIMIT_MIB})"
    );
    // The watchdog is a thread outside gort, which keeps the deadlock detector off: stop
    // it for the quiet phase (the parent's time limit still catches a hang there).
    stop_watchdog();
    eprintln!("chaos: workers done and checked; quiet phase");
    quiet_phase(&mut seeds);
    format!(
        "{} operations, {} messages, {} panics joined, {changes} procs changes, max RSS {rss} MiB",
        env.ops.load(SeqCst),
        env.msgs.load(SeqCst),
        PANICS_JOINED.load(SeqCst)
    )
}

/// One line of scheduler state.
fn sched_line(s: gort::Stats) -> String {
    let runq: Vec<usize> = s.per_proc.iter().map(|p| p.runq).collect();
    format!(
        "goroutines={} procs={} idle_procs={} threads={} idle_threads={} spinning={} \
         global_runq={} runq per P={runq:?} syscalls={} handoffs={} retakes={}",
        s.goroutines,
        s.procs,
        s.idle_procs,
        s.threads,
        s.idle_threads,
        s.spinning_threads,
        s.global_runq,
        s.syscalls,
        s.handoffs,
        s.retakes
    )
}

/// Starts a plain thread that, unless stopped within `limit`, reports what every worker is
/// doing and the scheduler's queues (queued goroutines: a stranded runnable goroutine;
/// none: a lost wake-up) and ends the process. Returns the function that stops it.
fn start_watchdog(limit: Duration, label: String, status: Status) -> impl FnOnce() + Send {
    let stopped = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let s = stopped.clone();
    let thread = std::thread::spawn(move || {
        let (lock, cond) = &*s;
        let guard = lock.lock().unwrap();
        let (guard, _) = cond.wait_timeout_while(guard, limit, |s| !*s).unwrap();
        if *guard {
            return;
        }
        let ops: Vec<String> = status.iter().map(|s| s.lock().unwrap().clone()).collect();
        eprintln!("chaos: HUNG ({label}): workers are in {ops:?}");
        let a = sched_line(gort::stats());
        std::thread::sleep(Duration::from_millis(500));
        let b = sched_line(gort::stats());
        eprintln!("chaos: scheduler state, then 500 ms later:\n{a}\n{b}");
        std::process::exit(3);
    });
    move || {
        *stopped.0.lock().unwrap() = true;
        stopped.1.notify_all();
        gort::syscall(|| thread.join()).expect("watchdog");
    }
}

/// The child: one run, in `mode`, at the procs GOMAXPROCS set.
fn child_main(mode: &str, seed: u64, secs: f64) {
    let label = format!("seed={seed} mode={mode} procs={}", gort::procs());
    let hook = std::panic::take_hook();
    let label2 = label.clone();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() == Some(&DELIBERATE) {
            return;
        }
        hook(info);
        eprintln!("chaos: FAILED ({label2})");
        std::process::exit(101);
    }));
    let status: Status = Arc::new(
        (0..GOROUTINE_WORKERS + THREAD_WORKERS + 1)
            .map(|_| std::sync::Mutex::new("starting".to_string()))
            .collect(),
    );
    let limit = Duration::from_secs_f64(secs) + Duration::from_secs(HANG_SECS);
    let stop_watchdog = start_watchdog(limit, label.clone(), status.clone());
    let summary = match mode {
        "gort-main" => gort::run(move || chaos_run(seed, secs, status, stop_watchdog)),
        "plain-main" => chaos_run(seed, secs, status, stop_watchdog),
        _ => panic!("unknown GORT_CHAOS_MODE {mode:?}"),
    };
    println!("chaos ok ({label}): {summary}");
}

// ---------------------------------------------------------------- the parent

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// Runs one child; returns an error report on failure.
fn run_child(mode: &str, procs: usize, seed: u64, secs: f64) -> Result<String, String> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--chaos-child", mode, &seed.to_string(), &secs.to_string()])
        .env("GOMAXPROCS", procs.to_string())
        // The panic message, not pages of backtrace (unless asked for).
        .env(
            "RUST_BACKTRACE",
            std::env::var("RUST_BACKTRACE").unwrap_or_else(|_| "0".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the chaos child");
    let limit = Duration::from_secs_f64(secs) + Duration::from_secs(HANG_SECS + 30);
    let start = Instant::now();
    let hung = loop {
        if child.try_wait().expect("wait").is_some() {
            break false;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let replay = format!(
        "replay: GORT_CHAOS_SEED={seed} GORT_CHAOS_MODE={mode} GOMAXPROCS={procs} \
         GORT_CHAOS_RUN_SECS={secs} cargo test --test chaos"
    );
    if hung {
        return Err(format!("the child hung and was killed\n{stderr}\n{replay}"));
    }
    if out.status.success() && stdout.contains("chaos ok") {
        return Ok(stdout.trim().to_string());
    }
    let why = if stderr.contains("all goroutines are asleep - deadlock!") {
        "FALSE DEADLOCK REPORT (there is no deadlock in this program)"
    } else {
        "failed"
    };
    // The first panic's message first, then the end of stderr.
    let lines: Vec<&str> = stderr.lines().collect();
    let first_panic = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .map(|i| lines[i..(i + 2).min(lines.len())].join("\n"))
        .unwrap_or_default();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(format!(
        "{why}: {:?}\n{first_panic}\n...\n{tail}\n{replay}",
        out.status
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--chaos-child") {
        let seed = args[3].parse().unwrap();
        let secs = args[4].parse().unwrap();
        return child_main(&args[2], seed, secs);
    }
    // libtest's options (`--list`, filters) do not apply: this is one test.
    if args.iter().any(|a| a == "--list") {
        println!("chaos: test");
        return;
    }
    let total: f64 = env_or("GORT_CHAOS_SECS", 48.0);
    let run_secs: f64 = env_or("GORT_CHAOS_RUN_SECS", 8.0);
    let replay = std::env::var("GORT_CHAOS_SEED").ok();
    let modes: Vec<String> = match std::env::var("GORT_CHAOS_MODE") {
        Ok(m) => vec![m],
        Err(_) => MODES.iter().map(|m| m.to_string()).collect(),
    };
    let procs: Vec<usize> = match std::env::var("GOMAXPROCS") {
        Ok(p) => vec![p.parse().expect("GOMAXPROCS")],
        Err(_) => PROCS.to_vec(),
    };
    let combos: Vec<(String, usize)> = modes
        .iter()
        .flat_map(|m| procs.iter().map(move |&p| (m.clone(), p)))
        .collect();
    let (first_seed, runs) = match replay.as_deref() {
        Some("random") => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            let runs = ((total / run_secs).ceil() as usize).max(1);
            (t.as_nanos() as u64 % 1_000_000_000, runs)
        }
        Some(s) => (
            s.parse().expect("GORT_CHAOS_SEED: a number or `random`"),
            combos.len(),
        ),
        None => (1, ((total / run_secs).ceil() as usize).max(1)),
    };
    let fixed = replay.as_deref().is_some_and(|s| s != "random");
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..runs {
        let (mode, p) = &combos[i % combos.len()];
        let seed = if fixed {
            first_seed
        } else {
            first_seed + i as u64
        };
        match run_child(mode, *p, seed, run_secs) {
            Ok(line) => println!("{line}"),
            Err(report) => {
                println!("chaos FAILED: seed={seed} mode={mode} procs={p}\n{report}");
                failures.push(format!("seed={seed} mode={mode} procs={p}"));
            }
        }
    }
    println!(
        "chaos: {} runs in {:.0} s, {} failed",
        runs,
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    if !failures.is_empty() {
        println!("failed runs: {failures:?}");
        std::process::exit(1);
    }
}
