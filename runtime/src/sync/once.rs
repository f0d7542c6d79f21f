//! [`Once`] and [`OnceLock`]: one-time initialisation whose latecomers park, after Go's
//! `sync.Once` (a `done` flag read without locking, and a [`RawMutex`] that serialises the
//! initialising call) with `std`'s API.
//!
//! Unlike `std`, a closure that panics poisons nothing: the panic propagates to its caller,
//! the cell stays uninitialised, and the next caller runs its own closure (what `std`'s
//! `OnceLock::get_or_init` does; `std`'s `Once` would poison instead).

use super::mutex::RawMutex;
use crate::shim::{AtomicBool, UnsafeCell};
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Unlocks a [`RawMutex`] on drop, also when the initialiser panics.
struct Unlock<'a>(&'a RawMutex);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // SAFETY: built right after locking the mutex, by its owner.
        unsafe { self.0.unlock() }
    }
}

/// Runs a closure once, however many goroutines call it: Go's `sync.Once`.
///
/// Callers that arrive while the closure runs park until it has finished, so when
/// [`call_once`](Self::call_once) returns the closure's effects are visible. If it panics,
/// the next `call_once` runs its closure instead (see the module docs).
///
/// ```
/// use gort_runtime::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// ```
pub struct Once {
    done: AtomicBool,
    m: RawMutex,
}

impl Once {
    loom_const_fn! {
        /// A `Once` that has not run yet.
        pub fn new() -> Once {
            Once {
                done: AtomicBool::new(false),
                m: RawMutex::new(),
            }
        }
    }

    /// Runs `f` if no call has completed yet; otherwise waits for the running one, or
    /// returns at once if it completed.
    #[inline]
    pub fn call_once(&self, f: impl FnOnce()) {
        if !self.done.load(Acquire) {
            self.call_slow(f);
        }
    }

    #[cold]
    fn call_slow(&self, f: impl FnOnce()) {
        self.m.lock();
        let _unlock = Unlock(&self.m);
        if !self.done.load(Relaxed) {
            f();
            self.done.store(true, Release);
        }
    }

    /// Whether a call has completed.
    pub fn is_completed(&self) -> bool {
        self.done.load(Acquire)
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish_non_exhaustive()
    }
}

/// A cell written once, whose concurrent initialisers park: `std::sync::OnceLock` for
/// goroutines.
///
/// ```
/// use gort_runtime::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// assert_eq!(CONFIG.get_or_init(|| "ready".to_string()), "ready");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("ready"));
/// assert!(CONFIG.set("later".to_string()).is_err());
/// ```
pub struct OnceLock<T> {
    done: AtomicBool,
    m: RawMutex,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by one initialiser (serialised by `m`), before `done`
// is published with Release; afterwards it is only read. So sharing needs `T: Sync` (many
// readers) and `T: Send` (the initialiser may be another thread than the one dropping it).
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: `OnceLock` owns its `T`.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    loom_const_fn! {
        /// An empty cell.
        pub fn new() -> OnceLock<T> {
            OnceLock {
                done: AtomicBool::new(false),
                m: RawMutex::new(),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }

    /// The value, if the cell has been initialised.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Acquire) {
            // SAFETY: `done` (Acquire) says the value was written and will not change.
            Some(unsafe { self.value_ref() })
        } else {
            None
        }
    }

    /// Mutable access to the value, if initialised.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.done.load(Relaxed) {
            // SAFETY: initialised, and `&mut self` is exclusive.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_mut() }))
        } else {
            None
        }
    }

    /// Initialises the cell with `f` if it is empty, parking while another caller
    /// initialises it; returns the value. If `f` panics, the cell stays empty.
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.init_slow(f);
        // SAFETY: `init_slow` returns only once the value is set.
        unsafe { self.value_ref() }
    }

    /// Sets the value if the cell is empty; otherwise gives `value` back.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        if self.done.swap(false, Relaxed) {
            // SAFETY: it was initialised, and we just marked it empty, so it is read once.
            Some(self.value.with(|p| unsafe { (*p).assume_init_read() }))
        } else {
            None
        }
    }

    /// Consumes the cell, returning the value if initialised.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    #[cold]
    fn init_slow(&self, f: impl FnOnce() -> T) {
        self.m.lock();
        let _unlock = Unlock(&self.m);
        if !self.done.load(Relaxed) {
            let v = f();
            // SAFETY: we hold `m` and `done` is false, so no one reads or writes the value.
            self.value.with_mut(|p| unsafe { (*p).write(v) });
            self.done.store(true, Release);
        }
    }

    /// # Safety
    /// The value must be initialised (`done` observed true with Acquire).
    unsafe fn value_ref(&self) -> &T {
        // SAFETY: forwarded from the caller; the value is never written again.
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.done.load(Relaxed) {
            // SAFETY: initialised, and this is the last use of the cell.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}
