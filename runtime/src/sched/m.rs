//! M: an OS thread that runs goroutines while it holds a P.
//!
//! The scheduler loop (`schedule`) runs on the thread's own stack (Go's g0), never on a
//! goroutine stack: it picks a runnable G (`find_runnable`), resumes its coroutine
//! (`execute`) and acts on why the goroutine switched back (park, yield, exit). When it
//! finds nothing to run, the M waits in `idle.rs` (`stopm`) until it is handed a P.
//!
//! When the next goroutine is known without the full scheduler (the head of the P's queue
//! after a yield or an end, the partner in `runnext` after a park), the goroutine switches
//! straight to it instead (`yield_direct`, `exit_direct`, `park_direct`), and the one that
//! runs next finishes the switch as it resumes (`M::finish_switch`): see DESIGN.md,
//! "Switching stacks".
//!
//! Thread-local state: `CURRENT_M` points at the thread's M. It is read only through the
//! `#[inline(never)]` accessors below, so a goroutine that migrated to another thread while
//! parked re-reads it instead of using a value cached from before the switch.
//!
//! "This M's P" has one accessor per kind of caller:
//!
//! - [`with_p`]: code on the calling thread (goroutine or scheduler) that uses the P's
//!   owner-only state (run queue, caches, counters). Its doc says what must never happen
//!   inside it (no park, no goroutine switch, no blocking).
//! - [`p_racy`]: the calling thread's P as a hint (its run-queue length for a spin
//!   decision); may be stale by the time it is used.
//! - [`M::p_on_g0`]: the scheduler loop of this M, on its own stack, where `in_p` is always
//!   raised, so the P cannot be taken while the loop uses it.
//! - [`M::held_p_id_from_outside`]: another thread asking which P an M holds (debug's dump).
//!   Sysmon asks the other way round, `P::owner`, to retake a P from another M.
//!
//! Uses: `coroutine`, `g`, `membarrier`, `netpoll`, `note`, `stack`, `sysmon`, `timer`; within `sched`: `sched`
//! itself, `sched::idle`, `sched::p`, `sched::runq`, `sched::spawn`.

use super::idle::stopm;
use super::p::{bump, P, P_DEAD, P_RUNNING};
use super::runq::RUNQ_SIZE;
use super::{sched, spawn, Sched};
use crate::coroutine::{self, Context};
use crate::g::{Switch, G};
use crate::note::Note;
use crate::stack::overflow::Culprit;
use crate::{membarrier, netpoll, timer};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize};

/// An OS thread of the scheduler.
pub(crate) struct M {
    pub(crate) id: usize,
    /// Sleep/wake-up for an idle or locked M.
    pub(super) note: Note,
    /// P handed to this M by another thread before waking it (id + 1; 0 = none).
    pub(super) nextp: AtomicUsize,
    /// Whether the M that hands over `nextp` counted this M as spinning.
    next_spinning: AtomicBool,
    /// The P this M holds (owner only). It really holds it only while `P::owner` names this
    /// M: sysmon may take it away (see `sysmon`), which this M notices at its next check.
    pub(super) p: Cell<*const P>,
    /// The goroutine running now (null on g0); read by sysmon's deadlock check.
    curg: AtomicPtr<G>,
    /// Whether this M is counted in `Sched::nmspinning` (owner only).
    spinning: Cell<bool>,
    /// The goroutine locked to this M by `lock_os_thread`, or null (owner only).
    pub(crate) locked_g: Cell<*const G>,
    /// Set while this M may be touching its P: always on g0, briefly in goroutine code
    /// (spawn, wake-ups), and across a direct switch between goroutines until the next one
    /// finishes it (`finish_switch`). Sysmon takes a P only from an M with this clear.
    pub(crate) in_p: AtomicBool,
    /// Set while the running goroutine is inside `gort::syscall`.
    pub(crate) in_syscall: AtomicBool,
    /// Sysmon's tick when the current syscall began.
    pub(crate) syscall_tick: AtomicU64,
    /// Kernel thread id of this M's thread while it runs (0 before it starts and once it
    /// is about to exit); the deadlock check tells the runtime's threads apart by it.
    pub(crate) tid: AtomicI32,
    /// Odd while the M sleeps on its note with nothing to do (`idle_sleep`), incremented
    /// at each sleep and each wake-up: the deadlock check counts an M as unable to act only
    /// while this is odd, and the same in both of its reads (no sleep and wake between).
    pub(crate) sleeps: AtomicU64,
    rng: Cell<u64>,
    /// Where this M's scheduler loop (g0) is saved while one of its goroutines runs.
    pub(crate) g0: Context,
    /// What is left to do for a goroutine that switched straight to another
    /// (`yield_direct`, `park_direct`, `exit_direct`) once it is off its stack; the
    /// goroutine that runs next does it (`finish_switch`). Owner only.
    pending: Cell<Pending>,
}

