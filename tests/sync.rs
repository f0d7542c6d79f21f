//! `gort::sync`: behaviour of each primitive, with goroutines and plain threads, and Go's
//! misuse panics. The stress tests with 8 procs are in `sync_stress.rs`.

mod common;
use common::within;
use gort::sync::{
    Barrier, Cond, Mutex, MutexGuard, Once, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard,
    Semaphore, WaitGroup,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The message of a caught panic.
fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    }
}

/// Compiles only if `T` is not `Send` (two impls become ambiguous when it is).
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

#[test]
fn guards_are_not_send_but_sync_when_data_is() {
    let _ = <MutexGuard<'static, i32> as AmbiguousIfSend<_>>::check;
    let _ = <RwLockReadGuard<'static, i32> as AmbiguousIfSend<_>>::check;
    let _ = <RwLockWriteGuard<'static, i32> as AmbiguousIfSend<_>>::check;
    fn sync<T: Sync>() {}
    fn send_sync<T: Send + Sync>() {}
    sync::<MutexGuard<'static, i32>>();
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<RwLock<Vec<u8>>>();
    send_sync::<WaitGroup>();
    send_sync::<Once>();
    send_sync::<OnceLock<String>>();
    send_sync::<Cond>();
    send_sync::<Semaphore>();
    send_sync::<Barrier>();
}

#[test]
fn statics_use_const_constructors() {
    static M: Mutex<u32> = Mutex::new(0);
    static RW: RwLock<u32> = RwLock::new(0);
    static WG: WaitGroup = WaitGroup::new();
    static ONCE: Once = Once::new();
    static CELL: OnceLock<u32> = OnceLock::new();
    static COND: Cond = Cond::new();
    static SEM: Semaphore = Semaphore::new(3);
    static BAR: Barrier = Barrier::new(1);
    *M.lock() += 1;
    *RW.write() += 1;
    WG.wait();
    ONCE.call_once(|| ());
    assert_eq!(*CELL.get_or_init(|| 7), 7);
    COND.signal();
    assert!(SEM.try_acquire(3));
    SEM.release(3);
    assert!(BAR.wait().is_leader());
    assert_eq!((*M.lock(), *RW.read()), (1, 1));
}

#[test]
fn mutex_lock_try_lock_and_into_inner() {
    let mut m = Mutex::new(vec![1]);
    {
        let g = m.lock();
        assert!(m.try_lock().is_none(), "try_lock succeeded while locked");
        drop(g);
    }
    m.try_lock().expect("free mutex").push(2);
    m.get_mut().push(3);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2, 3], .. }");
    assert_eq!(m.into_inner(), vec![1, 2, 3]);
}

