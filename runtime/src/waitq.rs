//! The waiter queue: an intrusive doubly-linked list of [`Waiter`]s, each living on the
//! stack of the goroutine (or thread) that waits, so waiting allocates nothing and a waiter
//! that gives up (a deadline, a cancellation) leaves in O(1), as Go's `sudog` queues do.
//! It is the mechanism every blocking primitive with a queue of waiters builds on, next to
//! the [`park`](crate::park) seam: `gort::sync`'s primitives here, the weighted semaphore of
//! `gort-chan`.
//!
//! A queue is only touched under its primitive's lock (the sync primitives' `Locked`, a
//! mutex around the primitive's state). The contract that keeps the raw links sound: a
//! waiter stays where it is (it is a local the waiting function borrows) until it has left
//! the queue, either popped by a waker or removed by its owner, both under the lock. A
//! popped waiter's owner may return as soon as the lock is released, so wakers copy the
//! [`Token`] out under the lock and wake the copy afterwards ([`Wakes`]).
//!
//! The usual shape of a wait:
//!
//! ```text
//! let me = Waiter::new(park::prepare_for(reason), n);
//! { lock; unsafe { state.queue.push_back(&me) }; unlock }
//! let woken = park::park_until(deadline);
//! if !woken { lock; if unsafe { state.queue.remove(&me) } { /* gave up */ } unlock }
//! ```

use crate::park::Token;
use crate::shim::UnsafeCell;
use std::marker::PhantomPinned;
use std::ptr;

/// One waiting goroutine or thread, queued by reference.
pub struct Waiter {
    token: Token,
    /// What the waiter asks for: a semaphore weight, a condition variable ticket.
    pub n: usize,
    links: UnsafeCell<Links>,
    _pinned: PhantomPinned,
}

#[derive(Clone, Copy)]
struct Links {
    prev: *const Waiter,
    next: *const Waiter,
    queued: bool,
}

impl Waiter {
    /// A waiter that `token` wakes, asking for `n`.
    pub fn new(token: Token, n: usize) -> Self {
        Waiter {
            token,
            n,
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
                queued: false,
            }),
            _pinned: PhantomPinned,
        }
    }

    /// The token that wakes this waiter.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Whether the waiter is still in a queue (read it under that queue's lock).
    pub fn is_queued(&self) -> bool {
        self.links.with(|l| {
            // SAFETY: links are only accessed under the queue's lock, which the caller holds.
            unsafe { (*l).queued }
        })
    }

    fn links(&self) -> Links {
        // SAFETY: as in `is_queued`.
        self.links.with(|l| unsafe { *l })
    }

    fn set_links(&self, links: Links) {
        // SAFETY: as in `is_queued`.
        self.links.with_mut(|l| unsafe { *l = links })
    }

    fn set_prev(&self, prev: *const Waiter) {
        // SAFETY: as in `is_queued`.
        self.links.with_mut(|l| unsafe { (*l).prev = prev })
    }

    fn set_next(&self, next: *const Waiter) {
        // SAFETY: as in `is_queued`.
        self.links.with_mut(|l| unsafe { (*l).next = next })
    }
}

/// A FIFO (with LIFO insertion for waiters that lost a race and go again) of [`Waiter`]s.
pub struct WaitQueue {
    head: *const Waiter,
    tail: *const Waiter,
    len: usize,
}

// SAFETY: the queue's pointers are only followed under its primitive's lock, and the
// waiters they point to are `Sync` data (a token, a number, links guarded by that lock).
unsafe impl Send for WaitQueue {}

impl Default for WaitQueue {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue").field("len", &self.len).finish()
    }
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        WaitQueue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// Whether no one waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `w`.
    ///
    /// # Safety
    /// `w` must not be in a queue, and must stay alive and in place until it has been
    /// popped or [`remove`](Self::remove)d (see the module docs).
    pub unsafe fn push_back(&mut self, w: &Waiter) {
        w.set_links(Links {
            prev: self.tail,
            next: ptr::null(),
            queued: true,
        });
        match self.tail.is_null() {
            true => self.head = w,
            // SAFETY: queued waiters are alive (the push contract).
            false => unsafe { (*self.tail).set_next(w) },
        }
        self.tail = w;
        self.len += 1;
    }

    /// Prepends `w` (a waiter that already waited once goes to the front, as in Go).
    ///
    /// # Safety
    /// As for [`push_back`](Self::push_back).
    pub unsafe fn push_front(&mut self, w: &Waiter) {
        w.set_links(Links {
            prev: ptr::null(),
            next: self.head,
            queued: true,
        });
        match self.head.is_null() {
            true => self.tail = w,
            // SAFETY: queued waiters are alive (the push contract).
            false => unsafe { (*self.head).set_prev(w) },
        }
        self.head = w;
        self.len += 1;
    }

    /// The first waiter, if any.
    pub fn front(&self) -> Option<&Waiter> {
        // SAFETY: queued waiters are alive while we hold the lock (the push contract:
        // their owners only leave after taking the lock and finding them dequeued).
        unsafe { self.head.as_ref() }
    }

    /// Removes and returns the first waiter. The reference is good until the lock is
    /// released: copy what you need (its token) before that.
    pub fn pop_front(&mut self) -> Option<&Waiter> {
        let w = self.head;
        if w.is_null() {
            return None;
        }
        // SAFETY: `w` is queued, so alive (see `front`).
        let w = unsafe { &*w };
        self.unlink(w);
        Some(w)
    }

    /// Removes `w` if it is still queued; returns whether it was (`false`: a waker popped
    /// it first). O(1).
    ///
    /// # Safety
    /// If `w` is queued, it must be queued in this queue (not another one).
    pub unsafe fn remove(&mut self, w: &Waiter) -> bool {
        if !w.is_queued() {
            return false;
        }
        self.unlink(w);
        true
    }

    fn unlink(&mut self, w: &Waiter) {
        let l = w.links();
        debug_assert!(l.queued);
        match l.prev.is_null() {
            true => self.head = l.next,
            // SAFETY: neighbours of a queued waiter are queued, so alive.
            false => unsafe { (*l.prev).set_next(l.next) },
        }
        match l.next.is_null() {
            true => self.tail = l.prev,
            // SAFETY: as above.
            false => unsafe { (*l.next).set_prev(l.prev) },
        }
        w.set_links(Links {
            prev: ptr::null(),
            next: ptr::null(),
            queued: false,
        });
        self.len -= 1;
    }
}

/// Tokens copied out under a lock, to wake after it is released.
pub struct Wakes {
    tokens: [Option<Token>; Wakes::CAP],
    len: usize,
}

impl Default for Wakes {
    fn default() -> Self {
        Wakes::new()
    }
}

impl std::fmt::Debug for Wakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakes").field("len", &self.len).finish()
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl Wakes {
    /// How many tokens one batch holds; wakers that pop more go in rounds.
    pub const CAP: usize = 8;

    /// An empty batch.
    pub fn new() -> Self {
        Wakes {
            tokens: [const { None }; Wakes::CAP],
            len: 0,
        }
    }

    /// Whether the batch is full.
    pub fn is_full(&self) -> bool {
        self.len == Self::CAP
    }

    /// Adds a token (the batch must not be full).
    pub fn push(&mut self, t: Token) {
        self.tokens[self.len] = Some(t);
        self.len += 1;
    }

    /// Wakes every token in the batch and empties it. Call with no lock held.
    pub fn wake(&mut self) {
        for t in &mut self.tokens[..self.len] {
            if let Some(t) = t.take() {
                t.wake();
            }
        }
        self.len = 0;
    }
}
