//! When `cancel` returns, every context below is done, even while another canceller (a
//! child's own cancel, a deadline) is still cancelling part of the tree: Go's guarantee.
//! Before, the root's cancel skipped a subtree that another canceller had started on and
//! returned while some of it was still live (found by tests/chaos.rs after about 200
//! runs).

mod common;
use common::within;
use gort::context::{self, CancelFunc, Context};
use std::sync::{Arc, Barrier};

/// A root, a child, and a wide subtree below the child.
fn tree(width: usize) -> (CancelFunc, CancelFunc, Vec<Context>) {
    let (root, cancel_root) = context::background().with_cancel();
    let (child, cancel_child) = root.with_cancel();
    let mut below = Vec::new();
    for _ in 0..width {
        let (c, f) = child.with_cancel();
        let (g, f2) = c.with_cancel();
        std::mem::forget(f); // kept cancellable only through the tree
        std::mem::forget(f2);
        below.push(c);
        below.push(g);
    }
    (cancel_root, cancel_child, below)
}

fn race(on_goroutines: bool) {
    for round in 0..300 {
        let (cancel_root, cancel_child, below) = tree(200);
        let start = Arc::new(Barrier::new(2));
        let s = start.clone();
        let other = move || {
            s.wait();
            cancel_child.cancel();
        };
        let h: Box<dyn FnOnce()> = if on_goroutines {
            let h = gort::go(other);
            Box::new(move || h.join().unwrap())
        } else {
            let h = std::thread::spawn(other);
            Box::new(move || h.join().unwrap())
        };
        start.wait();
        cancel_root.cancel();
        let live = below.iter().filter(|c| c.err().is_none()).count();
        assert_eq!(
            live, 0,
            "round {round}: {live} contexts still live after the root's cancel returned"
        );
        h();
    }
}

#[test]
fn cancel_returns_with_the_whole_tree_done_threads() {
    within(120, || race(false));
}

#[test]
fn cancel_returns_with_the_whole_tree_done_goroutines() {
    within(120, || gort::run(|| race(true)));
}
