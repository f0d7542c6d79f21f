//! The G/M/P scheduler, after Go's `runtime/proc.go`.
//!
//! - `G` (`crate::g`): a goroutine. `P` (`p.rs`): a logical processor with a local run queue.
//!   `M` (`m.rs`): an OS thread that runs goroutines only while it holds a P; an M with
//!   nothing to do waits in `idle.rs` (the idle list, the timer sleeper, the poll blocker).
//! - This module holds the global state: all Ps, the global run queue (`globalq`), the
//!   idle P and idle M lists, and the wake-up protocol (`wakep`, `startm`) that keeps the
//!   number of spinning Ms small while never losing a wake-up.
//!
//! The wake-up protocol, as in Go: whoever makes a goroutine runnable calls `wakep`, which
//! starts one *spinning* M if there is an idle P and no M is spinning already. A spinning M
//! looks for work in every queue; when it finds some it stops spinning and calls `wakep`
//! again (so one more M comes to look), when it finds none it gives its P back, stops
//! spinning, and then checks every queue once more before it sleeps. Both sides publish
//! first (queue push / `nmspinning` decrement) and check second, separated by a SeqCst
//! fence, so at least one of them sees the other: a runnable goroutine is never left with
//! every M asleep.
//!
//! Uses (the module as a whole): `debug`, `fork`, `g`, `join`, `local`, `membarrier`, `netpoll`,
//! `note`, `panic_hook`, `rlimit`, `shim`, `stack`, `sysmon`, `timer`.

mod globalq;
pub(crate) mod idle;
pub(crate) mod m;
pub(crate) mod p;
pub mod runq;
pub(crate) mod spawn;

use crate::g::G;
use globalq::GlobalQueue;
use m::M;
use p::{P, P_DEAD, P_IDLE, P_RUNNING};
use parking_lot::Mutex;
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
use std::sync::OnceLock;

pub(crate) use m::current_g;

/// Upper bound for `procs` (GOMAXPROCS); larger requests are clamped with a warning.
pub const MAX_PROCS: usize = 1024;

/// Idle lists, protected by `Sched::lock`.
pub(crate) struct Idle {
    /// Ids of idle Ps.
    pub(crate) ps: Vec<usize>,
    /// Ms parked in `stopm`, waiting to be handed a P.
    pub(crate) ms: Vec<&'static M>,
}

/// The scheduler's global state.
pub(crate) struct Sched {
    /// Every P ever created; the first `nprocs` are in use.
    ps: Box<[OnceLock<P>]>,
    pub(crate) nprocs: AtomicUsize,
    /// The global run queue.
    pub(crate) global: GlobalQueue,
    pub(crate) lock: Mutex<Idle>,
    /// Length of `Idle::ps` (readable without the lock).
    pub(crate) npidle: AtomicUsize,
    /// Ms currently spinning (looking for work while holding a P).
    pub(crate) nmspinning: AtomicUsize,
    /// Every M ever started (for stats).
    pub(crate) allm: Mutex<Vec<&'static M>>,
    /// Free Gs and join packets shared between Ps.
    pub(crate) gfree: Mutex<spawn::FreeGs>,
    /// Goroutine id source; Ps take blocks of ids from it.
    pub(crate) goid: AtomicU64,
    /// Goroutines spawned from plain threads (spawns on a P count in its counters).
    pub(crate) spawned_off_p: AtomicU64,
    /// Goroutines that ended while no P was held (a locked M exiting).
    pub(crate) exited_off_p: AtomicU64,
    /// Set once the process has begun exiting.
    pub(crate) exiting: AtomicBool,
    /// Ms that exited (a goroutine ended while locked to them).
    pub(crate) ms_exited: AtomicUsize,
    /// Most Ms that may exist (Go's 10,000-thread limit; `set_max_threads`).
    pub(crate) max_threads: AtomicUsize,
    /// Ps sysmon took from an M blocked in a syscall.
    pub(crate) handoffs: AtomicU64,
    /// Ps sysmon took from an M running one goroutine for too long.
    pub(crate) retakes: AtomicU64,
    /// Of `handoffs`, those from an M found blocked in the kernel outside `syscall`.
    pub(crate) blocked_handoffs: AtomicU64,
    /// `gort::syscall` calls.
    pub(crate) syscalls: AtomicU64,
    /// Sysmon's rounds so far: its clock, by which it ages syscalls.
    pub(crate) sysmon_tick: AtomicU64,
}

static SCHED: OnceLock<Sched> = OnceLock::new();

/// The global scheduler, created on first use.
pub(crate) fn sched() -> &'static Sched {
    SCHED.get_or_init(Sched::new)
}

/// The global scheduler if it has been created.
pub(crate) fn sched_if_started() -> Option<&'static Sched> {
    SCHED.get()
}

extern "C" fn on_process_exit() {
    if let Some(s) = SCHED.get() {
        s.exiting.store(true, SeqCst);
    }
}

