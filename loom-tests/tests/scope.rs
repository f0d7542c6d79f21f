//! A scope's count of its goroutines and its wait for them (`runtime/src/scope/running.rs`):
//! `wait` returns only after every goroutine's `leave`, with each goroutine's work ordered
//! before it; no wake-up is lost (loom reports a deadlock if one is); and no goroutine
//! touches the scope's data once `wait` has returned. The data lives in `scope`'s frame in
//! the runtime; here it stays allocated, and the model "frees" it by writing the waiter
//! slot (`Running::loom_free`) right after `wait`, which loom reports as a race if a last
//! goroutine still reads the slot.
//!
//! The `broken_*` models run the same checks against a count whose protocol is broken on
//! purpose (`scope_running::Fault`: the goroutine's decrement `Relaxed`; the scope returning
//! when it sees the count at zero instead of waiting for the wake-up) and expect loom to
//! report the race: they show that these models can fail.
#![cfg(loom)]

use gort_loom_tests::model;
use gort_runtime::scope_running::{Fault, Running};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// The scope's data and one slot of work per goroutine.
struct Shared {
    running: Running,
    work: [UnsafeCell<usize>; 2],
}

/// A goroutine's body: its work, then its last touch of the scope.
fn goroutine(s: &Shared, i: usize) {
    // SAFETY: slot `i` is this goroutine's until its `leave`; loom checks the scope's read.
    s.work[i].with_mut(|w| unsafe { *w = i + 1 });
    // SAFETY: `s` is alive (the model's `Arc`); the count was added for this goroutine.
    unsafe { Running::leave(&s.running) };
}

/// The scope's end: wait, see every goroutine's work, then let the data go.
fn end_scope(s: &Shared, goroutines: usize) {
    s.running.wait();
    for i in 0..goroutines {
        // SAFETY: every goroutine has left; loom reports this read if it is not ordered
        // after their writes.
        assert_eq!(s.work[i].with(|w| unsafe { *w }), i + 1, "work lost");
    }
    s.running.loom_free();
}

fn shared(fault: Fault) -> Arc<Shared> {
    Arc::new(Shared {
        running: Running::with_fault(fault),
        work: [UnsafeCell::new(0), UnsafeCell::new(0)],
    })
}

/// Two goroutines started by the scope, ending at any point of its wait.
fn two_goroutines(fault: Fault) {
    model(None, move || {
        let s = shared(fault);
        let threads: Vec<_> = (0..2)
            .map(|i| {
                s.running.add();
                let s = s.clone();
                thread::spawn(move || goroutine(&s, i))
            })
            .collect();
        end_scope(&s, 2);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn wait_returns_after_every_goroutine_left() {
    two_goroutines(Fault::None);
}

/// A goroutine starts another (counted before it leaves), as nested `s.go` calls do.
#[test]
fn a_goroutine_may_start_another() {
    model(None, || {
        let s = shared(Fault::None);
        s.running.add();
        let s1 = s.clone();
        let outer = thread::spawn(move || {
            s1.running.add();
            let s2 = s1.clone();
            let inner = thread::spawn(move || goroutine(&s2, 1));
            goroutine(&s1, 0);
            inner
        });
        end_scope(&s, 2);
        outer.join().unwrap().join().unwrap();
    });
}

/// No goroutine: the scope is the last and does not park.
#[test]
fn a_scope_without_goroutines_returns_at_once() {
    model(None, || end_scope(&shared(Fault::None), 0));
}

#[test]
#[should_panic(expected = "Causality violation")]
fn broken_relaxed_leave_is_caught() {
    two_goroutines(Fault::RelaxedLeave);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn broken_return_on_zero_is_caught() {
    two_goroutines(Fault::ReturnOnZero);
}