/// The part of a direct switch between goroutines that must wait until the goroutine that
/// switched away is off its stack (see `M::finish_switch`).
#[derive(Clone, Copy)]
enum Pending {
    /// Nothing: the last switch came from g0, or it was finished.
    None,
    /// This goroutine yielded: it goes on the P's ring.
    Yielded(&'static G),
    /// This goroutine parks: its park is committed (WAITING -> PARKED), or, if a wake-up
    /// came first, it goes in `runnext`.
    Parked(&'static G),
    /// This goroutine ended: its stack and G go back to the caches (`spawn::goexit`).
    Exited(&'static G),
}

// SAFETY: the Cells are touched only by the thread running this M (module docs); the
// atomics are the fields other threads (wakers, sysmon) read or hand over.
unsafe impl Sync for M {}

thread_local! {
    static CURRENT_M: Cell<*const M> = const { Cell::new(ptr::null()) };
}

/// The M of the calling thread, if it is a scheduler thread.
#[inline(never)]
pub(crate) fn current_m() -> Option<&'static M> {
    let m = CURRENT_M.with(|c| c.get());
    // SAFETY: CURRENT_M is null or a leaked `&'static M`.
    unsafe { m.as_ref() }
}

/// The goroutine running on the calling thread, if any.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    // SAFETY: `curg` is null or a `&'static G` (Gs are never freed).
    current_m().and_then(|m| unsafe { m.curg.load(Relaxed).as_ref() })
}

/// The goroutine running on the calling thread, for the stack-overflow report (see
/// `crate::stack::overflow`): called in a signal handler, it does atomic loads only.
fn overflow_culprit() -> Option<Culprit> {
    let g = current_g()?;
    // SAFETY: `spawned_at` is null or a `&'static Location` stored by the spawner.
    let spawned_at = unsafe { g.spawned_at.load(Relaxed).as_ref() };
    Some(Culprit {
        id: g.id.load(Relaxed),
        name: g.name(),
        spawned_at,
    })
}

/// The P of the calling thread's M, read without any guard: by the time the caller looks
/// at it, sysmon may have taken it from this M, and another M may own it. Only for hints
/// and statistics (its run-queue length), never for owner-only state (its run queue's
/// tail, its caches, its counters' writes): those go through [`with_p`].
#[inline(never)]
pub(crate) fn p_racy() -> Option<&'static P> {
    // SAFETY: `p` is null or points into the static scheduler.
    current_m().and_then(|m| unsafe { m.p.get().as_ref() })
}

