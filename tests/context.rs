// Copyright 2014, 2016 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/context/context_test.go (2014) and x_test.go (2016)
// (https://github.com/golang/go); Go's LICENSE file is tests/LICENSE-GO. gort's changes are
// described below.

//! Go's `src/context` tests (`x_test.go`, `context_test.go`), ported: each check runs with
//! goroutines and with plain threads as the parties. No test asserts timing; `within` only
//! turns a hang into a failure.

mod common;
mod context_common;

use common::within;
use context_common::*;
use gort::context::{self, Context, Error, Key};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn background_and_todo_never_fire() {
    within(60, || {
        both(|| {
            for c in [context::background(), context::todo()] {
                assert!(!is_done(&c.done()));
                assert_eq!(c.err(), None);
                assert!(c.cause().is_none());
                assert_eq!(c.deadline(), None);
            }
            // One shared never-channel.
            assert!(context::background()
                .done()
                .same_channel(&context::todo().done()));
            assert_eq!(format!("{:?}", context::background()), "context.Background");
            assert_eq!(format!("{:?}", context::todo()), "context.TODO");
        })
    });
}

/// TestWithCancel: a child and a custom wrapper and its child, all cancelled synchronously.
#[test]
fn with_cancel_propagates_synchronously() {
    within(60, || {
        both(|| {
            let (c1, cancel) = context::background().with_cancel();
            let o = other(&c1);
            let (c2, _c2cancel) = o.with_cancel();
            let all = [c1, o, c2];
            for (i, c) in all.iter().enumerate() {
                assert_eq!(c.err(), None, "c[{i}]");
                assert!(!is_done(&c.done()), "c[{i}] done early");
            }
            cancel.cancel();
            for (i, c) in all.iter().enumerate() {
                assert!(is_done(&c.done()), "c[{i}] not done after cancel");
                assert_eq!(c.err(), Some(Error::Canceled), "c[{i}]");
            }
        })
    });
}

/// XTestParentFinishesChild.
#[test]
fn parent_finishes_child() {
    #[derive(PartialEq)]
    struct K;
    impl Key for K {
        type Value = &'static str;
    }
    within(60, || {
        both(|| {
            let (parent, cancel) = context::background().with_cancel();
            let (cancel_child, _stop1) = parent.with_cancel();
            let value_child = parent.with_value(K, "value");
            let (timer_child, _stop2) = value_child.with_timeout(VERY_LONG);
            let _after = parent.after_func(|| {});
            for c in [&parent, &cancel_child, &timer_child, &value_child] {
                assert!(!is_done(&c.done()));
            }
            // The cancelable child, the timer child (through the value child) and the
            // after-func registration.
            assert_eq!(parent.__children(), 3);
            cancel.cancel();
            assert_eq!(parent.__children(), 0, "cancel did not clear the children");
            for (name, c) in [
                ("parent", &parent),
                ("cancelChild", &cancel_child),
                ("valueChild", &value_child),
                ("timerChild", &timer_child),
            ] {
                assert!(is_done(&c.done()), "{name} not done");
                assert_eq!(c.err(), Some(Error::Canceled), "{name}");
            }
            // A child of a cancelled parent is born cancelled.
            let precanceled = parent.with_value(K, "value");
            assert!(is_done(&precanceled.done()));
            assert_eq!(precanceled.err(), Some(Error::Canceled));
            let (born, _c) = parent.with_cancel();
            assert_eq!(born.err(), Some(Error::Canceled));
            assert_eq!(parent.__children(), 0);
        })
    });
}

/// XTestChildFinishesFirst.
#[test]
fn child_finishes_first() {
    within(60, || {
        both(|| {
            let (cancelable, _stop) = context::background().with_cancel();
            for (i, parent) in [context::background(), cancelable].into_iter().enumerate() {
                let (child, cancel) = parent.with_cancel();
                assert!(!is_done(&parent.done()));
                assert!(!is_done(&child.done()));
                if i == 1 {
                    assert_eq!(parent.__children(), 1);
                }
                cancel.cancel();
                assert_eq!(parent.__children(), 0, "child did not remove itself");
                assert!(is_done(&child.done()));
                assert_eq!(child.err(), Some(Error::Canceled));
                assert!(!is_done(&parent.done()));
                assert_eq!(parent.err(), None);
            }
        })
    });
}

