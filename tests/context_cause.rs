// Copyright 2016 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/context/x_test.go (https://github.com/golang/go); Go's LICENSE file is
// tests/LICENSE-GO. gort's changes are described below.

//! Go's TestCause table (`x_test.go`: 23 cases), plus four more for the `_cause` deadline
//! forms and value layers; each case is built and checked on a plain thread and on a
//! goroutine.

mod common;
mod context_common;

use common::within;
use context_common::*;
use gort::context::{self, Cause, Context, Error, Key};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    ctx: fn(&Causes) -> Context,
    err: Option<Error>,
    cause: fn(&Causes) -> Option<Cause>,
}

/// The named causes of Go's test.
struct Causes {
    parent: Cause,
    child: Cause,
    too_slow: Cause,
    finished_early: Cause,
}

const FOREVER: Duration = Duration::from_secs(1_000_000);

#[derive(PartialEq)]
struct K;
impl Key for K {
    type Value = u8;
}

fn none(_: &Causes) -> Option<Cause> {
    None
}
fn canceled(_: &Causes) -> Option<Cause> {
    Some(Error::Canceled.as_cause())
}
fn deadline(_: &Causes) -> Option<Cause> {
    Some(Error::DeadlineExceeded.as_cause())
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Background",
            ctx: |_| context::background(),
            err: None,
            cause: none,
        },
        Case {
            name: "TODO",
            ctx: |_| context::todo(),
            err: None,
            cause: none,
        },
        Case {
            name: "WithCancel",
            ctx: |_| {
                let (c, cancel) = context::background().with_cancel();
                cancel.cancel();
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithCancelCause",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                cancel.cancel(Some(k.parent.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.parent.clone()),
        },
        Case {
            name: "WithCancelCause nil",
            ctx: |_| {
                let (c, cancel) = context::background().with_cancel_cause();
                cancel.cancel(None);
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithCancelCause: parent cause before child",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel_cause();
                let (c, cancel_child) = c.with_cancel_cause();
                cancel_parent.cancel(Some(k.parent.clone()));
                cancel_child.cancel(Some(k.child.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.parent.clone()),
        },
        Case {
            name: "WithCancelCause: parent cause after child",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel_cause();
                let (c, cancel_child) = c.with_cancel_cause();
                cancel_child.cancel(Some(k.child.clone()));
                cancel_parent.cancel(Some(k.parent.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.child.clone()),
        },
        Case {
            name: "WithCancelCause: parent cause before nil",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel_cause();
                let (c, cancel_child) = c.with_cancel();
                cancel_parent.cancel(Some(k.parent.clone()));
                cancel_child.cancel();
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.parent.clone()),
        },
        Case {
            name: "WithCancelCause: parent cause after nil",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel_cause();
                let (c, cancel_child) = c.with_cancel();
                cancel_child.cancel();
                cancel_parent.cancel(Some(k.parent.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithCancelCause: child cause after nil",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel();
                let (c, cancel_child) = c.with_cancel_cause();
                cancel_parent.cancel();
                cancel_child.cancel(Some(k.child.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithCancelCause: child cause before nil",
            ctx: |k| {
                let (c, cancel_parent) = context::background().with_cancel();
                let (c, cancel_child) = c.with_cancel_cause();
                cancel_child.cancel(Some(k.child.clone()));
                cancel_parent.cancel();
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.child.clone()),
        },
        Case {
            name: "WithTimeout",
            ctx: |_| {
                let (c, cancel) = context::background().with_timeout(Duration::ZERO);
                cancel.cancel();
                c
            },
            err: Some(Error::DeadlineExceeded),
            cause: deadline,
        },
        Case {
            name: "WithTimeout canceled",
            ctx: |_| {
                let (c, cancel) = context::background().with_timeout(FOREVER);
                cancel.cancel();
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithTimeoutCause",
            ctx: |k| {
                let (c, cancel) =
                    context::background().with_timeout_cause(Duration::ZERO, k.too_slow.clone());
                cancel.cancel();
                c
            },
            err: Some(Error::DeadlineExceeded),
            cause: |k| Some(k.too_slow.clone()),
        },
        Case {
            name: "WithTimeoutCause canceled",
            ctx: |k| {
                let (c, cancel) =
                    context::background().with_timeout_cause(FOREVER, k.too_slow.clone());
                cancel.cancel();
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "WithTimeoutCause stacked",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                let (c, _) = c.with_timeout_cause(Duration::ZERO, k.too_slow.clone());
                cancel.cancel(Some(k.finished_early.clone()));
                c
            },
            err: Some(Error::DeadlineExceeded),
            cause: |k| Some(k.too_slow.clone()),
        },
        Case {
            name: "WithTimeoutCause stacked canceled",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                let (c, _) = c.with_timeout_cause(FOREVER, k.too_slow.clone());
                cancel.cancel(Some(k.finished_early.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.finished_early.clone()),
        },
        Case {
            name: "WithoutCancel",
            ctx: |_| context::background().without_cancel(),
            err: None,
            cause: none,
        },
        Case {
            name: "WithoutCancel canceled",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                let c = c.without_cancel();
                cancel.cancel(Some(k.finished_early.clone()));
                c
            },
            err: None,
            cause: none,
        },
        Case {
            name: "WithoutCancel timeout",
            ctx: |k| {
                let (c, cancel) =
                    context::background().with_timeout_cause(Duration::ZERO, k.too_slow.clone());
                let c = c.without_cancel();
                cancel.cancel();
                c
            },
            err: None,
            cause: none,
        },
        Case {
            name: "parent of custom context not canceled",
            ctx: |_| {
                let (c, _) = context::background().with_cancel_cause();
                let (c, cancel2) = new_custom(&c);
                cancel2();
                c
            },
            err: Some(Error::Canceled),
            cause: canceled,
        },
        Case {
            name: "parent of custom context is canceled before",
            ctx: |k| {
                let (c, cancel1) = context::background().with_cancel_cause();
                let (c, cancel2) = new_custom(&c);
                cancel1.cancel(Some(k.parent.clone()));
                // The custom context learns of it on its after_func goroutine.
                wait_done(&c.done(), "custom");
                cancel2();
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.parent.clone()),
        },
        Case {
            name: "parent of custom context is canceled after",
            ctx: |k| {
                let (c, cancel1) = context::background().with_cancel_cause();
                let (c, cancel2) = new_custom(&c);
                cancel2();
                cancel1.cancel(Some(k.parent.clone()));
                c
            },
            err: Some(Error::Canceled),
            // As in Go: not really right (the child was cancelled first), but a custom
            // context cannot tell; the cause comes from the nearest gort node.
            cause: |k| Some(k.parent.clone()),
        },
        // Beyond Go's table.
        Case {
            name: "WithDeadlineCause in the past",
            ctx: |k| {
                let at = Instant::now() - Duration::from_secs(1);
                context::background()
                    .with_deadline_cause(at, k.too_slow.clone())
                    .0
            },
            err: Some(Error::DeadlineExceeded),
            cause: |k| Some(k.too_slow.clone()),
        },
        Case {
            name: "WithDeadlineCause under an earlier parent deadline",
            ctx: |k| {
                let (p, _) = context::background().with_timeout(Duration::ZERO);
                p.with_deadline_cause(Instant::now() + FOREVER, k.too_slow.clone())
                    .0
            },
            err: Some(Error::DeadlineExceeded),
            cause: deadline,
        },
        Case {
            name: "WithValue over WithCancelCause",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                let c = c.with_value(K, 1);
                cancel.cancel(Some(k.child.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.child.clone()),
        },
        Case {
            name: "custom wrapper of WithCancelCause",
            ctx: |k| {
                let (c, cancel) = context::background().with_cancel_cause();
                let c = other(&c);
                cancel.cancel(Some(k.parent.clone()));
                c
            },
            err: Some(Error::Canceled),
            cause: |k| Some(k.parent.clone()),
        },
    ]
}

fn run_cases() {
    let k = Causes {
        parent: cause("parentCause"),
        child: cause("childCause"),
        too_slow: cause("tooSlow"),
        finished_early: cause("finishedEarly"),
    };
    let cases = cases();
    assert_eq!(cases.len(), 27);
    for case in cases {
        let ctx = (case.ctx)(&k);
        assert_eq!(ctx.err(), case.err, "{}: err", case.name);
        let (got, want) = (ctx.cause(), (case.cause)(&k));
        assert!(
            same(&got, &want),
            "{}: cause = {got:?}, want {want:?}",
            case.name
        );
        assert!(same(&context::cause(&ctx), &want), "{}", case.name);
    }
}

#[test]
fn cause_table() {
    within(60, || {
        let _ = Arc::new(());
        both(run_cases);
    });
}
