//! A blocked party of a channel operation (Go's `sudog`), on the runtime's intrusive
//! waiter queue ([`gort_runtime::waitq`]): queueing and removal are O(1), so a `select`
//! that gives up its losing cases, or a send that times out, does not scan the queue.
//!
//! A waiter stays put while its goroutine or thread is parked; a channel's queues link it
//! in place. A plain send or receive keeps it in the parker's scratch space
//! (`park::scratch`, next to its park state in its control block), so that completing it
//! touches no cold stack page; a `select` keeps one per case on its stack. Everything a
//! completer does to a waiter happens under the channel's lock: it *claims* the waiter,
//! moves the value through the waiter's `slot`, dequeues it, and only after unlocking
//! wakes its token.
//!
//! The outcome is read off the slot (an `Option<T>`): a receive whose slot got a value
//! completed, one whose slot is still empty found the channel closed; a send whose value
//! was taken completed, one whose value is still there failed. So a waiter needs no
//! outcome word, and fits the scratch space.
//!
//! A waiter that belongs to a `select` points at the select's one decision word, shared
//! by its cases: claiming it is a CAS of that word from 0 to the waiter's own address, so
//! exactly one case of a select ever completes, and the select finds the winner by its
//! waiter's address.

use gort_runtime::park::Token;
use gort_runtime::shim::AtomicUsize;
use gort_runtime::waitq;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

/// A select's decision word: 0 undecided, the address of the winning case's waiter, or
/// [`TIMED_OUT`].
pub(crate) type Decision = AtomicUsize;
/// Decision of a select whose deadline passed first (never a waiter's address).
pub(crate) const TIMED_OUT: usize = usize::MAX;

/// What a channel's waiter carries.
#[derive(Debug)]
pub(crate) struct Wait {
    /// `*mut Option<T>`: the value to send, or where a received value goes.
    pub(crate) slot: *mut u8,
    /// The select's decision word, or null for a plain send/recv.
    sel: *const Decision,
}

/// A parked party of one channel operation.
pub(crate) type Waiter = waitq::Waiter<Wait>;

// A plain operation's waiter lives in the parker's scratch space.
#[cfg(not(loom))]
const _: () = assert!(
    std::mem::size_of::<Waiter>() <= gort_runtime::park::SCRATCH_BYTES
        && std::mem::align_of::<Waiter>() <= 8
);

/// A waiter for a plain (not `select`) send or receive moving its value through `slot`.
#[inline]
pub(crate) fn plain(token: Token, slot: *mut u8) -> Waiter {
    Waiter::new(
        token,
        Wait {
            slot,
            sel: ptr::null(),
        },
    )
}

/// A waiter for one case of a select whose decision word is `sel`.
#[inline]
pub(crate) fn of_select(token: Token, sel: *const Decision, slot: *mut u8) -> Waiter {
    Waiter::new(token, Wait { slot, sel })
}

/// Completer (channel lock held): claims `w`. Fails if its select already completed
/// another case or timed out; the caller then skips it.
#[inline]
fn claim(w: &Waiter) -> bool {
    if w.data.sel.is_null() {
        return true;
    }
    // SAFETY: `sel` points at the decision word on the stack of the select that queued
    // this waiter; it stays valid until that select has dequeued all its waiters, which
    // it does under this channel's lock, so it is valid while we hold it.
    let sel = unsafe { &*w.data.sel };
    sel.compare_exchange(0, w as *const Waiter as usize, AcqRel, Acquire)
        .is_ok()
}

/// Channel lock held: whether a completer could still claim `w` (a plain waiter always;
/// a select's only while undecided).
#[inline]
fn claimable(w: &Waiter) -> bool {
    // SAFETY: as in `claim`.
    w.data.sel.is_null() || unsafe { &*w.data.sel }.load(Acquire) == 0
}

/// A channel's FIFO of waiters.
#[derive(Default)]
pub(crate) struct WaitQueue {
    q: waitq::WaitQueue<Wait>,
}

impl WaitQueue {
    /// Appends `w`.
    ///
    /// # Safety
    /// The channel's lock is held; `w` is in no queue and stays alive and in place until
    /// it has been claimed by a completer or [`remove`](Self::remove)d, both under the
    /// lock.
    #[inline]
    pub(crate) unsafe fn push(&mut self, w: &Waiter) {
        // SAFETY: the caller's contract is the queue's.
        unsafe { self.q.push_back(w) }
    }

    /// Prepends `w`: a waiter that was woken and lost the race for what the wake-up
    /// announced goes back to the front (Go's order for a waiter that already waited).
    ///
    /// # Safety
    /// As for [`push`](Self::push).
    #[inline]
    pub(crate) unsafe fn push_front(&mut self, w: &Waiter) {
        // SAFETY: the caller's contract is the queue's.
        unsafe { self.q.push_front(w) }
    }

    /// Removes and claims the first waiter that can still be claimed; waiters of selects
    /// that already completed elsewhere are dequeued on the way. The reference is good
    /// until the lock is released: take the token (a clone) before that.
    #[inline]
    pub(crate) fn claim_first(&mut self) -> Option<&Waiter> {
        loop {
            let w: *const Waiter = self.q.pop_front()?;
            // SAFETY: a popped waiter stays alive while the lock is held (its owner leaves
            // only after taking the lock), and the returned borrow of the queue, which sits
            // behind that lock, ends before the lock is released.
            let w = unsafe { &*w };
            if claim(w) {
                return Some(w);
            }
        }
    }

    /// Removes `w` if it is queued (in O(1)). Returns whether it was.
    ///
    /// # Safety
    /// The lock is held, and `w`, if queued, is queued in this queue.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, w: &Waiter) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.q.remove(w) }
    }

    /// How many waiters are queued.
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether some queued waiter could still be claimed.
    pub(crate) fn any_claimable(&self) -> bool {
        self.q.iter().any(claimable)
    }

    /// The first queued waiter, if any (not claimed).
    pub(crate) fn front(&self) -> Option<&Waiter> {
        self.q.front()
    }

    /// Claims and dequeues every waiter that can still be claimed, leaving its slot as it
    /// is (so its operation fails: the channel closed), and collects the tokens to wake.
    pub(crate) fn fail_all(&mut self, wakes: &mut Vec<Token>) {
        while let Some(w) = self.claim_first() {
            wakes.push(w.token().clone());
        }
    }
}