/// XTestCancelRemoves, plus: a timer child that fires removes itself too, and a
/// long-running parent's child set does not grow.
#[test]
fn cancel_removes_child_from_parent() {
    within(60, || {
        both(|| {
            let (ctx, _c) = context::background().with_cancel();
            assert_eq!(ctx.__children(), 0);
            let (_, cancel) = ctx.with_cancel();
            assert_eq!(ctx.__children(), 1);
            cancel.cancel();
            assert_eq!(ctx.__children(), 0);

            let (_, cancel) = ctx.with_timeout(Duration::from_secs(3600));
            assert_eq!(ctx.__children(), 1);
            cancel.cancel();
            assert_eq!(ctx.__children(), 0);

            let stop = ctx.after_func(|| {});
            assert_eq!(ctx.__children(), 1);
            stop.stop();
            assert_eq!(ctx.__children(), 0);

            let (t, _keep) = ctx.with_timeout(SHORT);
            wait_done(&t.done(), "timer child");
            assert_eq!(t.err(), Some(Error::DeadlineExceeded));
            // The timer's cancel removes the child before it closes nothing else: allow the
            // callback to finish its removal.
            let until = Instant::now() + Duration::from_secs(30);
            while ctx.__children() != 0 && Instant::now() < until {
                gort::yield_now();
            }
            assert_eq!(ctx.__children(), 0, "an expired child stayed in its parent");

            for _ in 0..10_000 {
                let (_, cancel) = ctx.with_cancel();
                let (_, cancel2) = ctx.with_timeout(VERY_LONG);
                cancel.cancel();
                cancel2.cancel();
            }
            assert_eq!(ctx.__children(), 0);
        })
    });
}

/// TestDeadline and TestTimeout: the deadline fires, through custom wrappers too.
#[test]
fn deadline_and_timeout_fire() {
    within(60, || {
        both(|| {
            let bg = context::background();
            let check = |c: &Context, name: &str| {
                wait_done(&c.done(), name);
                assert_eq!(c.err(), Some(Error::DeadlineExceeded), "{name}");
                assert!(c.err().unwrap().is_timeout());
            };
            let (c, _s) = bg.with_deadline(Instant::now() + SHORT);
            check(&c, "WithDeadline");
            let (c, _s) = bg.with_deadline(Instant::now() + SHORT);
            check(&other(&c), "WithDeadline+otherContext");
            let (c, _s) = bg.with_deadline(Instant::now() + SHORT);
            let (c, _s2) = other(&c).with_deadline(Instant::now() + VERY_LONG);
            check(&c, "WithDeadline+otherContext+WithDeadline");
            let (c, _s) = bg.with_deadline(Instant::now() - SHORT);
            check(&c, "WithDeadline+inthepast");
            let (c, _s) = bg.with_deadline(Instant::now());
            check(&c, "WithDeadline+now");

            let (c, _s) = bg.with_timeout(SHORT);
            check(&c, "WithTimeout");
            let (c, _s) = bg.with_timeout(SHORT);
            check(&other(&c), "WithTimeout+otherContext");
            let (c, _s) = bg.with_timeout(SHORT);
            let (c, _s2) = other(&c).with_timeout(VERY_LONG);
            check(&c, "WithTimeout+otherContext+WithTimeout");
            let (c, _s) = bg.with_timeout(Duration::ZERO);
            check(&c, "WithTimeout(0)");
        })
    });
}

