//! The waiter queue: an intrusive doubly-linked list of [`Waiter`]s, each living on the
//! stack of the goroutine (or thread) that waits, so waiting allocates nothing and a waiter
//! that gives up (a deadline, a cancellation) leaves in O(1), as Go's `sudog` queues do.
//! It is the mechanism every blocking primitive with a queue of waiters builds on, next to
//! the [`park`](crate::park) seam: `gort::sync`'s primitives here; in `gort-chan` the
//! channels' queues of blocked senders and receivers (a waiter's [`data`](Waiter::data)
//! says where the value goes and which `select` it belongs to: a select queues one waiter
//! per case, all pointing at its one decision word) and the weighted semaphore.
//!
//! A waiter is five words (a token, two links, two words of data), so that a channel's
//! waiter fits the parker's [`scratch`](crate::park::scratch) space. Whether a waiter is
//! queued is read off its links (a queued waiter has a predecessor or is the head).
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
//! let me = Waiter::new(park::prepare_for(reason), data);
//! { lock; unsafe { state.queue.push_back(&me) }; unlock }
//! let woken = park::park_until(deadline);
//! if !woken { lock; if unsafe { state.queue.remove(&me) } { /* gave up */ } unlock }
//! ```

use crate::park::Token;
use crate::shim::UnsafeCell;
use std::marker::PhantomPinned;
use std::ptr;

/// One waiting goroutine or thread, queued by reference, carrying `data` for whoever pops
/// it (a semaphore weight, a condition variable ticket, a channel's value slot).
pub struct Waiter<T = usize> {
    token: Token,
    links: UnsafeCell<Links<T>>,
    /// What the waiter asks for or carries; fixed while it is queued.
    pub data: T,
    _pinned: PhantomPinned,
}

struct Links<T> {
    prev: *const Waiter<T>,
    next: *const Waiter<T>,
}

impl<T> Clone for Links<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Links<T> {}

impl<T> Links<T> {
    const UNLINKED: Links<T> = Links {
        prev: ptr::null(),
        next: ptr::null(),
    };
}

impl<T> Waiter<T> {
    /// A waiter that `token` wakes, carrying `data`.
    pub fn new(token: Token, data: T) -> Self {
        Waiter {
            token,
            links: UnsafeCell::new(Links::UNLINKED),
            data,
            _pinned: PhantomPinned,
        }
    }

    /// The token that wakes this waiter.
    pub fn token(&self) -> &Token {
        &self.token
    }

    fn links(&self) -> Links<T> {
        // SAFETY: links are only accessed under the queue's lock, which the caller holds.
        self.links.with(|l| unsafe { *l })
    }

    fn set_links(&self, links: Links<T>) {
        // SAFETY: as in `links`.
        self.links.with_mut(|l| unsafe { *l = links })
    }

    fn set_prev(&self, prev: *const Waiter<T>) {
        // SAFETY: as in `links`.
        self.links.with_mut(|l| unsafe { (*l).prev = prev })
    }

    fn set_next(&self, next: *const Waiter<T>) {
        // SAFETY: as in `links`.
        self.links.with_mut(|l| unsafe { (*l).next = next })
    }
}

/// A FIFO (with LIFO insertion for waiters that lost a race and go again) of [`Waiter`]s.
pub struct WaitQueue<T = usize> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
    len: usize,
}

// SAFETY: the queue's pointers are only followed under its primitive's lock, and the
// waiters they point to are shared with the lock's holders only (a token, links guarded by
// that lock, and data that is fixed while queued).
unsafe impl<T> Send for WaitQueue<T> {}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl<T> std::fmt::Debug for WaitQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitQueue").field("len", &self.len).finish()
    }
}

impl<T> WaitQueue<T> {
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
    pub unsafe fn push_back(&mut self, w: &Waiter<T>) {
        w.set_links(Links {
            prev: self.tail,
            next: ptr::null(),
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
    pub unsafe fn push_front(&mut self, w: &Waiter<T>) {
        w.set_links(Links {
            prev: ptr::null(),
            next: self.head,
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
    pub fn front(&self) -> Option<&Waiter<T>> {
        // SAFETY: queued waiters are alive while we hold the lock (the push contract:
        // their owners only leave after taking the lock and finding them dequeued).
        unsafe { self.head.as_ref() }
    }

    /// The queued waiters, first to last.
    pub fn iter(&self) -> impl Iterator<Item = &Waiter<T>> + '_ {
        let mut next = self.head;
        std::iter::from_fn(move || {
            // SAFETY: as in `front`: queued waiters are alive while we hold the lock.
            let w = unsafe { next.as_ref() }?;
            next = w.links().next;
            Some(w)
        })
    }

    /// Removes and returns the first waiter. The reference is good until the lock is
    /// released: copy what you need (its token) before that.
    pub fn pop_front(&mut self) -> Option<&Waiter<T>> {
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
    pub unsafe fn remove(&mut self, w: &Waiter<T>) -> bool {
        // Queued: it has a predecessor, or it is the head (of this queue, by the contract).
        if w.links().prev.is_null() && !ptr::eq(self.head, w) {
            return false;
        }
        self.unlink(w);
        true
    }

    fn unlink(&mut self, w: &Waiter<T>) {
        let l = w.links();
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
        w.set_links(Links::UNLINKED);
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

impl<T: std::fmt::Debug> std::fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("data", &self.data)
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
