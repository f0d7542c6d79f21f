// Copyright 2014, 2016, 2023 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
//
// The custom contexts and helpers of Go's src/context/context_test.go (2014), x_test.go
// (2016) and afterfunc_test.go (2023) (https://github.com/golang/go), ported; Go's LICENSE
// file is tests/LICENSE-GO.

//! Helpers shared by the context tests: running a check on a goroutine and on a plain
//! thread, test causes, and the custom contexts of Go's tests.
#![allow(dead_code)]

use gort::chan::{bounded, never, Receiver, Sender};
use gort::context::{self, AfterFn, Cause, Context, CustomContext, Error, StopFn};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// `std`'s mutex without poisoning noise.
pub struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub fn new(v: T) -> Self {
        Mutex(std::sync::Mutex::new(v))
    }
    pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}
use std::time::{Duration, Instant};

/// "An arbitrary upper bound on the test's running time" (Go's `veryLongDuration`).
pub const VERY_LONG: Duration = Duration::from_secs(1000 * 3600);
/// "A reasonable duration to block in a test" (Go's `shortDuration`).
pub const SHORT: Duration = Duration::from_millis(1);

/// Runs `f` on the calling plain thread, then on a goroutine.
pub fn both(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    f();
    let g = f.clone();
    gort::go(move || g()).join().unwrap();
}

/// A test error with a name.
#[derive(Debug)]
pub struct TestError(pub &'static str);

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TestError {}

/// A fresh cause (compared by identity, like Go's `fmt.Errorf` values).
pub fn cause(name: &'static str) -> Cause {
    Arc::new(TestError(name))
}

/// Whether `got` is the very cause `want`.
pub fn same(got: &Option<Cause>, want: &Option<Cause>) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => {
            Arc::ptr_eq(g, w)
                || (g.downcast_ref::<Error>().is_some()
                    && g.downcast_ref::<Error>() == w.downcast_ref::<Error>())
        }
        _ => false,
    }
}

/// Whether `rx` is closed now (a non-blocking receive would not block).
pub fn is_done(rx: &Receiver<()>) -> bool {
    gort::select! {
        recv(rx) -> _ => true,
        default => false,
    }
}

/// Waits for `rx` to close, failing after a generous timeout (a hang, not a timing check).
pub fn wait_done(rx: &Receiver<()>, what: &str) {
    if rx.recv_timeout(Duration::from_secs(30)).is_ok() {
        panic!("{what}: done() delivered a value");
    }
    assert!(rx.is_closed(), "{what}: not done after 30 s");
}

/// Go's `otherContext`: a custom context embedding one of ours and forwarding everything.
pub struct Other(pub Context);

impl CustomContext for Other {
    fn deadline(&self) -> Option<Instant> {
        self.0.deadline()
    }
    fn done(&self) -> Option<Receiver<()>> {
        Some(self.0.done())
    }
    fn err(&self) -> Option<Error> {
        self.0.err()
    }
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        self.0.value_any(key)
    }
}

pub fn other(c: &Context) -> Context {
    Context::from_custom(Arc::new(Other(c.clone())))
}

/// Go's `myDoneCtx`: forwards everything but `done()`, which is a fresh channel that never
/// fires: it must not be mistaken for the wrapped context's.
pub struct MyDone(pub Context);

impl CustomContext for MyDone {
    fn done(&self) -> Option<Receiver<()>> {
        Some(never())
    }
    fn err(&self) -> Option<Error> {
        self.0.err()
    }
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        self.0.value_any(key)
    }
}

/// Go's `customDoneContext`: the wrapped context's values, its own `done()` channel.
pub struct CustomDone {
    pub inner: Context,
    pub done: Receiver<()>,
}

impl CustomContext for CustomDone {
    fn done(&self) -> Option<Receiver<()>> {
        Some(self.done.clone())
    }
    fn err(&self) -> Option<Error> {
        self.inner.err()
    }
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        self.inner.value_any(key)
    }
}

/// Go's `afterFuncContext`: a custom context with an `after_func` hook.
#[derive(Default)]
pub struct AfterFuncContext {
    state: Arc<Mutex<AfterState>>,
}

