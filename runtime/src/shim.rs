//! The `cfg(loom)` shim: every concurrency primitive the runtime's protocols use.
//!
//! Protocol code (the park seam, the M sleep/wake note, run-queue hand-offs) imports its
//! atomics, `UnsafeCell` and blocking primitive from here instead of `std`, so that
//! `loom-tests/` can model-check the same code with `RUSTFLAGS="--cfg loom"`. Under loom:
//!
//! - atomics and `UnsafeCell` are loom's, so every interleaving of them is explored;
//! - [`Futex`] (the one primitive that blocks an OS thread) is a loom `Mutex` + `Condvar`,
//!   so loom threads stand in for both goroutines and plain threads.
//!
//! Outside loom these are `std`'s atomics, `std::cell::UnsafeCell` behind a loom-compatible
//! `with`/`with_mut` API, and a real Linux futex.

// Not every item is used by every protocol yet; the set is the shim's contract.
#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

/// An `UnsafeCell` with loom's closure API, so access sites are checked under loom.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A 32-bit word that threads can sleep on until it changes (Linux `futex(2)`).
///
/// `wait(expected)` returns when the word is no longer `expected` or after a wake-up
/// (spurious returns allowed: callers loop); `wake_all()` wakes every waiter.
#[derive(Debug, Default)]
pub(crate) struct Futex {
    word: AtomicU32,
    #[cfg(loom)]
    lock: loom::sync::Mutex<()>,
    #[cfg(loom)]
    cond: loom::sync::Condvar,
}

impl Futex {
    #[cfg(not(loom))]
    pub(crate) const fn new(v: u32) -> Self {
        Futex {
            word: AtomicU32::new(v),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(v: u32) -> Self {
        Futex {
            word: AtomicU32::new(v),
            lock: Default::default(),
            cond: Default::default(),
        }
    }

    /// The word itself.
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Sleeps while the word equals `expected`, or until `timeout` passes.
    #[cfg(not(loom))]
    pub(crate) fn wait(&self, expected: u32, timeout: Option<std::time::Duration>) {
        use std::sync::atomic::Ordering;
        if self.word.load(Ordering::Acquire) != expected {
            return;
        }
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64 / 2) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the futex word is a live, aligned u32 owned by `self`; a relative
        // timeout pointer is either null or points at `ts`, which outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            );
        }
    }

    /// Wakes every thread sleeping in [`Futex::wait`].
    #[cfg(not(loom))]
    pub(crate) fn wake_all(&self) {
        // SAFETY: FUTEX_WAKE only uses the address as a key; the word is live.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }

    #[cfg(loom)]
    pub(crate) fn wait(&self, expected: u32, _timeout: Option<std::time::Duration>) {
        use loom::sync::atomic::Ordering;
        let guard = self.lock.lock().unwrap();
        if self.word.load(Ordering::Acquire) == expected {
            drop(self.cond.wait(guard).unwrap());
        }
    }

    #[cfg(loom)]
    pub(crate) fn wake_all(&self) {
        drop(self.lock.lock().unwrap());
        self.cond.notify_all();
    }
}
