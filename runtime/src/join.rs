//! `JoinHandle`: waiting for a goroutine and taking its result (or its panic).
//!
//! The result lives in the G itself, so spawning and joining allocate nothing: results up
//! to [`INLINE_RESULT`] bytes are stored inline, larger ones in a `Box`.
//!
//! Uses: `g`, `park`, `sched`.

use crate::g::G;
use crate::park;
use crate::sched::spawn;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, MaybeUninit};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::thread;
use std::time::{Duration, Instant};

/// Join states of a G.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const WAITING: u8 = 1;
pub(crate) const DONE: u8 = 2;

/// Results up to this size (and alignment 16) are stored in the G without allocating.
pub const INLINE_RESULT: usize = 48;

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

/// Stores the goroutine's result in its G.
///
/// # Safety
/// The slot must be empty and owned by the caller (the goroutine, before DONE is published).
pub(crate) unsafe fn store<T>(g: &G, r: thread::Result<T>) {
    let buf = g.result.get();
    if fits::<T>() {
        // SAFETY: the slot is empty and ours (caller's contract); `fits` checked that a
        // `thread::Result<T>` fits in the buffer and its 16-byte alignment.
        unsafe { (buf as *mut thread::Result<T>).write(r) };
    } else {
        // SAFETY: as above; a `Box` always fits.
        unsafe { (buf as *mut Box<thread::Result<T>>).write(Box::new(r)) };
    }
    g.drop_result.set(Some(drop_stored::<T>));
}

/// Takes the result out of the G.
///
/// # Safety
/// The slot must hold a `thread::Result<T>` stored by [`store`], and the caller must own it.
unsafe fn take<T>(g: &G) -> thread::Result<T> {
    g.drop_result.set(None);
    let buf = g.result.get();
    if fits::<T>() {
        // SAFETY: the slot holds a `thread::Result<T>` stored inline by `store` (it fits),
        // and the caller owns it; `drop_result` is cleared, so it is read only once.
        unsafe { (buf as *mut thread::Result<T>).read() }
    } else {
        // SAFETY: as above, for the boxed form `store` uses when it does not fit.
        *unsafe { (buf as *mut Box<thread::Result<T>>).read() }
    }
}

/// Drops a result nobody took.
///
/// # Safety
/// `buf` must be a G's result buffer holding a `thread::Result<T>` stored by [`store`]
/// (this function's `T`: `store` records `drop_stored::<T>` beside it), not yet taken or
/// dropped, and owned by the caller; afterwards the buffer is empty.
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
    g: &'static G,
    id: u64,
    _result: PhantomData<T>,
}

// SAFETY: the handle only hands out `T` by value through `join`, and `spawn` requires
// `T: Send`; the G it refers to is `Sync`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` exposes only the id, name and `is_finished`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(g: &'static G, id: u64) -> Self {
        JoinHandle {
            g,
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
        let g = self.g;
        if g.join_state.load(Acquire) != DONE {
            let token = park::prepare_for(park::WaitReason::Join);
            // SAFETY: only the (single) handle writes the joiner slot, before its CAS.
            unsafe { *g.joiner.get() = Some(token) };
            match g
                .join_state
                .compare_exchange(RUNNING, WAITING, AcqRel, Acquire)
            {
                Ok(_) => park::park(),
                Err(_) => {
                    park::cancel();
                    // SAFETY: the goroutine ended before our CAS, so it never read the slot.
                    unsafe { *g.joiner.get() = None };
                }
            }
        }
        assert_eq!(
            g.join_state.load(Acquire),
            DONE,
            "gort: join woke before the goroutine ended"
        );
        // SAFETY: DONE (acquire) means the goroutine stored its result (or it was detached,
        // which a live handle rules out) and will not touch the slot again.
        unsafe { take::<T>(g) }
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
        let g = self.g;
        if g.join_state.load(Acquire) != DONE {
            let token = park::prepare();
            // SAFETY: only the (single) handle writes the joiner slot, before its CAS.
            unsafe { *g.joiner.get() = Some(token) };
            match g
                .join_state
                .compare_exchange(RUNNING, WAITING, AcqRel, Acquire)
            {
                Ok(_) => {
                    if !park::park_until(Some(deadline)) {
                        // Timed out: take the registration back, unless the goroutine ended
                        // meanwhile (then its wake-up found our episode over, and the
                        // result is there).
                        if g.join_state
                            .compare_exchange(WAITING, RUNNING, AcqRel, Acquire)
                            .is_ok()
                        {
                            // SAFETY: the goroutine has not ended, so it has not read the
                            // slot, and it reads it only after seeing WAITING.
                            unsafe { *g.joiner.get() = None };
                            return Err(self);
                        }
                    }
                }
                Err(_) => {
                    park::cancel();
                    // SAFETY: the goroutine ended before our CAS, so it never read the slot.
                    unsafe { *g.joiner.get() = None };
                }
            }
        }
        Ok(self.join())
    }

    /// Runs `f` when the goroutine ends (at once, on the caller, if it has ended): the exit
    /// hook that a goroutine's end as an event is built on (`gort::JoinHandleExt::done`
    /// turns it into a channel that closes). `f` runs on the ending goroutine's exit path,
    /// on the scheduler's thread: it must not block (it may wake others, e.g. close a
    /// channel), and is called once.
    pub fn on_finish(&self, f: Box<dyn FnOnce() + Send>) {
        let g = self.g;
        let run_now = {
            let mut hooks = g.exit_hooks.lock();
            hooks.push(f);
            // SeqCst: against `goexit`, which publishes DONE and then reads this flag.
            g.has_exit_hooks.store(true, SeqCst);
            if g.join_state.load(SeqCst) == DONE {
                std::mem::take(&mut *hooks)
            } else {
                Vec::new()
            }
        };
        for f in run_now {
            f();
        }
    }

    /// Whether the goroutine has ended (`join` would not block).
    pub fn is_finished(&self) -> bool {
        self.g.join_state.load(Relaxed) == DONE
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The goroutine's name, if it was given one with `Builder::name`.
    pub fn name(&self) -> Option<&str> {
        self.g.name()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        spawn::release(self.g);
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
