//! Stack-overflow diagnostics: a SIGSEGV/SIGBUS handler on an alternate signal stack.
//!
//! A goroutine that runs off the end of its stack touches the guard page below it (Rust
//! probes every page of a large frame, so a frame cannot jump over it). The kernel then
//! delivers SIGSEGV on the faulting thread; the handler runs on that thread's alternate
//! signal stack (the goroutine stack is exhausted), looks the fault address up in the
//! lock-free stack registry and, when it is a guard page of a gort stack, prints
//!
//! ```text
//! fatal error: stack overflow in goroutine 7 "worker" (stack of 16 KiB is exhausted); ...
//! ```
//!
//! naming the goroutine the faulting M was running (as the scheduler's [`Culprit`] hook,
//! given to [`init_thread`], reads it from the M's `curg` with atomic loads) and aborts.
//! Any other fault goes to the handler installed before ours (Rust's own main-thread
//! overflow handler, a sanitizer's, or the default action: we restore `SIG_DFL`
//! and return, so the faulting instruction runs again and the process dies of the signal
//! as it would have without us). The handler only does atomic loads, integer formatting
//! into a stack buffer, `write(2)` and `abort(3)`: all async-signal-safe.
//!
//! The handler is installed once, when the first M starts; every M thread gets an
//! alternate signal stack when it starts ([`init_thread`], called from `mstart`).
//! Plain threads started by `std` already have one (std's own overflow handler installs
//! it); `grow` segments on plain threads rely on that.
//!
//! Uses no other module of the crate outside `stack`; within it: `stack` itself, `stack::guard`,
//! `stack::registry`.

use super::{guard, page_size, registry};
use std::cell::{RefCell, UnsafeCell};
use std::mem::MaybeUninit;
use std::panic::Location;
use std::ptr;
use std::sync::{Once, OnceLock};

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The handlers that were installed before ours, for chaining.
struct Old(UnsafeCell<MaybeUninit<libc::sigaction>>);
// SAFETY: written once under `INIT` before our handler is installed, read-only afterwards.
unsafe impl Sync for Old {}
static OLD: [Old; 2] = [
    Old(UnsafeCell::new(MaybeUninit::zeroed())),
    Old(UnsafeCell::new(MaybeUninit::zeroed())),
];

/// Alternate signal stack size for M threads (the handler and a chained std handler fit
/// comfortably; the kernel's signal frame with AVX-512 state takes a few KiB).
const ALT_SIZE: usize = 64 << 10;

/// The goroutine that ran off its stack, as the overflow message names it.
pub(crate) struct Culprit {
    /// The goroutine's id.
    pub(crate) id: u64,
    /// Its name (`Builder::name`), if it has one.
    pub(crate) name: Option<&'static str>,
    /// Where it was spawned.
    pub(crate) spawned_at: Option<&'static Location<'static>>,
}

/// Names the goroutine running on the calling thread, or `None` off a goroutine. Set by the
/// scheduler (which knows what a thread runs; this module does not) through
/// [`init_thread`]. Called in the signal handler: it must be async-signal-safe (atomic
/// loads only).
static CULPRIT: OnceLock<fn() -> Option<Culprit>> = OnceLock::new();

/// Installs the process-wide handler (once) and an alternate signal stack on the calling
/// thread if it has none large enough. Called at the start of every M thread, with the
/// scheduler's way of naming the goroutine a thread runs (see [`CULPRIT`]).
pub(crate) fn init_thread(culprit: fn() -> Option<Culprit>) {
    CULPRIT.get_or_init(|| culprit);
    init();
    ALT.with(|a| {
        let mut a = a.borrow_mut();
        if a.is_none() {
            *a = AltStack::install();
        }
    });
}

/// Installs the SIGSEGV/SIGBUS handler once. Detects the guard mode at the same time.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        registry::prime();
        let _ = guard::mode();
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `OLD[i]` is only written here, before our handler exists; sigaction
            // with a null new action only reads the current one.
            unsafe { libc::sigaction(sig, ptr::null(), (*OLD[i].0.get()).as_mut_ptr()) };
            // SAFETY: a zeroed sigaction is valid; we fill in handler, flags and mask.
            let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
            new.sa_sigaction = handler
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: initialising the mask of our own struct.
            unsafe { libc::sigemptyset(&mut new.sa_mask) };
            // SAFETY: installing a valid handler for a synchronous fault signal.
            unsafe { libc::sigaction(sig, &new, ptr::null_mut()) };
        }
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(hit) = registry::lookup(addr) {
        if hit.in_guard {
            report(hit.high - hit.low);
        }
    }
    chain(sig, info, ctx);
}