#[test]
fn mutex_is_not_poisoned_by_a_panic() {
    within(30, || {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let r = gort::go(move || {
            let mut g = m2.lock();
            *g = 2;
            panic!("boom while holding the lock");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*m.lock(), 2, "the next holder sees the data as it was left");
    });
}

/// A goroutine keeps the guard across scheduling points (it may resume on another OS
/// thread and unlock there); the others wait and the count stays exact.
#[test]
fn mutex_guard_held_across_scheduling_points() {
    within(60, || {
        let m = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                gort::go(move || {
                    for _ in 0..200 {
                        let mut g = m.lock();
                        let v = *g;
                        gort::yield_now();
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 1600);
    });
}

#[test]
fn waitgroup_negative_counter_panics_with_gos_message() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    let p = catch_unwind(AssertUnwindSafe(|| wg.done())).expect_err("must panic");
    assert_eq!(panic_message(p), "sync: negative WaitGroup counter");

    let wg = WaitGroup::new();
    let p = catch_unwind(AssertUnwindSafe(|| wg.add(-3))).expect_err("must panic");
    assert_eq!(panic_message(p), "sync: negative WaitGroup counter");
}

#[test]
fn waitgroup_wait_at_zero_returns_and_group_is_reusable() {
    within(30, || {
        let wg = Arc::new(WaitGroup::new());
        wg.wait();
        for round in 0..50 {
            let hits = Arc::new(AtomicUsize::new(0));
            wg.add(10);
            for _ in 0..10 {
                let (wg, hits) = (wg.clone(), hits.clone());
                gort::go(move || {
                    hits.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(hits.load(SeqCst), 10, "round {round}");
            assert_eq!(wg.count(), 0);
        }
    });
}

#[test]
fn once_runs_once_and_retries_after_a_panic() {
    let once = Once::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"))
    }));
    assert!(r.is_err());
    assert!(
        !once.is_completed(),
        "a panicking initialiser does not complete"
    );
    let mut runs = 0;
    once.call_once(|| runs += 1);
    once.call_once(|| runs += 1);
    assert_eq!(runs, 1);
    assert!(once.is_completed());
}

#[test]
fn oncelock_set_get_take() {
    let mut cell = OnceLock::new();
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(String::from("a")), Ok(()));
    assert_eq!(cell.set(String::from("b")), Err(String::from("b")));
    assert_eq!(cell.get().map(String::as_str), Some("a"));
    cell.get_mut().unwrap().push('!');
    assert_eq!(cell.take().as_deref(), Some("a!"));
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| String::from("c")), "c");
    // The value is dropped with the cell (checked by Miri-style counting).
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let c = OnceLock::new();
    let _ = c.set(Counted(drops.clone()));
    drop(c);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn oncelock_initialiser_runs_once_among_goroutines() {
    within(30, || {
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..32)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                gort::go(move || {
                    *cell.get_or_init(|| {
                        runs.fetch_add(1, SeqCst);
                        gort::yield_now(); // others arrive and park meanwhile
                        i
                    })
                })
            })
            .collect();
        let vals: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(runs.load(SeqCst), 1);
        assert!(vals.iter().all(|&v| v == vals[0]));
    });
}

#[test]
fn cond_signal_broadcast_and_timeout() {
    within(30, || {
        let pair = Arc::new((Mutex::new(0u32), Cond::new()));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let p = pair.clone();
                gort::go(move || {
                    let g = p.1.wait_while(p.0.lock(), |v| *v == 0);
                    *g
                })
            })
            .collect();
        // A thread waits too.
        let p = pair.clone();
        let t = std::thread::spawn(move || *p.1.wait_while(p.0.lock(), |v| *v == 0));
        *pair.0.lock() = 5;
        pair.1.broadcast();
        for h in hs {
            assert_eq!(h.join().unwrap(), 5);
        }
        assert_eq!(t.join().unwrap(), 5);

        // No signal: wait_timeout reports the timeout (and returns the lock).
        let (g, timed_out) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(5));
        assert!(timed_out);
        assert_eq!(*g, 5);
        drop(g);

        // A signal before the timeout: not timed out.
        let p = pair.clone();
        let g = pair.0.lock();
        gort::go(move || {
            *p.0.lock() = 6;
            p.1.signal();
        });
        let (g, timed_out) = pair.1.wait_timeout(g, Duration::from_secs(60));
        assert!(!timed_out);
        assert_eq!(*g, 6);
    });
}

#[test]
fn semaphore_weights_fifo_and_misuse() {
    within(30, || {
        let sem = Arc::new(Semaphore::new(4));
        sem.acquire(3);
        assert_eq!(sem.available(), 1);
        // A request for all 4 queues; a later request for 1 must wait behind it even
        // though 1 unit is free.
        let s = sem.clone();
        let big = gort::go(move || {
            s.acquire(4);
            s.release(4);
        });
        while sem.try_acquire(0) {
            gort::yield_now(); // until the big request is queued
        }
        assert!(
            !sem.try_acquire(1),
            "a newcomer overtook the queued request"
        );
        sem.release(3);
        big.join().unwrap();
        assert_eq!(sem.available(), 4);

        let p = catch_unwind(AssertUnwindSafe(|| sem.release(1))).expect_err("must panic");
        assert_eq!(panic_message(p), "semaphore: released more than held");
        let p = catch_unwind(AssertUnwindSafe(|| sem.acquire(5))).expect_err("must panic");
        assert!(panic_message(p).contains("would wait forever"));
    });
}