/// Runs `f` with the P of the calling thread, if it holds one; `None` on a plain thread or
/// on an M whose P sysmon took away. The one accessor of "this M's P" for code that uses
/// the P's owner-only state: from goroutine code it raises the M's `in_p` flag for the
/// duration, so sysmon cannot take the P from under `f`.
///
/// # What must never happen inside `f`
///
/// `f` must not park, yield or otherwise switch goroutines: no channel operation, no
/// `park`, no lock that parks (`gort::sync`), no `yield_now`, no `join`. The goroutine could
/// resume on another M, leaving `in_p` raised on the old one (sysmon could never take that
/// M's P again) and `f` holding a P that another M now owns. `f` must not block the thread
/// either (a syscall, a std lock held by a goroutine): sysmon cannot hand the P off while
/// `in_p` is up. It may nest `with_p` and may take the scheduler's short internal locks.
#[inline(never)]
pub(crate) fn with_p<R>(f: impl FnOnce(Option<&'static P>) -> R) -> R {
    let Some(m) = current_m() else { return f(None) };
    // SAFETY: `p` is null or points into the static scheduler.
    let Some(p) = (unsafe { m.p.get().as_ref() }) else {
        return f(None);
    };
    let was = m.in_p.load(Relaxed);
    if !was {
        m.in_p.store(true, Relaxed);
        membarrier::light();
    }
    let r = if p.owned_by(m) { f(Some(p)) } else { f(None) };
    if !was {
        m.in_p.store(false, Release);
    }
    r
}

impl M {
    fn new(id: usize) -> M {
        M {
            id,
            note: Note::new(),
            nextp: AtomicUsize::new(0),
            next_spinning: AtomicBool::new(false),
            p: Cell::new(ptr::null()),
            curg: AtomicPtr::new(ptr::null_mut()),
            spinning: Cell::new(false),
            locked_g: Cell::new(ptr::null()),
            in_p: AtomicBool::new(true),
            in_syscall: AtomicBool::new(false),
            syscall_tick: AtomicU64::new(0),
            tid: AtomicI32::new(0),
            sleeps: AtomicU64::new(0),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1)),
            g0: Context::new(),
            pending: Cell::new(Pending::None),
        }
    }

    /// Finishes a switch into a goroutine (called by the goroutine as it resumes): if the
    /// goroutine before it switched straight to it, that one is now off its stack and can
    /// be published: on the run queue if it yielded (Go's `gosched` does this on g0,
    /// Linux's `finish_task_switch` on the next task), as parked if it parks, its stack and
    /// G freed if it ended.
    #[inline]
    pub(crate) fn finish_switch(&'static self) {
        if !matches!(self.pending.get(), Pending::None) {
            self.finish_direct();
        }
    }

    #[inline(never)]
    fn finish_direct(&'static self) {
        let pending = self.pending.replace(Pending::None);
        // `switch_direct` left `in_p` raised and checked that this M owns the P.
        let p = self.p_on_g0().expect("gort: direct switch without a P");
        match pending {
            Pending::None => {}
            Pending::Yielded(prev) => requeue_yielder(p, prev),
            Pending::Parked(prev) => {
                if !prev.park.commit() {
                    // Its wake-up came while it switched away: it runs next, as it would
                    // at once on the g0 path.
                    let s = sched();
                    if p.runq_put(prev, true, &s.global) {
                        s.wakep();
                    }
                }
            }
            Pending::Exited(prev) => {
                // `exit_direct` refuses a locked goroutine, the one case where `goexit`
                // says the M must exit.
                let go_on = spawn::goexit(self, prev);
                assert!(go_on, "gort: a locked goroutine ended by a direct switch");
            }
        }
        // The goroutine runs now: sysmon may take the P again.
        self.in_p.store(false, Release);
    }

    /// Hands P `p` to this (sleeping or about to sleep) M and wakes it.
    pub(crate) fn hand_off(&self, p: &P, spinning: bool) {
        self.next_spinning.store(spinning, Relaxed);
        let prev = self.nextp.swap(p.id + 1, SeqCst);
        debug_assert_eq!(prev, 0, "M handed two Ps");
        self.wake();
    }

    /// The P this M owns, if it still owns one, for the scheduler code of this M on its own
    /// stack (g0: `schedule`, `execute`, `find_runnable`, `goexit`) and for finishing a
    /// direct switch (`finish_switch`, `switch_direct`). There `in_p` is always raised, so
    /// sysmon cannot take the P while the code uses it; other goroutine code uses
    /// [`with_p`] instead.
    pub(crate) fn p_on_g0(&self) -> Option<&'static P> {
        debug_assert!(
            self.in_p.load(Relaxed),
            "gort: p_on_g0 without in_p raised (off the scheduler stack, outside a switch)"
        );
        // SAFETY: `p` is null or points into the static scheduler.
        let p = unsafe { self.p.get().as_ref() }?;
        p.owned_by(self).then_some(p)
    }

    /// Takes ownership of `p`.
    pub(crate) fn set_p(&self, p: &'static P) {
        self.p.set(p);
        p.set_owner(self);
    }

    /// Gives up the P this M holds.
    fn take_p(&self) -> &'static P {
        // SAFETY: `p` is null or points into the static scheduler.
        let p = unsafe { self.p.get().as_ref() }.expect("gort: M without a P");
        self.p.set(ptr::null());
        // Only if it is still ours: sysmon may have handed it to another M already.
        p.release_owner(self);
        p
    }

    /// Takes the P another thread handed over with `hand_off`.
    pub(super) fn take_next_p(&self) {
        let id = self.nextp.swap(0, SeqCst);
        assert!(id != 0, "gort: M woken without a P");
        self.set_p(sched().p(id - 1));
        self.spinning.set(self.next_spinning.swap(false, Relaxed));
    }

    fn rand(&self) -> usize {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x as usize
    }

    /// Locks the running goroutine to this M (`lock_os_thread`).
    pub(crate) fn lock_g(&self, g: &'static G) {
        g.lock_count.set(g.lock_count.get() + 1);
        g.locked_m.set(Some(self.id));
        self.locked_g.set(g);
    }

    /// Undoes one `lock_g`; the lock ends when the count reaches zero.
    pub(crate) fn unlock_g(&self, g: &'static G) {
        let n = g.lock_count.get();
        if n == 0 {
            return;
        }
        g.lock_count.set(n - 1);
        if n == 1 {
            g.locked_m.set(None);
            self.locked_g.set(ptr::null());
        }
    }

    /// Whether this M is running a goroutine (for sysmon's deadlock check).
    pub(crate) fn running(&self) -> bool {
        !self.curg.load(SeqCst).is_null()
    }

    /// The goroutine this M runs now, if any (racy; for `crate::debug`).
    pub(crate) fn curg(&self) -> Option<&'static G> {
        // SAFETY: `curg` is null or a `&'static G` (Gs are never freed).
        unsafe { self.curg.load(Relaxed).as_ref() }
    }

    /// The id of the P this M holds, if it still owns one, as another thread sees it
    /// (racy; for `crate::debug`'s dump of every M).
    pub(crate) fn held_p_id_from_outside(&self) -> Option<usize> {
        let s = sched();
        s.all_ps()
            .find(|p| p.owner().is_some_and(|o| ptr::eq(o, self)))
            .map(|p| p.id)
    }
}