impl Sched {
    fn new() -> Sched {
        let n = procs_from_env();
        let s = Sched {
            ps: (0..MAX_PROCS).map(|_| OnceLock::new()).collect(),
            nprocs: AtomicUsize::new(n),
            global: GlobalQueue::new(),
            lock: Mutex::new(Idle {
                ps: (0..n).rev().collect(),
                ms: Vec::new(),
            }),
            npidle: AtomicUsize::new(n),
            nmspinning: AtomicUsize::new(0),
            allm: Mutex::new(Vec::new()),
            gfree: Mutex::new(spawn::FreeGs::default()),
            goid: AtomicU64::new(1),
            spawned_off_p: AtomicU64::new(0),
            exited_off_p: AtomicU64::new(0),
            exiting: AtomicBool::new(false),
            ms_exited: AtomicUsize::new(0),
            max_threads: AtomicUsize::new(10_000),
            handoffs: AtomicU64::new(0),
            retakes: AtomicU64::new(0),
            blocked_handoffs: AtomicU64::new(0),
            syscalls: AtomicU64::new(0),
            sysmon_tick: AtomicU64::new(0),
        };
        crate::membarrier::init();
        crate::fork::init();
        crate::rlimit::raise_nofile();
        crate::panic_hook::install();
        crate::debug::install_sigquit();
        for id in 0..n {
            s.p(id).status.store(P_IDLE, Relaxed);
        }
        // SAFETY: registering a plain `extern "C" fn()` with atexit has no preconditions.
        unsafe { libc::atexit(on_process_exit) };
        s
    }

    /// P number `id`, created on first use.
    pub(crate) fn p(&self, id: usize) -> &P {
        self.ps[id].get_or_init(|| P::new(id))
    }

    /// The Ps that were ever created (in use or retired).
    pub(crate) fn all_ps(&self) -> impl Iterator<Item = &P> {
        self.ps.iter().map_while(|p| p.get())
    }

    /// Takes an idle P (caller holds the lock).
    pub(crate) fn pidleget(&self, idle: &mut Idle) -> Option<&P> {
        let id = idle.ps.pop()?;
        self.npidle.fetch_sub(1, SeqCst);
        crate::sysmon::wake(); // a P is busy again: sysmon watches it
        let p = self.p(id);
        p.status.store(P_RUNNING, Relaxed);
        Some(p)
    }

    /// Puts a P on the idle list (caller holds the lock).
    pub(crate) fn pidleput(&self, idle: &mut Idle, p: &P) {
        debug_assert!(!p.has_work() || p.id >= self.nprocs.load(Relaxed));
        p.status.store(P_IDLE, Relaxed);
        idle.ps.push(p.id);
        self.npidle.fetch_add(1, SeqCst);
    }

    /// Whether a queue holds a goroutine that an idle M could take now (racy; for the
    /// re-check before sleeping). Another P's `runnext` does not count: its M runs it at its
    /// next scheduling point, and an idle M that spun on it would only burn a CPU.
    pub(crate) fn any_work(&self) -> bool {
        if !self.global.is_empty() {
            return true;
        }
        let n = self.nprocs.load(Acquire);
        (0..n).any(|id| self.p(id).has_stealable_work())
    }

    /// Starts an M spinning if there is an idle P and nobody is spinning (Go's `wakep`).
    pub(crate) fn wakep(&self) {
        // Pairs with the fence in `m::find_runnable` after a spinning M gives up (the
        // protocol is model-checked in loom-tests/tests/wakeup.rs; an early exit before this
        // fence loses wake-ups in that model).
        fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 {
            return;
        }
        if self.nmspinning.load(SeqCst) != 0
            || self
                .nmspinning
                .compare_exchange(0, 1, SeqCst, Relaxed)
                .is_err()
        {
            return;
        }
        self.startm(None, true);
    }

    /// Gives P `p` (or an idle one) to an idle or new M and wakes it. With `spinning`, the
    /// caller has already counted the new M in `nmspinning`.
    pub(crate) fn startm(&self, p: Option<&P>, spinning: bool) {
        let mut idle = self.lock.lock();
        let p = match p {
            Some(p) => p,
            None => match self.pidleget(&mut idle) {
                Some(p) => p,
                None => {
                    drop(idle);
                    if spinning {
                        self.nmspinning.fetch_sub(1, SeqCst);
                    }
                    return;
                }
            },
        };
        p.status.store(P_RUNNING, Relaxed);
        let m = idle.ms.pop();
        drop(idle);
        match m {
            Some(m) => m.hand_off(p, spinning),
            None => m::newm(p, spinning),
        }
    }

    /// Gives away a P whose M is about to block or stop (Go's `handoffp`).
    pub(crate) fn handoffp(&self, p: &P) {
        if p.id >= self.nprocs.load(Relaxed) {
            p.drain_to(&self.global); // retired by set_procs
        } else if p.has_work() || !self.global.is_empty() {
            self.startm(Some(p), false);
            return;
        }
        let mut idle = self.lock.lock();
        if p.id >= self.nprocs.load(Relaxed) {
            p.status.store(P_DEAD, Relaxed);
        } else {
            self.pidleput(&mut idle, p);
        }
        drop(idle);
        // Work pushed to the global queue while we were deciding: make sure someone runs it.
        if !self.global.is_empty() {
            self.wakep();
        }
    }
}

