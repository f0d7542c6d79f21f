//! See inside a running program: every goroutine with its state, why and where it waits,
//! and where it was spawned (Go's `SIGQUIT` dump and `/debug/pprof/goroutine?debug=2`).
//!
//! Every park records its [`WaitReason`] and the user's call site (the public blocking
//! calls are `#[track_caller]`, so `Location::caller()` inside the park seam is the user's
//! line), with three plain stores into the goroutine's control block and no allocation.
//! How long a goroutine has waited is counted from the first time a dump (or
//! [`goroutines`]) saw that wait, as Go fills in `waitsince` lazily: a park reads no clock.
//! Each goroutine also keeps where it was spawned and its `Builder` name.
//!
//! [`goroutines`] walks every G the runtime ever allocated (Gs are never freed) without
//! stopping anything: each goroutine's fields are read with atomic loads, so a goroutine
//! that changes state meanwhile shows either its old or its new state, never garbage.
//! [`dump`] prints them in Go's format, grouping goroutines that wait the same way at the
//! same place into one entry, so a million parked goroutines make a few lines.
//!
//! # Signals
//!
//! As in Go, SIGQUIT (Ctrl-\\) prints the dump to stderr and exits with status 2, unless the
//! program asked for SIGQUIT itself with `gort::signal::notify` (then it is the program's,
//! as in Go). `GORT_TRACEBACK=none` exits without the dump. [`dump_on`] prints the dump on
//! another signal without exiting (`dump_on(Signal::SIGUSR1)`). Both are default actions
//! of the runtime's one signal mechanism (`crate::signal`), run on its signal thread.
//!
//! # Backtraces
//!
//! Call sites say where a wait began; full backtraces say how the goroutine got there. With
//! `GORT_TRACEBACK=all` in the environment each park also captures a
//! `std::backtrace::Backtrace` (tens of microseconds a park, and memory per parked
//! goroutine: a debugging mode), and [`dump_with_backtraces`] prints them. Unwinding a
//! parked goroutine's saved stack from another thread would cost nothing at park time, but
//! needs an unwinder that can start from a suspended coroutine's registers, which std does
//! not offer.
//!
//! Uses: `g`, `park`, `sched`, `signal`, `timer`.

use crate::g::{self, G};
use crate::park::WaitReason;
use crate::sched::{self, m::M};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::signal::Signal;

/// What a goroutine is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GoroutineState {
    /// Running on an M.
    Running,
    /// Running inside `gort::syscall`.
    Syscall,
    /// Ready to run, waiting for a P.
    Runnable,
    /// Parked (see the wait reason).
    Waiting,
}

impl GoroutineState {
    /// The state as Go's dumps spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            GoroutineState::Running => "running",
            GoroutineState::Syscall => "syscall",
            GoroutineState::Runnable => "runnable",
            GoroutineState::Waiting => "waiting",
        }
    }
}

/// One goroutine, as [`goroutines`] saw it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GoroutineInfo {
    /// Its id ([`crate::goroutine_id`]).
    pub id: u64,
    /// Its `Builder` name.
    pub name: Option<Arc<str>>,
    /// What it is doing.
    pub state: GoroutineState,
    /// Why it waits (when `state` is `Waiting`).
    pub wait_reason: Option<WaitReason>,
    /// How long it has waited (when `state` is `Waiting`), counted from the first time
    /// [`goroutines`] or a dump saw this wait (as Go's `waitsince`): zero the first time.
    pub waiting: Option<Duration>,
    /// Where it waits: the call site of the blocking call (when `state` is `Waiting`).
    pub location: Option<&'static Location<'static>>,
    /// Where it was spawned (the caller of `go`, `Builder::spawn` or `run`).
    pub spawned_at: Option<&'static Location<'static>>,
}

/// Every goroutine that exists now, by id. Nothing is stopped while it looks (see the
/// module docs); it takes about a second per ten million goroutines.
pub fn goroutines() -> Vec<GoroutineInfo> {
    let running = running_gs();
    let now = crate::timer::nanos(std::time::Instant::now());
    let all: Vec<&'static G> = g::ALL.lock().clone();
    let mut out: Vec<GoroutineInfo> = all
        .into_iter()
        .filter_map(|g| info(g, &running, now))
        .collect();
    out.sort_unstable_by_key(|i| i.id);
    out
}

/// The goroutines the Ms run now (their addresses).
fn running_gs() -> Vec<usize> {
    let Some(s) = sched::sched_if_started() else {
        return Vec::new();
    };
    let all = s.allm.lock();
    let mut v: Vec<usize> = all
        .iter()
        .filter_map(|m| m.curg())
        .map(|g| g as *const G as usize)
        .collect();
    v.sort_unstable();
    v
}

