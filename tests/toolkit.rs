//! Go's everyday toolkit: drop guards (`acquire_permit`, `add_guard`), `join_timeout` and
//! `done`, `scope`, `sync::Group` (errgroup), `time::Timer` and `time::after_func`. Each is
//! exercised from a goroutine and from a plain thread.

mod common;
use common::within;
use gort::chan::{bounded, RecvTimeoutError};
use gort::context::{self, Error};
use gort::sync::{Group, Semaphore, WaitGroup};
use gort::time::{after_func, Timer};
use gort::{select, JoinHandleExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Long enough to only turn a hang into a failure.
const LONG: Duration = Duration::from_secs(30);

/// Runs `f` on a plain thread, then as the main goroutine.
fn on_thread_and_goroutine(f: fn()) {
    within(120, move || {
        std::thread::spawn(f).join().unwrap();
        gort::run(f);
    });
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

// ---- guards ----

#[test]
fn permit_releases_on_drop_and_on_panic() {
    on_thread_and_goroutine(|| {
        let sem = Arc::new(Semaphore::new(3));
        {
            let p = sem.acquire_permit(2);
            assert_eq!(p.units(), 2);
            assert_eq!(sem.available(), 1);
            assert!(sem.try_acquire_permit(2).is_none());
        }
        assert_eq!(sem.available(), 3);
        // A panicking holder still releases (Go's `defer sem.Release(1)`).
        let s2 = sem.clone();
        let r = gort::go(move || {
            let _p = s2.acquire_permit_owned(3);
            panic!("holder fails");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(sem.available(), 3);
        // Permits bound concurrency across many goroutines.
        let live = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let (sem, live, max) = (sem.clone(), live.clone(), max.clone());
                gort::go(move || {
                    let _p = sem.acquire_permit_owned(1);
                    let n = live.fetch_add(1, SeqCst) + 1;
                    max.fetch_max(n, SeqCst);
                    gort::yield_now();
                    live.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(max.load(SeqCst) <= 3);
        assert_eq!(sem.available(), 3);
    });
}

#[test]
fn done_guard_counts_down_on_drop_and_on_panic() {
    on_thread_and_goroutine(|| {
        let wg = Arc::new(WaitGroup::new());
        for i in 0..100 {
            let done = wg.add_guard_owned();
            drop(gort::go(move || {
                let _done = done;
                if i % 10 == 0 {
                    panic!("task {i} fails"); // `done` still runs
                }
            }));
        }
        wg.wait();
        assert_eq!(wg.count(), 0);
        let local = WaitGroup::new();
        let g = local.add_guard();
        assert_eq!(local.count(), 1);
        drop(g);
        local.wait();
    });
}

// ---- join_timeout and done ----

#[test]
fn join_timeout_gives_the_handle_back_then_joins() {
    on_thread_and_goroutine(|| {
        for _ in 0..50 {
            let (tx, rx) = bounded::<()>(0);
            let h = gort::go(move || {
                let _ = rx.recv();
                42
            });
            let h = match h.join_timeout(Duration::from_millis(1)) {
                Err(h) => h,
                Ok(_) => panic!("joined a goroutine that cannot have ended"),
            };
            assert!(!h.is_finished());
            drop(tx);
            assert_eq!(h.join_timeout(LONG).expect("ended").unwrap(), 42);
        }
        // Racing the end of the goroutine against the timeout never loses the result.
        for i in 0..500u64 {
            let h = gort::go(move || i);
            let r = match h.join_timeout(Duration::from_micros(i % 7)) {
                Ok(r) => r,
                Err(h) => h.join(),
            };
            assert_eq!(r.unwrap(), i);
        }
        // A panic comes back through join_timeout too.
        let h = gort::go(|| panic!("boom"));
        let p = h.join_timeout(LONG).expect("ended").unwrap_err();
        assert_eq!(panic_message(&*p), "boom");
    });
}

#[test]
fn done_fires_in_select_when_the_goroutine_ends() {
    on_thread_and_goroutine(|| {
        for i in 0..200u64 {
            let (tx, rx) = bounded::<()>(0);
            let h = gort::go(move || {
                let _ = rx.recv();
                i
            });
            let done = h.done();
            let done2 = done.clone();
            assert!(done.recv_timeout(Duration::from_micros(10)).is_err());
            drop(tx);
            select! {
                recv(done) -> r => assert!(r.is_err(), "done is closed, never sent on"),
                recv(gort::time::after(LONG)) -> _ => panic!("done never fired"),
            }
            assert!(h.is_finished());
            // Every receiver sees it; a done() made after the end fires at once.
            assert!(matches!(
                done2.recv_timeout(LONG),
                Err(RecvTimeoutError::Disconnected)
            ));
            assert!(h.done().recv_timeout(LONG).is_err());
            assert_eq!(h.join().unwrap(), i);
        }
    });
}

// ---- scope ----

#[test]
fn scope_goroutines_borrow_and_are_joined() {
    on_thread_and_goroutine(|| {
        for _ in 0..20 {
            let mut counts = vec![0usize; 64];
            let total = AtomicUsize::new(0);
            let wg = WaitGroup::new();
            gort::scope(|s| {
                for (i, c) in counts.iter_mut().enumerate() {
                    let (total, done) = (&total, wg.add_guard());
                    s.go(move || {
                        let _done = done;
                        gort::yield_now();
                        *c = i * 2;
                        total.fetch_add(i, SeqCst);
                    });
                }
                wg.wait();
                let h = s.go(|| total.load(SeqCst));
                assert_eq!(h.join().unwrap(), (0..64).sum::<usize>());
            });
            assert_eq!(counts, (0..64).map(|i| i * 2).collect::<Vec<_>>());
            // Nested: a scoped goroutine starts more on the same scope.
            let hits = AtomicUsize::new(0);
            gort::scope(|s| {
                for _ in 0..8 {
                    s.go(|| {
                        for _ in 0..8 {
                            s.go(|| hits.fetch_add(1, SeqCst));
                        }
                    });
                }
            });
            assert_eq!(hits.load(SeqCst), 64);
        }
    });
}

#[test]
fn scope_resumes_the_first_unjoined_panic_after_joining_all() {
    on_thread_and_goroutine(|| {
        let finished = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            gort::scope(|s| {
                s.go(|| panic!("first"));
                for _ in 0..10 {
                    s.go(|| {
                        gort::time::sleep(Duration::from_millis(2));
                        finished.fetch_add(1, SeqCst);
                    });
                }
            })
        }));
        assert_eq!(panic_message(&*r.unwrap_err()), "first");
        assert_eq!(
            finished.load(SeqCst),
            10,
            "scope returned before its goroutines"
        );
        // A joined panic is handled: the scope does not resume it.
        let v = gort::scope(|s| {
            let h = s.go(|| -> u32 { panic!("handled") });
            assert!(h.join().is_err());
            7
        });
        assert_eq!(v, 7);
        // The scope's own panic wins, after the goroutines end.
        let r = catch_unwind(AssertUnwindSafe(|| {
            gort::scope(|s| {
                s.go(|| {
                    gort::time::sleep(Duration::from_millis(2));
                    finished.fetch_add(1, SeqCst);
                });
                panic!("body");
            })
        }));
        assert_eq!(panic_message(&*r.unwrap_err()), "body");
        assert_eq!(finished.load(SeqCst), 11);
    });
}

#[test]
fn scope_results_that_borrow_are_dropped_inside_the_scope() {
    // A scoped goroutine's result may borrow from the caller: whoever drops it (the
    // goroutine itself when the handle is gone first, the handle, or `join`'s caller), it is
    // dropped before `scope` returns. Big closures (boxed on the way to their stack) too.
    struct Counted<'a>(&'a AtomicUsize, usize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    on_thread_and_goroutine(|| {
        for round in 0..50 {
            let drops = AtomicUsize::new(0);
            let big = [round as u8; 4096];
            let joined = gort::scope(|s| {
                let drops = &drops;
                // Handle dropped at once: the goroutine drops its result.
                for i in 0..8 {
                    drop(s.go(move || Counted(drops, i)));
                }
                // Handle dropped after the goroutine ended: the handle drops it.
                let ended: Vec<_> = (0..8).map(|i| s.go(move || Counted(drops, i))).collect();
                for h in &ended {
                    while !h.is_finished() {
                        gort::yield_now();
                    }
                }
                drop(ended);
                // Kept to the end of the closure, and a big closure that borrows.
                let _kept = s.go(move || Counted(drops, 0));
                let big = &big;
                let h = s.go(move || {
                    let copy = *big;
                    Counted(drops, copy.iter().map(|&b| b as usize).sum())
                });
                let r = h.join().unwrap();
                assert_eq!(r.1, 4096 * (round as u8) as usize);
                r.1
            });
            assert_eq!(joined, 4096 * (round as u8) as usize);
            assert_eq!(drops.load(SeqCst), 8 + 8 + 1 + 1, "round {round}");
        }
    });
}

#[test]
fn scopes_in_a_row_wait_for_goroutines_ending_at_any_moment() {
    // The scope's count lives in `scope`'s frame, which the next scope reuses: a goroutine
    // that touched it after `scope` returned would corrupt the next one's count (a hang or
    // an early return, which the sums catch).
    on_thread_and_goroutine(|| {
        for round in 0..2000usize {
            let sum = AtomicUsize::new(0);
            gort::scope(|s| {
                for i in 0..(round % 5) {
                    let sum = &sum;
                    s.go(move || {
                        for _ in 0..(round + i) % 3 {
                            gort::yield_now();
                        }
                        sum.fetch_add(i + 1, SeqCst);
                    });
                }
            });
            let n = round % 5;
            assert_eq!(sum.load(SeqCst), n * (n + 1) / 2, "round {round}");
        }
    });
}

#[test]
fn scope_resumes_a_panic_whose_handle_was_dropped_before_or_after_the_end() {
    on_thread_and_goroutine(|| {
        for round in 0..50 {
            // Dropped before the goroutine ends: it hands its panic to the scope itself.
            let r = catch_unwind(AssertUnwindSafe(|| {
                gort::scope(|s| {
                    drop(s.go(|| {
                        gort::yield_now();
                        panic!("dropped early")
                    }));
                })
            }));
            assert_eq!(
                panic_message(&*r.unwrap_err()),
                "dropped early",
                "round {round}"
            );
            // Dropped after: the handle hands it over.
            let r = catch_unwind(AssertUnwindSafe(|| {
                gort::scope(|s| {
                    let h = s.go(|| -> u8 { panic!("dropped late") });
                    while !h.is_finished() {
                        gort::yield_now();
                    }
                    drop(h);
                })
            }));
            assert_eq!(
                panic_message(&*r.unwrap_err()),
                "dropped late",
                "round {round}"
            );
        }
    });
}

// ---- errgroup ----

#[test]
fn group_returns_the_first_error_and_waits_for_all() {
    on_thread_and_goroutine(|| {
        for _ in 0..20 {
            let ran = Arc::new(AtomicUsize::new(0));
            let g: Group<String> = Group::new();
            for i in 0..50 {
                let ran = ran.clone();
                g.go(move || {
                    ran.fetch_add(1, SeqCst);
                    if i == 13 {
                        Err(format!("task {i}"))
                    } else {
                        Ok(())
                    }
                });
            }
            assert_eq!(g.wait(), Err("task 13".to_string()));
            assert_eq!(ran.load(SeqCst), 50);
            assert_eq!(g.wait(), Ok(()), "the error was taken");
        }
    });
}

#[test]
fn group_with_context_cancels_the_rest_on_error() {
    on_thread_and_goroutine(|| {
        let (g, ctx) = Group::<&'static str>::with_context(&context::background());
        for _ in 0..10 {
            let ctx = ctx.clone();
            g.go(move || match context::sleep_ctx(&ctx, LONG) {
                Err(Error::Canceled) => Ok(()),
                other => panic!("not cancelled: {other:?}"),
            });
        }
        g.go(|| Err("failed"));
        assert_eq!(g.wait(), Err("failed"));
        assert_eq!(ctx.err(), Some(Error::Canceled));
        // Without errors, `wait` cancels the context when everything is done.
        let (g, ctx) = Group::<()>::with_context(&context::background());
        g.go(|| Ok(()));
        assert_eq!(g.wait(), Ok(()));
        assert_eq!(ctx.err(), Some(Error::Canceled));
    });
}

#[test]
fn group_limit_bounds_concurrency_and_try_go() {
    on_thread_and_goroutine(|| {
        let g: Group<()> = Group::new();
        g.set_limit(2);
        let live = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let (live, max) = (live.clone(), max.clone());
            g.go(move || {
                let n = live.fetch_add(1, SeqCst) + 1;
                max.fetch_max(n, SeqCst);
                gort::yield_now();
                live.fetch_sub(1, SeqCst);
                Ok(())
            });
        }
        assert_eq!(g.wait(), Ok(()));
        assert!(
            max.load(SeqCst) <= 2,
            "limit exceeded: {}",
            max.load(SeqCst)
        );
        // try_go fails while the slots are taken.
        let (tx, rx) = bounded::<()>(0);
        for _ in 0..2 {
            let rx = rx.clone();
            assert!(g.try_go(move || {
                let _ = rx.recv();
                Ok(())
            }));
        }
        assert!(!g.try_go(|| Ok(())));
        let r = catch_unwind(AssertUnwindSafe(|| g.set_limit(5)));
        assert!(panic_message(&*r.unwrap_err()).contains("modify limit while 2 goroutines"));
        drop(tx);
        assert_eq!(g.wait(), Ok(()));
        g.set_limit(usize::MAX);
        assert!(g.try_go(|| Ok(())));
        assert_eq!(g.wait(), Ok(()));
    });
}

#[test]
fn group_resumes_a_goroutine_panic_in_wait() {
    on_thread_and_goroutine(|| {
        let g: Group<()> = Group::new();
        g.go(|| panic!("worker crashed"));
        g.go(|| Ok(()));
        let r = catch_unwind(AssertUnwindSafe(|| g.wait()));
        assert_eq!(panic_message(&*r.unwrap_err()), "worker crashed");
    });
}

// ---- Timer and after_func ----

#[test]
fn timer_fires_once() {
    on_thread_and_goroutine(|| {
        let t = Timer::new(Duration::from_millis(1));
        t.receiver().recv_timeout(LONG).expect("timer fired");
        assert!(!t.stop(), "already received: stop reports false");
        assert!(t.receiver().recv_timeout(Duration::from_millis(5)).is_err());
    });
}

#[test]
fn timer_stop_and_reset_leave_no_stale_value() {
    on_thread_and_goroutine(|| {
        for i in 0..300u64 {
            // Fire (maybe) then stop: after stop, nothing can be received.
            let t = Timer::new(Duration::from_micros(i % 50));
            if i % 3 == 0 {
                gort::time::sleep(Duration::from_micros(100));
            }
            t.stop();
            assert!(t.receiver().try_recv().is_err(), "stale value after stop");
            // Reset: only the new arming's value arrives.
            let before = std::time::Instant::now();
            t.reset(Duration::from_millis(2));
            let at = t.receiver().recv_timeout(LONG).expect("reset timer fired");
            assert!(at >= before, "received a value from before reset");
        }
        // Stopped before it fired: true; a stopped timer stays silent.
        let t = Timer::new(Duration::from_secs(3600));
        assert!(t.stop());
        assert!(!t.stop());
        // A fired but unreceived value counts as still pending: stop takes it back, true.
        let t = Timer::new(Duration::ZERO);
        gort::time::sleep(Duration::from_millis(5));
        assert!(t.stop());
        assert!(t.receiver().try_recv().is_err());
        // reset reports whether it was active.
        let t = Timer::new(Duration::from_secs(3600));
        assert!(t.reset(Duration::from_millis(1)));
        t.receiver().recv_timeout(LONG).unwrap();
        assert!(!t.reset(Duration::from_millis(1)));
        t.receiver().recv_timeout(LONG).unwrap();
    });
}

#[test]
fn after_func_runs_in_its_own_goroutine_and_may_block() {
    on_thread_and_goroutine(|| {
        let (tx, rx) = bounded::<Option<u64>>(0); // unbuffered: `f` blocks until received
        let t = after_func(Duration::from_millis(1), move || {
            tx.send(gort::goroutine_id()).unwrap();
        });
        // Other timers keep firing while `f` is blocked.
        assert!(gort::time::after(Duration::from_millis(2))
            .recv_timeout(LONG)
            .is_ok());
        let id = rx.recv_timeout(LONG).expect("f ran");
        assert!(id.is_some(), "f runs on a goroutine");
        assert!(!t.stop(), "already started");
        assert!(t.receiver().recv_timeout(Duration::from_millis(5)).is_err());
        // Stopped in time: never runs. Reset: runs again.
        let ran = Arc::new(AtomicUsize::new(0));
        let r2 = ran.clone();
        let t = after_func(Duration::from_secs(3600), move || {
            r2.fetch_add(1, SeqCst);
        });
        assert!(t.stop());
        let (tx, rx) = bounded::<()>(1);
        let ran2 = ran.clone();
        let t2 = after_func(Duration::from_millis(1), move || {
            ran2.fetch_add(1, SeqCst);
            let _ = tx.try_send(());
        });
        rx.recv_timeout(LONG).unwrap();
        t2.reset(Duration::from_millis(1));
        rx.recv_timeout(LONG).unwrap();
        assert_eq!(ran.load(SeqCst), 2, "the stopped one never ran");
        // Dropping the timer does not cancel it (Go's discarded AfterFunc still runs).
        let (tx, rx) = bounded::<()>(1);
        drop(after_func(Duration::from_millis(1), move || {
            let _ = tx.try_send(());
        }));
        rx.recv_timeout(LONG).expect("dropped after_func still ran");
    });
}
