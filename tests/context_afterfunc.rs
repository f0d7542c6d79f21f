// Copyright 2016, 2023 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/context/x_test.go (2016) and afterfunc_test.go (2023)
// (https://github.com/golang/go); Go's LICENSE file is tests/LICENSE-GO. gort's changes are
// described below.

//! Go's AfterFunc tests (`x_test.go`) and `afterfunc_test.go` (custom contexts with an
//! `after_func` hook), with goroutines and threads as the parties.

mod common;
mod context_common;

use common::within;
use context_common::*;
use gort::chan::bounded;
use gort::context::{self, Context, Error};
use std::time::Duration;

/// A channel that `f` closes: `(closer, done)`.
fn signal() -> (gort::chan::Sender<()>, gort::chan::Receiver<()>) {
    bounded(0)
}

/// Asserts `rx` stays open for a little while (the absence of an event; not a timing
/// assertion: a late wrong event can only make this pass, never fail spuriously).
fn stays_open(rx: &gort::chan::Receiver<()>, what: &str) {
    assert!(
        rx.recv_timeout(Duration::from_millis(2)).is_err() && !rx.is_closed(),
        "{what}"
    );
}

#[test]
fn after_func_called_after_cancel() {
    within(60, || {
        both(|| {
            for _ in 0..50 {
                let (ctx, cancel) = context::background().with_cancel();
                let (tx, rx) = signal();
                let stop = context::after_func(&ctx, move || drop(tx));
                stays_open(&rx, "AfterFunc called before context is done");
                cancel.cancel();
                wait_done(&rx, "AfterFunc not called after context is canceled");
                assert!(!stop.stop(), "stop() = true, want false");
            }
        })
    });
}

#[test]
fn after_func_called_after_timeout() {
    within(60, || {
        both(|| {
            let (ctx, _cancel) = context::background().with_timeout(SHORT);
            let (tx, rx) = signal();
            ctx.after_func(move || drop(tx));
            wait_done(&rx, "AfterFunc not called after timeout");
        })
    });
}

#[test]
fn after_func_called_immediately() {
    within(60, || {
        both(|| {
            let (ctx, cancel) = context::background().with_cancel();
            cancel.cancel();
            let (tx, rx) = signal();
            ctx.after_func(move || drop(tx));
            wait_done(&rx, "AfterFunc not called for already-canceled context");
        })
    });
}

#[test]
fn after_func_not_called_after_stop() {
    within(60, || {
        both(|| {
            let (ctx, cancel) = context::background().with_cancel();
            let (tx, rx) = signal();
            let stop = ctx.after_func(move || drop(tx));
            assert!(stop.stop(), "stop() = false, want true");
            cancel.cancel();
            // Stopping dropped the function (and so its sender) without running it; it
            // must not have been called: the channel closed by the drop carries no value,
            // and a second stop says false.
            assert!(!stop.stop(), "stop() = true, want false");
            assert_eq!(ctx.__children(), 0);
            let _ = rx;
        })
    });
}

#[test]
fn after_func_not_run_after_stop_counted() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    within(60, || {
        both(|| {
            let runs = Arc::new(AtomicUsize::new(0));
            for _ in 0..200 {
                let (ctx, cancel) = context::background().with_cancel();
                let r = runs.clone();
                let stop = ctx.after_func(move || {
                    r.fetch_add(1, SeqCst);
                });
                assert!(stop.stop());
                cancel.cancel();
            }
            gort::time::sleep(Duration::from_millis(5));
            assert_eq!(runs.load(SeqCst), 0, "a stopped AfterFunc ran");
        })
    });
}