/// Bad input: zero timeouts and past deadlines are expired at once (no waiting at all),
/// cancel twice is a no-op, a missing key is `None`, a huge timeout never fires.
#[test]
fn bad_input() {
    #[derive(PartialEq)]
    struct Missing;
    impl Key for Missing {
        type Value = ();
    }
    within(60, || {
        both(|| {
            let bg = context::background();
            let (c, cancel) = bg.with_timeout(Duration::ZERO);
            assert_eq!(c.err(), Some(Error::DeadlineExceeded));
            assert!(is_done(&c.done()));
            cancel.cancel();
            assert_eq!(c.err(), Some(Error::DeadlineExceeded));
            let (c, _) = bg.with_deadline(Instant::now() - Duration::from_secs(5));
            assert_eq!(c.err(), Some(Error::DeadlineExceeded));
            let (p, _) = bg.with_cancel();
            let (c, _) = p.with_deadline(Instant::now() - Duration::from_secs(5));
            assert_eq!(c.err(), Some(Error::DeadlineExceeded));
            assert_eq!(p.__children(), 0, "an expired child stayed registered");

            let (c, cancel) = bg.with_cancel();
            cancel.cancel();
            cancel.cancel();
            cancel.clone().cancel();
            assert_eq!(c.err(), Some(Error::Canceled));

            assert_eq!(bg.value(&Missing), None);
            assert_eq!(c.value(&Missing), None);

            let (c, cancel) = bg.with_timeout(Duration::MAX);
            assert_eq!(c.deadline(), None);
            assert_eq!(c.err(), None);
            cancel.cancel();
            assert_eq!(c.err(), Some(Error::Canceled));
        })
    });
}

/// TestCanceledTimeout.
#[test]
fn canceled_timeout() {
    within(60, || {
        both(|| {
            let (c, _s) = context::background().with_timeout(Duration::from_secs(1));
            let o = other(&c);
            let (c, cancel) = o.with_timeout(VERY_LONG);
            cancel.cancel();
            assert!(is_done(&c.done()));
            assert_eq!(c.err(), Some(Error::Canceled));
        })
    });
}

#[derive(PartialEq, Debug)]
struct Key1(i32);
impl Key for Key1 {
    type Value = Option<&'static str>;
}
#[derive(PartialEq, Debug)]
struct Key2(i32);
impl Key for Key2 {
    type Value = Option<&'static str>;
}

/// TestValues: same "int" under two key types, two keys of one type, shadowing with nil,
/// through custom wrappers.
#[test]
fn values() {
    let (k1, k2, k3) = (Key1(1), Key2(1), Key2(3));
    let check = |c: &Context, name: &str, v1: &str, v2: &str, v3: &str| {
        let get = |v: Option<&Option<&'static str>>| v.copied().flatten().unwrap_or("");
        assert_eq!(get(c.value(&k1)), v1, "{name}.value(k1)");
        assert_eq!(get(c.value(&k2)), v2, "{name}.value(k2)");
        assert_eq!(get(c.value(&k3)), v3, "{name}.value(k3)");
    };
    let bg = context::background();
    check(&bg, "c0", "", "", "");
    let c1 = bg.with_value(Key1(1), Some("c1k1"));
    check(&c1, "c1", "c1k1", "", "");
    let c2 = c1.with_value(Key2(1), Some("c2k2"));
    check(&c2, "c2", "c1k1", "c2k2", "");
    let c3 = c2.with_value(Key2(3), Some("c3k3"));
    check(&c3, "c3", "c1k1", "c2k2", "c3k3");
    let c4 = c3.with_value(Key1(1), None);
    check(&c4, "c4", "", "c2k2", "c3k3");

    let o0 = other(&bg);
    check(&o0, "o0", "", "", "");
    let o1 = other(&bg.with_value(Key1(1), Some("c1k1")));
    check(&o1, "o1", "c1k1", "", "");
    let o2 = o1.with_value(Key2(1), Some("o2k2"));
    check(&o2, "o2", "c1k1", "o2k2", "");
    let o3 = other(&c4);
    check(&o3, "o3", "", "c2k2", "c3k3");
    let o4 = o3.with_value(Key2(3), None);
    check(&o4, "o4", "", "c2k2", "");

    // Values survive cancellation layers and without_cancel.
    let (c5, cancel) = c4.with_cancel();
    cancel.cancel();
    check(&c5, "c5", "", "c2k2", "c3k3");
    check(&c5.without_cancel(), "c6", "", "c2k2", "c3k3");
}

