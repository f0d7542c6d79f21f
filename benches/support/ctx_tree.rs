//! The cancel-tree workload's parts, shared by `benches/context.rs` and
//! `examples/ctx_tree_phases.rs`: the tree (fan-out 10, depth 4: 11,110 contexts, 10,000
//! leaves) and a minimal WaitGroup over the park seam.

use gort::context::Context;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};

/// Children per context.
pub const FANOUT: usize = 10;
/// Levels below the root.
pub const DEPTH: usize = 4;

/// A minimal WaitGroup over the park seam (as in `spawn_join.rs`), leaked per tree so
/// goroutines capture a plain reference. The waiter's token is armed in `new`, before any
/// goroutine can call `done`.
pub struct Wg {
    n: AtomicUsize,
    waiter: gort::park::Token,
}

impl Wg {
    /// A group waiting for `n` calls of `done`.
    pub fn new(n: usize) -> &'static Wg {
        Box::leak(Box::new(Wg {
            n: AtomicUsize::new(n + 1),
            waiter: gort::park::prepare(),
        }))
    }
    /// One of the `n` is done.
    pub fn done(&self) {
        if self.n.fetch_sub(1, AcqRel) == 1 {
            self.waiter.wake();
        }
    }
    /// Waits for all `n` (on the goroutine or thread that called `new`).
    pub fn wait(&self) {
        if self.n.fetch_sub(1, AcqRel) == 1 {
            gort::park::cancel();
        } else {
            gort::park::park();
        }
    }
}

/// Builds the tree below `root`; returns its leaves (the root's cancel ends them all).
pub fn build_tree(root: &Context) -> Vec<Context> {
    let mut level = vec![root.clone()];
    for _ in 0..DEPTH {
        let mut next = Vec::with_capacity(level.len() * FANOUT);
        for p in &level {
            for _ in 0..FANOUT {
                next.push(p.with_cancel().0);
            }
        }
        level = next;
    }
    level
}
