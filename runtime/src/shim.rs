//! The `cfg(loom)` shim: every concurrency primitive that gort's protocols use, in the
//! runtime and in `gort-chan` alike (one shim for the workspace).
//!
//! Protocol code (the park seam, the M sleep/wake note, the run queue's hand-offs, the
//! waiter queue, the sync primitives' lock, and in `gort-chan` the channel lock, the
//! waiters' outcome words, the context tree's node lock and the weighted semaphore)
//! imports its atomics, `UnsafeCell` and locks from here instead of `std` or parking_lot,
//! so that `loom-tests/` can model-check the same code with `RUSTFLAGS="--cfg loom"`. What
//! the shim provides, and what each becomes under loom:
//!
//! | item | normal build | `cfg(loom)` |
//! |---|---|---|
//! | `AtomicBool`, `AtomicI32`, `AtomicU8`, `AtomicU32`, `AtomicU64`, `AtomicUsize`, `AtomicPtr`, `fence` | `std::sync::atomic` | `loom::sync::atomic`: every interleaving and weak-memory outcome is explored |
//! | [`UnsafeCell`] (`with`, `with_mut`) | `std::cell::UnsafeCell` behind loom's closure API | `loom::cell::UnsafeCell`: an access not ordered after a conflicting one is reported |
//! | [`Futex`] (`wait`, `wake_one`, `wake_all`) | a Linux `futex(2)` on the word | a loom `Mutex` + `Condvar` next to the word |
//! | [`Mutex`] (`lock` returns the guard) | `parking_lot::Mutex` | loom's `Mutex` behind parking_lot's API |
//! | [`RawLock`] (`lock`, `unlock`: no guard, so one party can hold several) | `parking_lot::RawMutex` | loom's `Mutex`, its guard kept inside the lock between `lock` and `unlock` |
//! | [`spin_loop`] | `std::hint::spin_loop` | `loom::hint::spin_loop` (lets loom run another thread) |
//! | [`LOOM`] | `false` | `true`: code that must shrink under loom (spin counts, the mutex starvation threshold) branches on it |
//!
//! Loom threads stand in for both goroutines and plain threads: under loom no scheduler
//! runs, so the park seam takes its plain-thread path, and that path sleeps on the shim's
//! [`Futex`].
//!
//! Rules for code written against the shim: (1) every shared mutable field of a protocol
//! is a shim atomic or sits in a shim [`UnsafeCell`] accessed through `with`/`with_mut` (so
//! loom checks the access), or is guarded by a shim lock; (2) loops that wait for another
//! thread either block on a [`Futex`] / the park seam or call [`spin_loop`] and are
//! bounded; (3) no real time under loom (it is not deterministic): use an operation count
//! instead, gated on [`LOOM`] or `cfg(loom)`.
//!
//! Public because `gort-chan`'s protocols are written against it too; it is for code that
//! wants its own protocols checked by loom the same way.

#[cfg(not(loom))]
pub use std::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

#[cfg(loom)]
pub use loom::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

/// An `UnsafeCell` with loom's closure API, so access sites are checked under loom.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    /// The value.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
    /// Runs `f` with a pointer for reading (loom checks the access).
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Runs `f` with a pointer for writing (loom checks the access).
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// A 32-bit word that threads can sleep on until it changes (Linux `futex(2)`).
///
/// `wait(expected)` returns when the word is no longer `expected` or after a wake-up
/// (spurious returns allowed: callers loop); `wake_all()` wakes every waiter.
#[derive(Debug, Default)]
pub struct Futex {
    word: AtomicU32,
    #[cfg(loom)]
    lock: loom::sync::Mutex<()>,
    #[cfg(loom)]
    cond: loom::sync::Condvar,
}

impl Futex {
    /// A futex word holding `v`.
    #[cfg(not(loom))]
    pub const fn new(v: u32) -> Self {
        Futex {
            word: AtomicU32::new(v),
        }
    }

    /// A futex word holding `v`.
    #[cfg(loom)]
    pub fn new(v: u32) -> Self {
        Futex {
            word: AtomicU32::new(v),
            lock: Default::default(),
            cond: Default::default(),
        }
    }

