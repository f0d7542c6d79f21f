//! The deadlock check behind Go's `fatal error: all goroutines are asleep - deadlock!`.
//!
//! # The contract: never a false report
//!
//! The check ends the process, so it must never fire on a program that could still make
//! progress. It reports only when, at one instant:
//!
//! - goroutines exist, every P is idle and unowned with an empty run queue, the global
//!   queue is empty, and no M is running a goroutine (a goroutine in a syscall or hogging
//!   its thread counts as running);
//! - no timer is pending (a timer fires by itself: a `sleep`, a deadline, a ticker) and no
//!   park waits on the netpoller (a socket's peer can wake it);
//! - every thread of the process is either one of the runtime's own (an idle M, sysmon, the
//!   stack scavenger, the signal thread while it relays no signal), or a plain thread asleep in gort's park seam **with no deadline**
//!   and not yet woken.
//!
//! Anything that could still act defeats it: a thread parked with a deadline (it acts when
//! the deadline passes: a pending timer as far as this check is concerned), a thread woken
//! but not yet back, a thread not in gort at all (it may send or close later), a thread
//! spinning before it parks, a running goroutine.
//!
//! # Deciding from exact state
//!
//! The state is read twice in a row (a double collect), and the check reports only if the
//! two reads are identical and both say "dead". Everything read is either a monotonic
//! counter (goroutines ever resumed, ever spawned) or a value that cannot come back to
//! itself (a thread's park state word carries its episode's sequence number; a thread id
//! is not reused within microseconds), so identical reads mean nothing moved between the
//! first read of each item and its second: there was an instant between the two collects
//! at which all of it held at once. The thread list is read first in the first collect
//! and last in the second, so a thread that appears or disappears during either is seen.
//! And a dead state stays dead: no agent is left that could change it.
//!
//! # Cost
//!
//! None on the hot path: goroutine parks touch no shared counter for this. A plain thread
//! about to sleep with no deadline writes one flag of its own slot (it is about to make a
//! futex system call anyway) and pokes sysmon if sysmon sleeps. Sysmon runs the check only
//! when every P is idle: it lists `/proc/self/task` and reads every P and thread slot, a
//! few microseconds per thousand threads.
//!
//! # When it runs
//!
//! Sysmon runs it when the last P goes idle, and again whenever something that may have
//! removed the last obstacle happens while it sleeps: a plain thread parks with no
//! deadline, a plain thread that used gort exits, the last pending timer fires. It does not
//! poll: an idle process gets no wake-ups.
//!
//! # What it misses (a hang, not a report)
//!
//! - A thread outside gort that is itself blocked for ever (in `std::thread::JoinHandle::
//!   join`, a `std::sync::Mutex`, a read from a terminal) could still act as far as gort
//!   can tell, so a deadlock among goroutines waiting for it is not reported. Go has the
//!   same limit with threads it does not own (cgo callbacks, a C library's threads). For
//!   the same reason a test under libtest's harness, whose main thread waits outside gort,
//!   never sees a report.
//! - A thread that never blocked in gort (it only used non-blocking calls, or none) and
//!   exits after the goroutines deadlocked: nothing tells sysmon, which is asleep, so the
//!   deadlock is reported only if something else wakes it later.
//!
//! Uses: `netpoll`, `park`, `sched`, `signal`, `sysmon`, `thread_probe`, `timer`.

use crate::park::{thread_parks, ThreadPark};
use crate::sched::{self, Sched};
use crate::{netpoll, thread_probe, timer};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// One read of everything the verdict depends on.
#[derive(Debug, Default, PartialEq, Eq)]
struct Collect {
    /// Every thread of the process (sorted kernel thread ids).
    tids: Vec<i32>,
    /// Goroutines that exist.
    goroutines: usize,
    /// Goroutines ever spawned and ever resumed: any progress changes one of them.
    spawned: u64,
    runs: u64,
    /// No goroutine runnable or running, no P in use, no timer or netpoll wait pending.
    quiet: bool,
    /// Plain threads that hold a park slot.
    threads: Vec<ThreadPark>,
    /// The runtime's own threads that cannot act now: Ms asleep with nothing to do,
    /// sysmon, the scavenger, the idle signal thread.
    own: Vec<i32>,
    /// The sleep counters of those Ms: equal in both reads means no wake-up in between.
    ms: Vec<u64>,
}

/// What a check concluded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing can ever run again: this many goroutines are stuck.
    Deadlocked(usize),
    /// Something can still act (sysmon hears when the runtime has news).
    Live,
    /// The first read said "dead" but something moved before the second: look again soon
    /// (a thread that is finishing up, the scavenger at work), since nothing may tell
    /// sysmon when it stops.
    Again,
}