/// The M with id `id` (ids are indexes into `Sched::allm`, which never shrinks).
fn m_by_id(id: usize) -> &'static M {
    sched().allm.lock()[id]
}

/// Creates an M (OS thread) that starts with P `p`.
pub(crate) fn newm(p: &P, spinning: bool) {
    let s = sched();
    let m: &'static M = {
        let mut all = s.allm.lock();
        let live = all.len() - s.ms_exited.load(Relaxed);
        let max = s.max_threads.load(Relaxed);
        if live >= max {
            eprintln!(
                "fatal error: gort: program exceeds the {max}-thread limit (every M is blocked \
                 in a syscall or locked to a goroutine; raise it with gort::set_max_threads)"
            );
            std::process::abort();
        }
        let m = Box::leak(Box::new(M::new(all.len())));
        all.push(m);
        m
    };
    crate::sysmon::start();
    m.next_spinning.store(spinning, Relaxed);
    m.nextp.store(p.id + 1, Release);
    m.note.wakeup();
    let spawned = std::thread::Builder::new()
        .name(format!("gort-m{}", m.id))
        .spawn(move || mstart(m));
    if let Err(e) = spawned {
        eprintln!("fatal error: gort: cannot create an OS thread for the scheduler: {e}");
        std::process::abort();
    }
}

fn mstart(m: &'static M) {
    // SAFETY: gettid has no preconditions.
    m.tid.store(unsafe { libc::gettid() }, SeqCst);
    crate::stack::overflow::init_thread(overflow_culprit);
    CURRENT_M.with(|c| c.set(m));
    m.sleep_for_p();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| schedule(m)));
    if r.is_err() {
        eprintln!(
            "fatal error: gort: the scheduler loop of M{} panicked",
            m.id
        );
        std::process::abort();
    }
    // The M exits: its goroutine ended while locked to it (Go terminates such a thread).
    let tid = m.tid.swap(0, SeqCst);
    sched().ms_exited.fetch_add(1, SeqCst);
    crate::sysmon::thread_exiting(tid);
    CURRENT_M.with(|c| c.set(ptr::null()));
}

/// The scheduler loop. Returns only when this M must exit.
fn schedule(m: &'static M) {
    let s = sched();
    loop {
        // SAFETY: `locked_g` is null or a `&'static G`.
        if let Some(g) = unsafe { m.locked_g.get().as_ref() } {
            // Our goroutine is locked to us and not running: give the P away and sleep
            // until someone finds the goroutine runnable and hands us a P to run it.
            if m.p_on_g0().is_some() {
                s.handoffp(m.take_p());
            }
            m.p.set(ptr::null());
            m.sleep_for_p();
            if !execute(m, g, false) {
                return;
            }
            continue;
        }
        if m.p_on_g0().is_none() {
            // Sysmon took our P while a goroutine ran: wait for another.
            m.p.set(ptr::null());
            stopm(m);
            continue;
        }
        let (g, inherit) = find_runnable(m);
        if m.spinning.get() {
            reset_spinning(m);
        }
        if let Some(owner) = g.locked_m.get() {
            if owner != m.id {
                // Go's startlockedm: pass our P to the M the goroutine is locked to.
                m_by_id(owner).hand_off(m.take_p(), false);
                stopm(m);
                continue;
            }
        }
        if let Some(p) = m.p_on_g0() {
            p.prefetch_next();
        }
        if !execute(m, g, inherit) {
            return;
        }
    }
}

/// Puts a goroutine that cannot continue here on the global queue.
fn requeue_global(g: &'static G) {
    let s = sched();
    s.global.push(g);
    s.wakep();
}

