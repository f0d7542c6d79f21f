//! The goroutine control block (G).
//!
//! A `G` holds a goroutine's coroutine, its park state and its goroutine-local storage; what
//! its `JoinHandle` needs after the goroutine ended (the result, the joiner, exit hooks) is
//! in a separate join packet (`join::Packet`), so the G goes back to a free list (per P,
//! overflowing to a global one) as soon as the goroutine ends, joined or not, and is reused
//! by a later spawn, as in Go. Gs are allocated once and never freed. Because a G's
//! memory is never returned to the allocator, the runtime refers to Gs as `&'static G`, and
//! a stale wake-up token (see `park`) can always safely look at the G it names.
//!
//! Ownership of the plain (non-atomic) fields follows the goroutine's life: the spawner
//! writes them before the G is published to a run queue; afterwards only the M that is
//! currently running (or finishing) the goroutine touches them, and the scheduler's hand-off
//! of a G between Ms (run-queue push/pop, park-state CAS) orders those accesses.
//!
//! Uses: `coroutine`, `join`, `park`, `sched` (the M that runs the goroutine), `stack`,
//! `sysmon`.

use crate::coroutine::{self, Context};
use crate::join::Packet;
use crate::park::{prefetch, ParkSlot, Scratch};
use crate::sched::m::M;
use crate::stack::Stack;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::Arc;

/// Why a goroutine handed control back to its M (the word its switch to g0 passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Switch {
    /// `yield_now`: put me back on the run queue.
    Yield,
    /// The park seam: I registered a wake-up token; run me again when it fires.
    Park,
    /// A spawn filled my P's run queue: put me on the global queue and run the new
    /// goroutines first.
    Requeue,
    /// The goroutine ended: its stack is free (the last switch of a goroutine that does
    /// not end by a direct switch, `sched::m::exit_direct`).
    Exit,
}

impl Switch {
    /// The reason a switch to g0 passed as its word.
    pub(crate) fn from_word(w: usize) -> Switch {
        match w {
            0 => Switch::Yield,
            1 => Switch::Park,
            2 => Switch::Requeue,
            3 => Switch::Exit,
            _ => unreachable!("gort: bad switch word {w}"),
        }
    }
}

/// Goroutine-local storage: one slot per `LocalKey` id.
pub(crate) type Locals = Vec<Option<Box<dyn Any + Send>>>;

/// The goroutine control block. `repr(C)`, cache-line aligned, fields by who touches them:
/// the park state and the scratch space, which a waker touches together, fill the first
/// cache line; what the scheduler reads to run and to finish a goroutine comes next; what
/// only names and goroutine-locals use comes last. Waking and running thousands of
/// cold goroutines then costs as few cache misses per goroutine as it can.
#[repr(C, align(64))]
pub(crate) struct G {
    /// Park state word (the park seam's protocol lives in `park.rs`).
    pub(crate) park: ParkSlot,
    /// The record of the blocking operation in progress (see `park::scratch`).
    pub(crate) scratch: Scratch,
    /// About where the stack pointer was when the goroutine last parked (0: never since it
    /// was spawned); a hint for `prefetch_stack`, read racily by other threads.
    pub(crate) park_sp: AtomicUsize,
    /// The top (highest address) of the goroutine's stack; set by the spawner.
    pub(crate) stack_top: AtomicUsize,
    /// Where the goroutine last began to wait: the user's call site of the blocking call
    /// (`#[track_caller]`), or null. With `wait_reason` and `wait_since`, written by the
    /// goroutine as it parks and read racily by `crate::debug`.
    pub(crate) wait_at: AtomicPtr<Location<'static>>,
    /// When the goroutine's current wait was first seen by `crate::debug` (ns since the
    /// timer epoch; 0: not yet). A park only clears it, as Go's `waitsince` is filled in
    /// later: no clock read, no shared cache line per park.
    pub(crate) wait_since: AtomicU64,
    /// The goroutine's stack; `None` while the G is free.
    pub(crate) stack: UnsafeCell<Option<Stack>>,
    /// Where the goroutine's registers are saved while it is not running.
    pub(crate) ctx: Context,
    /// The M running the goroutine: written each time it resumes (every switch into a
    /// goroutine passes the M), valid while it runs.
    pub(crate) m: Cell<*const M>,
    /// The id of the M this goroutine is locked to (`lock_os_thread`), if any. An id, not
    /// a reference: the scheduler, which knows the Ms, looks the M up when it needs it.
    pub(crate) locked_m: Cell<Option<usize>>,
    /// Nesting depth of `lock_os_thread` calls.
    pub(crate) lock_count: Cell<u32>,
    /// Inside `gort::syscall` (written by the goroutine, read racily by `crate::debug`): a
    /// switch away leaves the syscall state of the M it leaves and enters it again on the M
    /// that resumes the goroutine (`suspend`).
    pub(crate) in_syscall: AtomicBool,
    /// Why the goroutine last began to wait (`park::WaitReason` as a byte).
    pub(crate) wait_reason: AtomicU8,
    /// Guards `name` against `crate::debug` reading it while a spawn or recycle writes it.
    pub(crate) name_lock: AtomicBool,
    /// Where the goroutine was spawned (the caller of `go`, `Builder::spawn` or `run`).
    pub(crate) spawned_at: AtomicPtr<Location<'static>>,
    /// The join packet of the goroutine this G runs (set by the spawner, cleared as the
    /// goroutine ends); null while the G is free. Read racily by `crate::debug`, which
    /// lists only Gs that have one.
    pub(crate) packet: AtomicPtr<Packet>,
    /// Goroutine id, unique per spawn (a recycled G gets a new one).
    pub(crate) id: AtomicU64,
    /// Optional name, set by `Builder::name`; immutable while the goroutine lives.
    pub(crate) name: UnsafeCell<Option<Arc<str>>>,
    /// Goroutine-local storage.
    pub(crate) locals: UnsafeCell<Locals>,
}

