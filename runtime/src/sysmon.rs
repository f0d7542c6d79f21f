//! Sysmon: the runtime's watchdog thread (Go's `sysmon`).
//!
//! It runs without a P, sleeping 20 µs at first and doubling up to 10 ms while it has
//! nothing to do; when every P has been idle for `IDLE_SETTLE` (1 ms of rounds that all saw
//! them idle: a server's Ps go idle between requests thousands of times a second, and each
//! deep sleep would cost the next busy P a wake-up of sysmon) it sleeps until a P is taken
//! again (no wake-ups in an idle process). Each round it:
//!
//! - hands off the P of an M that has been in [`syscall`](crate::syscall) for a full round
//!   (≥ 20 µs) while others could use it, so blocking calls do not stall the runtime;
//! - hands off, by the same rule, the P of an M that it finds blocked in the kernel outside
//!   `syscall` (an unmarked blocking call): one goroutine has run for `BLOCKED_AFTER`
//!   (200 µs), the thread's CPU time has not moved since the last look, and the kernel says
//!   the thread sleeps (`crate::thread_probe`). Only Ms past that threshold are looked at,
//!   and never once half the thread limit is used, so wrong guesses cannot snowball into
//!   the limit's abort. 200 µs, not Go's 20 µs for marked calls: each look at another
//!   thread is a system call, and 1000 goroutines in unmarked 500 ms sleeps finished in
//!   about 2x the marked time at 1 ms, 1.3x at 200 µs, on 2 cores;
//! - takes the P from an M whose goroutine has run 10 ms without a scheduling point while
//!   other goroutines wait. Rust code cannot be interrupted safely (Go preempts with a
//!   signal and a safe-point check its compiler inserts; a Rust hog has no safe points), so
//!   the hog keeps its thread and runs on without a P; the goroutines queued behind it move
//!   to another M at once, and the hog waits for a P at its next scheduling point. The cost
//!   is one more OS thread for as long as the hog runs;
//! - fires due timers, in case every M is busy, and polls the network if nobody has for
//!   10 ms (busy Ms never reach the idle path that polls);
//! - reports a deadlock (Go's `fatal error: all goroutines are asleep - deadlock!`) when
//!   every P is idle and `crate::deadlock::check` finds that nothing can ever run again.
//!   **Its contract is never a false report**: goroutines exist, none runs or is runnable,
//!   no timer or network wait is pending, and every thread of the process is one of the
//!   runtime's own or a plain thread asleep in gort with no deadline, all read twice in a
//!   row from exact state (no sampling over time). Anything that could still act defeats
//!   it: a timed park (a pending timer), a thread woken but not yet back, a thread not in
//!   gort. The misses that remain (a thread blocked for ever outside gort hides a
//!   deadlock, as in Go) are listed in `crate::deadlock`. Sysmon looks when the last P
//!   goes idle, and again whenever a plain thread parks with no deadline or exits, or the
//!   last pending timer fires;
//! - prints a line every `GORT_SCHEDTRACE` milliseconds (Go's `GODEBUG=schedtrace`); the
//!   deadlock check runs with it on too.
//!
//! Taking a P away from a running M is a handshake with that M's `in_p` flag (see
//! `P::try_retake` and `crate::membarrier`).
//!
//! Uses: `deadlock`, `debug`, `membarrier`, `netpoll`, `note`, `sched`, `stats`, `thread_probe`,
//! `timer`.

use crate::note::Note;
use crate::sched::m::M;
use crate::sched::{self, m, Sched};
use crate::{deadlock, membarrier, netpoll, thread_probe, timer};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Whether sysmon sleeps until a P is busy again.
static SLEEPING: AtomicBool = AtomicBool::new(false);
/// Set while sysmon, woken with every P idle, waits [`THREAD_SETTLE`] before it looks.
static SETTLING: AtomicBool = AtomicBool::new(false);
static NOTE: std::sync::LazyLock<Note> = std::sync::LazyLock::new(Note::new);
static START: Once = Once::new();

