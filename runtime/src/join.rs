//! `JoinHandle`: waiting for a goroutine and taking its result (or its panic).
//!
//! What the handle needs once the goroutine has ended lives in a join [`Packet`], apart from
//! the G: the result, the state word, the joiner's wake-up token and the exit hooks. The G
//! goes back to its free list as soon as the goroutine ends (its stack did already), so a
//! million finished goroutines whose handles are not joined yet hold a million packets, not
//! a million Gs (Go's goroutines, which have no handle, free theirs the same way). Packets,
//! like Gs, are allocated once, never freed, and cached per P, so spawning and joining
//! allocate nothing in steady state: results up to [`INLINE_RESULT`] bytes are stored
//! inline, larger ones in a `Box`.
//!
//! Uses: `park`, `sched`.

use crate::park;
use crate::sched::spawn;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::mem::{align_of, size_of, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Join states of a packet.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const WAITING: u8 = 1;
pub(crate) const DONE: u8 = 2;

/// Results up to this size (and alignment 16) are stored in the join packet without allocating.
pub const INLINE_RESULT: usize = 48;

/// The callbacks to run when a goroutine ends.
type ExitHooks = Vec<Box<dyn FnOnce() + Send>>;

/// Storage for a goroutine's `thread::Result<T>`.
#[repr(C, align(16))]
pub(crate) struct ResultBuf(MaybeUninit<[u8; INLINE_RESULT]>);

impl ResultBuf {
    pub(crate) const fn new() -> Self {
        ResultBuf(MaybeUninit::uninit())
    }
}

const fn fits<T>() -> bool {
    size_of::<thread::Result<T>>() <= INLINE_RESULT && align_of::<thread::Result<T>>() <= 16
}

/// What a goroutine leaves for its [`JoinHandle`]: its result, whether it has ended, who
/// waits for it and what to run when it ends. Shared by the goroutine (until it ends) and the
/// handle (until `join` or drop); the last of the two to let go recycles it.
///
/// Two cache lines, aligned: packets are allocated 64 at a time, and at 144 bytes,
/// unaligned, neighbours shared lines, so a spawner arming one packet and another P ending
/// the goroutine of the next fought over a line neither needed from the other.
#[repr(align(64))]
pub(crate) struct Packet {
    /// [`RUNNING`], [`WAITING`] (a joiner is parked) or [`DONE`].
    state: AtomicU8,
    /// Set (SeqCst) once a callback was put in `exit_hooks`; `finish` looks at the list
    /// only then.
    has_exit_hooks: AtomicBool,
    /// Owners: the goroutine and the `JoinHandle`.
    refs: AtomicUsize,
    /// Wake-up token of a goroutine or thread blocked in `join`.
    joiner: UnsafeCell<Option<park::Token>>,
    /// Drops the result in `result` if nobody took it; `None` when there is none.
    drop_result: Cell<Option<unsafe fn(*mut ResultBuf)>>,
    /// The goroutine's name (`Builder::name`), for `JoinHandle::name`.
    name: UnsafeCell<Option<Arc<str>>>,
    /// Callbacks run when the goroutine ends (`JoinHandle::on_finish`); boxed, since few
    /// goroutines have any and the packet must stay within two cache lines.
    exit_hooks: parking_lot::Mutex<Option<Box<ExitHooks>>>,
    /// The goroutine's `thread::Result<T>` (inline or boxed).
    result: UnsafeCell<ResultBuf>,
}

// SAFETY: the atomics are shared; `joiner` is written by the handle before its CAS to
// WAITING and read by the goroutine only after seeing WAITING (or by the handle after its
// CAS failed); `result` and `drop_result` are written by the goroutine before it publishes
// DONE and read by the handle after it sees DONE (or by the last owner, alone); `name` is
// written only while the packet has no other owner. Those hand-offs order every access.
unsafe impl Sync for Packet {}
// SAFETY: as above; a packet is only ever referred to as `&'static Packet`.
unsafe impl Send for Packet {}

impl Packet {
    /// Allocates `n` new packets in one block (see `G::alloc_batch`). They are never freed.
    pub(crate) fn alloc_batch(n: usize) -> Vec<&'static Packet> {
        let block: &'static [Packet] = (0..n)
            .map(|_| Packet {
                state: AtomicU8::new(RUNNING),
                has_exit_hooks: AtomicBool::new(false),
                refs: AtomicUsize::new(0),
                joiner: UnsafeCell::new(None),
                drop_result: Cell::new(None),
                name: UnsafeCell::new(None),
                exit_hooks: parking_lot::Mutex::new(None),
                result: UnsafeCell::new(ResultBuf::new()),
            })
            .collect::<Vec<Packet>>()
            .leak();
        block.iter().collect()
    }

    /// Readies a free packet for a new goroutine, owned by it and by its handle.
    ///
    /// # Safety
    /// The packet must be free (fresh or recycled) and not yet shared.
    pub(crate) unsafe fn arm(&self, name: Option<Arc<str>>) {
        // SAFETY: free and unshared (caller's contract).
        unsafe { *self.name.get() = name };
        self.has_exit_hooks.store(false, Relaxed);
        self.refs.store(2, Relaxed);
        self.state.store(RUNNING, Release);
    }

    /// Whether the handle is gone (the goroutine is the only owner left).
    pub(crate) fn detached(&self) -> bool {
        self.refs.load(Acquire) == 1
    }

    /// Stores the goroutine's result.
    ///
    /// # Safety
    /// The slot must be empty and owned by the caller (the goroutine, before DONE is published).
    pub(crate) unsafe fn store<T>(&self, r: thread::Result<T>) {
        let buf = self.result.get();
        if fits::<T>() {
            // SAFETY: the slot is empty and ours (caller's contract); `fits` checked that a
            // `thread::Result<T>` fits in the buffer and its 16-byte alignment.
            unsafe { (buf as *mut thread::Result<T>).write(r) };
        } else {
            // SAFETY: as above; a `Box` always fits.
            unsafe { (buf as *mut Box<thread::Result<T>>).write(Box::new(r)) };
        }
        self.drop_result.set(Some(drop_stored::<T>));
    }

    /// Takes the result out.
    ///
    /// # Safety
    /// The slot must hold a `thread::Result<T>` stored by [`Packet::store`], and the caller
    /// must own it.
    unsafe fn take<T>(&self) -> thread::Result<T> {
        self.drop_result.set(None);
        let buf = self.result.get();
        if fits::<T>() {
            // SAFETY: the slot holds a `thread::Result<T>` stored inline by `store` (it
            // fits), and the caller owns it; `drop_result` is cleared, so it is read once.
            unsafe { (buf as *mut thread::Result<T>).read() }
        } else {
            // SAFETY: as above, for the boxed form `store` uses when it does not fit.
            *unsafe { (buf as *mut Box<thread::Result<T>>).read() }
        }
    }

    /// The goroutine has ended (its result, if anyone will take it, is stored): publishes
    /// DONE, wakes a parked joiner and runs the exit hooks. Runs on the M that ended it.
    pub(crate) fn finish(&self) {
        // SeqCst: against `JoinHandle::on_finish`, which sets `has_exit_hooks` and then reads
        // the state; one of the two sees the other.
        if self.state.swap(DONE, SeqCst) == WAITING {
            // SAFETY: the joiner stored its token before its CAS to WAITING, which our swap
            // observed; it does not touch the slot again.
            if let Some(token) = unsafe { (*self.joiner.get()).take() } {
                token.wake();
            }
        }
        if self.has_exit_hooks.load(SeqCst) {
            self.run_exit_hooks();
        }
    }

    /// The end of a goroutine whose handle was gone when it stored no result
    /// ([`detached`](Self::detached) returned `true`): it is the packet's only owner, nobody
    /// can join or add a callback any more, so it runs the callbacks the handle left and
    /// frees the packet without the state swap and the count of [`finish`](Self::finish)
    /// and [`release`](Self::release) (two atomic read-modify-writes per detached
    /// goroutine, the common `go` whose handle is dropped).
    pub(crate) fn finish_detached(&'static self) {
        // Relaxed: `detached`'s Acquire load of the count the handle's drop released
        // ordered every `on_finish` before it.
        if self.has_exit_hooks.load(Relaxed) {
            self.run_exit_hooks();
        }
        self.free();
    }

    fn run_exit_hooks(&self) {
        let hooks = self.exit_hooks.lock().take();
        for hook in hooks.into_iter().flat_map(|b| *b) {
            if catch_unwind(AssertUnwindSafe(hook)).is_err() {
                eprintln!("gort: a goroutine's exit callback panicked (ignored)");
            }
        }
    }

    /// Drops one owner; the last one drops a result nobody took and recycles the packet.
    pub(crate) fn release(&'static self) {
        if self.refs.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        self.free();
    }

    /// Frees the packet: drops a result nobody took and recycles it. The caller is its last
    /// owner.
    fn free(&'static self) {
        if let Some(drop_result) = self.drop_result.take() {
            // The last owner may be the goroutine's end (the handle went away between the
            // result's store and the end): a `Drop` that panics must not unwind through
            // the goroutine's last frames into the runtime, and the packet must still be
            // recycled. As with a panicking exit hook, the message is all that is lost.
            let dropped = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `drop_result` is set only while the slot holds an untaken
                // result, and we are the last owner.
                unsafe { drop_result(self.result.get()) }
            }));
            if dropped.is_err() {
                eprintln!("gort: dropping a goroutine's unjoined result panicked (ignored)");
            }
        }
        // SAFETY: no owner remains; we own the packet.
        let name = unsafe { (*self.name.get()).take() };
        // SAFETY: as above.
        unsafe { *self.joiner.get() = None };
        spawn::recycle_packet(self);
        drop(name);
    }
}

