//! Scheduler counters: [`stats`].
//!
//! Uses: `sched`.

use crate::sched::{self, m};
use std::sync::atomic::Ordering::Relaxed;

/// Counters of one P.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcStats {
    /// The P's number.
    pub id: usize,
    /// Goroutines queued on it now.
    pub runq: usize,
    /// Goroutine executions it started (each resume after a spawn, wake-up or yield).
    pub runs: u64,
    /// Successful steals from other Ps.
    pub steals: u64,
    /// Goroutines spawned on it.
    pub spawned: u64,
    /// Goroutines that ended on it.
    pub exited: u64,
}

/// A snapshot of the scheduler (counters are read without stopping anything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Live goroutines.
    pub goroutines: usize,
    /// Ps in use (`procs()`).
    pub procs: usize,
    /// Ps with no M.
    pub idle_procs: usize,
    /// OS threads the scheduler started (Ms).
    pub threads: usize,
    /// Ms asleep with nothing to do.
    pub idle_threads: usize,
    /// Ms looking for work.
    pub spinning_threads: usize,
    /// Goroutines in the global run queue.
    pub global_runq: usize,
    /// Per-P counters, for every P ever created (retired ones included).
    pub per_proc: Vec<ProcStats>,
    /// `gort::syscall` calls so far.
    pub syscalls: u64,
    /// Ps sysmon handed off from an M blocked in a syscall: one marked with
    /// `gort::syscall`, or a blocking call it found by itself (see `blocked_handoffs`).
    pub handoffs: u64,
    /// Of `handoffs`, those from an M that sysmon found blocked in the kernel outside
    /// `gort::syscall` (its CPU time still and its thread asleep, after 1 ms in one
    /// goroutine).
    pub blocked_handoffs: u64,
    /// Ps sysmon took from an M whose goroutine ran 10 ms without a scheduling point.
    pub retakes: u64,
    /// Rounds sysmon has run (it does not run at all while the runtime is idle).
    pub sysmon_rounds: u64,
    /// Goroutine control blocks (Gs) ever allocated (Go's `allglen`): about the most
    /// goroutines that were alive at once, plus up to 256 per P that wait in the Ps' free
    /// caches; Gs are allocated 64 at a time, so it grows in steps of 64. A G is reused as
    /// soon as its goroutine ends, joined or not, and never freed.
    pub gs_allocated: usize,
}

/// Takes a snapshot of the scheduler's counters.
pub fn stats() -> Stats {
    let s = sched::sched();
    let per_proc: Vec<ProcStats> = s
        .all_ps()
        .map(|p| ProcStats {
            id: p.id,
            runq: p.runq_len(),
            runs: p.counters.runs.load(Relaxed),
            steals: p.counters.steals.load(Relaxed),
            spawned: p.counters.spawned.load(Relaxed),
            exited: p.counters.exited.load(Relaxed),
        })
        .collect();
    let (threads, idle_threads) = m::thread_counts(s);
    Stats {
        goroutines: sched::live_goroutines(),
        procs: s.nprocs.load(Relaxed),
        idle_procs: s.npidle.load(Relaxed),
        threads,
        idle_threads,
        spinning_threads: s.nmspinning.load(Relaxed),
        global_runq: s.global.len(),
        per_proc,
        syscalls: s.syscalls.load(Relaxed),
        handoffs: s.handoffs.load(Relaxed),
        blocked_handoffs: s.blocked_handoffs.load(Relaxed),
        retakes: s.retakes.load(Relaxed),
        sysmon_rounds: s.sysmon_tick.load(Relaxed),
        gs_allocated: crate::g::ALL.lock().len(),
    }
}