/// How long a goroutine may hold its P without a scheduling point while others wait.
const HOG: Duration = Duration::from_millis(10);
/// How long one goroutine must have run on an M before sysmon looks whether the M is
/// blocked in the kernel (an unmarked blocking call).
const BLOCKED_AFTER: Duration = Duration::from_micros(200);
/// How long an M may sit in a syscall while holding a P nobody needs.
const SYSCALL_IDLE: Duration = Duration::from_millis(10);
/// How long every P must have been idle (in consecutive rounds) before sysmon runs the
/// deadlock check and sleeps until a P is busy again.
const IDLE_SETTLE: Duration = Duration::from_millis(1);
/// How long sysmon, woken from its sleep for good with every P still idle (by a plain
/// thread's park), waits before its deadlock check: the check looks at most this often
/// while only threads come and go.
const THREAD_SETTLE: Duration = Duration::from_millis(10);
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

/// A P became busy (or a timer, a signal or a thread's exit needs a look): wake sysmon if
/// it sleeps for good, or waits after a plain thread's park (see [`thread_parked`]).
pub(crate) fn wake() {
    if SLEEPING.load(SeqCst) || SETTLING.load(SeqCst) {
        NOTE.wakeup();
    }
}

/// A plain thread parks with no deadline: sysmon's deadlock check counts it as unable to
/// wake anyone, so if sysmon sleeps for good (the runtime is idle), this may have been the
/// last thread that could wake a goroutine: wake it, to look again after
/// [`THREAD_SETTLE`]. While it waits that out, further parks do not wake it: threads
/// passing values over channels park thousands of times a second, and a look after each
/// (with the rounds of `IDLE_SETTLE` before it) kept sysmon awake and cost those threads
/// a tenth of their time on two cores.
#[cfg(not(loom))] // its one caller, a plain thread's real sleep, does not exist under loom
pub(crate) fn thread_parked() {
    if SLEEPING.load(SeqCst) {
        NOTE.wakeup();
    }
}

/// Sysmon's sleep between rounds: 20 µs while it has work, doubling up to 10 ms after 50
/// rounds in a row with nothing to do (Go's `sysmon`), and never past a moment it must be
/// awake for (a trace line, a P due its blocked-in-the-kernel look).
///
/// The back-off and one round's sleep are kept apart: a moment already due makes that one
/// round's sleep zero, and the back-off goes on from where it was. (When they were one
/// variable, a due moment clamped the back-off itself to zero, where doubling kept it:
/// sysmon then went round without sleeping, 780,000 rounds a second and a third of the
/// CPU samples of a 2-core run, until something reset it.)
struct Backoff {
    delay: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_micros(20);
    const MAX: Duration = Duration::from_millis(10);
    /// Rounds with nothing to do before the sleep starts doubling.
    const PATIENCE: u32 = 50;

    fn new() -> Self {
        Backoff { delay: Self::MIN }
    }

    /// How long to sleep before the next round, `idle_rounds` rounds in a row having found
    /// nothing to do, and not past any of the moments in `wake_at`.
    fn next(&mut self, idle_rounds: u32, wake_at: [Option<Instant>; 2], now: Instant) -> Duration {
        if idle_rounds == 0 {
            self.delay = Self::MIN;
        } else if idle_rounds > Self::PATIENCE {
            self.delay = (self.delay * 2).min(Self::MAX);
        }
        wake_at.into_iter().flatten().fold(self.delay, |sleep, t| {
            sleep.min(t.saturating_duration_since(now))
        })
    }
}

/// What sysmon remembers about one P between rounds.
#[derive(Clone, Copy)]
struct Seen {
    runs: u64,
    since: Instant,
    syscall_tick: u64,
    /// The CPU time of the P's M at the last look, while one goroutine has run on it for
    /// longer than `BLOCKED_AFTER` (`None` until then).
    cpu: Option<Duration>,
}

