// Copyright 2014, 2016 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// Ported from Go's src/context/context_test.go (2014) and x_test.go (2016)
// (https://github.com/golang/go); Go's LICENSE file is tests/LICENSE-GO. gort's changes are
// described below.

//! Go's XTestCustomContextGoroutines, alone in its binary: it counts the watcher goroutines
//! that contexts derived from custom parents start, a process-wide counter.

mod common;
mod context_common;

use common::within;
use context_common::*;
use gort::context::{self, Context};
use std::sync::Arc;

/// XTestCustomContextGoroutines: a goroutine per child only for a custom parent whose
/// `done()` is not one of ours and that offers no hook.
#[test]
fn custom_context_goroutines() {
    within(60, || {
        let mut g = context::__watcher_goroutines();
        let mut created = |want: usize| {
            let now = context::__watcher_goroutines();
            assert_eq!(now - g, want, "watcher goroutines created");
            g = now;
        };
        let bg = context::background();
        let (_, c0) = Context::from_custom(Arc::new(MyDone(bg.clone()))).with_cancel();
        c0.cancel();
        created(1);
        let (_, c0) = Context::from_custom(Arc::new(MyDone(bg.clone()))).with_timeout(VERY_LONG);
        c0.cancel();
        created(1);

        let (ctx1, cancel1) = bg.with_cancel();
        created(0);
        let ctx2 = other(&ctx1);
        let (ctx3, _cancel3) = ctx2.with_cancel();
        created(0);
        let (_, _cancel3b) = Context::from_custom(Arc::new(MyDone(ctx2.clone()))).with_cancel();
        created(1); // ctx1's done() is not the one MyDone returns: must not be hooked
        let (ctx4, _cancel4) = ctx3.with_timeout(VERY_LONG);
        created(0);
        let (ctx5, cancel5) = ctx4.with_cancel();
        created(0);
        cancel5.cancel();
        created(0);
        let (_, cancel6) = ctx5.with_timeout(VERY_LONG);
        created(0);
        cancel6.cancel();
        cancel1.cancel();
        let (_, _cancel7) = ctx5.with_cancel();
        created(0);
        // Hooks instead of goroutines for a custom parent with after_func.
        let a = AfterFuncContext::new();
        let ac = Context::from_custom(a.clone());
        let (_, c) = ac.with_cancel();
        let (_, t) = ac.with_timeout(VERY_LONG);
        let s = ac.after_func(|| {});
        created(0);
        c.cancel();
        t.cancel();
        s.stop();
    });
}