fn info(g: &'static G, running: &[usize], now: u64) -> Option<GoroutineInfo> {
    if g.packet.load(Acquire).is_null() {
        return None; // free: its goroutine ended (or it never ran one)
    }
    let id = g.id.load(Relaxed);
    let parked = g.park.is_parked();
    let state = if running.binary_search(&(g as *const G as usize)).is_ok() {
        if g.in_syscall.load(Relaxed) {
            GoroutineState::Syscall
        } else {
            GoroutineState::Running
        }
    } else if parked {
        GoroutineState::Waiting
    } else {
        GoroutineState::Runnable
    };
    let waiting = state == GoroutineState::Waiting;
    let at = g.wait_at.load(Relaxed);
    let spawned = g.spawned_at.load(Relaxed);
    // Go's lazy `waitsince`: the first look at this wait stamps it.
    let mut since = g.wait_since.load(Relaxed);
    if parked && since == 0 {
        since = match g
            .wait_since
            .compare_exchange(0, now.max(1), Relaxed, Relaxed)
        {
            Ok(_) => now.max(1),
            Err(s) => s,
        };
    }
    Some(GoroutineInfo {
        id,
        name: g.name_racy(),
        state,
        wait_reason: waiting.then(|| WaitReason::from_u8(g.wait_reason.load(Relaxed))),
        waiting: waiting.then(|| Duration::from_nanos(now.saturating_sub(since))),
        // SAFETY: both are null or `&'static Location`s stored by the runtime.
        location: if waiting {
            unsafe { at.as_ref() }
        } else {
            None
        },
        // SAFETY: as above.
        spawned_at: unsafe { spawned.as_ref() },
    })
}

/// Every goroutine in Go's dump format, grouped: goroutines in the same state, waiting for
/// the same reason at the same place and spawned at the same place make one entry
/// ("100000 goroutines [chan receive, 2 minutes]: ..."), the longest wait of the group
/// shown.
pub fn dump() -> String {
    format(&goroutines(), false)
}

/// Like [`dump`], but one entry per goroutine, each with the backtrace recorded when it
/// parked (with `GORT_TRACEBACK=all`; without it, the dump says so).
pub fn dump_with_backtraces() -> String {
    format(&goroutines(), true)
}

/// The grouping key of a dump entry.
type Key = (
    GoroutineState,
    Option<WaitReason>,
    Option<&'static Location<'static>>,
    Option<&'static Location<'static>>,
);