fn run() {
    register_runtime_thread();
    let s = sched::sched();
    let trace = std::env::var("GORT_SCHEDTRACE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let trace = trace.filter(|&ms| ms > 0).map(Duration::from_millis);
    let start = Instant::now();
    let mut next_trace = trace.map(|t| start + t);
    let mut seen: Vec<Seen> = Vec::new();
    let mut backoff = Backoff::new();
    let mut idle_rounds = 0u32;
    let mut wake_at: Option<Instant> = None;
    // When sysmon first saw every P idle, in this stretch of rounds that all saw it.
    let mut idle_since: Option<Instant> = None;
    let mut check = deadlock::Check::default();
    // Sysmon's short sleeps are its clock: without this, Linux's default 50 µs timer slack
    // stretches a 20 µs round to some 70 µs.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects this thread only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    loop {
        let now = Instant::now();
        let sleep = backoff.next(idle_rounds, [next_trace, wake_at.take()], now);
        NOTE.sleep_until(Some(now + sleep));
        NOTE.clear();
        let tick = s.sysmon_tick.fetch_add(1, Relaxed) + 1;
        let now = Instant::now();

        if let Some(t) = next_trace {
            if now >= t {
                print_trace(s, now - start);
                next_trace = trace.map(|d| t + d);
            }
        }
        if all_idle(s) {
            // Ps that just went idle may be busy again in a moment (a server between two
            // requests): keep the usual rounds until they have stayed idle for
            // `IDLE_SETTLE`, so that a busy P does not have to wake a sysmon that went to
            // sleep for good, thousands of times a second (measured: sysmon took 22% of an
            // HTTP server's CPU samples that way).
            let since = *idle_since.get_or_insert(now);
            if now - since < IDLE_SETTLE {
                idle_rounds += 1;
                continue;
            }
            idle_since = None;
            let mut verdict = check.run(s);
            if let deadlock::Verdict::Deadlocked(n) = verdict {
                report_deadlock(n);
            }
            // Sleep until a P is busy again, a plain thread parks with no deadline or
            // exits, or the last timer fired (`wake`); with a trace, until its next line.
            // Announce first, then look again: whoever changed the state before seeing
            // the announcement changed it before this look (SeqCst on both sides).
            SLEEPING.store(true, SeqCst);
            if all_idle(s) {
                if verdict == deadlock::Verdict::Live {
                    verdict = check.run(s);
                }
                if let deadlock::Verdict::Deadlocked(n) = verdict {
                    report_deadlock(n);
                }
                // A thread that used gort is exiting: it stays in the process's thread
                // list until its last destructor ran, after its `wake`; or the check saw
                // something move at the last moment. Look again soon.
                let again = verdict == deadlock::Verdict::Again || exiting_threads();
                let until = again.then(|| Instant::now() + Duration::from_millis(1));
                NOTE.sleep_until(match (until, next_trace) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
                NOTE.clear();
                SLEEPING.store(false, SeqCst);
                if !again {
                    // Woken, and no P may be busy: a plain thread parked (or a timer, a
                    // signal or an exit wants a look, and their `wake` ends this wait).
                    // Let further parks come, then look once (see `thread_parked`).
                    // Announce first, then look again, as above.
                    SETTLING.store(true, SeqCst);
                    if all_idle(s) {
                        NOTE.sleep_until(Some(Instant::now() + THREAD_SETTLE));
                        NOTE.clear();
                        // Straight to the check if still idle: the wait was the settling.
                        idle_since = Instant::now().checked_sub(IDLE_SETTLE);
                    }
                    SETTLING.store(false, SeqCst);
                }
            }
            SLEEPING.store(false, SeqCst);
            idle_rounds = 0;
            continue;
        }
        idle_since = None;
        timer::check();
        // Busy Ms never reach the idle path that polls: poll if nobody has for 10 ms.
        if netpoll::waiters() > 0 && netpoll::since_last_poll(now) >= NETPOLL_STALE {
            netpoll::poll_now();
        }
        let mut look_at = None;
        if retake(s, tick, now, &mut seen, &mut look_at) {
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
        }
        // A goroutine that has not switched for a while is due a look at `BLOCKED_AFTER`:
        // be there on time rather than after a backed-off delay.
        if let Some(t) = look_at {
            wake_at = Some(t);
        }
    }
}

/// The CPU time `m`'s thread has used, if it can be read.
fn m_cpu_time(m: &M) -> Option<Duration> {
    match m.tid.load(Relaxed) {
        0 => None,
        tid => thread_probe::cpu_time(tid),
    }
}

/// No P is idle and no M looks for work: a P handed off now would be put to use.
fn nobody_idle(s: &Sched) -> bool {
    s.nmspinning.load(Relaxed) + s.npidle.load(Relaxed) == 0
}

/// Whether `m`, which has run one goroutine for `BLOCKED_AFTER` or more, is blocked in the
/// kernel: its CPU time has not moved since the last look (`last`) and the kernel says it
/// sleeps (see `crate::thread_probe`). Never while the scheduler has used half of its
/// thread limit: each such hand-off may start a thread, and a wrong guess (a thread that
/// sleeps for a moment in a page fault) must not snowball towards the limit's abort.
fn blocked_in_kernel(s: &Sched, m: &M, last: &mut Option<Duration>) -> bool {
    // A goroutine must be running on it (not the scheduler between goroutines, which may
    // sleep a few microseconds while it looks for work, and holds `in_p` then).
    if !m.running() || m.in_p.load(Relaxed) {
        return false;
    }
    let tid = m.tid.load(Relaxed);
    let live = s.allm.lock().len() - s.ms_exited.load(Relaxed);
    if live >= s.max_threads.load(Relaxed) / 2 {
        return false;
    }
    let Some(cpu) = m_cpu_time(m) else {
        return false;
    };
    let still = *last == Some(cpu);
    *last = Some(cpu);
    still && thread_probe::asleep_in_kernel(tid)
}

/// Go's report, with the goroutines grouped by where they wait (`GORT_TRACEBACK=none`
/// leaves them out), and exit status 2.
fn report_deadlock(n: usize) -> ! {
    let dump = if crate::debug::traceback_none() {
        String::new()
    } else {
        crate::debug::dump()
    };
    eprintln!(
        "fatal error: all goroutines are asleep - deadlock!\n\n{n} goroutine(s) parked; no \
         goroutine can run, no timer or network wait is pending, and every other thread of \
         the process is parked in gort with no deadline.\n\n{dump}"
    );
    std::process::exit(2);
}

/// Threads that are exiting (plain threads that used gort, whose thread-local destructors
/// run; Ms whose locked goroutine ended).
static EXITING: parking_lot::Mutex<Vec<i32>> = parking_lot::Mutex::new(Vec::new());

/// Thread `tid` is exiting: once it is gone, it may have been the last thread that could
/// wake a goroutine.
pub(crate) fn thread_exiting(tid: i32) {
    EXITING.lock().push(tid);
    wake();
}

/// Whether a thread announced by [`thread_exiting`] is still in the process.
fn exiting_threads() -> bool {
    let mut exiting = EXITING.lock();
    exiting.retain(|&tid| thread_probe::exists(tid));
    !exiting.is_empty()
}

/// Every P idle and no M running a goroutine.
fn all_idle(s: &Sched) -> bool {
    s.npidle.load(SeqCst) == s.nprocs.load(SeqCst) && !s.allm.lock().iter().any(|m| m.running())
}

/// Kernel thread ids of the runtime's own threads other than Ms (sysmon, the stack
/// scavenger): threads that never wake a goroutine by themselves.
static RUNTIME_TIDS: parking_lot::Mutex<Vec<i32>> = parking_lot::Mutex::new(Vec::new());

/// Registers the calling thread as one of the runtime's own (see `RUNTIME_TIDS`); called
/// first thing on that thread.
pub(crate) fn register_runtime_thread() {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    RUNTIME_TIDS.lock().push(tid);
    // Until now the deadlock check counted this thread as one that could act.
    wake();
}

/// Appends the thread ids registered with [`register_runtime_thread`] to `out`.
pub(crate) fn runtime_tids(out: &mut Vec<i32>) {
    out.extend_from_slice(&RUNTIME_TIDS.lock());
}

/// Takes Ps from Ms stuck in syscalls or hogging goroutines. Returns whether it did.
/// `look_at` is set to the earliest moment a P is due its blocked-in-the-kernel look.
fn retake(
    s: &Sched,
    tick: u64,
    now: Instant,
    seen: &mut Vec<Seen>,
    look_at: &mut Option<Instant>,
) -> bool {
    let n = s.nprocs.load(Relaxed);
    if seen.len() < n {
        seen.resize(
            n,
            Seen {
                runs: u64::MAX,
                since: now,
                syscall_tick: 0,
                cpu: None,
            },
        );
    }
    let mut took = false;
    // Ps that `set_procs` retired while an M still holds them (it is in a syscall, or one
    // goroutine runs on it): their queued goroutines must not wait for that M to come back
    // to the scheduler. Take the P now and move its queue (`handoffp` drains a retired P),
    // as Go's `procresize` does at once.
    for p in s.all_ps().skip(n) {
        if let Some(m) = p.owner() {
            if p.has_work() && p.try_retake(m, membarrier::heavy) {
                s.handoffp(p);
                took = true;
            }
        }
    }
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
            if tick.saturating_sub(started) < 2
                || !(others_wait || nobody_idle(s) || now - seen.since >= SYSCALL_IDLE)
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
            seen.cpu = None;
            continue;
        }
        let running = now - seen.since;
        if running < BLOCKED_AFTER {
            // Note the M's CPU time now, so that the look at `BLOCKED_AFTER` can compare.
            if seen.cpu.is_none() {
                seen.cpu = m_cpu_time(m);
            }
            let due = seen.since + BLOCKED_AFTER;
            *look_at = Some(look_at.map_or(due, |t| t.min(due)));
            continue;
        }
        // Blocked in the kernel outside `syscall` (an unmarked blocking call): hand the P
        // off by the syscall rule.
        if running >= BLOCKED_AFTER
            && (others_wait || nobody_idle(s) || running >= SYSCALL_IDLE)
            && blocked_in_kernel(s, m, &mut seen.cpu)
        {
            if p.try_retake(m, membarrier::heavy) {
                s.handoffs.fetch_add(1, Relaxed);
                s.blocked_handoffs.fetch_add(1, Relaxed);
                s.handoffp(p);
                seen.since = now;
                seen.cpu = None;
                took = true;
            }
            continue;
        }
        if running < HOG || !others_wait {
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
    if detail() {
        eprint!("{}", crate::debug::sched_detail());
    }
}

/// `GORT_SCHEDDETAIL=1`: each trace line is followed by every P, M and goroutine (Go's
/// `GODEBUG=scheddetail=1`).
fn detail() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GORT_SCHEDDETAIL").is_ok_and(|v| v == "1"))
}

