//! `Locked<T>`: the short internal lock that guards the waiter queues of the sync
//! primitives.
//!
//! It blocks the OS thread, not the goroutine, like the lock Go's runtime puts around its
//! semaphore tables: its critical sections are a few dozen instructions that never reach a
//! scheduling point (no park, no yield), so a holder is always running or about to run,
//! and a brief spin almost always gets it. A futex (the shim's [`Futex`]) covers the rare
//! case where the holder's thread was descheduled by the OS.
//!
//! The word is Drepper's three-state futex mutex: 0 unlocked, 1 locked, 2 locked with
//! (possible) sleepers; `unlock` makes a `futex_wake` only in state 2.

use crate::shim::{spin_loop, Futex, UnsafeCell, LOOM};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;
/// Spins while the holder runs before sleeping (none under loom: it only grows the model).
const SPINS: u32 = if LOOM { 0 } else { 100 };

/// A value guarded by a thread-blocking lock. See the module docs.
pub(crate) struct Locked<T> {
    futex: Futex,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `value`; moving `T` between
// threads is all that access needs.
unsafe impl<T: Send> Sync for Locked<T> {}
// SAFETY: as above; `Locked` owns its `T`.
unsafe impl<T: Send> Send for Locked<T> {}

impl<T> Locked<T> {
    loom_const_fn! {
        /// A new unlocked `Locked` holding `value`.
        pub(crate) fn new(value: T) -> Self {
            Locked {
                futex: Futex::new(UNLOCKED),
                value: UnsafeCell::new(value),
            }
        }
    }

    /// Takes the lock.
    #[inline]
    pub(crate) fn lock(&self) -> LockedGuard<'_, T> {
        if self
            .futex
            .word()
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        LockedGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let word = self.futex.word();
        let mut state = self.spin();
        if state == UNLOCKED {
            match word.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        loop {
            // Announce a sleeper (state 2) as we take it, so our unlock wakes the next one.
            if state != CONTENDED && word.swap(CONTENDED, Acquire) == UNLOCKED {
                return;
            }
            self.futex.wait(CONTENDED, None);
            state = self.spin();
        }
    }

    /// Spins while the lock is held by a running holder; returns the last state seen.
    fn spin(&self) -> u32 {
        let mut left = SPINS;
        loop {
            let state = self.futex.word().load(Relaxed);
            if state != LOCKED || left == 0 {
                return state;
            }
            spin_loop();
            left -= 1;
        }
    }

    #[inline]
    fn unlock(&self) {
        if self.futex.word().swap(UNLOCKED, Release) == CONTENDED {
            self.futex.wake_one();
        }
    }
}

/// Access to a [`Locked`] value; unlocks on drop. (No `Deref`: a reference that outlived
/// the closure of [`LockedGuard::with`] would escape loom's access tracking.)
pub(crate) struct LockedGuard<'a, T> {
    lock: &'a Locked<T>,
}

impl<T> LockedGuard<'_, T> {
    /// Runs `f` on the guarded value (under loom, a checked access).
    #[inline]
    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the guard proves we hold the lock, so no one else accesses the value;
        // `&mut self` keeps this the only access through this guard.
        self.lock.value.with_mut(|p| f(unsafe { &mut *p }))
    }
}

impl<T> Drop for LockedGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}