/// TestSimultaneousCancels: a 100-node tree, every cancel function called at once from
/// goroutines (and from threads), in random order; every context ends done.
#[test]
fn simultaneous_cancels() {
    fn tree() -> Vec<(Context, context::CancelFunc)> {
        let (root, cancel) = context::background().with_cancel();
        let mut all = vec![(root.clone(), cancel)];
        let mut q = std::collections::VecDeque::from([root]);
        while let Some(parent) = q.pop_front() {
            if all.len() >= 100 {
                break;
            }
            for _ in 0..4 {
                let (c, cancel) = parent.with_cancel();
                all.push((c.clone(), cancel));
                q.push_back(c);
            }
        }
        all
    }
    within(120, || {
        for iter in 0..100 {
            let mut all = tree();
            // A cheap shuffle.
            let n = all.len();
            for i in 0..n {
                all.swap(i, (i * 7919 + iter * 31) % n);
            }
            let handles: Vec<Box<dyn FnOnce() + Send>> = all
                .iter()
                .enumerate()
                .map(|(i, (_, cancel))| {
                    let cancel = cancel.clone();
                    let f = move || cancel.cancel();
                    if i % 2 == 0 {
                        let h = gort::go(f);
                        Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() + Send>
                    } else {
                        let h = std::thread::spawn(f);
                        Box::new(move || h.join().unwrap())
                    }
                })
                .collect();
            for (i, (c, _)) in all.iter().enumerate() {
                wait_done(&c.done(), &format!("context {i}"));
                assert_eq!(c.err(), Some(Error::Canceled));
            }
            for h in handles {
                h();
            }
            for (c, _) in &all {
                assert_eq!(c.__children(), 0);
            }
        }
    });
}

/// TestInterlockedCancels: a goroutine (or thread) cancels the child when it sees the
/// parent done.
#[test]
fn interlocked_cancels() {
    within(120, || {
        for i in 0..1000 {
            let (parent, cancel_parent) = context::background().with_cancel();
            let (child, cancel_child) = parent.with_cancel();
            let pd = parent.done();
            let f = move || {
                let _ = pd.recv();
                cancel_child.cancel();
            };
            if i % 2 == 0 {
                drop(gort::go(f));
            } else {
                drop(std::thread::spawn(f));
            }
            cancel_parent.cancel();
            wait_done(&child.done(), "child");
        }
    });
}

/// TestLayersCancel and TestLayersTimeout: random layers of values, cancels and timeouts;
/// cancelling any layer (or the first timeout) ends the innermost, values stay.
fn layers(seed: u64, timeout: bool) {
    #[derive(PartialEq)]
    struct V(usize);
    impl Key for V {
        type Value = usize;
    }
    let mut r = seed;
    let mut rand = move |n: u64| {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r % n
    };
    let mut vals = Vec::new();
    let mut cancels = Vec::new();
    let mut timers = 0;
    let mut ctx = context::background();
    let mut i = 0;
    while i < 30 || timers == 0 || cancels.is_empty() || vals.is_empty() {
        match rand(3) {
            0 => {
                let k = vals.len();
                ctx = ctx.with_value(V(k), k);
                vals.push(k);
            }
            1 => {
                let (c, cancel) = ctx.with_cancel();
                ctx = c;
                cancels.push(cancel);
            }
            _ => {
                let d = if timeout { SHORT } else { VERY_LONG };
                let (c, cancel) = ctx.with_timeout(d);
                ctx = c;
                cancels.push(cancel);
                timers += 1;
            }
        }
        i += 1;
    }
    let check_values = |when: &str| {
        for &k in &vals {
            assert_eq!(ctx.value(&V(k)), Some(&k), "seed={seed} {when}");
        }
    };
    if !timeout {
        assert!(!is_done(&ctx.done()), "seed={seed}: done too early");
    }
    check_values("before cancel");
    if timeout {
        wait_done(&ctx.done(), "layers");
        check_values("after timeout");
    } else {
        cancels[rand(cancels.len() as u64) as usize].cancel();
        assert!(is_done(&ctx.done()), "seed={seed}: ctx should be canceled");
        check_values("after cancel");
    }
}

#[test]
fn layers_cancel() {
    within(120, || {
        for seed in 1..200u64 {
            layers(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), false);
        }
        gort::go(|| layers(12345, false)).join().unwrap();
    });
}

#[test]
fn layers_timeout() {
    within(120, || {
        for seed in 1..50u64 {
            layers(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), true);
        }
        gort::go(|| layers(54321, true)).join().unwrap();
    });
}