/// Exactly one of {stop returns true, f runs} under a race between stop and cancel.
#[test]
fn after_func_stop_races_cancel() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    within(120, || {
        for i in 0..2000 {
            let (ctx, cancel) = context::background().with_cancel();
            let runs = Arc::new(AtomicUsize::new(0));
            let r = runs.clone();
            let (tx, rx) = bounded::<()>(1);
            let stop = ctx.after_func(move || {
                r.fetch_add(1, SeqCst);
                let _ = tx.send(());
            });
            let f = move || cancel.cancel();
            let h: Box<dyn FnOnce() + Send> = if i % 2 == 0 {
                let h = gort::go(f);
                Box::new(move || h.join().unwrap())
            } else {
                let h = std::thread::spawn(f);
                Box::new(move || h.join().unwrap())
            };
            let stopped = stop.stop();
            h();
            if stopped {
                assert!(rx.recv().is_err(), "stopped, yet ran");
                assert_eq!(runs.load(SeqCst), 0);
            } else {
                rx.recv().expect("not stopped, so it must run");
                assert_eq!(runs.load(SeqCst), 1);
            }
            assert!(!stop.stop());
        }
    });
}

/// TestAfterFuncCalledAsynchronously: cancel does not wait for the function.
#[test]
fn after_func_called_asynchronously() {
    within(60, || {
        both(|| {
            let (ctx, cancel) = context::background().with_cancel();
            let (tx, rx) = bounded::<()>(0);
            let stop = ctx.after_func(move || {
                tx.send(()).unwrap(); // blocks until the test receives
            });
            cancel.cancel(); // must return although the function blocks
            rx.recv()
                .expect("AfterFunc not called after context is canceled");
            stop.stop();
        })
    });
}

#[test]
fn after_func_on_background_never_runs_and_stops() {
    within(60, || {
        both(|| {
            let (tx, rx) = signal();
            let stop = context::background().after_func(move || drop(tx));
            assert!(stop.stop());
            assert!(!stop.stop());
            let _ = rx;
        })
    });
}

/// TestCustomContextAfterFuncCancel.
#[test]
fn custom_after_func_cancel() {
    within(60, || {
        both(|| {
            let ctx0 = AfterFuncContext::new();
            let (ctx1, _cancel) = Context::from_custom(ctx0.clone()).with_cancel();
            ctx0.cancel(Error::Canceled);
            wait_done(&ctx1.done(), "ctx1");
            assert_eq!(ctx1.err(), Some(Error::Canceled));
        })
    });
}

/// TestCustomContextAfterFuncTimeout.
#[test]
fn custom_after_func_timeout() {
    within(60, || {
        both(|| {
            let ctx0 = AfterFuncContext::new();
            let (ctx1, _cancel) = Context::from_custom(ctx0.clone()).with_timeout(VERY_LONG);
            ctx0.cancel(Error::Canceled);
            wait_done(&ctx1.done(), "ctx1");
        })
    });
}

/// TestCustomContextAfterFuncAfterFunc.
#[test]
fn custom_after_func_after_func() {
    within(60, || {
        both(|| {
            let ctx0 = AfterFuncContext::new();
            let (tx, rx) = signal();
            let stop = context::after_func(&Context::from_custom(ctx0.clone()), move || drop(tx));
            ctx0.cancel(Error::Canceled);
            wait_done(&rx, "after func");
            assert!(!stop.stop());
        })
    });
}

/// TestCustomContextAfterFuncUnregisterCancel / Timeout / AfterFunc: cancelling or stopping
/// a derived context deregisters it from the custom parent's hook.
#[test]
fn custom_after_func_unregister() {
    within(60, || {
        both(|| {
            let ctx0 = AfterFuncContext::new();
            let c0 = Context::from_custom(ctx0.clone());
            let (_, cancel1) = c0.with_cancel();
            let (_, cancel2) = c0.with_cancel();
            assert_eq!(ctx0.hooks(), 2);
            cancel1.cancel();
            cancel2.cancel();
            assert_eq!(ctx0.hooks(), 0);

            let (_, cancel) = c0.with_timeout(VERY_LONG);
            assert_eq!(ctx0.hooks(), 1);
            cancel.cancel();
            assert_eq!(ctx0.hooks(), 0);

            let stop = c0.after_func(|| {});
            assert_eq!(ctx0.hooks(), 1);
            assert!(stop.stop());
            assert_eq!(ctx0.hooks(), 0);
        })
    });
}