/// Runs `g` until it parks, yields or ends. Returns `false` if this M must exit.
fn execute(m: &'static M, mut g: &'static G, inherit: bool) -> bool {
    {
        // Scoped: once the goroutine runs, this M's P may change (see below).
        let p = m.p_on_g0().expect("gort: M without a P");
        if !inherit {
            p.tick();
        }
        bump(&p.counters.runs);
    }
    m.curg.store(g as *const G as *mut G, Relaxed);
    loop {
        // While the goroutine runs, sysmon may take the P if it hogs it or blocks in a
        // syscall; afterwards we check whether it is still ours.
        m.in_p.store(false, Release);
        // Not parked any more: no stack to prefetch for it until it parks again.
        g.park_sp.store(0, Relaxed);
        // SAFETY: this M owns `g` now (it came off a run queue or was handed to us) and it
        // is suspended, so no other thread switches to it until we publish it again.
        let why = unsafe { coroutine::switch(&m.g0, g.ctx.sp(), m as *const M as usize) };
        m.in_p.store(true, Relaxed);
        membarrier::light();
        // The goroutine that switched back may be another one than `g`: goroutines that
        // yield hand the M to each other directly (`yield_direct`), updating `curg`.
        // SAFETY: `curg` is the running `&'static G` (set by us or by `yield_direct`).
        g = unsafe { &*m.curg.load(Relaxed) };
        let owned = m.p_on_g0();
        match Switch::from_word(why) {
            Switch::Park => {
                if g.park.commit() {
                    // Parked: whoever wakes it will make it runnable. The goroutine it
                    // readied just before (a channel partner, in `runnext`) runs next.
                    // No goroutine is current meanwhile: the timer callbacks that
                    // `next_inherited` may run must not see the parked one as theirs.
                    m.curg.store(ptr::null_mut(), Relaxed);
                    // `owned`, not the P we started with: the goroutine may have taken
                    // another P on its way out of a syscall (`exit_syscall_slow`).
                    match owned.and_then(|p| next_inherited(m, p)) {
                        Some(next) => {
                            g = next;
                            m.curg.store(g as *const G as *mut G, Relaxed);
                            continue;
                        }
                        None => break,
                    }
                }
                // A wake-up arrived before we got here: keep running it, if we still can.
                if owned.is_none() {
                    m.curg.store(ptr::null_mut(), Relaxed);
                    requeue_global(g);
                    return true;
                }
            }
            why @ (Switch::Yield | Switch::Requeue) => {
                m.curg.store(ptr::null_mut(), Relaxed);
                match owned {
                    Some(p) if why == Switch::Yield && !ptr::eq(m.locked_g.get(), g) => {
                        requeue_yielder(p, g);
                        if let Some(next) = next_after_yield(m, p) {
                            g = next;
                            m.curg.store(g as *const G as *mut G, Relaxed);
                            continue;
                        }
                    }
                    _ => requeue_global(g),
                }
                return true;
            }
            Switch::Exit => {
                m.curg.store(ptr::null_mut(), Relaxed);
                return spawn::goexit(m, g);
            }
        }
    }
    m.curg.store(ptr::null_mut(), Relaxed);
    true
}

/// Puts a goroutine that yielded at the tail of `p`'s ring. `wakep` only if a P is idle,
/// read without its fence: this P keeps running and runs the yielder again, so a stale
/// "none idle" costs parallelism until the next push here (or sysmon), never progress.
/// With every P busy, a yield then pays no fence (BENCHMARKS.md).
fn requeue_yielder(p: &'static P, g: &'static G) {
    let s = sched();
    if p.runq_put(g, false, &s.global) && s.npidle.load(Relaxed) != 0 {
        s.wakep();
    }
}

/// Fast path of `schedule` after a goroutine yielded (`yield_now`) and went to the back of
/// this P's ring: the next goroutine of the ring, run at once without the round trip
/// through `schedule` and `find_runnable`, which only this P's own queues could answer
/// anyway. `None` whenever the full scheduler has something to do: a locked M or
/// goroutine, a retired P, the tick on which `find_runnable` looks at the global queue
/// first (fairness), an empty ring. Due timers still fire first. Measured with the yield
/// row of `benches/compare.sh` (two goroutines yielding on one P): see BENCHMARKS.md.
fn next_after_yield(m: &'static M, p: &'static P) -> Option<&'static G> {
    if !m.locked_g.get().is_null() || !may_run_ring_head(p) {
        return None;
    }
    timer::check();
    take_ring_head(p)
}