/// CPU time that threads other than sysmon may use between the two reads of a check
/// without defeating it: what sysmon's own clock reads leave unaccounted (their order
/// differs by a few hundred nanoseconds). Any thread that does anything (a thread created
/// and gone between the two thread listings, a spurious wake-up) uses more.
const CPU_SLACK: Duration = Duration::from_micros(5);

/// The deadlock check with its buffers, kept by sysmon from one check to the next: once
/// they have grown, a check allocates nothing (it runs whenever the runtime goes idle,
/// which a busy program may do thousands of times a second).
#[derive(Debug, Default)]
pub(crate) struct Check {
    first: Collect,
    second: Collect,
}

impl Check {
    /// Whether the process is deadlocked (see the module docs).
    ///
    /// Besides the two reads, the process's CPU time (less sysmon's) must not move between
    /// them: a thread created after the first thread listing and gone before the second
    /// would be in neither, but it used CPU.
    pub(crate) fn run(&mut self, s: &Sched) -> Verdict {
        // The cheap half of `quiet` first: a server whose Ps all went idle between two
        // requests has netpoll waits pending, and must not pay for `/proc` and clock reads
        // (the full check would say `Live` for the same reason).
        if sched::live_goroutines() == 0 || !nothing_pending(s) {
            return Verdict::Live;
        }
        let cpu_before = thread_probe::others_cpu_time();
        if !collect(s, true, &mut self.first) {
            return Verdict::Live;
        }
        let Some(n) = dead(&self.first) else {
            return Verdict::Live;
        };
        let same = collect(s, false, &mut self.second) && self.second == self.first;
        let cpu_after = thread_probe::others_cpu_time();
        let still = match (cpu_before, cpu_after) {
            (Some(a), Some(b)) => b.saturating_sub(a) <= CPU_SLACK,
            _ => false,
        };
        if same && still {
            Verdict::Deadlocked(n)
        } else {
            Verdict::Again
        }
    }
}

/// Whether one collect says "dead": then the number of goroutines.
fn dead(c: &Collect) -> Option<usize> {
    if c.goroutines == 0 || !c.quiet {
        return None;
    }
    let stuck = |tid: &i32| {
        c.own.binary_search(tid).is_ok() || c.threads.iter().any(|t| t.tid == *tid && t.stuck)
    };
    c.tids.iter().all(stuck).then_some(c.goroutines)
}

/// No goroutine waits in the global queue, and no timer or netpoll wait is pending: the
/// part of `quiet` that needs no lock and no system call.
fn nothing_pending(s: &Sched) -> bool {
    s.global.is_empty() && timer::next() == u64::MAX && netpoll::waiters() == 0
}

/// Reads the state once into `c`. `tids_first`: list the process's threads before the
/// rest (first collect) or after it (second collect). `false` if `/proc` cannot be read.
fn collect(s: &Sched, tids_first: bool, c: &mut Collect) -> bool {
    if tids_first && !thread_probe::process_tids(&mut c.tids) {
        return false;
    }
    c.goroutines = sched::live_goroutines();
    c.spawned = s.spawned_off_p.load(SeqCst)
        + s.all_ps()
            .map(|p| p.counters.spawned.load(SeqCst))
            .sum::<u64>();
    c.runs = s
        .all_ps()
        .map(|p| p.counters.runs.load(SeqCst))
        .sum::<u64>();
    c.own.clear();
    c.ms.clear();
    let ms_quiet = {
        let all = s.allm.lock();
        // An M counts as unable to act only while it sleeps on its note: one between
        // scheduling steps (finishing a goroutine, requeueing one) may still wake somebody.
        for m in all.iter() {
            let sleeps = m.sleeps.load(SeqCst);
            let tid = m.tid.load(SeqCst);
            if sleeps % 2 == 1 && tid != 0 {
                c.own.push(tid);
                c.ms.push(sleeps);
            }
        }
        !all.iter().any(|m| m.running())
    };
    crate::sysmon::runtime_tids(&mut c.own);
    // The signal thread, while it relays no signal to a goroutine (as in Go, a program
    // waiting for a signal is not deadlocked).
    c.own.extend(crate::signal::idle_thread_tid());
    c.own.sort_unstable();
    c.quiet = ms_quiet
        && s.npidle.load(SeqCst) == s.nprocs.load(SeqCst)
        && s.all_ps().all(|p| p.owner().is_none() && !p.has_work())
        && nothing_pending(s);
    thread_parks(&mut c.threads);
    tids_first || thread_probe::process_tids(&mut c.tids)
}