/// TestWithCancelCanceledParent.
#[test]
fn with_cancel_of_canceled_parent() {
    within(60, || {
        both(|| {
            let (parent, pcancel) = context::background().with_cancel_cause();
            let because = cause("Because!");
            pcancel.cancel(Some(because.clone()));
            let (c, _) = parent.with_cancel();
            assert!(
                is_done(&c.done()),
                "child not done immediately upon construction"
            );
            assert_eq!(c.err(), Some(Error::Canceled));
            assert!(same(&c.cause(), &Some(because)));
        })
    });
}

/// TestWithCancelSimultaneouslyCanceledParent: cancel the parent concurrently with
/// creating a child.
#[test]
fn with_cancel_simultaneously_canceled_parent() {
    within(120, || {
        for i in 0..2000 {
            let (parent, pcancel) = context::background().with_cancel_cause();
            let because = cause("Because!");
            let b2 = because.clone();
            let f = move || pcancel.cancel(Some(b2));
            if i % 2 == 0 {
                drop(gort::go(f));
            } else {
                drop(std::thread::spawn(f));
            }
            let (c, _) = parent.with_cancel();
            wait_done(&c.done(), "child");
            assert_eq!(c.err(), Some(Error::Canceled));
            assert!(same(&c.cause(), &Some(because)));
        }
    });
}