#[derive(Default)]
struct AfterState {
    funcs: HashMap<u64, AfterFn>,
    next: u64,
    done: Option<(Sender<()>, Receiver<()>)>,
    err: Option<Error>,
}

impl AfterFuncContext {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Registered hooks now.
    pub fn hooks(&self) -> usize {
        self.state.lock().funcs.len()
    }
    /// Cancels it: runs every hook on its own goroutine.
    pub fn cancel(&self, err: Error) {
        let mut s = self.state.lock();
        if s.err.is_some() {
            return;
        }
        s.err = Some(err);
        if let Some((tx, _)) = &s.done {
            let _ = tx.close();
        }
        for (_, f) in s.funcs.drain() {
            drop(gort::go(f));
        }
    }
}

impl CustomContext for AfterFuncContext {
    fn done(&self) -> Option<Receiver<()>> {
        let mut s = self.state.lock();
        let already = s.err.is_some();
        let (tx, rx) = s.done.get_or_insert_with(|| bounded(0));
        if already {
            let _ = tx.close();
        }
        Some(rx.clone())
    }
    fn err(&self) -> Option<Error> {
        self.state.lock().err
    }
    fn after_func(&self, f: AfterFn) -> Result<StopFn, AfterFn> {
        let mut s = self.state.lock();
        let k = s.next;
        s.next += 1;
        s.funcs.insert(k, f);
        let state = self.state.clone();
        Ok(Box::new(move || state.lock().funcs.remove(&k).is_some()))
    }
}

/// Go's `customCauseContext`: its own done channel and error, and optionally a child to
/// cancel with it.
pub struct CustomCause {
    state: Mutex<(Option<Error>, Option<context::CancelFunc>)>,
    tx: Sender<()>,
    rx: Receiver<()>,
}

impl CustomCause {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = bounded(0);
        Arc::new(CustomCause {
            state: Mutex::new((None, None)),
            tx,
            rx,
        })
    }
    pub fn cancel(&self) {
        let child = {
            let mut s = self.state.lock();
            s.0 = Some(Error::Canceled);
            let _ = self.tx.close();
            s.1.take()
        };
        if let Some(c) = child {
            c.cancel();
        }
    }
    pub fn set_cancel_child(&self, c: context::CancelFunc) {
        self.state.lock().1 = Some(c);
    }
}

impl CustomContext for CustomCause {
    fn done(&self) -> Option<Receiver<()>> {
        Some(self.rx.clone())
    }
    fn err(&self) -> Option<Error> {
        self.state.lock().0
    }
}

/// Go's `customContext` (`newCustomContext`): a custom context driven by `after_func` on
/// its parent.
pub struct NewCustom {
    parent: Context,
    state: Mutex<Option<Error>>,
    tx: Sender<()>,
    rx: Receiver<()>,
}

impl NewCustom {
    fn finish(&self, err: Option<Error>) {
        let mut s = self.state.lock();
        if s.is_none() {
            *s = Some(err.unwrap_or(Error::Canceled));
            let _ = self.tx.close();
        }
    }
}

/// Go's `newCustomContext(parent)`.
pub fn new_custom(parent: &Context) -> (Context, impl Fn()) {
    let (tx, rx) = bounded(0);
    let c = Arc::new(NewCustom {
        parent: parent.clone(),
        state: Mutex::new(None),
        tx,
        rx,
    });
    let c2 = c.clone();
    let p = parent.clone();
    drop(parent.after_func(move || c2.finish(p.err())));
    let c3 = c.clone();
    (Context::from_custom(c), move || {
        c3.finish(Some(Error::Canceled))
    })
}

impl CustomContext for NewCustom {
    fn deadline(&self) -> Option<Instant> {
        self.parent.deadline()
    }
    fn done(&self) -> Option<Receiver<()>> {
        Some(self.rx.clone())
    }
    fn err(&self) -> Option<Error> {
        if self.rx.is_closed() {
            *self.state.lock()
        } else {
            None
        }
    }
    fn value(&self, key: &dyn Any) -> Option<&(dyn Any + Send + Sync)> {
        self.parent.value_any(key)
    }
}