fn format(gs: &[GoroutineInfo], backtraces: bool) -> String {
    let mut out = String::new();
    if backtraces {
        if !tracebacks() {
            out.push_str(
                "(backtraces are recorded only with GORT_TRACEBACK=all in the environment)\n\n",
            );
        }
        let traces = TRACES.lock();
        for g in gs {
            header(&mut out, &format!("goroutine {}", g.id), g, g.waiting);
            if let Some(name) = &g.name {
                let _ = writeln!(out, "\tname: {name:?}");
            }
            places(&mut out, g);
            if g.state == GoroutineState::Waiting {
                if let Some(t) = traces.as_ref().and_then(|t| t.get(&g.id)) {
                    for line in t.lines() {
                        let _ = writeln!(out, "\t{line}");
                    }
                }
            }
            out.push('\n');
        }
        return out;
    }
    // Group, keeping the order of each group's first goroutine (by id).
    let mut groups: Vec<(Key, Vec<&GoroutineInfo>)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for g in gs {
        let key = (g.state, g.wait_reason, g.location, g.spawned_at);
        let i = *index.entry(key).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(g);
    }
    for (_, members) in &groups {
        let first = members[0];
        let longest = members.iter().filter_map(|g| g.waiting).max();
        if members.len() == 1 {
            let mut title = format!("goroutine {}", first.id);
            if let Some(name) = &first.name {
                let _ = write!(title, " {name:?}");
            }
            header(&mut out, &title, first, longest);
            places(&mut out, first);
        } else {
            header(
                &mut out,
                &format!("{} goroutines", members.len()),
                first,
                longest,
            );
            places(&mut out, first);
            let ids: Vec<String> = members.iter().take(10).map(|g| g.id.to_string()).collect();
            let more = members.len().saturating_sub(10);
            let _ = write!(out, "\tids: {}", ids.join(", "));
            if more > 0 {
                let _ = write!(out, ", ... ({more} more)");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `goroutine 17 [chan receive, 3 minutes]:`
fn header(out: &mut String, title: &str, g: &GoroutineInfo, waited: Option<Duration>) {
    let what = match g.wait_reason {
        Some(r) if g.state == GoroutineState::Waiting => r.as_str(),
        _ => g.state.as_str(),
    };
    let _ = write!(out, "{title} [{what}");
    // As Go: the time is shown from one minute on.
    if let Some(d) = waited {
        let mins = d.as_secs() / 60;
        if mins == 1 {
            out.push_str(", 1 minute");
        } else if mins > 1 {
            let _ = write!(out, ", {mins} minutes");
        }
    }
    out.push_str("]:\n");
}

fn places(out: &mut String, g: &GoroutineInfo) {
    if let Some(at) = g.location {
        let _ = writeln!(out, "\tat {at}");
    }
    if let Some(at) = g.spawned_at {
        let _ = writeln!(out, "\tspawned at {at}");
    }
}

/// Makes SIGQUIT print the dump and exit with status 2, as Go does (see the module docs);
/// called when the scheduler starts. A default action registered before (`dump_on`, or
/// `signal::set_default_action`) is kept.
pub(crate) fn install_sigquit() {
    if crate::signal::has_default_action(Signal::SIGQUIT) {
        return;
    }
    let action: crate::signal::DefaultAction = Arc::new(|_| {
        if traceback_none() {
            eprintln!("SIGQUIT: quit");
        } else {
            eprint!("SIGQUIT: quit\n\n{}", dump());
        }
        std::process::exit(2);
    });
    if let Err(e) = crate::signal::set_runtime_default_action(Signal::SIGQUIT, Some(action)) {
        eprintln!("gort: cannot handle SIGQUIT (no goroutine dump on it): {e}");
    }
}

/// Prints the dump to stderr whenever `sig` arrives, without exiting (unless the program
/// asked for `sig` with `gort::signal::notify`, which takes precedence). For SIGQUIT this
/// replaces the dump-and-exit.
///
/// # Errors
/// If `sig` cannot be handled (SIGKILL, SIGSTOP, a signal the runtime itself uses).
pub fn dump_on(sig: Signal) -> std::io::Result<()> {
    let action: crate::signal::DefaultAction = Arc::new(|sig| {
        eprint!("{sig}: goroutine dump\n\n{}", dump());
    });
    crate::signal::set_runtime_default_action(sig, Some(action))
}

/// Whether parks record backtraces (`GORT_TRACEBACK=all`).
pub(crate) fn tracebacks() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("GORT_TRACEBACK").is_ok_and(|v| v == "all"))
}

/// Backtraces recorded at park, by goroutine id (`GORT_TRACEBACK=all` only).
static TRACES: parking_lot::Mutex<Option<HashMap<u64, String>>> = parking_lot::Mutex::new(None);

/// Records the current backtrace of `g`, which is about to park.
pub(crate) fn record_backtrace(g: &G) {
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    TRACES
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(g.id.load(Relaxed), bt);
}

/// Drops the backtrace recorded for goroutine `id`, which ended (`GORT_TRACEBACK=all`).
pub(crate) fn forget_backtrace(id: u64) {
    if let Some(t) = TRACES.lock().as_mut() {
        t.remove(&id);
    }
}

/// What `GORT_TRACEBACK` asks of a fatal report: `none` prints no goroutines.
pub(crate) fn traceback_none() -> bool {
    std::env::var("GORT_TRACEBACK").is_ok_and(|v| v == "none")
}

/// Go's `scheddetail`: every P and M with what it runs, then the goroutines (grouped).
pub(crate) fn sched_detail() -> String {
    let mut out = String::new();
    let Some(s) = sched::sched_if_started() else {
        return out;
    };
    let n = s.nprocs.load(Relaxed);
    for p in s.all_ps() {
        let owner = p.owner().map_or(-1, |m: &M| m.id as i64);
        let _ = writeln!(
            out,
            "  P{}: status={} m={} runqsize={}{}",
            p.id,
            p.status_name(),
            owner,
            p.runq_len(),
            if p.id >= n { " (retired)" } else { "" }
        );
    }
    let all = s.allm.lock().clone();
    for m in all {
        let g = m.curg().map_or(-1, |g| g.id.load(Relaxed) as i64);
        let p = m.held_p_id_from_outside().map_or(-1, |p| p as i64);
        let _ = writeln!(
            out,
            "  M{}: p={} curg={} syscall={}",
            m.id,
            p,
            g,
            m.in_syscall.load(Relaxed),
        );
    }
    for line in dump().lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

impl std::fmt::Display for GoroutineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        let mut title = format!("goroutine {}", self.id);
        if let Some(name) = &self.name {
            let _ = write!(title, " {name:?}");
        }
        header(&mut s, &title, self, self.waiting);
        places(&mut s, self);
        f.write_str(s.trim_end())
    }
}
