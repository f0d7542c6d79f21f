//! The cancel-tree workload's parts, shared by `benches/context.rs` and
//! `examples/ctx_tree_phases.rs`: the tree (fan-out 10, depth 4: 11,110 contexts, 10,000
//! leaves) and the WaitGroup its goroutines finish on.

use gort::context::Context;
use gort::sync::WaitGroup;

/// Children per context.
pub const FANOUT: usize = 10;
/// Levels below the root.
pub const DEPTH: usize = 4;

/// The wait for the leaves' goroutines: a `gort::sync::WaitGroup` counting them, leaked per
/// tree so goroutines capture a plain reference (as Go closures capture `&wg`).
pub struct Wg(WaitGroup);

impl Wg {
    /// A group with `n` added, before any goroutine can call `done`.
    pub fn new(n: usize) -> &'static Wg {
        let wg = Box::leak(Box::new(Wg(WaitGroup::new())));
        wg.0.add(i32::try_from(n).expect("at most i32::MAX leaves"));
        wg
    }
    /// One of the `n` is done.
    pub fn done(&self) {
        self.0.done();
    }
    /// Waits for all `n`.
    pub fn wait(&self) {
        self.0.wait();
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
