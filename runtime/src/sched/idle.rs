//! The idle M: where an M with nothing to do waits, and how it is woken.
//!
//! An M that finds no goroutine to run gives its P back and calls [`stopm`]: it goes on the
//! idle list (`Sched::lock`, `Idle::ms`) and sleeps on its note until another thread hands
//! it a P (`M::hand_off`, from `Sched::startm`). An idle M is also the runtime's clock and
//! poller while no M is running: of all idle Ms, one at a time is the *sleeper*
//! (`SLEEPER`), which sleeps only until the next timer deadline, fires what is due, and
//! goes back to sleep; while goroutines or threads wait on the netpoller the sleeper blocks
//! in `epoll_wait` instead of on its note (it is then the *poll blocker*,
//! `POLL_BLOCKER`), and runs the goroutines whose sockets became ready itself
//! ([`run_ready`], as Go's `findRunnable` does).
//!
//! Wake-ups come from three places: a P handed over ([`M::wake`] breaks `epoll_wait` too,
//! see the fence pairing below), a timer added earlier than the sleeper's deadline
//! ([`timer_added`], called by `crate::timer`), and a new netpoll waiter on a plain thread
//! ([`netpoll_waiter_added`], called by `crate::netpoll`). When nobody watches,
//! [`poke_idle_m`] wakes an idle M to become the sleeper, or starts the first M.
//!
//! Running Ms fire timers and poll in `find_runnable`; this file covers only the time when
//! they all sleep.
//!
//! Uses: `netpoll`, `timer`; within `sched`: `sched` itself, `sched::m`.

use super::m::M;
use super::sched;
use crate::{netpoll, timer};
use std::ptr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64};

impl M {
    /// Wakes this M from its note, or from `epoll_wait` if it is the poll blocker.
    pub(super) fn wake(&self) {
        self.note.wakeup();
        // Pairs with the fence in `stopm`: either we see it blocking in epoll_wait, or it
        // sees the note woken before it blocks.
        fence(SeqCst);
        if ptr::eq(POLL_BLOCKER.load(SeqCst), self) {
            netpoll::break_wait();
        }
    }

    /// Sleeps on the note until `deadline` (or a wake-up), marked idle for the deadlock
    /// check meanwhile (see `sleeps`).
    fn idle_sleep(&self, deadline: Option<std::time::Instant>) {
        self.sleeps.fetch_add(1, SeqCst);
        self.note.sleep_until(deadline);
        self.sleeps.fetch_add(1, SeqCst);
    }

    /// Sleeps until another thread hands this M a P, then takes it.
    pub(super) fn sleep_for_p(&self) {
        loop {
            self.idle_sleep(None);
            self.note.clear();
            if self.nextp.load(SeqCst) != 0 {
                return self.take_next_p();
            }
        }
    }
}

/// The idle M that sleeps until the next timer deadline, or null (see `crate::timer`).
static SLEEPER: AtomicPtr<M> = AtomicPtr::new(ptr::null_mut());
/// The deadline the sleeper sleeps until (ns since the timer epoch).
static SLEEPER_UNTIL: AtomicU64 = AtomicU64::new(u64::MAX);

/// The timer sleeper while it blocks in `epoll_wait` (see `crate::netpoll`), or null.
static POLL_BLOCKER: AtomicPtr<M> = AtomicPtr::new(ptr::null_mut());