/// Makes a parked goroutine runnable: onto the current P's `runnext` if the caller holds a
/// P (goroutine or scheduler code), else onto the global queue.
///
/// Unlike Go, a goroutine that lands in an empty `runnext` wakes no other M (tokio does the
/// same with its LIFO slot): it runs on this P as soon as the current goroutine blocks,
/// which in channel code is almost at once, and waking an M for it costs a futex call and
/// invites that M to steal it and bounce the pair between threads (measured: a channel
/// ping-pong took twice as long with 2 Ps as with 1). Anything that lands where other Ps
/// can steal it (the ring, the global queue) still wakes an M. The price: a goroutine
/// readied by one that then computes for a long time without a scheduling point waits for
/// it (sysmon bounds that wait).
pub(crate) fn ready(g: &'static G) {
    let s = sched();
    let stealable = m::with_p(|p| match p {
        Some(p) => p.runq_put(g, true, &s.global),
        None => {
            s.global.push(g);
            true
        }
    });
    if stealable {
        s.wakep();
    }
}

/// Makes several parked goroutines runnable at once (Go's `injectglist`). With a P, one
/// goroutine per idle P goes to the global queue, where the M that `wakep` starts finds
/// it, and the rest to this P's queue, whence idle Ms steal; without a P, all go to the
/// global queue in one lock. Either way the batch costs one `wakep` (its fence first, as in
/// `ready`), and none goes to `runnext`: a batch is not a hand-off to one partner.
pub(crate) fn ready_batch(gs: impl ExactSizeIterator<Item = &'static G>) {
    let n = gs.len();
    if n == 0 {
        return;
    }
    let s = sched();
    m::with_p(|p| match p {
        Some(p) => {
            let mut gs = gs;
            let idle = s.npidle.load(Relaxed).min(n);
            if idle > 0 {
                s.global.push_batch(gs.by_ref().take(idle));
            }
            for g in gs {
                p.runq_put(g, false, &s.global);
            }
        }
        None => s.global.push_batch(gs),
    });
    s.wakep();
}

/// Reads GOMAXPROCS, warning about and ignoring a malformed value.
fn procs_from_env() -> usize {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let default = ncpu.min(MAX_PROCS);
    match std::env::var("GOMAXPROCS") {
        Err(std::env::VarError::NotPresent) => default,
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => clamp_procs(n),
            _ => {
                eprintln!(
                    "gort: ignoring GOMAXPROCS={v:?}: expected a positive integer; \
                     using {default} (the number of CPUs)"
                );
                default
            }
        },
        Err(_) => {
            eprintln!("gort: ignoring GOMAXPROCS: not valid UTF-8; using {default}");
            default
        }
    }
}

fn clamp_procs(n: usize) -> usize {
    if n > MAX_PROCS {
        eprintln!("gort: procs {n} is above the maximum; using {MAX_PROCS}");
        MAX_PROCS
    } else {
        n
    }
}

/// Sets the number of Ps to `n` (at least 1; clamped to [`MAX_PROCS`] with a warning) and
/// returns the previous count: `gort::set_procs`. Lowering it retires the highest-numbered
/// Ps (their Ms notice at their next scheduling point).
pub(crate) fn resize_procs(n: usize) -> usize {
    let n = clamp_procs(n);
    let s = sched();
    let mut idle = s.lock.lock();
    let old = s.nprocs.swap(n, SeqCst);
    if n > old {
        for id in old..n {
            let p = s.p(id);
            // A P still held by an M that has not noticed its retirement stays with it.
            if p.status.load(Relaxed) == P_DEAD {
                s.pidleput(&mut idle, p);
            }
        }
    } else if n < old {
        let before = idle.ps.len();
        idle.ps.retain(|&id| id < n);
        for id in n..old {
            let p = s.p(id);
            if p.status.load(Relaxed) == P_IDLE {
                p.status.store(P_DEAD, Relaxed);
            }
        }
        s.npidle.fetch_sub(before - idle.ps.len(), SeqCst);
    }
    drop(idle);
    if s.any_work() {
        s.wakep();
    }
    old
}

/// Number of goroutines that exist now: `gort::num_goroutine`, the stats, the deadlock check.
pub(crate) fn live_goroutines() -> usize {
    let Some(s) = sched_if_started() else {
        return 0;
    };
    let mut live = s.spawned_off_p.load(Relaxed) as i64 - s.exited_off_p.load(Relaxed) as i64;
    for p in s.all_ps() {
        live += p.counters.spawned.load(Relaxed) as i64 - p.counters.exited.load(Relaxed) as i64;
    }
    live.max(0) as usize
}
