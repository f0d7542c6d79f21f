//! Creating and cancelling a context allocates no more than Go does (Go 1.19 on the same
//! machine, `benches/go/context -bench allocs`: WithCancel + cancel 2, with Done 3,
//! WithTimeout + cancel 4), and `background().done()` allocates nothing.

mod common;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations per call of `f`, after warming up (one test only in this binary, so no
/// other test allocates meanwhile; the runtime's own rare allocations are the 0.01 of
/// slack in the limits).
fn per_op(mut f: impl FnMut()) -> f64 {
    for _ in 0..1000 {
        f();
    }
    let before = ALLOCS.load(Relaxed);
    let n = 10_000;
    for _ in 0..n {
        f();
    }
    (ALLOCS.load(Relaxed) - before) as f64 / n as f64
}

#[test]
fn create_and_cancel_allocate_no_more_than_go() {
    common::within(120, || {
        gort::go(|| {
            let bg = gort::context::background();
            let (parent, pc) = bg.with_cancel();
            let a = per_op(|| {
                let _ = bg.done();
            });
            assert!(a < 0.01, "background().done() allocates ({a} per call)");
            let a = per_op(|| {
                let (_, cancel) = bg.with_cancel();
                cancel.cancel();
            });
            assert!(
                a <= 1.01,
                "with_cancel(bg) + cancel: {a} allocations (Go: 2)"
            );
            let a = per_op(|| {
                let (_, cancel) = parent.with_cancel();
                cancel.cancel();
            });
            assert!(
                a <= 1.01,
                "with_cancel(parent) + cancel: {a} allocations (Go: 2)"
            );
            let a = per_op(|| {
                let (c, cancel) = bg.with_cancel();
                let d = c.done();
                cancel.cancel();
                assert!(d.recv().is_err());
            });
            assert!(
                a <= 2.01,
                "with_cancel + done + cancel: {a} allocations (Go: 3)"
            );
            let a = per_op(|| {
                let (_, cancel) = bg.with_timeout(Duration::from_secs(3600));
                cancel.cancel();
            });
            assert!(a <= 2.01, "with_timeout + cancel: {a} allocations (Go: 4)");
            let a = per_op(|| {
                let (c, _) = parent.with_cancel();
                c.err();
                let _ = c.done();
                drop(c);
            });
            assert!(a <= 2.01, "uncancelled child: {a}");
            pc.cancel();
        })
        .join()
        .unwrap();
    });
}