/// Puts this M on the idle list and sleeps until it is handed a P. If timers are pending
/// or goroutines wait on the netpoller, and no other idle M watches them, this M sleeps
/// only until the next deadline (in `epoll_wait` when there are netpoll waiters, on its
/// note otherwise), fires what is due and wakes the goroutines whose sockets are ready
/// (they go to the global queue, and `wakep` finds them an M and a P, possibly this one),
/// and goes back to sleep.
pub(super) fn stopm(m: &'static M) {
    debug_assert!(m.p.get().is_null());
    sched().lock.lock().ms.push(m);
    let me = m as *const M as *mut M;
    // Set after a poll whose goroutines found every P busy: sleep without polling once.
    let mut skip_poll = false;
    loop {
        let polling = !std::mem::take(&mut skip_poll) && netpoll::waiters() > 0;
        let watching = (timer::next() != u64::MAX || polling)
            && SLEEPER
                .compare_exchange(ptr::null_mut(), me, SeqCst, SeqCst)
                .is_ok();
        if polling && !watching && POLL_BLOCKER.load(SeqCst).is_null() {
            // The sleeper watches only timers: poke it so it watches the sockets too.
            let sleeper = SLEEPER.load(SeqCst);
            if !sleeper.is_null() && sleeper != me {
                // SAFETY: SLEEPER holds null or a leaked `&'static M`.
                unsafe { (*sleeper).wake() };
            }
        }
        let deadline = if watching {
            let next = timer::next();
            SLEEPER_UNTIL.store(next, SeqCst);
            (next != u64::MAX).then(|| timer::instant(next))
        } else {
            None
        };
        if watching && polling {
            POLL_BLOCKER.store(me, SeqCst);
            // Pairs with the fence in `M::wake`.
            fence(SeqCst);
            // Block only if nobody woke us before we published POLL_BLOCKER.
            let woken = m.note.sleep_until(Some(std::time::Instant::now()));
            let mut ready = Vec::new();
            if !woken {
                netpoll::poll_until(deadline, &mut ready);
            }
            POLL_BLOCKER.store(ptr::null_mut(), SeqCst);
            if !ready.is_empty() {
                if run_ready(m, ready) {
                    SLEEPER_UNTIL.store(u64::MAX, SeqCst);
                    SLEEPER.store(ptr::null_mut(), SeqCst);
                    m.note.clear();
                    return;
                }
                // Every P is busy: the goroutines went to the global queue for them. Polling
                // again at once would wake this thread for every batch of readiness while
                // those Ms run (a context switch that preempts one of them, and one more
                // trip through the global queue per batch: with 10,000 connections each
                // resetting a read deadline, a fifth of the server's CPU). As in Go's
                // `findRunnable`, this M sleeps instead; the busy Ms poll as they run out
                // of work (`find_runnable`), the next M to go idle becomes the poller (it
                // pokes this one if this one keeps the timers), and sysmon polls after
                // 10 ms. Plain threads waiting on the poller have no M of their own to poll
                // for them: while any do, keep polling.
                skip_poll = netpoll::thread_waiters() == 0;
            }
        } else {
            m.idle_sleep(deadline);
        }
        if watching {
            SLEEPER_UNTIL.store(u64::MAX, SeqCst);
            SLEEPER.store(ptr::null_mut(), SeqCst);
        }
        m.note.clear();
        if m.nextp.load(SeqCst) != 0 {
            m.take_next_p();
            return;
        }
        // A deadline passed, or a new earlier timer poked us.
        timer::check();
    }
}

/// Goroutines whose sockets became ready while this idle M polled: as in Go's
/// `findRunnable`, the M takes an idle P and runs them itself rather than waking another
/// thread for them. Returns whether it now holds a P (else they went to the global queue).
fn run_ready(m: &'static M, ready: Vec<netpoll::Ready>) -> bool {
    let s = sched();
    let mut idle = s.lock.lock();
    // Still on the idle list (nobody is about to hand us a P)?
    let pos = idle.ms.iter().position(|x| ptr::eq(*x, m));
    let p = match pos {
        Some(i) if m.nextp.load(SeqCst) == 0 => match s.pidleget(&mut idle) {
            Some(p) => {
                idle.ms.swap_remove(i);
                Some(p)
            }
            None => None,
        },
        _ => None,
    };
    drop(idle);
    if let Some(p) = p {
        m.set_p(p);
    }
    // With a P the goroutines land on it; without, on the global queue (and wakep).
    for r in ready {
        r.wake();
    }
    p.is_some()
}

/// A timer due at `when` (ns since the timer epoch) was added: make sure an M will fire it.
pub(crate) fn timer_added(when: u64) {
    let sleeper = SLEEPER.load(SeqCst);
    if !sleeper.is_null() {
        if when < SLEEPER_UNTIL.load(SeqCst) {
            // SAFETY: SLEEPER holds null or a leaked `&'static M`.
            unsafe { (*sleeper).wake() };
        }
        return;
    }
    poke_idle_m();
}

/// Nobody watches the timers or the poller: poke an idle M so it becomes the sleeper.
/// Running Ms fire timers and poll as they schedule; if there is no M at all yet, start one.
fn poke_idle_m() {
    let s = sched();
    let idle = s.lock.lock();
    if let Some(m) = idle.ms.last() {
        m.wake();
        return;
    }
    drop(idle);
    if s.allm.lock().is_empty() {
        s.wakep();
    }
}

/// A park episode began waiting on the netpoller (see `crate::netpoll`; `thread`: a plain
/// thread's, not a goroutine's): make sure someone will poll. A goroutine's own M does on
/// its way to `stopm`; a plain thread's wait needs the sleeper (or an idle M that becomes
/// it) to switch to `epoll_wait`.
pub(crate) fn netpoll_waiter_added(thread: bool) {
    if !POLL_BLOCKER.load(SeqCst).is_null() || !thread {
        return;
    }
    let sleeper = SLEEPER.load(SeqCst);
    if !sleeper.is_null() {
        // SAFETY: SLEEPER holds null or a leaked `&'static M`.
        unsafe { (*sleeper).wake() };
        return;
    }
    poke_idle_m();
}
