//! A blocked party of a channel operation (Go's `sudog`).
//!
//! A `Waiter` stays put while its goroutine or thread is parked; channels queue raw pointers
//! to it. A plain send or receive keeps it in the parker's scratch space (`park::scratch`,
//! next to its park state in its control block), so that completing it touches no cold
//! stack page; a `select` keeps one per case on its stack. Everything a completer does to a
//! waiter happens under the channel's lock: it *claims* the waiter, moves the value through
//! `slot`, sets `state`, and only after unlocking wakes the waiter's token. A waiter that
//! belongs to a `select` shares one decision word with the select's other cases: claiming it
//! is a CAS on that word, so exactly one case of a select ever completes.

use gort_runtime::park::Token;
use gort_runtime::shim::{AtomicU8, AtomicUsize};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

/// Not completed yet.
pub(crate) const WAITING: u8 = 0;
/// The value was transferred.
pub(crate) const DONE: u8 = 1;
/// The channel was closed (a send's value is still in `slot`).
pub(crate) const CLOSED: u8 = 2;

/// A select's decision word: 0 undecided, `i + 1` case `i` won, [`TIMED_OUT`] no case did.
pub(crate) type Decision = AtomicUsize;
/// Decision of a select whose deadline passed first.
pub(crate) const TIMED_OUT: usize = usize::MAX;

/// A parked party of one channel operation.
pub(crate) struct Waiter {
    /// Wakes the parked goroutine or thread.
    pub(crate) token: Option<Token>,
    /// The select's decision word, or null for a plain send/recv.
    sel: *const Decision,
    /// This waiter's case index in its select.
    case: usize,
    /// `*mut Option<T>`: the value to send, or where a received value goes.
    pub(crate) slot: *mut u8,
    /// [`WAITING`], [`DONE`] or [`CLOSED`]; written under the channel lock.
    pub(crate) state: AtomicU8,
}

impl Waiter {
    #[inline]
    pub(crate) fn new() -> Self {
        Waiter {
            token: None,
            sel: ptr::null(),
            case: 0,
            slot: ptr::null_mut(),
            state: AtomicU8::new(WAITING),
        }
    }

    /// A waiter armed for a plain (not `select`) send or receive.
    #[inline]
    pub(crate) fn armed(token: Token, slot: *mut u8) -> Self {
        Waiter {
            token: Some(token),
            sel: ptr::null(),
            case: 0,
            slot,
            state: AtomicU8::new(WAITING),
        }
    }

    /// Arms the waiter for one blocking operation.
    #[inline]
    pub(crate) fn arm(&mut self, token: Token, sel: *const Decision, case: usize, slot: *mut u8) {
        self.token = Some(token);
        self.sel = sel;
        self.case = case;
        self.slot = slot;
        self.state
            .store(WAITING, std::sync::atomic::Ordering::Relaxed);
    }

    /// Completer (channel lock held): claims this waiter. Fails if its select already
    /// completed another case or timed out; the caller then skips it.
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        if self.sel.is_null() {
            return true;
        }
        // SAFETY: `sel` points at the decision word on the stack of the select that queued
        // this waiter; it stays valid until that select has dequeued all its waiters,
        // which it does under this channel's lock, so it is valid while we hold it.
        let sel = unsafe { &*self.sel };
        sel.compare_exchange(0, self.case + 1, AcqRel, Acquire)
            .is_ok()
    }

    /// Channel lock held: whether a completer could still claim this waiter (a plain one
    /// always; a select's only while undecided).
    #[inline]
    pub(crate) fn claimable(&self) -> bool {
        // SAFETY: as in `claim`.
        self.sel.is_null() || unsafe { &*self.sel }.load(Acquire) == 0
    }

    /// Completer (channel lock held, after `claim`): records the outcome and returns the
    /// token to wake once the lock is released.
    #[inline]
    pub(crate) fn complete(&self, state: u8) -> Token {
        self.state
            .store(state, std::sync::atomic::Ordering::Release);
        self.token.clone().expect("armed waiter has a token")
    }
}

/// A FIFO of waiters (pointers to waiters parked on their own stacks).
#[derive(Default)]
pub(crate) struct WaitQueue {
    q: VecDeque<*const Waiter>,
}

impl WaitQueue {
    #[inline]
    pub(crate) fn push(&mut self, w: *const Waiter) {
        self.q.push_back(w);
    }

    /// Removes and claims the first waiter that can still be claimed (skipping waiters of
    /// selects that already completed elsewhere).
    #[inline]
    pub(crate) fn claim_first(&mut self) -> Option<&Waiter> {
        while let Some(w) = self.q.pop_front() {
            // SAFETY: queued waiters are alive: their owners dequeue them (under the lock we
            // hold) before their stack frames go away.
            let w = unsafe { &*w };
            if w.claim() {
                return Some(w);
            }
        }
        None
    }

    /// Removes `w` if it is queued. Returns whether it was.
    pub(crate) fn remove(&mut self, w: *const Waiter) -> bool {
        match self.q.iter().position(|&x| ptr::eq(x, w)) {
            Some(i) => {
                self.q.remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether some queued waiter could still be claimed.
    pub(crate) fn any_claimable(&self) -> bool {
        // SAFETY: as in `claim_first`.
        self.q.iter().any(|&w| unsafe { &*w }.claimable())
    }

    /// The first queued waiter, if any (not claimed).
    pub(crate) fn front(&self) -> Option<*const Waiter> {
        self.q.front().copied()
    }

    /// Removes every waiter.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = *const Waiter> + '_ {
        self.q.drain(..)
    }
}

// SAFETY: the raw pointers are only dereferenced under the owning channel's lock (see above).
unsafe impl Send for WaitQueue {}