/// TestDeadlineExceededSupportsTimeout.
#[test]
fn deadline_exceeded_is_timeout() {
    assert!(Error::DeadlineExceeded.is_timeout());
    assert!(!Error::Canceled.is_timeout());
    assert_eq!(Error::Canceled.to_string(), "context canceled");
    assert_eq!(
        Error::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
}

/// TestCauseRace: poll the cause (not done()) while another party cancels.
#[test]
fn cause_race() {
    within(120, || {
        for i in 0..500 {
            let because = cause("TestCauseRace");
            let (ctx, cancel) = context::background().with_cancel_cause();
            let b2 = because.clone();
            let f = move || cancel.cancel(Some(b2));
            if i % 2 == 0 {
                drop(gort::go(f));
            } else {
                drop(std::thread::spawn(f));
            }
            loop {
                if let Some(c) = ctx.cause() {
                    assert!(Arc::ptr_eq(&c, &because));
                    break;
                }
                gort::yield_now();
                std::thread::yield_now();
            }
        }
    });
}

/// TestWithoutCancel.
#[test]
fn without_cancel_keeps_values_only() {
    #[derive(PartialEq)]
    struct K;
    impl Key for K {
        type Value = &'static str;
    }
    within(60, || {
        both(|| {
            let (p, cancel) = context::background()
                .with_value(K, "value")
                .with_timeout(Duration::from_secs(60));
            let ctx = p.without_cancel();
            assert_eq!(ctx.deadline(), None);
            assert!(ctx.done().same_channel(&context::background().done()));
            cancel.cancel();
            assert_eq!(ctx.err(), None);
            assert!(ctx.cause().is_none());
            assert!(!is_done(&ctx.done()));
            assert_eq!(ctx.value(&K), Some(&"value"));
            // Its children are not cancelled by the cut-off parent either.
            let (c, _s) = ctx.with_cancel();
            assert_eq!(c.err(), None);
        })
    });
}

/// TestCustomContextPropagation: a custom context with its own done() over one of ours.
#[test]
fn custom_context_propagation() {
    within(60, || {
        both(|| {
            let because = cause("TestCustomContextPropagation");
            let (tx, rx) = gort::chan::bounded::<()>(0);
            let (ctx1, cancel1) = context::background().with_cancel_cause();
            let ctx2 = Context::from_custom(Arc::new(CustomDone {
                inner: ctx1.clone(),
                done: rx,
            }));
            let (ctx3, _cancel3) = ctx2.with_cancel();
            cancel1.cancel(Some(because.clone()));
            tx.close().unwrap();
            wait_done(&ctx3.done(), "ctx3");
            assert_eq!(ctx3.err(), Some(Error::Canceled));
            assert!(same(&ctx3.cause(), &Some(because)));
        })
    });
}

/// TestCustomContextCause.
#[test]
fn custom_context_cause() {
    within(60, || {
        both(|| {
            let canceled = Some(Error::Canceled.as_cause());
            // Cancelling a custom context: err and cause are Canceled.
            let ccc = CustomCause::new();
            ccc.cancel();
            let c = Context::from_custom(ccc.clone());
            assert_eq!(c.err(), Some(Error::Canceled));
            assert!(same(&c.cause(), &canceled));

            // A child of a custom context cancelled with a cause; the parent is not.
            let ccc = CustomCause::new();
            let parent = Context::from_custom(ccc.clone());
            let (ctx, cancel) = parent.with_cancel_cause();
            let because = cause("TestCustomContextCause");
            cancel.cancel(Some(because.clone()));
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert!(same(&ctx.cause(), &Some(because.clone())));
            assert_eq!(parent.err(), None);
            assert!(parent.cause().is_none());
            // Now cancel the parent: the child keeps its cause; the parent has none.
            ccc.cancel();
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert!(same(&ctx.cause(), &Some(because)));
            assert_eq!(parent.err(), Some(Error::Canceled));
            assert!(same(&parent.cause(), &canceled));

            // A custom context that cancels its child itself.
            let ccc = CustomCause::new();
            let parent = Context::from_custom(ccc.clone());
            let (ctx, cancel) = parent.with_cancel();
            ccc.set_cancel_child(cancel);
            ccc.cancel();
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert!(same(&ctx.cause(), &canceled));
            assert_eq!(parent.err(), Some(Error::Canceled));
            assert!(same(&parent.cause(), &canceled));
        })
    });
}

/// TestContextErrDoneRace (Go issue 75533): once err() is set, done() is closed.
#[test]
fn err_implies_done() {
    within(120, || {
        for i in 0..2000 {
            let (ctx, cancel) = context::background().with_cancel();
            let done = if i % 3 == 0 { None } else { Some(ctx.done()) };
            let f = move || cancel.cancel();
            if i % 2 == 0 {
                drop(gort::go(f));
            } else {
                drop(std::thread::spawn(f));
            }
            while ctx.err().is_none() {
                gort::yield_now();
                std::hint::spin_loop();
            }
            assert!(is_done(&ctx.done()), "err is set but done() is not closed");
            if let Some(d) = done {
                assert!(
                    is_done(&d),
                    "err is set but the earlier done() is not closed"
                );
            }
        }
    });
}

/// The converse, for receivers woken by the close: done() closed means err() is set.
#[test]
fn done_implies_err() {
    within(120, || {
        for i in 0..500 {
            let (ctx, cancel) = context::background().with_cancel();
            let (tx, rx) = gort::chan::bounded::<bool>(8);
            for j in 0..4 {
                let (ctx, tx) = (ctx.clone(), tx.clone());
                let f = move || {
                    let _ = ctx.done().recv();
                    tx.send(ctx.err() == Some(Error::Canceled)).unwrap();
                };
                if (i + j) % 2 == 0 {
                    drop(gort::go(f));
                } else {
                    drop(std::thread::spawn(f));
                }
            }
            cancel.cancel();
            for _ in 0..4 {
                assert!(rx.recv().unwrap(), "woken by done() but err() is None");
            }
        }
    });
}

/// Contexts are cheap handles that cross threads.
#[test]
fn contexts_are_send_sync_and_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Context>();
    assert_send_sync::<context::CancelFunc>();
    assert_send_sync::<context::CancelCauseFunc>();
    assert_send_sync::<context::AfterFuncStop>();
}