/// Passes a fault that is not ours to the previous handler.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let i = if sig == libc::SIGSEGV { 0 } else { 1 };
    // SAFETY: OLD is read-only once the handler is installed.
    let old = unsafe { (*OLD[i].0.get()).assume_init_ref() };
    let h = old.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // Restore the default and return: the fault re-raises and kills the process with
        // the signal, exactly as if we had never been installed.
        // SAFETY: a zeroed sigaction with SIG_DFL is valid.
        let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: installing the default disposition.
        unsafe { libc::sigaction(sig, &dfl, ptr::null_mut()) };
        return;
    }
    if old.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the stored handler has the three-argument signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO the stored handler takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

/// A fixed buffer for async-signal-safe formatting.
struct Buf {
    b: [u8; 768],
    n: usize,
}

impl Buf {
    fn s(&mut self, s: &str) -> &mut Buf {
        for &c in s.as_bytes() {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
        self
    }
    fn u(&mut self, mut v: u64) -> &mut Buf {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &c in &d[i..] {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
        self
    }
}

/// Prints the overflow message and aborts. Async-signal-safe.
fn report(size: usize) -> ! {
    let mut b = Buf { b: [0; 768], n: 0 };
    b.s("fatal error: stack overflow in ");
    match CULPRIT.get().and_then(|culprit| culprit()) {
        Some(c) => {
            b.s("goroutine ").u(c.id);
            if let Some(name) = c.name {
                b.s(" \"").s(name).s("\"");
            }
            if let Some(at) = c.spawned_at {
                b.s(", spawned at ")
                    .s(at.file())
                    .s(":")
                    .u(at.line() as u64)
                    .s(":")
                    .u(at.column() as u64);
            }
        }
        None => {
            b.s("a gort::stack::grow segment on a plain thread");
        }
    }
    b.s(" (its stack of ");
    if size.is_multiple_of(1024) {
        b.u(size as u64 / 1024).s(" KiB");
    } else {
        b.u(size as u64).s(" bytes");
    }
    b.s(
        " is exhausted)\nraise the stack size with gort::Builder::stack_size (this goroutine), \
         or for all goroutines with gort::stack::set_default_stack_size or the \
         GORT_STACK_SIZE environment variable (e.g. GORT_STACK_SIZE=1M), or run known-deep \
         recursion under gort::stack::grow\n",
    );
    // SAFETY: write(2) and abort(3) are async-signal-safe; the buffer is ours.
    unsafe {
        libc::write(2, b.b.as_ptr() as *const _, b.n);
        libc::abort();
    }
}

/// An alternate signal stack this module installed on the current thread.
struct AltStack {
    low: usize,
    len: usize,
}

thread_local! {
    static ALT: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

impl AltStack {
    /// Installs an alternate signal stack unless the thread has one of at least 32 KiB.
    fn install() -> Option<AltStack> {
        // SAFETY: querying the current alternate stack into a zeroed struct.
        let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::sigaltstack(ptr::null(), &mut cur) };
        if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_size >= 32 << 10 {
            return None;
        }
        let page = page_size();
        let len = ALT_SIZE + page;
        let low = guard::map(len).ok()?;
        if guard::install(low).is_err() {
            // SAFETY: unmapping the mapping we just made.
            unsafe { libc::munmap(low as *mut _, len) };
            return None;
        }
        let st = libc::stack_t {
            ss_sp: (low + page) as *mut _,
            ss_flags: 0,
            ss_size: ALT_SIZE,
        };
        // SAFETY: the stack is a live mapping owned by this thread's TLS until it exits.
        if unsafe { libc::sigaltstack(&st, ptr::null_mut()) } != 0 {
            // SAFETY: unmapping the mapping we just made.
            unsafe { libc::munmap(low as *mut _, len) };
            return None;
        }
        Some(AltStack { low, len })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: querying into a zeroed struct.
        let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::sigaltstack(ptr::null(), &mut cur) };
        if cur.ss_sp as usize == self.low + page_size() && cur.ss_flags & libc::SS_DISABLE == 0 {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling our own alternate stack on our own thread.
            unsafe { libc::sigaltstack(&off, ptr::null_mut()) };
        }
        // SAFETY: the mapping is ours and no longer the thread's signal stack.
        unsafe { libc::munmap(self.low as *mut _, self.len) };
    }
}