#[test]
fn semaphore_acquire_until() {
    within(30, || {
        let sem = Arc::new(Semaphore::new(2));
        assert!(sem.acquire_until(2, Instant::now()));
        // Nothing is released: the deadline passes.
        assert!(!sem.acquire_until(1, Instant::now() + Duration::from_millis(5)));
        assert!(!sem.acquire_until(3, Instant::now() + Duration::from_millis(1)));
        // A queued request that times out lets the ones behind it in.
        let s = sem.clone();
        let small = gort::go(move || {
            while s.try_acquire(0) {
                gort::yield_now(); // until the first request below is queued
            }
            s.acquire(1);
            s.release(1);
        });
        sem.release(1); // 1 free; a request for 2 queues and times out
        assert!(!sem.acquire_until(2, Instant::now() + Duration::from_millis(20)));
        small.join().unwrap();
        sem.release(1);
        assert_eq!(sem.available(), 2);
        // Released in time: acquired.
        sem.acquire(2);
        let s = sem.clone();
        gort::go(move || s.release(2));
        assert!(sem.acquire_until(2, Instant::now() + Duration::from_secs(60)));
    });
}

#[test]
fn rwlock_readers_share_and_a_waiting_writer_blocks_new_readers() {
    within(30, || {
        let rw = Arc::new(RwLock::new(0));
        let r1 = rw.read();
        let r2 = rw.try_read().expect("readers share");
        assert!(rw.try_write().is_none());
        let w = rw.clone();
        let writer = gort::go(move || *w.write() = 1);
        // Once the writer waits, new readers are turned away (writer preference).
        while let Some(r) = rw.try_read() {
            drop(r);
            gort::yield_now();
        }
        let r = rw.clone();
        let late = gort::go(move || *r.read());
        drop((r1, r2));
        writer.join().unwrap();
        assert_eq!(
            late.join().unwrap(),
            1,
            "the late reader ran before the writer"
        );
        assert_eq!(*rw.try_write().expect("free"), 1);
    });
}

#[test]
fn barrier_has_one_leader_per_round() {
    within(30, || {
        let b = Arc::new(Barrier::new(5));
        let leaders = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..4 {
            let (b, leaders) = (b.clone(), leaders.clone());
            hs.push(gort::go(move || {
                for _ in 0..20 {
                    if b.wait().is_leader() {
                        leaders.fetch_add(1, SeqCst);
                    }
                }
            }));
        }
        for _ in 0..20 {
            if b.wait().is_leader() {
                leaders.fetch_add(1, SeqCst);
            }
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(SeqCst), 20);
    });
}

#[test]
fn semaphore_acquire_ctx_honours_cancellation_and_deadlines() {
    use gort::context;
    use gort::sync::Semaphore;
    use std::sync::Arc;
    use std::time::Duration;
    common::within(60, || {
        let sem = Arc::new(Semaphore::new(3));
        let bg = context::background();
        sem.acquire_ctx(&bg, 3).unwrap();
        // Full: a cancellation ends the wait with Canceled and acquires nothing.
        let (ctx, cancel) = bg.with_cancel();
        let s = sem.clone();
        let waiter = gort::go(move || s.acquire_ctx(&ctx, 2));
        gort::time::sleep(Duration::from_millis(20));
        cancel.cancel();
        assert_eq!(waiter.join().unwrap(), Err(context::Error::Canceled));
        // A deadline ends it with DeadlineExceeded, on a plain thread too.
        let (ctx, _c) = bg.with_timeout(Duration::from_millis(20));
        assert_eq!(
            sem.acquire_ctx(&ctx, 1),
            Err(context::Error::DeadlineExceeded)
        );
        // An already-done context fails at once, even when units are free.
        sem.release(3);
        let (done, cancel) = bg.with_cancel();
        cancel.cancel();
        assert_eq!(sem.acquire_ctx(&done, 1), Err(context::Error::Canceled));
        // Nothing leaked: all units are back, and a plain acquire works.
        assert_eq!(sem.available(), 3);
        sem.acquire_ctx(&bg, 3).unwrap();
        sem.release(3);
    });
}
