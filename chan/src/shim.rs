//! The `cfg(loom)` shim of the channel crate: its lock and the atomics of the hand-off and
//! select protocols. Normally parking_lot's raw mutex and `std`'s atomics; under
//! `RUSTFLAGS="--cfg loom"` a loom-visible spin lock and loom's atomics, so `loom-tests/`
//! can model-check hand-off, close and select registration (the park seam underneath is
//! already loom-aware: see `gort_runtime::shim`).

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicUsize};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicUsize};

/// A mutex with parking_lot's API (`lock()` returns the guard): parking_lot's normally,
/// loom's under `cfg(loom)` (the context tree's node lock).
#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

/// Under loom: loom's mutex behind parking_lot's API.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap()
    }
}

/// The channel lock (public only for `select!`'s expansion): lock/unlock without a guard, so `select` can hold several at once.
#[cfg(not(loom))]
pub struct RawLock(parking_lot::RawMutex);

#[cfg(not(loom))]
impl RawLock {
    pub(crate) const fn new() -> Self {
        use parking_lot::lock_api::RawMutex as _;
        RawLock(parking_lot::RawMutex::INIT)
    }
    #[inline]
    pub(crate) fn lock(&self) {
        use parking_lot::lock_api::RawMutex as _;
        self.0.lock()
    }
    /// # Safety
    /// The lock must be held (by this goroutine or thread).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        use parking_lot::lock_api::RawMutex as _;
        self.0.unlock()
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
    pub(crate) fn new() -> Self {
        RawLock {
            mutex: loom::sync::Mutex::new(()),
            guard: std::cell::UnsafeCell::new(None),
        }
    }
    pub(crate) fn lock(&self) {
        let g = self.mutex.lock().unwrap();
        // SAFETY (loom builds only): the guard borrows `self.mutex`; the lock lives inside an
        // `Arc<Chan>` that outlives every lock/unlock pair, and the slot is only written by
        // the holder of the mutex.
        unsafe {
            *self.guard.get() = Some(std::mem::transmute::<
                loom::sync::MutexGuard<'_, ()>,
                loom::sync::MutexGuard<'static, ()>,
            >(g))
        };
    }
    pub(crate) unsafe fn unlock(&self) {
        drop((*self.guard.get()).take());
    }
}
