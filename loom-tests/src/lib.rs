//! Loom model checks of gort's concurrency protocols.
//!
//! The protocol code lives in `gort-runtime` and is written against its `cfg(loom)` shim
//! (`runtime/src/shim.rs`): built with `RUSTFLAGS="--cfg loom"`, its atomics and its one
//! blocking primitive become loom's, and loom threads stand in for goroutines and plain
//! threads. The models are in `tests/`; run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-loom-tests --release
//! ```
//!
//! Without `--cfg loom` the models compile to nothing.

/// Like `loom::model`, but explores at least `min` preemptions (`None`: every
/// interleaving); the suite runs with `LOOM_MAX_PREEMPTIONS=2`, and the models small enough
/// to afford more ask for it here. Prints how many executions it explored.
#[cfg(loom)]
pub fn model(min: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = match (b.preemption_bound, min) {
        (Some(p), Some(min)) => Some(p.max(min)),
        _ => None,
    };
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = runs.clone();
    b.check(move || {
        r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    eprintln!(
        "explored {} executions",
        runs.load(std::sync::atomic::Ordering::Relaxed)
    );
}