// SAFETY: the atomics are shared; every non-atomic field is accessed only by the G's current
// owner (spawner before publication, then the M running it, then the M that ends it and
// recycles it), and ownership moves between threads only through synchronising operations
// (run-queue push/pop, park-state CAS, the free lists' locks).
unsafe impl Sync for G {}
// SAFETY: as above; a G is only ever referred to as `&'static G`.
unsafe impl Send for G {}

impl G {
    /// Allocates `n` new Gs in one block (a spawn storm then pays one allocation, and one
    /// lock of [`ALL`], per batch rather than per goroutine). They are never freed, and
    /// they are listed in [`ALL`] for good.
    pub(crate) fn alloc_batch(n: usize) -> Vec<&'static G> {
        let block: &'static [G] = (0..n).map(|_| G::new()).collect::<Vec<G>>().leak();
        ALL.lock().extend(block.iter());
        block.iter().collect()
    }

    fn new() -> G {
        G {
            park: ParkSlot::new_goroutine(),
            scratch: Scratch::new(),
            id: AtomicU64::new(0),
            packet: AtomicPtr::new(std::ptr::null_mut()),
            name: UnsafeCell::new(None),
            park_sp: AtomicUsize::new(0),
            stack_top: AtomicUsize::new(0),
            stack: UnsafeCell::new(None),
            ctx: Context::new(),
            m: Cell::new(std::ptr::null()),
            locked_m: Cell::new(None),
            lock_count: Cell::new(0),
            in_syscall: AtomicBool::new(false),
            wait_reason: AtomicU8::new(0),
            name_lock: AtomicBool::new(false),
            spawned_at: AtomicPtr::new(std::ptr::null_mut()),
            wait_at: AtomicPtr::new(std::ptr::null_mut()),
            wait_since: AtomicU64::new(0),
            locals: UnsafeCell::new(Vec::new()),
        }
    }

    /// Sets the goroutine's name (spawner, before publication; or recycling, after the
    /// goroutine ended), under `name_lock` so that `crate::debug` never reads it half-done.
    pub(crate) fn set_name(&self, name: Option<Arc<str>>) {
        // SAFETY: the caller owns the G (not yet published, or unreferenced).
        if name.is_none() && unsafe { (*self.name.get()).is_none() } {
            return; // nothing to write: no lock on the common path
        }
        self.lock_name();
        // SAFETY: as above, and `name_lock` keeps `debug` out.
        let old = unsafe { std::mem::replace(&mut *self.name.get(), name) };
        self.name_lock
            .store(false, std::sync::atomic::Ordering::Release);
        drop(old);
    }

    /// A copy of the goroutine's name for a reader that does not own the G (`debug`).
    pub(crate) fn name_racy(&self) -> Option<Arc<str>> {
        self.lock_name();
        // SAFETY: `name_lock` is held: no writer.
        let name = unsafe { (*self.name.get()).clone() };
        self.name_lock
            .store(false, std::sync::atomic::Ordering::Release);
        name
    }

    fn lock_name(&self) {
        use std::sync::atomic::Ordering::Acquire;
        while self
            .name_lock
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }

    /// Records why and where the goroutine is about to wait (the park seam, on its own
    /// stack).
    #[inline(always)]
    pub(crate) fn note_wait(&self, reason: u8, at: &'static Location<'static>) {
        self.wait_reason.store(reason, Relaxed);
        self.wait_at.store(
            at as *const Location<'static> as *mut Location<'static>,
            Relaxed,
        );
        self.wait_since.store(0, Relaxed);
    }

    /// The goroutine's name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        // SAFETY: the name is written only before the G is published and after the
        // goroutine ended; callers are the goroutine itself or its M.
        unsafe { (*self.name.get()).as_deref() }
    }

    /// Records where this goroutine's stack is in use, before it parks (on its own stack).
    #[inline(always)]
    pub(crate) fn note_park_sp(&self) {
        let marker = 0u8;
        let sp = std::hint::black_box(&marker) as *const u8 as usize;
        self.park_sp.store(sp, Relaxed);
    }

    /// Starts loading the lines of this G that the scheduler reads to run it.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        let a = self as *const G as usize;
        prefetch(a);
        prefetch(a + 64);
    }

    /// Starts loading the top of this parked goroutine's stack, which resuming it reads:
    /// after a long park among thousands of others those lines, and their TLB entry, are
    /// cold, and the switch and each return wait for them. The scheduler calls this for the
    /// goroutine it will run after the current one, so the misses overlap with that run.
    /// Reads are racy hints (the G may be stolen, run and parked elsewhere meanwhile): a
    /// wrong guess only wastes the prefetch, which never faults.
    #[inline]
    pub(crate) fn prefetch_stack(&self) {
        /// How far below the recorded point the switch saves registers.
        const BELOW: usize = 256;
        /// How much of the stack above it to fetch at most.
        const ABOVE: usize = 2048;
        let sp = self.park_sp.load(Relaxed);
        let top = self.stack_top.load(Relaxed);
        if sp <= BELOW || sp >= top {
            return;
        }
        let end = top.min(sp + ABOVE);
        let mut a = (sp - BELOW) & !63;
        while a < end {
            prefetch(a);
            a += 64;
        }
    }

    /// Switches from the running goroutine back to its M (runs on the goroutine's stack).
    /// A yield or a park may instead hand the M straight to the next goroutine of its P
    /// (`sched::m::yield_direct`, `park_direct`).
    #[inline]
    pub(crate) fn suspend(&'static self, why: Switch) {
        if self.in_syscall.load(Relaxed) {
            return self.suspend_in_syscall(why);
        }
        let direct = match why {
            Switch::Yield => crate::sched::m::yield_direct(self),
            Switch::Park => crate::sched::m::park_direct(self),
            Switch::Requeue | Switch::Exit => false,
        };
        if !direct {
            self.switch_out(why);
        }
    }

    /// Switches to g0 of the M running this goroutine, which acts on `why`.
    fn switch_out(&self, why: Switch) {
        let m = self.m.get();
        debug_assert!(!m.is_null());
        // SAFETY: `m` is the M that resumed us (set by `resumed`); its g0 is suspended in
        // `execute`, waiting for this switch, and nothing else resumes it meanwhile.
        let msg = unsafe { coroutine::switch(&self.ctx, (*m).g0.sp(), why as usize) };
        self.resumed(msg);
    }

    /// Switches to the suspended goroutine `next` on this goroutine's M, which the caller
    /// made current (`sched::m::switch_direct`).
    pub(crate) fn switch_to(&self, next: &G) {
        let m = self.m.get();
        // SAFETY: the caller took `next` off the run queue of the P this M holds: it is
        // suspended and ours to resume.
        let msg = unsafe { coroutine::switch(&self.ctx, next.ctx.sp(), m as usize) };
        self.resumed(msg);
    }

    /// The goroutine runs again: `msg` is the M that switched to it (from g0, or from a
    /// goroutine that yielded or parked straight to it), which finishes that switch.
    #[inline]
    pub(crate) fn resumed(&self, msg: usize) {
        let m = msg as *const M;
        self.m.set(m);
        // SAFETY: every switch into a goroutine passes the `&'static M` doing it.
        unsafe { (*m).finish_switch() };
    }

    /// The last switch of a goroutine: straight to the next goroutine of its P
    /// (`sched::m::exit_direct`) or back to g0; either frees the stack we are on once we
    /// are off it.
    pub(crate) fn exit(&'static self) -> ! {
        if !self.in_syscall.load(Relaxed) && !crate::sched::m::exit_direct(self) {
            self.switch_out(Switch::Exit);
        }
        unreachable!("gort: a goroutine resumed after it ended");
    }

    /// A goroutine inside `gort::syscall` parks or yields (its closure blocked on a channel,
    /// say): it is not in a system call while it waits, so it leaves the syscall state of
    /// this M (else sysmon would hand off the P of whatever goroutine this M runs next), and
    /// enters it again on the M that resumes it, which may be another one.
    #[cold]
    #[inline(never)]
    fn suspend_in_syscall(&self, why: Switch) {
        crate::sysmon::leave_syscall_state();
        self.switch_out(why);
        crate::sysmon::enter_syscall_state();
    }
}

/// Every G ever allocated (Gs are never freed): what `crate::debug` walks.
pub(crate) static ALL: parking_lot::Mutex<Vec<&'static G>> = parking_lot::Mutex::new(Vec::new());

impl std::fmt::Debug for G {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("G")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

// The waker's part (park state and scratch space) is exactly the first cache line.
const _: () = assert!(
    std::mem::offset_of!(G, park_sp) == 64 && std::mem::align_of::<G>() == 64,
    "gort: G's first cache line is its park state and scratch space"
);

// The memory budget of a parked goroutine (README, `stack/mod.rs`): its stack's touched
// page, a share of a page-table page, the G and its join packet. The G is four cache lines
// and the packet two (both allocated 64 at a time, with no allocator overhead each);
// a field that would make either larger must pay for itself.
const _: () = assert!(
    std::mem::size_of::<G>() <= 256 && std::mem::size_of::<Packet>() <= 128,
    "gort: the G or its join packet outgrew the memory budget of a goroutine"
);