/// Drops a result nobody took.
///
/// # Safety
/// `buf` must be a packet's result buffer holding a `thread::Result<T>` stored by
/// [`Packet::store`] (this function's `T`: `store` records `drop_stored::<T>` beside it), not
/// yet taken or dropped, and owned by the caller; afterwards the buffer is empty.
unsafe fn drop_stored<T>(buf: *mut ResultBuf) {
    if fits::<T>() {
        // SAFETY: the buffer holds an inline `thread::Result<T>` (caller's contract).
        unsafe { std::ptr::drop_in_place(buf as *mut thread::Result<T>) };
    } else {
        // SAFETY: the buffer holds a boxed `thread::Result<T>` (caller's contract).
        unsafe { std::ptr::drop_in_place(buf as *mut Box<thread::Result<T>>) };
    }
}

/// An owned permission to join a goroutine: wait for it to end and take its result.
///
/// Dropping the handle detaches the goroutine (it keeps running; its result is dropped when
/// it ends). `join` works from a goroutine (which parks) and from a plain thread (which
/// blocks).
pub struct JoinHandle<T> {
    packet: &'static Packet,
    id: u64,
    _result: PhantomData<T>,
}

// SAFETY: the handle only hands out `T` by value through `join`, and `spawn` requires
// `T: Send`; the packet it refers to is `Sync`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` exposes only the id, name and `is_finished`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(packet: &'static Packet, id: u64) -> Self {
        JoinHandle {
            packet,
            id,
            _result: PhantomData,
        }
    }

    /// Waits for the goroutine to end. Returns its value, or `Err` with the panic payload if
    /// it panicked (the runtime keeps running either way). The panic's message was printed
    /// when it happened, naming the goroutine: `goroutine 17 "name" panicked at
    /// src/main.rs:12:5: boom`, by the panic hook the runtime installs when it starts (it
    /// wraps the hook in place then, which still sees plain threads' panics; a hook set
    /// later with `std::panic::set_hook` replaces it).
    #[track_caller]
    pub fn join(self) -> thread::Result<T> {
        let pk = self.packet;
        if pk.state.load(Acquire) != DONE {
            let token = park::prepare_for(park::WaitReason::Join);
            // SAFETY: only the (single) handle writes the joiner slot, before its CAS.
            unsafe { *pk.joiner.get() = Some(token) };
            match pk.state.compare_exchange(RUNNING, WAITING, AcqRel, Acquire) {
                Ok(_) => park::park(),
                Err(_) => {
                    park::cancel();
                    // SAFETY: the goroutine ended before our CAS, so it never read the slot.
                    unsafe { *pk.joiner.get() = None };
                }
            }
        }
        assert_eq!(
            pk.state.load(Acquire),
            DONE,
            "gort: join woke before the goroutine ended"
        );
        // SAFETY: DONE (acquire) means the goroutine stored its result (or it was detached,
        // which a live handle rules out) and will not touch the slot again.
        unsafe { pk.take::<T>() }
    }

    /// Like [`join`](Self::join), but gives up after `timeout`: then the handle comes back
    /// in `Err`, still joinable (Go has no direct equivalent; it is `select` on a done
    /// channel and `time.After`, which gort's `JoinHandleExt::done` offers too).
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = gort_runtime::go(|| 7);
    /// let r = match h.join_timeout(Duration::from_secs(60)) {
    ///     Ok(r) => r,
    ///     Err(h) => h.join(), // still running after a minute: wait for good
    /// };
    /// assert_eq!(r.unwrap(), 7);
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<thread::Result<T>, JoinHandle<T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// Like [`join_timeout`](Self::join_timeout) with an absolute deadline.
    pub fn join_deadline(self, deadline: Instant) -> Result<thread::Result<T>, JoinHandle<T>> {
        let pk = self.packet;
        if pk.state.load(Acquire) != DONE {
            let token = park::prepare();
            // SAFETY: only the (single) handle writes the joiner slot, before its CAS.
            unsafe { *pk.joiner.get() = Some(token) };
            match pk.state.compare_exchange(RUNNING, WAITING, AcqRel, Acquire) {
                Ok(_) => {
                    if !park::park_until(Some(deadline)) {
                        // Timed out: take the registration back, unless the goroutine ended
                        // meanwhile (then its wake-up found our episode over, and the
                        // result is there).
                        if pk
                            .state
                            .compare_exchange(WAITING, RUNNING, AcqRel, Acquire)
                            .is_ok()
                        {
                            // SAFETY: the goroutine has not ended, so it has not read the
                            // slot, and it reads it only after seeing WAITING.
                            unsafe { *pk.joiner.get() = None };
                            return Err(self);
                        }
                    }
                }
                Err(_) => {
                    park::cancel();
                    // SAFETY: the goroutine ended before our CAS, so it never read the slot.
                    unsafe { *pk.joiner.get() = None };
                }
            }
        }
        Ok(self.join())
    }

    /// Runs `f` when the goroutine ends (at once, on the caller, if it has ended): the exit
    /// hook that a goroutine's end as an event is built on (`gort::JoinHandleExt::done`
    /// turns it into a channel that closes). `f` runs at the end of the goroutine, on its
    /// own stack, after its result is published, and is called once. Keep it short (wake
    /// others, e.g. close a channel): a hook that blocks parks the ending goroutine, whose
    /// stack stays in use until its hooks return.
    pub fn on_finish(&self, f: Box<dyn FnOnce() + Send>) {
        let pk = self.packet;
        let run_now = {
            let mut hooks = pk.exit_hooks.lock();
            hooks.get_or_insert_with(Box::default).push(f);
            // SeqCst: against `Packet::finish`, which publishes DONE and then reads this flag.
            pk.has_exit_hooks.store(true, SeqCst);
            if pk.state.load(SeqCst) == DONE {
                hooks.take()
            } else {
                None
            }
        };
        for f in run_now.into_iter().flat_map(|b| *b) {
            f();
        }
    }

    /// Whether the goroutine has ended (`join` would not block).
    pub fn is_finished(&self) -> bool {
        self.packet.state.load(Relaxed) == DONE
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The goroutine's name, if it was given one with `Builder::name`.
    pub fn name(&self) -> Option<&str> {
        // SAFETY: the name is written only while the packet has no other owner; the
        // handle is one.
        unsafe { (*self.packet.name.get()).as_deref() }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.packet.release();
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}