/// Marks the calling M as in a syscall (for a goroutine inside [`syscall`](crate::syscall)).
pub(crate) fn enter_syscall_state() {
    let mm = m::current_m().expect("gort: a goroutine runs on an M");
    mm.syscall_tick
        .store(sched::sched().sysmon_tick.load(Relaxed), Relaxed);
    mm.in_syscall.store(true, SeqCst);
}

/// Clears the calling M's syscall mark (a goroutine inside [`syscall`](crate::syscall) is about to switch
/// away).
pub(crate) fn leave_syscall_state() {
    let mm = m::current_m().expect("gort: a goroutine runs on an M");
    mm.in_syscall.store(false, SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A moment already due makes one round's sleep zero, and the back-off carries on: it
    /// must not stay at zero (sysmon would spin) nor start over.
    #[test]
    fn a_due_moment_does_not_stop_the_backoff() {
        let now = Instant::now();
        let mut b = Backoff::new();
        assert_eq!(b.next(0, [None, None], now), Backoff::MIN);
        let mut last = Duration::ZERO;
        for round in 1..=Backoff::PATIENCE + 3 {
            last = b.next(round, [None, None], now);
        }
        assert_eq!(
            last,
            Backoff::MIN * 8,
            "the sleep doubles after PATIENCE idle rounds"
        );
        // A P's look is already due: this round does not sleep.
        assert_eq!(
            b.next(Backoff::PATIENCE + 4, [None, Some(now)], now),
            Duration::ZERO
        );
        // The next rounds sleep again, doubling on from where the back-off was.
        assert_eq!(
            b.next(Backoff::PATIENCE + 5, [None, None], now),
            Backoff::MIN * 32
        );
        for round in Backoff::PATIENCE + 6..Backoff::PATIENCE + 40 {
            assert!(
                b.next(round, [None, None], now) > Duration::ZERO,
                "round {round}"
            );
        }
        assert_eq!(
            b.next(Backoff::PATIENCE + 40, [None, None], now),
            Backoff::MAX
        );
        // A moment ahead shortens one round only.
        let soon = now + Duration::from_micros(5);
        assert_eq!(b.next(1, [Some(soon), None], now), Duration::from_micros(5));
        assert_eq!(b.next(1, [None, None], now), Backoff::MAX);
        // Work found: back to the shortest sleep.
        assert_eq!(b.next(0, [None, None], now), Backoff::MIN);
    }
}
