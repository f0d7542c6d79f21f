//! The `cfg(loom)` shim: every concurrency primitive the runtime's protocols use.
//!
//! Protocol code (the park seam, the M sleep/wake note, run-queue hand-offs, and every
//! primitive of [`crate::sync`]) imports its atomics, `UnsafeCell` and blocking primitive
//! from here instead of `std`, so that `loom-tests/` can model-check the same code with
//! `RUSTFLAGS="--cfg loom"`. What the shim provides, and what each becomes under loom:
//!
//! | item | normal build | `cfg(loom)` |
//! |---|---|---|
//! | `AtomicBool`, `AtomicI32`, `AtomicU32`, `AtomicU64`, `AtomicUsize`, `AtomicPtr`, `fence` | `std::sync::atomic` | `loom::sync::atomic`: every interleaving and weak-memory outcome is explored |
//! | [`UnsafeCell`] (`with`, `with_mut`) | `std::cell::UnsafeCell` behind loom's closure API | `loom::cell::UnsafeCell`: an access not ordered after a conflicting one is reported |
//! | [`Futex`] (`wait`, `wake_one`, `wake_all`) | a Linux `futex(2)` on the word | a loom `Mutex` + `Condvar` next to the word |
//! | [`spin_loop`] | `std::hint::spin_loop` | `loom::hint::spin_loop` (lets loom run another thread) |
//! | [`LOOM`] | `false` | `true`: code that must shrink under loom (spin counts, the mutex starvation threshold) branches on it |
//!
//! Loom threads stand in for both goroutines and plain threads: under loom no scheduler
//! runs, so the park seam takes its plain-thread path, and that path sleeps on the shim's
//! [`Futex`].
//!
//! Rules for code written against the shim: (1) every shared mutable field is a shim atomic
//! or sits in a shim [`UnsafeCell`] accessed through `with`/`with_mut` (so loom checks the
//! access); (2) loops that wait for another thread either block on a [`Futex`] / the park
//! seam or call [`spin_loop`] and are bounded; (3) no real time under loom (it is not
//! deterministic): use an operation count instead, gated on [`LOOM`] or `cfg(loom)`.

// Not every item is used by every protocol yet; the set is the shim's contract.
#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
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
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
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

    /// Wakes at most one thread sleeping in [`Futex::wait`].
    #[cfg(not(loom))]
    pub(crate) fn wake_one(&self) {
        // SAFETY: FUTEX_WAKE only uses the address as a key; the word is live.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
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
    pub(crate) fn wake_one(&self) {
        drop(self.lock.lock().unwrap());
        self.cond.notify_one();
    }

    #[cfg(loom)]
    pub(crate) fn wake_all(&self) {
        drop(self.lock.lock().unwrap());
        self.cond.notify_all();
    }
}

/// Whether this build is a loom model build (`cfg(loom)`).
pub(crate) const LOOM: bool = cfg!(loom);

/// A spin-wait hint; under loom it also lets another model thread run.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::hint::spin_loop();
}
