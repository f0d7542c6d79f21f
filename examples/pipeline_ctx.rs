//! A pipeline of goroutines that stops cleanly through a cancelled context: a generator
//! feeds requests to a pool of workers, each request gets its own deadline, a collector
//! tallies the results. Ctrl-C (SIGINT) cancels the root context, and so does the
//! `--duration` limit; with neither, the run ends after `--requests` requests.
//!
//! ```sh
//! cargo run --release --example pipeline_ctx -- --requests 2000 --workers 16 --duration 10
//! ```
//!
//! A goroutine waits for SIGINT on a `gort::signal::notify` channel and cancels the root
//! context with a cause, which the summary reports.

use gort::chan::{bounded, Receiver, Sender};
use gort::context::{self, Cause, Context, Error, Key};
use gort::select;
use gort::signal::{self, Signal};
use gort::time::{Duration, Instant};
use std::sync::Arc;

/// Why the run was cut short.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted (Ctrl-C)")
    }
}

impl std::error::Error for Interrupted {}

/// The request id, carried in each request's context.
#[derive(PartialEq)]
struct RequestId;

impl Key for RequestId {
    type Value = u64;
}

struct Config {
    requests: u64,
    workers: usize,
    duration: Duration,
    deadline: Duration,
}

fn parse_args() -> Config {
    let mut c = Config {
        requests: 2000,
        workers: 16,
        duration: Duration::from_secs(30),
        deadline: Duration::from_millis(20),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--requests" => c.requests = val().parse().expect("--requests N"),
            "--workers" => c.workers = val().parse().expect("--workers N"),
            "--duration" => {
                c.duration = Duration::from_secs_f64(val().parse().expect("--duration SECS"))
            }
            "--deadline-ms" => {
                c.deadline = Duration::from_millis(val().parse().expect("--deadline-ms MS"))
            }
            _ => panic!("usage: pipeline_ctx [--requests N] [--workers N] [--duration SECS] [--deadline-ms MS]"),
        }
    }
    c
}

/// Cancels `root` with a cause on Ctrl-C; ends with `root`. Dropping `sigs` on return
/// gives SIGINT its usual effect back.
fn watch_sigint(root: Context, sigs: Receiver<Signal>, cancel: context::CancelCauseFunc) {
    select! {
        recv(root.done()) -> _ => {}
        recv(sigs) -> _ => {
            let why: Cause = Arc::new(Interrupted);
            cancel.cancel(Some(why));
        }
    }
}

/// Stage 1: request ids, until `n` or the context ends.
fn generate(ctx: Context, n: u64, out: Sender<u64>) {
    for id in 0..n {
        select! {
            send(out, id) -> r => if r.is_err() { return },
            recv(ctx.done()) -> _ => return,
        }
    }
}

/// Simulated work: a pseudo-random 0..2x the deadline, so some requests miss it.
fn work_for(id: u64, deadline: Duration) -> Duration {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    deadline.mul_f64((x % 1000) as f64 / 500.0)
}

/// Stage 2: a worker; each request runs under its own deadline.
fn worker(
    ctx: Context,
    deadline: Duration,
    reqs: Receiver<u64>,
    out: Sender<(u64, Result<(), Error>)>,
) {
    loop {
        let id = match reqs.recv_ctx(&ctx) {
            Ok(id) => id,
            Err(_) => return, // no more requests, or the whole run was cancelled
        };
        let (req, cancel) = ctx.with_value(RequestId, id).with_timeout(deadline);
        let r = context::sleep_ctx(&req, work_for(id, deadline));
        debug_assert_eq!(req.value(&RequestId), Some(&id));
        cancel.cancel(); // always: frees the timer and leaves the parent
        if out.send((id, r)).is_err() {
            return;
        }
    }
}

fn main() {
    let cfg = parse_args();
    let summary = gort::run(move || {
        let start = Instant::now();
        let (root, interrupt) = context::background().with_cancel_cause();
        let (ctx, stop) = root.with_timeout(cfg.duration);
        let sigs = signal::notify(&[Signal::SIGINT]);
        drop(gort::go({
            let ctx = ctx.clone();
            move || watch_sigint(ctx, sigs, interrupt)
        }));

        let (req_tx, req_rx) = bounded(64);
        let (res_tx, res_rx) = bounded(64);
        drop(gort::go({
            let ctx = ctx.clone();
            move || generate(ctx, cfg.requests, req_tx)
        }));
        for _ in 0..cfg.workers {
            let (ctx, reqs, out) = (ctx.clone(), req_rx.clone(), res_tx.clone());
            drop(gort::go(move || worker(ctx, cfg.deadline, reqs, out)));
        }
        drop((req_rx, res_tx)); // the results channel closes when the last worker ends

        // Stage 3: collect.
        let (mut ok, mut late, mut canceled) = (0u64, 0u64, 0u64);
        for (_, r) in res_rx {
            match r {
                Ok(()) => ok += 1,
                Err(Error::DeadlineExceeded) => late += 1,
                Err(Error::Canceled) => canceled += 1,
            }
        }
        let why = match ctx.cause() {
            None => "all requests done".to_string(),
            Some(c) if context::is_error(&c, Error::DeadlineExceeded) => "duration limit".into(),
            Some(c) => c.to_string(),
        };
        stop.cancel(); // ends the SIGINT watcher too
        format!(
            "{} requests in {:.2?}: {ok} within their deadline, {late} past it, {canceled} \
             cancelled; stopped by: {why}",
            ok + late + canceled,
            start.elapsed()
        )
    });
    println!("{summary}");
}
