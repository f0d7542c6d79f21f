//! [`RwLock`]: a writer-preferring reader-writer lock that parks goroutines, after Go's
//! `sync.RWMutex`.
//!
//! # Protocol
//!
//! - `reader_count`: readers holding or wanting the lock; a writer subtracts
//!   `MAX_READERS` from it to announce itself, so it goes negative and every later reader
//!   parks on `reader_sem` instead of entering (writer preference).
//! - `reader_wait`: readers the announced writer still waits for (those that held the lock
//!   when it announced); the last of them to leave wakes the writer on `writer_sem`.
//! - Writers exclude each other with an inner [`RawMutex`] (so they queue fairly, with its
//!   starvation mode), held for the whole write.
//! - Unlocking a write adds `MAX_READERS` back and releases one `reader_sem` permit for each
//!   reader that queued meanwhile, before letting the next writer in: readers and writers
//!   alternate under contention, so neither side starves.

use super::mutex::RawMutex;
use super::runtime_sema::RuntimeSema;
use crate::shim::{AtomicI32, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Most readers that can hold the lock at once.
const MAX_READERS: i32 = 1 << 30;

/// A reader-writer lock protecting a `T` that parks goroutines (and blocks plain threads)
/// while it waits: Go's `sync.RWMutex` with the data inside.
///
/// Any number of readers, or one writer. **Writer-preferring**: once a writer waits, new
/// readers wait behind it, so a stream of readers cannot starve writers. The flip side (as
/// in Go): a reader must not take the read lock again while it holds it, since a writer
/// arriving in between makes the second `read` wait for a writer that waits for the first.
/// No poisoning; guards are `!Send` (see [`MutexGuard`](super::MutexGuard) on holding
/// them across scheduling points).
///
/// ```
/// use gort_runtime::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let (a, b) = (lock.read(), lock.read());
///     assert_eq!(*a + *b, 10);
/// }
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 6);
/// ```
pub struct RwLock<T> {
    w: RawMutex,
    writer_sem: RuntimeSema,
    reader_sem: RuntimeSema,
    reader_count: AtomicI32,
    reader_wait: AtomicI32,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one writer at a time (needs `T: Send`) and `&T`
// to many readers on many threads at once (needs `T: Sync`), like `std::sync::RwLock`.
unsafe impl<T: Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    loom_const_fn! {
        /// A new unlocked lock holding `value`.
        pub fn new(value: T) -> RwLock<T> {
            RwLock {
                w: RawMutex::new(),
                writer_sem: RuntimeSema::new(),
                reader_sem: RuntimeSema::new(),
                reader_count: AtomicI32::new(0),
                reader_wait: AtomicI32::new(0),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Takes a shared read lock, waiting while a writer holds or waits for the lock.
    #[inline]
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        if self.reader_count.fetch_add(1, Acquire) + 1 < 0 {
            // A writer is pending: wait until it unlocks (it releases us a permit).
            self.reader_sem
                .acquire(false, crate::park::WaitReason::RwLockRead);
        }
        RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes a read lock if no writer holds or waits for it; never waits.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut c = self.reader_count.load(Relaxed);
        loop {
            if c < 0 {
                return None;
            }
            match self
                .reader_count
                .compare_exchange_weak(c, c + 1, Acquire, Relaxed)
            {
                Ok(_) => {
                    return Some(RwLockReadGuard {
                        lock: self,
                        _not_send: PhantomData,
                    })
                }
                Err(now) => c = now,
            }
        }
    }

    /// Takes the exclusive write lock, waiting for other writers and for the readers that
    /// hold it now. Readers arriving after this call wait for the writer.
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.w.lock();
        // Announce the pending writer; `r` readers hold the lock now.
        let r = self.reader_count.fetch_sub(MAX_READERS, AcqRel);
        if r != 0 && self.reader_wait.fetch_add(r, AcqRel) + r != 0 {
            self.writer_sem
                .acquire(false, crate::park::WaitReason::RwLockWrite);
        }
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the write lock if it is free of readers and writers now; never waits.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if !self.w.try_lock() {
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Acquire, Relaxed)
            .is_err()
        {
            // SAFETY: we took `w` just above.
            unsafe { self.w.unlock() };
            return None;
        }
        Some(RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Mutable access without locking: `&mut self` proves no one else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, Release) - 1;
        if r < 0 {
            self.read_unlock_slow(r);
        }
    }

    #[cold]
    fn read_unlock_slow(&self, r: i32) {
        assert!(
            r + 1 != 0 && r + 1 != -MAX_READERS,
            "sync: RUnlock of unlocked RWMutex"
        );
        // A writer is pending: the last reader it waits for wakes it.
        if self.reader_wait.fetch_sub(1, AcqRel) - 1 == 0 {
            self.writer_sem.release();
        }
    }

    fn write_unlock(&self) {
        // Let readers in again; `r` of them queued while we held the lock.
        let r = self.reader_count.fetch_add(MAX_READERS, Release) + MAX_READERS;
        assert!(r < MAX_READERS, "sync: Unlock of unlocked RWMutex");
        for _ in 0..r {
            self.reader_sem.release();
        }
        // SAFETY: the write guard owns `w`.
        unsafe { self.w.unlock() };
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Shared access to the data of a read-locked [`RwLock`]; dropping it unlocks.
/// `!Send`, like [`MutexGuard`](super::MutexGuard) and for the same reasons.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: Sync> Sync for RwLockReadGuard<'_, T> {}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock excludes writers, so the data is not mutated meanwhile.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to the data of a write-locked [`RwLock`]; dropping it unlocks.
/// `!Send`, like [`MutexGuard`](super::MutexGuard) and for the same reasons.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is exclusive.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is exclusive; `&mut self` makes this the only reference.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