/// Whether a yield on `p` may go straight to the head of its ring: `p` is not retired and
/// this is not the tick on which `find_runnable` looks at the global queue first.
fn may_run_ring_head(p: &P) -> bool {
    p.id < sched().nprocs.load(Relaxed) && !p.schedtick().is_multiple_of(61)
}

/// Takes the head of `p`'s ring to run after a yield, with the bookkeeping of a run;
/// `None` if the ring is empty or its head is locked to an M (it goes back on the ring,
/// and `schedule` hands it to its M).
fn take_ring_head(p: &'static P) -> Option<&'static G> {
    let s = sched();
    let (g, inherit) = p.runq_get()?;
    if g.locked_m.get().is_some() {
        if p.runq_put(g, false, &s.global) {
            s.wakep();
        }
        return None;
    }
    if !inherit {
        p.tick();
    }
    bump(&p.counters.runs);
    p.prefetch_next();
    Some(g)
}

/// `yield_now` in goroutine `g`, on its stack: hands the M straight to the goroutine that
/// `execute` would run next after a yield (the head of the P's ring), switching from
/// stack to stack without the trip through g0. Returns `false`, having changed nothing,
/// when the full path is needed: a locked M or goroutine, a P that sysmon took or that
/// was retired, the fairness tick, a due timer (timer callbacks run on g0), an empty ring.
///
/// `g` cannot go on the ring before it is off its stack (another M could steal and
/// resume it while it is still running here), so the goroutine that runs next puts it on
/// the ring as it resumes (`M::finish_switch`); `in_p` stays raised until then, so the P
/// stays this M's. The switch returns from one `yield_now` into another, or into the park
/// seam, at the same call sites the previous goroutine came from, which the CPU predicts
/// (see `coroutine`). Measured with the yield row of `benches/compare.sh`: BENCHMARKS.md.
pub(crate) fn yield_direct(g: &'static G) -> bool {
    switch_direct(g, Pending::Yielded(g), next_on_ring)
}

/// The goroutine a direct yield or end runs next on `p` (`runnext`, then the ring's head),
/// if it may go straight there (`may_run_ring_head`).
fn next_on_ring(p: &'static P) -> Option<&'static G> {
    may_run_ring_head(p).then(|| take_ring_head(p)).flatten()
}

/// The park seam in goroutine `g`, on its stack, after it armed its episode: hands the M
/// straight to the goroutine it readied just before (a channel partner, waiting in
/// `runnext` to inherit the time slice), which `execute` would run next after the park
/// (`next_inherited`). Returns `false`, having changed nothing, when the full path is
/// needed: a locked M or goroutine, a P that sysmon took or that was retired, a due timer,
/// an empty `runnext` or a used-up time slice.
///
/// The park is committed (WAITING -> PARKED) only once `g` is off its stack, by the
/// goroutine that runs next (`M::finish_switch`): a waker that sees PARKED readies `g`,
/// and another M could resume it at once. If the wake-up came first, `g` goes to
/// `runnext` and runs after its partner parks or yields. A channel ping-pong then costs
/// one switch per hand-off instead of two (BENCHMARKS.md).
pub(crate) fn park_direct(g: &'static G) -> bool {
    switch_direct(g, Pending::Parked(g), |p| {
        (p.id < sched().nprocs.load(Relaxed))
            .then(|| take_inherited(p))
            .flatten()
    })
}

/// The end of goroutine `g`, on its stack: hands the M straight to the goroutine that
/// `schedule` would run next on this P (as after a yield: `runnext`, then the ring), and
/// the goroutine that runs next frees `g`'s stack and G (`spawn::goexit`) once `g` is off
/// its stack. Returns `false`, having changed nothing, when the full path is needed (the
/// same cases as `yield_direct`). A spawn-and-exit storm then costs one switch per
/// goroutine instead of two (BENCHMARKS.md).
pub(crate) fn exit_direct(g: &'static G) -> bool {
    switch_direct(g, Pending::Exited(g), next_on_ring)
}

/// Switches from the running goroutine `g` straight to the goroutine `pick` takes from
/// this M's P (`yield_direct`, `park_direct`, `exit_direct`), leaving `pending` for it to
/// finish as it resumes. Returns `false`, having changed nothing, if this M or `g` is
/// locked, the P is not this M's any more, a timer is due (its callback runs on g0), or
/// `pick` finds none.
fn switch_direct(
    g: &'static G,
    pending: Pending,
    pick: impl FnOnce(&'static P) -> Option<&'static G>,
) -> bool {
    // SAFETY: `g.m` is the `&'static M` running `g` (set as it resumed).
    let m = unsafe { &*g.m.get() };
    if !m.locked_g.get().is_null() || g.locked_m.get().is_some() {
        return false;
    }
    m.in_p.store(true, Relaxed);
    membarrier::light();
    let next = m.p_on_g0().filter(|_| !timer::due()).and_then(pick);
    let Some(next) = next else {
        m.in_p.store(false, Release);
        return false;
    };
    m.pending.set(pending);
    // `next` is current from here, a few frames before the switch leaves `g`'s stack: an
    // overflow inside those frames (a stack within a hundred bytes of its guard page,
    // where the call that got here would have overflowed first) would name `next`.
    m.curg.store(next as *const G as *mut G, Relaxed);
    next.park_sp.store(0, Relaxed);
    g.switch_to(next);
    true
}

/// Fast path of `schedule` after a goroutine parked, for the common case of a channel
/// hand-off: `runnext` holds the goroutine it just readied, which inherits the time slice.
/// Returns it to run at once, skipping the full `find_runnable` round trip, or `None` if
/// anything needs the full scheduler (a locked M or goroutine, a retired P, a used-up time
/// slice, an empty `runnext`). Due timers still fire first, as in `find_runnable`.
fn next_inherited(m: &'static M, p: &'static P) -> Option<&'static G> {
    if !m.locked_g.get().is_null() || p.id >= sched().nprocs.load(Relaxed) {
        return None;
    }
    timer::check();
    take_inherited(p)
}

/// Takes `p`'s `runnext` to run at once in the current time slice, with the bookkeeping of
/// a run; `None` if it is empty, the slice is used up, or its goroutine is locked to an M
/// (it goes back, and `schedule` hands it to its M).
fn take_inherited(p: &'static P) -> Option<&'static G> {
    let g = p.take_runnext_inherited()?;
    if g.locked_m.get().is_some() {
        p.runq_put(g, true, &sched().global);
        p.undo_runnext_inherited();
        return None;
    }
    bump(&p.counters.runs);
    Some(g)
}

/// Called by `spawn::goexit` when a goroutine ends while locked: the M gives up its P and
/// exits. Returns `false` (the M must exit).
pub(crate) fn drop_locked(m: &'static M) -> bool {
    m.locked_g.set(ptr::null());
    if m.p_on_g0().is_some() {
        sched().handoffp(m.take_p());
    }
    m.p.set(ptr::null());
    false
}

/// Leaves a syscall: if sysmon handed our P to another M meanwhile, take an idle P, or
/// else queue the goroutine and let this M wait (Go's `exitsyscall`). Called on the
/// goroutine's stack, with `m` the M it runs on now (the owner of `m.p`).
pub(crate) fn exit_syscall_slow(m: &'static M, g: &'static G) {
    debug_assert!(current_m().is_some_and(|c| ptr::eq(c, m)));
    let s = sched();
    let fresh = {
        let mut idle = s.lock.lock();
        s.pidleget(&mut idle)
    };
    match fresh {
        Some(p) => m.set_p(p),
        // No P free: run again when one is (the M waits for a P in `schedule`).
        None => g.suspend(Switch::Requeue),
    }
}

/// A spinning M found work: stop spinning and let another M look for more (Go's
/// `resetspinning`).
fn reset_spinning(m: &'static M) {
    m.spinning.set(false);
    let s = sched();
    s.nmspinning.fetch_sub(1, SeqCst);
    s.wakep();
}

/// Finds a goroutine to run, sleeping if there is none (Go's `findRunnable`). Returns with
/// a P held, the G, and whether the G inherits the current time slice.
fn find_runnable(m: &'static M) -> (&'static G, bool) {
    let s = sched();
    loop {
        let p = m.p_on_g0().expect("gort: M without a P");
        if p.id >= s.nprocs.load(Relaxed) {
            retire(m);
            continue;
        }
        // Due timers ready their goroutines onto this P.
        timer::check();
        // Fairness: look at the global queue now and then even when the local one is busy.
        if p.schedtick().is_multiple_of(61) {
            if let Some(g) = s.global.pop() {
                return (g, false);
            }
        }
        if let Some(found) = p.runq_get() {
            return found;
        }
        // Go's globrunqget: a fair share of the global queue, at most half a ring.
        let share = s.global.len() / s.nprocs.load(Relaxed).max(1) + 1;
        if let Some(g) = p.take_global(&s.global, share.min(RUNQ_SIZE / 2)) {
            return (g, false);
        }
        // Sockets that became ready: their goroutines land on this P.
        if netpoll::waiters() > 0 && netpoll::poll_now() > 0 {
            continue;
        }
        let busy = s
            .nprocs
            .load(Relaxed)
            .saturating_sub(s.npidle.load(Relaxed));
        if m.spinning.get() || 2 * s.nmspinning.load(Relaxed) < busy {
            if !m.spinning.get() {
                m.spinning.set(true);
                s.nmspinning.fetch_add(1, SeqCst);
            }
            if let Some(g) = steal_work(m, p, s) {
                return (g, false);
            }
        }

        // Nothing found: give up the P, stop spinning, then look once more before sleeping.
        let mut idle = s.lock.lock();
        if !s.global.is_empty() {
            continue;
        }
        m.take_p();
        if p.id >= s.nprocs.load(Relaxed) {
            p.status.store(P_DEAD, Relaxed);
        } else {
            s.pidleput(&mut idle, p);
        }
        drop(idle);
        let was_spinning = m.spinning.replace(false);
        if was_spinning {
            s.nmspinning.fetch_sub(1, SeqCst);
        }
        // Pairs with the fence in `Sched::wakep`: either the producer sees our P idle and
        // no spinner, or we see its goroutine here.
        fence(SeqCst);
        if s.any_work() {
            let mut idle = s.lock.lock();
            if let Some(p) = s.pidleget(&mut idle) {
                drop(idle);
                m.set_p(p);
                if was_spinning {
                    m.spinning.set(true);
                    s.nmspinning.fetch_add(1, SeqCst);
                }
                continue;
            }
        }
        stopm(m);
    }
}

/// Steals from other Ps: four rounds over all of them in random order, taking `runnext`
/// too in the last round.
fn steal_work(m: &'static M, p: &P, s: &Sched) -> Option<&'static G> {
    let n = s.nprocs.load(Relaxed);
    for round in 0..4 {
        let start = m.rand() % n;
        for i in 0..n {
            let victim = s.p((start + i) % n);
            if ptr::eq(victim, p) {
                continue;
            }
            if let Some(g) = p.steal_from(victim) {
                bump(&p.counters.steals);
                return Some(g);
            }
            if round == 3 && victim.has_runnext() && stuck(victim) {
                if let Some(g) = victim.steal_runnext() {
                    bump(&p.counters.steals);
                    return Some(g);
                }
            }
        }
    }
    None
}

/// Whether `victim` stays in one goroutine for a while (Go's back-off before stealing
/// `runnext`). A goroutine that readies another and then blocks at once (a channel
/// ping-pong) leaves it in `runnext` for a moment only: stealing it then would bounce the
/// pair between threads. If the victim starts no goroutine during the back-off, it is busy
/// in one, and its `runnext` is fair game.
///
/// The back-off has two stages. First a 3 µs spin that watches the victim: a P that hands
/// goroutines back and forth (producers and consumers on one channel) starts another within
/// it, and this M goes back to stealing from its queue at once. Then, if the victim is still
/// in the same goroutine, Go's `usleep(3)`, which Linux's timer slack stretches to some
/// 50 µs: a goroutine that keeps readying others without ever blocking (a `select` loop
/// draining busy producers) is better left to run them in batches on its own P than to
/// have each one stolen the moment it is readied and run beside it, where the two cores
/// then trade the channels' cache lines on every message (select over 4 busy channels:
/// about 95 ns a select with the spin alone, 65 ns with the sleep, on the 2-core CI VM).
/// As in Go, the M still counts as spinning while it sleeps, so `wakep` starts no other M
/// meanwhile, and it sleeps only if the victim is running (else nobody will run the
/// goroutine soon, and it is taken at once).
fn stuck(victim: &P) -> bool {
    let runs = victim.counters.runs.load(Relaxed);
    let until = std::time::Instant::now() + std::time::Duration::from_micros(3);
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
        if victim.counters.runs.load(Relaxed) != runs {
            return false;
        }
    }
    if victim.status.load(Relaxed) != P_RUNNING {
        return true; // Go sleeps only for a running victim: nobody else will run it soon
    }
    std::thread::sleep(std::time::Duration::from_micros(3));
    victim.counters.runs.load(Relaxed) == runs
}

/// This M's P was retired by `set_procs`: move its goroutines and caches to the global
/// pools, give it up, and wait for another P.
fn retire(m: &'static M) {
    let s = sched();
    let p = m.take_p();
    p.drain_to(&s.global);
    spawn::flush_caches(p);
    if m.spinning.replace(false) {
        s.nmspinning.fetch_sub(1, SeqCst);
    }
    s.handoffp(p);
    stopm(m);
}

/// Snapshot for stats: (threads, idle threads).
pub(crate) fn thread_counts(s: &Sched) -> (usize, usize) {
    (s.allm.lock().len(), s.lock.lock().ms.len())
}
