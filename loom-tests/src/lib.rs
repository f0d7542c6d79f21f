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
