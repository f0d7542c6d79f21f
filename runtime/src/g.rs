//! The goroutine control block (G).
//!
//! A `G` holds a goroutine's coroutine, its park state, its join slot and its goroutine-local
//! storage. Gs are allocated once and never freed: a finished G goes back to a free list (per
//! P, overflowing to a global one) and is reused by a later spawn, as in Go. Because a G's
//! memory is never returned to the allocator, the runtime refers to Gs as `&'static G`, and
//! a stale wake-up token (see `park`) can always safely look at the G it names.
//!
//! Ownership of the plain (non-atomic) fields follows the goroutine's life: the spawner
//! writes them before the G is published to a run queue; afterwards only the M that is
//! currently running (or finishing) the goroutine touches them, and the scheduler's hand-off
//! of a G between Ms (run-queue push/pop, park-state CAS) orders those accesses.

use crate::join::ResultBuf;
use crate::park::{ParkSlot, Scratch};
use crate::sched::m::M;
use crate::stack::Stack;
use corosensei::{Coroutine, Yielder};
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize};
use std::sync::Arc;

/// Why a goroutine handed control back to its M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// `yield_now`: put me back on the run queue.
    Yield,
    /// The park seam: I registered a wake-up token; run me again when it fires.
    Park,
    /// A spawn filled my P's run queue: put me on the global queue and run the new
    /// goroutines first.
    Requeue,
}

/// The coroutine a goroutine runs in.
pub(crate) type Co = Coroutine<(), Switch, (), Stack>;
/// The handle a goroutine uses to switch back to its M.
pub(crate) type GYielder = Yielder<(), Switch>;

/// Goroutine-local storage: one slot per `LocalKey` id.
pub(crate) type Locals = Vec<Option<Box<dyn Any + Send>>>;

/// The goroutine control block. `repr(C)`: the park state and the scratch space, which a
/// waker touches together, come first and share cache lines.
#[repr(C)]
pub(crate) struct G {
    /// Park state word (the park seam's protocol lives in `park.rs`).
    pub(crate) park: ParkSlot,
    /// The record of the blocking operation in progress (see `park::scratch`).
    pub(crate) scratch: Scratch,
    /// Goroutine id, unique per spawn (a recycled G gets a new one).
    pub(crate) id: AtomicU64,
    /// Owners of this G: the running goroutine and the `JoinHandle`. The last one to let go
    /// recycles the G.
    pub(crate) refs: AtomicUsize,
    /// `join::{RUNNING, WAITING, DONE}`.
    pub(crate) join_state: AtomicU8,
    /// Wake-up token of a goroutine or thread blocked in `join`.
    pub(crate) joiner: UnsafeCell<Option<crate::park::Token>>,
    /// The goroutine's `thread::Result<T>` (inline or boxed, see `join`).
    pub(crate) result: UnsafeCell<ResultBuf>,
    /// Drops the result in `result` if nobody took it; `None` when there is none.
    pub(crate) drop_result: Cell<Option<unsafe fn(*mut ResultBuf)>>,
    /// Optional name, set by `Builder::name`; immutable while the goroutine lives.
    pub(crate) name: UnsafeCell<Option<Arc<str>>>,
    /// The coroutine; `None` while the G is free.
    pub(crate) co: UnsafeCell<Option<Co>>,
    /// Set when the coroutine starts; valid while it runs.
    pub(crate) yielder: Cell<*const GYielder>,
    /// The M this goroutine is locked to (`lock_os_thread`), or null.
    pub(crate) locked_m: Cell<*const M>,
    /// Nesting depth of `lock_os_thread` calls.
    pub(crate) lock_count: Cell<u32>,
    /// Goroutine-local storage.
    pub(crate) locals: UnsafeCell<Locals>,
}

// SAFETY: the atomics are shared; every non-atomic field is accessed only by the G's current
// owner (spawner before publication, then the M running it, then whoever drops the last
// reference), and ownership moves between threads only through synchronising operations
// (run-queue push/pop, park-state CAS, join-state swap, the free lists' locks).
unsafe impl Sync for G {}
// SAFETY: as above; a G is only ever referred to as `&'static G`.
unsafe impl Send for G {}

impl G {
    /// Allocates a new G. It is never freed.
    pub(crate) fn alloc() -> &'static G {
        Box::leak(Box::new(G {
            park: ParkSlot::new_goroutine(),
            scratch: Scratch::new(),
            id: AtomicU64::new(0),
            refs: AtomicUsize::new(0),
            join_state: AtomicU8::new(0),
            joiner: UnsafeCell::new(None),
            result: UnsafeCell::new(ResultBuf::new()),
            drop_result: Cell::new(None),
            name: UnsafeCell::new(None),
            co: UnsafeCell::new(None),
            yielder: Cell::new(std::ptr::null()),
            locked_m: Cell::new(std::ptr::null()),
            lock_count: Cell::new(0),
            locals: UnsafeCell::new(Vec::new()),
        }))
    }

    /// The goroutine's name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        // SAFETY: the name is written only before the G is published and after its last
        // reference is gone; callers hold a reference.
        unsafe { (*self.name.get()).as_deref() }
    }

    /// Switches from the running goroutine back to its M (runs on the goroutine's stack).
    pub(crate) fn suspend(&self, why: Switch) {
        let y = self.yielder.get();
        debug_assert!(!y.is_null());
        // SAFETY: `yielder` was set by this coroutine's entry closure and stays valid until
        // the coroutine returns; we are running inside it (callers checked `current_g`).
        unsafe { (*y).suspend(why) }
    }
}

impl std::fmt::Debug for G {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("G")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
