//! [`remaining`] and [`grow`]: stack headroom for known-deep recursion.
//!
//! The bounds of the stack the caller runs on come from the stack registry (goroutine
//! stacks and `grow` segments) or, on a plain thread, from `pthread_getattr_np`. A
//! per-thread cache keeps the last range found; it is only a hint, checked against the
//! stack pointer and the registry's generation on every use, so it stays right when a
//! goroutine moves to another thread or a stack is unmapped.

use super::{alloc_owned, default_stack_size, registry, release, round_size, take_batch, Stack};
use std::cell::Cell;
use std::sync::atomic::Ordering::Acquire;

thread_local! {
    /// `(low, high, registry generation)` of the last stack range looked up on this thread.
    static RANGE: Cell<(usize, usize, usize)> = const { Cell::new((0, 0, usize::MAX)) };
    /// This thread's own stack, from `pthread_getattr_np` (`(0, 0)` until looked up).
    static THREAD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// An address in the caller's frame.
#[inline(always)]
fn sp() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

fn thread_bounds() -> (usize, usize) {
    let cached = THREAD.get();
    if cached.1 != 0 {
        return cached;
    }
    // SAFETY: pthread_getattr_np initialises `attr`, which we destroy after reading the
    // stack address and size out of it.
    let bounds = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size = 0usize;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return (0, 0);
        }
        (addr as usize, addr as usize + size)
    };
    THREAD.set(bounds);
    bounds
}

/// The usable range of the stack containing `sp`, or `None` if it is not one we know.
fn bounds(sp: usize) -> Option<(usize, usize)> {
    let gen = registry::GEN.load(Acquire);
    let (lo, hi, g) = RANGE.get();
    if g == gen && lo <= sp && sp < hi {
        return Some((lo, hi));
    }
    let (lo, hi) = match registry::lookup(sp) {
        Some(h) if !h.in_guard => (h.low, h.high),
        _ => thread_bounds(),
    };
    if lo <= sp && sp < hi {
        RANGE.set((lo, hi, gen));
        Some((lo, hi))
    } else {
        None
    }
}

/// Bytes of stack left below the caller on the current goroutine's stack (or `grow`
/// segment, or, on a plain thread, the thread's stack). Returns 0 when the caller runs on
/// a stack gort does not know (a foreign coroutine, a signal stack), so that [`grow`]
/// errs on the side of switching.
///
/// Cheap after the first call on a given stack (a thread-local check); the first call on
/// a goroutine stack searches the stack registry.
pub fn remaining() -> usize {
    let sp = sp();
    match bounds(sp) {
        Some((lo, _)) => sp - lo,
        None => 0,
    }
}

/// Runs `f` on the current stack if at least `red_zone` bytes of it remain, else on a
/// fresh stack segment, and returns its result (panics in `f` propagate).
///
/// For known-deep recursion: call it at each level (or every few levels) with a red zone
/// larger than what one step uses, and the recursion can go as deep as memory allows.
/// The segment is a pooled default-size stack (see [`super::set_default_stack_size`]), or
/// a mapping of twice `red_zone` if that is larger; it has its own guard page, and goes back
/// to the pool when `f` returns. `f` may park and resume on another thread like any
/// goroutine code.
///
/// ```
/// fn depth(n: u64) -> u64 {
///     if n == 0 { 0 } else { gort_runtime::stack::grow(64 << 10, || 1 + depth(n - 1)) }
/// }
/// assert_eq!(depth(100_000), 100_000);
/// ```
///
/// # Panics
/// If a segment cannot be mapped (with the same message `Builder::spawn` would return).
pub fn grow<R>(red_zone: usize, f: impl FnOnce() -> R) -> R {
    if remaining() >= red_zone {
        return f();
    }
    on_new_segment(red_zone, f)
}

/// A stack segment lent to `grow`, returned when dropped (also on unwinding).
struct Segment {
    stack: Option<Stack>,
    saved: (usize, usize, usize),
}

impl Drop for Segment {
    fn drop(&mut self) {
        RANGE.set(self.saved);
        if let Some(st) = self.stack.take() {
            release(st);
        }
    }
}

#[inline(never)]
#[cold]
fn on_new_segment<R>(red_zone: usize, f: impl FnOnce() -> R) -> R {
    let default = default_stack_size();
    let size = round_size(red_zone.saturating_mul(2)).max(default);
    let stack = if size == default {
        let mut one = Vec::with_capacity(1);
        take_batch(size, 1, &mut one)
            .map(|()| one.pop().expect("take_batch returned no stack"))
            .inspect(|st| st.acquire())
    } else {
        alloc_owned(size)
    };
    let stack = match stack {
        Ok(st) => st,
        Err(e) => panic!("gort::stack::grow: {e}"),
    };
    let (lo, hi) = stack.range();
    let mut seg = Segment {
        stack: Some(stack),
        saved: RANGE.get(),
    };
    RANGE.set((lo, hi, registry::GEN.load(Acquire)));
    let st = seg.stack.as_mut().expect("segment has a stack");
    corosensei::on_stack(st, f)
}
