//! The count of a scope's goroutines, and the scope's wait for the last of them.
//!
//! # Protocol
//!
//! One counter: the scope's goroutines still running, plus one for the scope itself until
//! it waits. [`Running::add`] counts a goroutine before it starts; each goroutine's last
//! code is [`Running::leave`]. The scope waits with [`Running::wait`]: it stores its park
//! token, then lets go of its own count. Whoever brings the counter to zero is the last:
//! the scope itself (every goroutine had ended: it cancels its park and returns), or a
//! goroutine, which finds the scope's token stored (the scope stored it before its own
//! decrement, which came first) and wakes it.
//!
//! The scope's data (this counter included) lives in `scope`'s frame and is gone once
//! `scope` returns, so a goroutine must not touch it after its decrement, unless it is the
//! last: only then is the scope sure to be parked until this goroutine's wake-up, and the
//! last one takes the token out of the slot before waking it. The scope returns only when
//! woken, never on seeing the count at zero (the last goroutine may not have read the slot
//! yet). This saves each goroutine the reference count (an `Arc`) that would otherwise keep
//! the data alive through its wake-up of the scope: two shared writes a goroutine.
//!
//! Orderings: each decrement is AcqRel, so the last party acquires every earlier one's
//! work (their decrements form one release sequence), and the slot's token; the wake-up
//! orders the last goroutine's work before `wait` returns. `add` is Relaxed: the spawn
//! that follows publishes the goroutine, and every decrement reads the latest count.
//!
//! `loom-tests/tests/scope.rs` checks it, and with [`Fault`] shows that the checks fail when
//! the protocol is broken.
//!
//! Uses: `park`, `shim`.

use crate::park::{self, Token, WaitReason};
use crate::shim::{AtomicUsize, UnsafeCell};
use std::sync::atomic::Ordering::{AcqRel, Relaxed, SeqCst};

/// A step of the protocol to break on purpose in loom models (there is no other way to set
/// one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The protocol as documented.
    None,
    /// `leave` decrements `Relaxed`: the last goroutine does not acquire the scope's token
    /// (nor the other goroutines' work).
    RelaxedLeave,
    /// `wait` returns when it sees the count at zero instead of waiting to be woken: the
    /// last goroutine may still be reading the slot of a scope that has returned.
    ReturnOnZero,
}

/// The count of a scope's goroutines and the slot of the waiting scope's token (see the
/// module docs).
pub struct Running {
    /// Goroutines still running, plus one for the scope until it waits.
    count: AtomicUsize,
    /// The waiting scope's park token: written by the scope before its decrement, taken by
    /// the party whose decrement brings the count to zero.
    waiter: UnsafeCell<Option<Token>>,
    #[cfg(loom)]
    fault: Fault,
}

// SAFETY: the count is atomic; the slot is written by the scope only before its decrement
// (Release) and while no goroutine can be the last, and read only by the last party, whose
// AcqRel decrement follows the scope's in the count's modification order.
unsafe impl Sync for Running {}

impl Default for Running {
    fn default() -> Self {
        Self::new()
    }
}

impl Running {
    /// A count with the scope's own one and no goroutine.
    pub fn new() -> Running {
        Running {
            count: AtomicUsize::new(1),
            waiter: UnsafeCell::new(None),
            #[cfg(loom)]
            fault: Fault::None,
        }
    }

    /// Like [`new`](Self::new), with one step broken on purpose.
    #[cfg(loom)]
    pub fn with_fault(fault: Fault) -> Running {
        Running {
            fault,
            ..Running::new()
        }
    }

    /// The step broken on purpose, if any (never, outside loom models).
    #[inline(always)]
    fn fault(&self) -> Fault {
        #[cfg(loom)]
        return self.fault;
        #[cfg(not(loom))]
        Fault::None
    }

    /// Counts a goroutine about to start. The caller is the scope's closure or one of its
    /// counted goroutines, so the count is not zero.
    pub fn add(&self) {
        self.count.fetch_add(1, Relaxed);
    }

    /// A counted goroutine's last touch of the scope: the scope may have returned (and its
    /// data be gone) once this returns.
    ///
    /// # Safety
    /// `this` points to a live `Running`, and the caller holds one count from
    /// [`add`](Self::add), which it gives up here.
    pub unsafe fn leave(this: *const Running) {
        // SAFETY: live until our decrement (the scope cannot return before it: the count
        // includes ours); a raw pointer, so no reference to it outlives the decrement.
        let fault = unsafe { (*this).fault() };
        let order = if fault == Fault::RelaxedLeave {
            Relaxed
        } else {
            AcqRel
        };
        // SAFETY: as above.
        if unsafe { (*this).count.fetch_sub(1, order) } != 1 {
            return; // Not the last: the scope may be gone from here on.
        }
        // The last: the scope let go of its count after storing its token, and stays
        // parked until we wake it, so the data is still there.
        // SAFETY: as just said; nobody else reads or writes the slot now.
        let token = unsafe { (*this).waiter.with_mut(|w| (*w).take()) };
        debug_assert!(
            token.is_some(),
            "gort: a scope's count hit zero while it ran"
        );
        if let Some(token) = token {
            token.wake();
        }
    }

    /// The scope's wait: returns once every counted goroutine has called
    /// [`leave`](Self::leave). Parks the calling goroutine, or blocks the thread.
    #[track_caller]
    pub fn wait(&self) {
        let token = park::prepare_for(WaitReason::WaitGroupWait);
        // SAFETY: no goroutine reads the slot before the count hits zero, which needs our
        // decrement below.
        self.waiter.with_mut(|w| unsafe { *w = Some(token) });
        if self.count.fetch_sub(1, AcqRel) == 1 {
            // Every goroutine had ended: nobody will wake us.
            park::cancel();
            // SAFETY: we were the last; nobody else touches the slot any more.
            self.waiter.with_mut(|w| unsafe { *w = None });
            return;
        }
        if self.fault() == Fault::ReturnOnZero {
            while self.count.load(SeqCst) != 0 {
                crate::shim::spin_loop();
            }
            park::cancel();
            return;
        }
        park::park();
    }

    /// Goroutines still counted, without the scope's own count: a racy snapshot for
    /// `Debug`, exact only while the scope's closure runs (once the scope waits, its own
    /// count is gone and this reads one less).
    pub fn goroutines(&self) -> usize {
        self.count.load(Relaxed).saturating_sub(1)
    }

    /// What the end of `scope` does to the data (its frame is gone): a write to the slot,
    /// so a loom model reports a last goroutine still reading it.
    #[cfg(loom)]
    pub fn loom_free(&self) {
        // SAFETY: only a correct protocol makes this write ordered after the last reader's
        // take; loom checks exactly that.
        self.waiter.with_mut(|w| unsafe { *w = None });
    }
}
