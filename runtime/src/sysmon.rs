//! Sysmon: the runtime's watchdog thread (Go's `sysmon`).
//!
//! It runs without a P, sleeping 20 µs at first and doubling up to 10 ms while it has
//! nothing to do; when every P is idle it sleeps until a P is taken again (no wake-ups in an
//! idle process). Each round it:
//!
//! - hands off the P of an M that has been in [`syscall`] for a full round (≥ 20 µs) while
//!   others could use it, so blocking calls do not stall the runtime;
//! - takes the P from an M whose goroutine has run 10 ms without a scheduling point while
//!   other goroutines wait. Rust code cannot be interrupted safely (Go preempts with a
//!   signal and a safe-point check its compiler inserts; a Rust hog has no safe points), so
//!   the hog keeps its thread and runs on without a P; the goroutines queued behind it move
//!   to another M at once, and the hog waits for a P at its next scheduling point. The cost
//!   is one more OS thread for as long as the hog runs;
//! - fires due timers, in case every M is busy, and polls the network if nobody has for
//!   10 ms (busy Ms never reach the idle path that polls);
//! - reports a deadlock (Go's `fatal error: all goroutines are asleep - deadlock!`) when
//!   goroutines exist, none runs or is runnable, no timer, syscall or netpoll wait is
//!   pending (a socket's peer can wake its waiter), and no
//!   thread outside the scheduler could wake one (every other thread of the process is
//!   itself parked in gort);
//! - prints a line every `GORT_SCHEDTRACE` milliseconds (Go's `GODEBUG=schedtrace`).
//!
//! Taking a P away from a running M is a handshake with that M's `in_p` flag (see
//! `P::try_retake` and `crate::membarrier`).