/// sleep_ctx: the full sleep on a live context, the context's error when it ends first.
#[test]
fn sleep_ctx_and_recv_ctx() {
    within(60, || {
        both(|| {
            let bg = context::background();
            assert_eq!(context::sleep_ctx(&bg, SHORT), Ok(()));
            let (c, cancel) = bg.with_cancel();
            assert_eq!(context::sleep_ctx(&c, SHORT), Ok(()));
            let done = Arc::new(AtomicUsize::new(0));
            let d2 = done.clone();
            let stop = c.after_func(move || {
                d2.store(1, SeqCst);
            });
            let canceller = gort::go(move || {
                context::sleep_ctx(&context::background(), Duration::from_millis(5)).unwrap();
                cancel.cancel();
            });
            assert_eq!(context::sleep_ctx(&c, VERY_LONG), Err(Error::Canceled));
            canceller.join().unwrap();
            assert!(!stop.stop());
            let (t, _s) = bg.with_timeout(Duration::from_millis(2));
            assert_eq!(
                context::sleep_ctx(&t, VERY_LONG),
                Err(Error::DeadlineExceeded)
            );
            assert_eq!(
                context::sleep_ctx(&t, Duration::ZERO),
                Err(Error::DeadlineExceeded)
            );

            let (tx, rx) = gort::chan::bounded::<i32>(1);
            let (c, cancel) = bg.with_cancel();
            tx.send(7).unwrap();
            assert_eq!(rx.recv_ctx(&c), Ok(7));
            let g = gort::go(move || {
                context::sleep_ctx(&context::background(), Duration::from_millis(2)).unwrap();
                cancel.cancel();
            });
            assert_eq!(
                rx.recv_ctx(&c),
                Err(context::RecvCtxError::Done(Error::Canceled))
            );
            g.join().unwrap();
            tx.send(8).unwrap();
            // A done context wins over a ready value.
            assert_eq!(
                rx.recv_ctx(&c),
                Err(context::RecvCtxError::Done(Error::Canceled))
            );
            assert_eq!(rx.recv_ctx(&bg), Ok(8));
            drop(tx);
            assert_eq!(rx.recv_ctx(&bg), Err(context::RecvCtxError::Disconnected));
            let (_, rx) = gort::chan::bounded::<i32>(1);
            let (c2, _s) = bg.with_timeout(Duration::from_secs(60));
            assert_eq!(rx.recv_ctx(&c2), Err(context::RecvCtxError::Disconnected));
        })
    });
}

/// A context's done() in a select! next to other channels, from many goroutines and
/// threads at once; a deep tree is cancelled from a plain thread.
#[test]
fn done_in_select_wakes_every_waiter() {
    within(120, || {
        for round in 0..20 {
            let (root, cancel) = context::background().with_cancel();
            let mut leaves = vec![root.clone()];
            for _ in 0..3 {
                leaves = leaves
                    .iter()
                    .flat_map(|p| (0..5).map(|_| p.with_cancel().0).collect::<Vec<_>>())
                    .collect();
            }
            let woken = Arc::new(AtomicUsize::new(0));
            let (_keep, other_rx) = gort::chan::bounded::<u8>(0);
            let mut joins: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
            for (i, leaf) in leaves.iter().enumerate() {
                let (leaf, woken, other_rx) = (leaf.clone(), woken.clone(), other_rx.clone());
                let f = move || {
                    gort::select! {
                        recv(other_rx) -> _ => panic!("the other channel fired"),
                        recv(leaf.done()) -> _ => {}
                    }
                    assert_eq!(leaf.err(), Some(Error::Canceled));
                    woken.fetch_add(1, SeqCst);
                };
                if i % 8 == 0 {
                    let h = std::thread::spawn(f);
                    joins.push(Box::new(move || h.join().unwrap()));
                } else {
                    let h = gort::go(f);
                    joins.push(Box::new(move || h.join().unwrap()));
                }
            }
            if round % 2 == 0 {
                std::thread::spawn(move || cancel.cancel()).join().unwrap();
            } else {
                gort::go(move || cancel.cancel()).join().unwrap();
            }
            for j in joins {
                j();
            }
            assert_eq!(woken.load(SeqCst), leaves.len());
        }
    });
}

/// Cancelling a long chain iterates (no recursion), and dropping an uncancelled one too.
#[test]
fn long_chains() {
    within(120, || {
        gort::go(|| {
            let (root, cancel) = context::background().with_cancel();
            let mut c = root.clone();
            for _ in 0..200_000 {
                c = c.with_cancel().0;
            }
            cancel.cancel();
            assert_eq!(c.err(), Some(Error::Canceled));

            let (root, _keep) = context::background().with_cancel();
            let mut c = root.clone();
            let mut cancels = Vec::new();
            for _ in 0..200_000 {
                let (n, cf) = c.with_cancel();
                c = n;
                cancels.push(cf);
            }
            let leaf_done = c.done();
            drop(c);
            drop(root);
            drop(cancels);
            drop(_keep);
            // Nobody can cancel it any more: done() never fires (and nothing crashed).
            assert!(!is_done(&leaf_done));
        })
        .join()
        .unwrap();
    });
}
