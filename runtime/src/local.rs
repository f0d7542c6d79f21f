//! Goroutine-local storage: [`local!`](crate::local!) and [`LocalKey`].
//!
//! Like `std::thread_local!`, but each goroutine has its own value, and it follows the
//! goroutine when it moves to another thread. On a plain thread (not a goroutine) the value
//! is per thread. Values are created lazily on first access and dropped when the goroutine
//! ends (in the goroutine, so their `Drop` may block).
//!
//! Uses: `g`, `sched`.

use crate::g::{Locals, G};
use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static NEXT_KEY: AtomicUsize = AtomicUsize::new(1);

/// A key for goroutine-local storage, created by [`local!`](crate::local!).
pub struct LocalKey<T: Send + 'static> {
    init: fn() -> T,
    id: AtomicUsize,
}

impl<T: Send + 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey {
            init,
            id: AtomicUsize::new(0),
        }
    }

    fn slot(&self) -> usize {
        let id = self.id.load(Relaxed);
        if id != 0 {
            return id - 1;
        }
        let fresh = NEXT_KEY.fetch_add(1, Relaxed);
        match self.id.compare_exchange(0, fresh, Relaxed, Relaxed) {
            Ok(_) => fresh - 1,
            Err(won) => won - 1,
        }
    }

    /// Calls `f` with this goroutine's (or thread's) value, creating it first if needed.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let slot = self.slot();
        match crate::sched::current_g() {
            // SAFETY: a G's locals are touched only by the goroutine itself.
            Some(g) => f(unsafe { get_or_init(g.locals.get(), slot, self.init) }),
            None => THREAD_LOCALS.with(|l| {
                // SAFETY: this thread's map is touched only by this thread.
                f(unsafe { get_or_init(l.get(), slot, self.init) })
            }),
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

thread_local! {
    static THREAD_LOCALS: UnsafeCell<Locals> = const { UnsafeCell::new(Vec::new()) };
}

/// Returns the value in `slot`, creating it with `init` if absent.
///
/// # Safety
/// `locals` must be the calling goroutine's (or thread's) own map. The returned reference
/// points into a `Box`, which stays put until the map is dropped at the goroutine's end.
unsafe fn get_or_init<'a, T: Send + 'static>(
    locals: *mut Locals,
    slot: usize,
    init: fn() -> T,
) -> &'a T {
    // SAFETY: `locals` is the caller's own map (caller's contract) and no reference into it
    // is live.
    let present = unsafe { &*locals }.get(slot).is_some_and(|v| v.is_some());
    if !present {
        // No borrow of the map is live while `init` runs: it may use other locals.
        let value: Box<dyn Any + Send> = Box::new(init());
        // SAFETY: as above; `init` has returned, so nothing else borrows the map now.
        let map = unsafe { &mut *locals };
        if map.len() <= slot {
            map.resize_with(slot + 1, || None);
        }
        if map[slot].is_none() {
            map[slot] = Some(value);
        }
    }
    // SAFETY: as above.
    let b = unsafe { &*locals }[slot]
        .as_ref()
        .expect("goroutine-local slot is set");
    // SAFETY: slot `slot` belongs to one `LocalKey<T>`, so the box holds a `T`; the box
    // stays put until the map is dropped at the goroutine's end (caller's contract).
    unsafe { &*(b.as_ref() as *const (dyn Any + Send) as *const T) }
}

/// Drops a finished goroutine's locals (runs in the goroutine, before it ends). A
/// destructor that touches another local re-creates it; that one is dropped in a later pass.
pub(crate) fn drop_all(g: &G) {
    for _ in 0..8 {
        // SAFETY: called by the goroutine itself; no reference into the map is live.
        let taken = std::mem::take(unsafe { &mut *g.locals.get() });
        if taken.iter().all(Option::is_none) {
            // Keep the allocation for the G's next goroutine.
            // SAFETY: as above.
            let map = unsafe { &mut *g.locals.get() };
            if map.is_empty() {
                *map = taken;
                map.clear();
            }
            return;
        }
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(taken)));
    }
}

/// Declares goroutine-local storage: each goroutine sees its own value, initialised lazily.
///
/// ```
/// use std::cell::Cell;
/// gort_runtime::local! { static COUNT: Cell<u32> = Cell::new(0); }
///
/// let h = gort_runtime::go(|| { COUNT.with(|c| c.set(c.get() + 1)); COUNT.with(|c| c.get()) });
/// assert_eq!(h.join().unwrap(), 1);
/// ```
#[macro_export]
macro_rules! local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::local::LocalKey<$t> = $crate::local::LocalKey::new({
            fn __gort_local_init() -> $t { $init }
            __gort_local_init
        });
    )+};
}