use crate::note::Note;
use crate::sched::{self, m, Sched};
use crate::{membarrier, netpoll, timer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Sysmon's round counter (also how syscalls are aged).
static TICK: AtomicU64 = AtomicU64::new(0);
/// Whether sysmon sleeps until a P is busy again.
static SLEEPING: AtomicBool = AtomicBool::new(false);
static NOTE: std::sync::LazyLock<Note> = std::sync::LazyLock::new(Note::new);
static START: Once = Once::new();

/// How long a goroutine may hold its P without a scheduling point while others wait.
const HOG: Duration = Duration::from_millis(10);
/// How long an M may sit in a syscall while holding a P nobody needs.
const SYSCALL_IDLE: Duration = Duration::from_millis(10);
/// How long the netpoller may go unpolled while goroutines wait on it.
const NETPOLL_STALE: Duration = Duration::from_millis(10);

/// Starts sysmon (once).
pub(crate) fn start() {
    START.call_once(|| {
        std::thread::Builder::new()
            .name("gort-sysmon".into())
            .spawn(run)
            .expect("gort: cannot start the sysmon thread");
    });
}

/// A P became busy: wake sysmon if it sleeps for good.
pub(crate) fn wake() {
    if SLEEPING.load(SeqCst) {
        NOTE.wakeup();
    }
}

/// Sysmon's rounds so far.
pub(crate) fn rounds() -> u64 {
    TICK.load(Relaxed)
}

/// What sysmon remembers about one P between rounds.
#[derive(Clone, Copy)]
struct Seen {
    runs: u64,
    since: Instant,
    syscall_tick: u64,
}

fn run() {
    let s = sched::sched();
    let trace = std::env::var("GORT_SCHEDTRACE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let trace = trace.filter(|&ms| ms > 0).map(Duration::from_millis);
    let start = Instant::now();
    let mut next_trace = trace.map(|t| start + t);
    let mut seen: Vec<Seen> = Vec::new();
    let mut delay = Duration::from_micros(20);
    let mut idle_rounds = 0u32;
    loop {
        if idle_rounds == 0 {
            delay = Duration::from_micros(20);
        } else if idle_rounds > 50 {
            delay = (delay * 2).min(Duration::from_millis(10));
        }
        if let Some(t) = next_trace {
            delay = delay.min(t.saturating_duration_since(Instant::now()));
        }
        NOTE.sleep_until(Some(Instant::now() + delay));
        NOTE.clear();
        let tick = TICK.fetch_add(1, Relaxed) + 1;
        let now = Instant::now();

        if let Some(t) = next_trace {
            if now >= t {
                print_trace(s, now - start);
                next_trace = trace.map(|d| t + d);
            }
        }
        if next_trace.is_none() && all_idle(s) {
            if let Some(n) = deadlocked(s) {
                eprintln!(
                    "fatal error: all goroutines are asleep - deadlock!\n\n{n} goroutine(s) \
                     parked; no goroutine can run, no timer or syscall is pending, and no \
                     other thread can wake them."
                );
                std::process::exit(2);
            }
            // Sleep until a P is busy again (`wake`), re-checking after announcing it.
            SLEEPING.store(true, SeqCst);
            if all_idle(s) {
                NOTE.sleep();
                NOTE.clear();
            }
            SLEEPING.store(false, SeqCst);
            idle_rounds = 0;
            continue;
        }
        timer::check();
        // Busy Ms never reach the idle path that polls: poll if nobody has for 10 ms.
        if netpoll::waiters() > 0 && netpoll::since_last_poll(now) >= NETPOLL_STALE {
            netpoll::poll_now();
        }
        if retake(s, tick, now, &mut seen) {
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
        }
    }
}

/// Every P idle and no M running a goroutine.
fn all_idle(s: &Sched) -> bool {
    s.npidle.load(SeqCst) == s.nprocs.load(SeqCst) && !s.allm.lock().iter().any(|m| m.running())
}

/// Takes Ps from Ms stuck in syscalls or hogging goroutines. Returns whether it did.
fn retake(s: &Sched, tick: u64, now: Instant, seen: &mut Vec<Seen>) -> bool {
    let n = s.nprocs.load(Relaxed);
    if seen.len() < n {
        seen.resize(
            n,
            Seen {
                runs: u64::MAX,
                since: now,
                syscall_tick: 0,
            },
        );
    }
    let mut took = false;
    for (id, seen) in seen.iter_mut().enumerate().take(n) {
        let p = s.p(id);
        let Some(m) = p.owner() else { continue };
        let others_wait = p.has_work() || !s.global.is_empty();
        if m.in_syscall.load(SeqCst) {
            let started = m.syscall_tick.load(Relaxed);
            if started != seen.syscall_tick {
                seen.syscall_tick = started;
                seen.since = now;
            }
            // At least one full round in the syscall; then hand the P off if anyone could
            // use it (or after 10 ms regardless, as Go does).
            let nobody_idle = s.nmspinning.load(Relaxed) + s.npidle.load(Relaxed) == 0;
            if tick.saturating_sub(started) < 2
                || !(others_wait || nobody_idle || now - seen.since >= SYSCALL_IDLE)
            {
                continue;
            }
            if p.try_retake(m, membarrier::heavy) {
                s.handoffs.fetch_add(1, Relaxed);
                s.handoffp(p);
                took = true;
            }
            continue;
        }
        let runs = p.counters.runs.load(Relaxed);
        if runs != seen.runs {
            seen.runs = runs;
            seen.since = now;
            continue;
        }
        if now - seen.since < HOG || !others_wait {
            continue;
        }
        if p.try_retake(m, membarrier::heavy) {
            s.retakes.fetch_add(1, Relaxed);
            s.handoffp(p);
            seen.since = now;
            took = true;
        }
    }
    took
}

/// Threads of this process (from /proc/self/stat), if it can be read.
fn process_threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // Field 20 of stat; after the command name, field 3 is the first.
    after_comm.split_whitespace().nth(17)?.parse().ok()
}

/// If nothing can ever run again, the number of parked goroutines.
fn deadlocked(s: &Sched) -> Option<usize> {
    let check = || -> Option<(usize, u64)> {
        let goroutines = sched::num_goroutine();
        // A goroutine or thread parked on the netpoller can be woken by a peer.
        if goroutines == 0
            || !s.global.is_empty()
            || timer::next() != u64::MAX
            || netpoll::waiters() > 0
        {
            return None;
        }
        let (ms, live_ms) = {
            let all = s.allm.lock();
            (all.len(), all.len() - s.ms_exited.load(SeqCst))
        };
        let _ = ms;
        // Every thread but the scheduler's own (live Ms and sysmon) must be parked in gort:
        // a thread doing anything else might still wake a goroutine.
        let own = live_ms
            + 1
            + usize::from(crate::stack::scavenger_started())
            + usize::from(crate::signal::thread_cannot_wake());
        let others = process_threads()?.checked_sub(own)?;
        if others != crate::park::parked_threads() {
            return None;
        }
        let runs = s.all_ps().map(|p| p.counters.runs.load(SeqCst)).sum();
        Some((goroutines, runs))
    };
    let first = check()?;
    // Stable over a short while (nothing ran in between).
    std::thread::sleep(Duration::from_millis(20));
    let second = check()?;
    (all_idle(s) && first == second).then_some(first.0)
}

fn print_trace(s: &Sched, elapsed: Duration) {
    let st = crate::stats::stats();
    let queues: Vec<String> = st
        .per_proc
        .iter()
        .take(st.procs)
        .map(|p| p.runq.to_string())
        .collect();
    eprintln!(
        "SCHED {}ms: procs={} idleprocs={} threads={} spinningthreads={} idlethreads={} \
         runqueue={} [{}] syscalls={} handoffs={} retakes={} goroutines={}",
        elapsed.as_millis(),
        st.procs,
        st.idle_procs,
        st.threads,
        st.spinning_threads,
        st.idle_threads,
        st.global_runq,
        queues.join(" "),
        s.syscalls.load(Relaxed),
        s.handoffs.load(Relaxed),
        s.retakes.load(Relaxed),
        st.goroutines,
    );
}

/// Runs `f`, a call that may block its thread (a system call, blocking I/O, a lock of
/// another library), from a goroutine without stalling the others (Go's
/// `entersyscall`/`exitsyscall`).
///
/// The goroutine keeps its P while `f` runs, so a short call costs a few stores. If `f`
/// blocks for longer than one sysmon round (≥ 20 µs) while other goroutines could use the
/// P, sysmon hands the P to another thread. When `f` returns, the goroutine takes back a P
/// (an idle one if its own is gone), or waits in the run queue for one. On a plain thread
/// `syscall(f)` is just `f()`.
pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
    let (Some(mm), Some(g)) = (m::current_m(), sched::current_g()) else {
        return f();
    };
    let s = sched::sched();
    s.syscalls.fetch_add(1, Relaxed);
    mm.syscall_tick.store(TICK.load(Relaxed), Relaxed);
    mm.in_syscall.store(true, SeqCst);
    let r = f();
    mm.in_syscall.store(false, Relaxed);
    let kept = m::with_p(|p| p.is_some());
    if !kept {
        m::exit_syscall_slow(mm, g);
    }
    r
}