    /// The word itself.
    pub fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Sleeps while the word equals `expected`, or until `timeout` passes.
    #[cfg(not(loom))]
    pub fn wait(&self, expected: u32, timeout: Option<std::time::Duration>) {
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
    pub fn wake_one(&self) {
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
    pub fn wake_all(&self) {
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

    /// Sleeps while the word equals `expected` (under loom: no timeout).
    #[cfg(loom)]
    pub fn wait(&self, expected: u32, _timeout: Option<std::time::Duration>) {
        use loom::sync::atomic::Ordering;
        let guard = self.lock.lock().unwrap();
        if self.word.load(Ordering::Acquire) == expected {
            drop(self.cond.wait(guard).unwrap());
        }
    }

    /// Wakes at most one thread sleeping in [`Futex::wait`].
    #[cfg(loom)]
    pub fn wake_one(&self) {
        drop(self.lock.lock().unwrap());
        self.cond.notify_one();
    }

    /// Wakes every thread sleeping in [`Futex::wait`].
    #[cfg(loom)]
    pub fn wake_all(&self) {
        drop(self.lock.lock().unwrap());
        self.cond.notify_all();
    }
}

/// Whether this build is a loom model build (`cfg(loom)`).
pub const LOOM: bool = cfg!(loom);

/// A spin-wait hint; under loom it also lets another model thread run.
#[inline(always)]
pub fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::hint::spin_loop();
}

/// A mutex with parking_lot's API (`lock()` returns the guard, no poisoning): parking_lot's
/// normally, loom's under `cfg(loom)`. For state that is locked briefly and never across a
/// park (the context tree's nodes, the weighted semaphore).
#[cfg(not(loom))]
pub use parking_lot::Mutex;

/// Under loom: loom's mutex behind parking_lot's API.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    /// A mutex holding `v`.
    pub fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }
    /// Locks it.
    pub fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
    /// The value, through a unique reference.
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap()
    }
}

/// A lock without a guard: `lock` and `unlock` are separate calls, so one party can hold
/// several at once (a channel's lock: `select` locks every channel it waits on). Not tied
/// to a thread: a goroutine may unlock it on another thread than the one it locked it on,
/// though nobody may park while holding it.
#[cfg(not(loom))]
pub struct RawLock(parking_lot::RawMutex);

#[cfg(not(loom))]
impl RawLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        use parking_lot::lock_api::RawMutex as _;
        RawLock(parking_lot::RawMutex::INIT)
    }
    /// Locks it, spinning and then sleeping while another party holds it.
    #[inline]
    pub fn lock(&self) {
        use parking_lot::lock_api::RawMutex as _;
        self.0.lock()
    }
    /// Unlocks it.
    ///
    /// # Safety
    /// The lock must be held, by the caller (the goroutine or thread that locked it).
    #[inline]
    pub unsafe fn unlock(&self) {
        use parking_lot::lock_api::RawMutex as _;
        // SAFETY: the caller holds the lock.
        unsafe { self.0.unlock() }
    }
}

#[cfg(not(loom))]
impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}

/// Under loom: loom's mutex, whose guard is kept inside the lock between `lock` and
/// `unlock` (a spin lock would make loom explore every spin).
#[cfg(loom)]
pub struct RawLock {
    mutex: loom::sync::Mutex<()>,
    guard: std::cell::UnsafeCell<Option<loom::sync::MutexGuard<'static, ()>>>,
}

#[cfg(loom)]
impl RawLock {
    /// An unlocked lock.
    pub fn new() -> Self {
        RawLock {
            mutex: loom::sync::Mutex::new(()),
            guard: std::cell::UnsafeCell::new(None),
        }
    }
    /// Locks it.
    pub fn lock(&self) {
        let g = self.mutex.lock().unwrap();
        // SAFETY (loom builds only): the guard borrows `self.mutex`, and is dropped by
        // `unlock`, which the lock's owner calls before the lock goes away; the slot is
        // only written by the holder of the mutex.
        unsafe {
            *self.guard.get() = Some(std::mem::transmute::<
                loom::sync::MutexGuard<'_, ()>,
                loom::sync::MutexGuard<'static, ()>,
            >(g))
        };
    }
    /// Unlocks it.
    ///
    /// # Safety
    /// The lock must be held, by the caller.
    pub unsafe fn unlock(&self) {
        // SAFETY: the caller holds the mutex, so it alone touches the guard slot.
        drop(unsafe { (*self.guard.get()).take() });
    }
}

#[cfg(loom)]
impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}
