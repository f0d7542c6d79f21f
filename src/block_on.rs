//! `block_on`: runs a future to completion from blocking code, so that async-only libraries
//! (HTTP clients, database drivers, SDKs) can be called from goroutines.
//!
//! The future is polled on the caller's stack. Between polls the caller parks through the
//! runtime's park seam: a goroutine parks (its M runs other goroutines meanwhile), a plain
//! thread sleeps. The future's `Waker` wakes the park token of the current wait; it may be
//! called from any thread (a tokio worker, a timer thread) and at any time, before or
//! after the caller parks, without losing the wake-up:
//!
//! - the caller polls; on `Pending` it arms a park episode, publishes its token in the
//!   waker's shared state, then checks the `notified` flag before parking;
//! - a wake sets `notified`, then wakes whatever token is published.
//!
//! Either the caller sees `notified` (and polls again without parking), or the waker sees
//! the new token (and ends the episode, so the park returns at once). A wake meant for an
//! earlier episode is harmless: tokens only wake their own episode. The episode is armed
//! after the poll, not before, because a poll may itself call gort's blocking operations
//! (which arm episodes of their own).

use gort_runtime::park::{self, Token};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Runs `future` to completion and returns its output, parking the current goroutine (not
/// its thread) while the future waits; on a plain thread, the thread sleeps.
///
/// The future runs on the caller's stack and is polled by the caller only: it needs no
/// executor. A future that needs a particular runtime to be polled in (a tokio socket or
/// timer, which look for tokio's context) should be spawned on that runtime and its
/// `JoinHandle` passed here, as the `async_client` example does with tokio:
///
/// ```
/// let v = gort::run(|| {
///     let g = gort::go(|| gort::block_on(async { 6 * 7 }));
///     g.join().unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
///
/// Blocking gort calls (channel operations, `time::sleep`) inside the future work, but
/// block the caller inside `poll`, as they would anywhere.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let shared = Arc::new(Shared {
        notified: AtomicBool::new(false),
        token: Mutex::new(None),
    });
    let waker = Waker::from(shared.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            *shared.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
            return v;
        }
        let token = park::prepare_for(park::WaitReason::Park);
        *shared.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        if shared.notified.swap(false, SeqCst) {
            park::cancel(); // woken already: poll again at once
            continue;
        }
        park::park();
        // Consume the wake-up that ended the park (a swap, not a store: it reads, and so
        // synchronises with, any later wake's store, whose cause the next poll must see).
        shared.notified.swap(false, SeqCst);
    }
}

/// The state a [`block_on`] waker shares with its caller.
struct Shared {
    /// Set by every wake; the caller clears it before deciding to park.
    notified: AtomicBool,
    /// The token of the caller's current park episode (`None` while it polls).
    token: Mutex<Option<Token>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, SeqCst);
        let token = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(t) = token {
            t.wake();
        }
    }
}
